package registry

import (
	"errors"
	"strings"
	"testing"
)

// TestEveryErrorCode sends one request per error the API can give and
// asserts the code, the HTTP status (the code's first three digits) and a
// message that names what was asked.
func TestEveryErrorCode(t *testing.T) {
	h := newHarness(t, nil, WithMaxRequestBytes(64<<10))
	h.register("s", schemaV1)
	h.register("s", schemaV2)
	h.ok("DELETE", "/subjects/s/versions/2", nil, nil) // s: v1 live, v2 soft-deleted
	h.register("gone", `"string"`)
	h.ok("DELETE", "/subjects/gone", nil, nil) // gone: soft-deleted subject
	schema := func(s string) map[string]string { return map[string]string{"schema": s} }

	cases := []struct {
		name, method, path string
		body               any
		code               int
		says               string
	}{
		{"40401 subject not found: versions", "GET", "/subjects/nosuch/versions", nil, 40401, `"nosuch"`},
		{"40401 subject not found: version", "GET", "/subjects/nosuch/versions/1", nil, 40401, `"nosuch"`},
		{"40401 subject not found: lookup", "POST", "/subjects/nosuch", schema(schemaV1), 40401, `"nosuch"`},
		{"40401 soft-deleted subject is not found", "GET", "/subjects/gone/versions/latest", nil, 40401, `"gone"`},
		{"40401 compatibility against missing subject", "POST", "/compatibility/subjects/nosuch/versions/latest", schema(schemaV1), 40401, `"nosuch"`},
		{"40401 delete missing subject", "DELETE", "/subjects/nosuch", nil, 40401, `"nosuch"`},
		{"40401 delete version of missing subject", "DELETE", "/subjects/nosuch/versions/1", nil, 40401, `"nosuch"`},
		{"40401 delete config of missing subject", "DELETE", "/config/nosuch", nil, 40401, `"nosuch"`},
		{"40402 version not found", "GET", "/subjects/s/versions/7", nil, 40402, "version 7"},
		{"40402 soft-deleted version", "GET", "/subjects/s/versions/2", nil, 40402, "version 2"},
		{"40402 compatibility against missing version", "POST", "/compatibility/subjects/s/versions/9", schema(schemaV1), 40402, "version 9"},
		{"40402 delete missing version", "DELETE", "/subjects/s/versions/9", nil, 40402, "version 9"},
		{"40403 schema id not found", "GET", "/schemas/ids/99", nil, 40403, "schema 99"},
		{"40403 schema id not a number", "GET", "/schemas/ids/abc", nil, 40403, `"abc"`},
		{"40403 subjects of unknown id", "GET", "/schemas/ids/99/subjects", nil, 40403, "schema 99"},
		{"40403 versions of unknown id", "GET", "/schemas/ids/99/versions", nil, 40403, "schema 99"},
		{"40403 lookup of unregistered schema", "POST", "/subjects/s", schema(`"bytes"`), 40403, `"s"`},
		{"40404 subject already soft-deleted", "DELETE", "/subjects/gone", nil, 40404, "permanent=true"},
		{"40405 permanent before soft delete", "DELETE", "/subjects/s?permanent=true", nil, 40405, "without permanent=true first"},
		{"40406 version already soft-deleted", "DELETE", "/subjects/s/versions/2", nil, 40406, "permanent=true"},
		{"40407 permanent version before soft delete", "DELETE", "/subjects/s/versions/1?permanent=true", nil, 40407, "without permanent=true first"},
		{"40408 subject has no level of its own", "GET", "/config/s", nil, 40408, "defaultToGlobal"},
		{"40408 delete level never set", "DELETE", "/config/s", nil, 40408, `"s"`},
		{"409 incompatible", "POST", "/subjects/s/versions", schema(rec(fID, fCountInt)), 409, "field count: reader field has no default"},
		{"42201 invalid schema", "POST", "/subjects/s/versions", schema(`{"type":"record","name":"X"}`), 42201, "invalid Avro schema"},
		{"42201 empty schema", "POST", "/subjects/s/versions", schema(""), 42201, "empty schema"},
		{"42201 invalid schema in lookup", "POST", "/subjects/s", schema(`{"type":"nosuch"}`), 42201, "invalid Avro schema"},
		{"42201 invalid schema in compatibility", "POST", "/compatibility/subjects/s/versions/1", schema("{"), 42201, "invalid Avro schema"},
		{"42201 schema type not Avro", "POST", "/subjects/s/versions", map[string]string{"schema": `syntax = "proto3";`, "schemaType": "PROTOBUF"}, 42201, `"PROTOBUF" is not supported`},
		{"42201 references", "POST", "/subjects/s/versions", map[string]any{"schema": `"string"`, "references": []map[string]any{{"name": "a", "subject": "b", "version": 1}}}, 42201, "references are not supported"},
		{"42202 version zero", "GET", "/subjects/s/versions/0", nil, 42202, `"0"`},
		{"42202 version not a number", "GET", "/subjects/s/versions/first", nil, 42202, `"first"`},
		{"42202 version too large", "GET", "/subjects/s/versions/2147483648", nil, 42202, "2^31-1"},
		{"42202 in compatibility", "POST", "/compatibility/subjects/s/versions/-3", schema(schemaV1), 42202, `"-3"`},
		{"42202 in delete", "DELETE", "/subjects/s/versions/x", nil, 42202, `"x"`},
		{"42203 invalid level", "PUT", "/config", map[string]string{"compatibility": "SIDEWAYS"}, 42203, "FULL_TRANSITIVE"},
		{"42203 invalid subject level", "PUT", "/config/s", map[string]string{"compatibility": ""}, 42203, "BACKWARD"},
		{"42205 chosen id", "POST", "/subjects/s/versions", map[string]any{"schema": `"bytes"`, "id": 500}, 42205, "IMPORT"},
		{"42205 chosen version", "POST", "/subjects/s/versions", map[string]any{"schema": `"bytes"`, "version": 9}, 42205, "IMPORT"},
		{"42205 chosen id differs from registered", "POST", "/subjects/s/versions", map[string]any{"schema": schemaV1, "id": 500}, 42205, "id 1"},
		{"400 body not JSON", "POST", "/subjects/s/versions", "not json", 400, "not the expected JSON"},
		{"400 body too large", "POST", "/subjects/s/versions", `{"schema":"` + strings.Repeat("x", 70<<10) + `"}`, 400, "larger than"},
		{"400 bad boolean", "GET", "/subjects?deleted=maybe", nil, 400, "deleted"},
		{"404 unknown path", "GET", "/nosuch", nil, 404, "/nosuch"},
		{"405 wrong method", "PATCH", "/config", nil, 405, "method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := h.fail(c.method, c.path, c.body, c.code)
			if !strings.Contains(msg, c.says) {
				t.Fatalf("message %q does not contain %q", msg, c.says)
			}
		})
	}
}

// 50001 needs a failing store; TestStorageFailureChangesNothing covers it
// over HTTP, this checks the Go error.
func TestErrorKindsAndStatus(t *testing.T) {
	for kind, code := range codeOf {
		e := apiErr(kind, "x")
		if e.Code != code || !errors.Is(e, kind) {
			t.Errorf("%v: code %d", kind, e.Code)
		}
		want := code
		for want >= 1000 {
			want /= 10
		}
		if e.HTTPStatus() != want || want < 400 || want > 599 {
			t.Errorf("%v: status %d", kind, e.HTTPStatus())
		}
		if !strings.Contains(e.Error(), "x") {
			t.Errorf("%v: Error() = %q", kind, e.Error())
		}
	}
}
