package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var (
	schemaV1 = rec(fID)
	schemaV2 = rec(fID, fKindDefault)
)

func TestRegisterIsIdempotentOnTheSameSchema(t *testing.T) {
	h := newHarness(t, nil)
	id := h.register("glyph-value", schemaV2)
	if id != 1 {
		t.Fatalf("first id = %d, want 1", id)
	}
	// The same schema with other whitespace and another JSON key order.
	reordered := `{ "fields" : [ {"type":"string", "name":"id"},
		{"default":"intent","name":"kind","type":{"type":"string"}} ],
		"namespace":"matriz", "name":"Glyph", "type":"record" }`
	if got := h.register("glyph-value", reordered); got != id {
		t.Fatalf("reordered schema id = %d, want %d", got, id)
	}
	var versions []int
	h.ok("GET", "/subjects/glyph-value/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("versions = %v, want [1]: re-registering must not add a version", versions)
	}
	// The same schema under another subject keeps its id.
	if got := h.register("other-value", reordered); got != id {
		t.Fatalf("same schema under another subject: id %d, want %d", got, id)
	}
	// A default is part of the schema: dropping it is a new schema.
	var out struct{ ID int }
	h.ok("POST", "/subjects/third/versions", map[string]string{"schema": rec(fID, fKind)}, &out)
	if out.ID == id {
		t.Fatalf("schema without the default got the same id %d", id)
	}
	// schemaType AVRO is accepted, in any case.
	h.ok("POST", "/subjects/glyph-value/versions", map[string]string{"schema": schemaV2, "schemaType": "AVRO"}, &out)
	if out.ID != id {
		t.Fatalf("with schemaType AVRO: id %d, want %d", out.ID, id)
	}
}

func TestRegisterPrimitiveSpellings(t *testing.T) {
	h := newHarness(t, nil)
	a := h.register("p", `"string"`)
	b := h.register("p", `{"type": "string"}`)
	if a != b {
		t.Fatalf(`"string" got id %d, {"type":"string"} got %d; want the same`, a, b)
	}
}

func TestSubjectsAndVersionsListing(t *testing.T) {
	h := newHarness(t, nil)
	h.register("b-value", schemaV1)
	h.register("a-value", schemaV1)
	h.register("a-value", schemaV2)
	h.register("c-key", `"string"`)
	h.ok("DELETE", "/subjects/c-key", nil, nil)

	cases := []struct {
		path string
		want []string
	}{
		{"/subjects", []string{"a-value", "b-value"}},
		{"/subjects?deleted=true", []string{"a-value", "b-value", "c-key"}},
		{"/subjects?deletedOnly=true", []string{"c-key"}},
		{"/subjects?subjectPrefix=a-", []string{"a-value"}},
	}
	for _, c := range cases {
		var got []string
		h.ok("GET", c.path, nil, &got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("GET %s = %v, want %v", c.path, got, c.want)
		}
	}

	var versions []int
	h.ok("GET", "/subjects/a-value/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1, 2}) {
		t.Fatalf("versions = %v, want [1 2]", versions)
	}
	h.ok("DELETE", "/subjects/a-value/versions/1", nil, nil)
	for path, want := range map[string][]int{
		"/subjects/a-value/versions":                  {2},
		"/subjects/a-value/versions?deleted=true":     {1, 2},
		"/subjects/a-value/versions?deletedOnly=true": {1},
	} {
		var got []int
		h.ok("GET", path, nil, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GET %s = %v, want %v", path, got, want)
		}
	}
	var empty []string
	newHarness(t, nil).ok("GET", "/subjects", nil, &empty)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("GET /subjects on an empty registry = %#v, want []", empty)
	}
}

func TestGetVersionAndRawSchema(t *testing.T) {
	h := newHarness(t, nil)
	id1 := h.register("s", schemaV1)
	id2 := h.register("s", schemaV2)
	for path, want := range map[string]subjectSchema{
		"/subjects/s/versions/1":      {Subject: "s", Version: 1, ID: id1, Schema: schemaV1},
		"/subjects/s/versions/2":      {Subject: "s", Version: 2, ID: id2, Schema: schemaV2},
		"/subjects/s/versions/latest": {Subject: "s", Version: 2, ID: id2, Schema: schemaV2},
		"/subjects/s/versions/-1":     {Subject: "s", Version: 2, ID: id2, Schema: schemaV2},
	} {
		var got subjectSchema
		h.ok("GET", path, nil, &got)
		if got != want {
			t.Errorf("GET %s = %+v, want %+v", path, got, want)
		}
	}
	w := h.do("GET", "/subjects/s/versions/1/schema", nil)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != schemaV1 {
		t.Fatalf("raw schema: status %d body %q, want %q", w.Code, w.Body, schemaV1)
	}
	// A soft-deleted version shows only with ?deleted=true.
	h.ok("DELETE", "/subjects/s/versions/2", nil, nil)
	var latest subjectSchema
	h.ok("GET", "/subjects/s/versions/latest", nil, &latest)
	if latest.Version != 1 {
		t.Fatalf("latest after deleting v2 = %d, want 1", latest.Version)
	}
	h.fail("GET", "/subjects/s/versions/2", nil, CodeVersionNotFound)
	var deleted subjectSchema
	h.ok("GET", "/subjects/s/versions/2?deleted=true", nil, &deleted)
	if deleted.ID != id2 {
		t.Fatalf("deleted v2 with ?deleted=true: id %d, want %d", deleted.ID, id2)
	}
}

func TestSchemasByID(t *testing.T) {
	h := newHarness(t, nil)
	id := h.register("a", schemaV1)
	h.register("b", schemaV2)
	h.register("b", schemaV1) // id again, as b's version 2
	var s struct {
		Schema string `json:"schema"`
	}
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d", id), nil, &s)
	if s.Schema != schemaV1 {
		t.Fatalf("schema by id = %q, want %q", s.Schema, schemaV1)
	}
	w := h.do("GET", fmt.Sprintf("/schemas/ids/%d/schema", id), nil)
	if strings.TrimSpace(w.Body.String()) != schemaV1 {
		t.Fatalf("raw schema by id = %q", w.Body)
	}
	var subjects []string
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d/subjects", id), nil, &subjects)
	if !reflect.DeepEqual(subjects, []string{"a", "b"}) {
		t.Fatalf("subjects of id %d = %v, want [a b]", id, subjects)
	}
	var versions []subjectVersion
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d/versions", id), nil, &versions)
	if want := []subjectVersion{{"a", 1}, {"b", 2}}; !reflect.DeepEqual(versions, want) {
		t.Fatalf("versions of id %d = %v, want %v", id, versions, want)
	}
	// Soft-deleted uses show only with ?deleted=true; the schema stays.
	h.ok("DELETE", "/subjects/a", nil, nil)
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d/subjects", id), nil, &subjects)
	if !reflect.DeepEqual(subjects, []string{"b"}) {
		t.Fatalf("subjects after deleting a = %v, want [b]", subjects)
	}
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d/versions?deleted=true", id), nil, &versions)
	if len(versions) != 2 {
		t.Fatalf("versions with deleted = %v, want 2", versions)
	}
	h.ok("GET", fmt.Sprintf("/schemas/ids/%d", id), nil, &s)
}

func TestLookup(t *testing.T) {
	h := newHarness(t, nil)
	id1 := h.register("s", schemaV1)
	h.register("s", schemaV2)
	var got subjectSchema
	h.ok("POST", "/subjects/s", map[string]string{"schema": " " + schemaV1 + "\n"}, &got)
	if want := (subjectSchema{Subject: "s", Version: 1, ID: id1, Schema: schemaV1}); got != want {
		t.Fatalf("lookup = %+v, want %+v", got, want)
	}
	h.ok("DELETE", "/subjects/s/versions/1", nil, nil)
	h.fail("POST", "/subjects/s", map[string]string{"schema": schemaV1}, CodeSchemaNotFound)
	h.ok("POST", "/subjects/s?deleted=true", map[string]string{"schema": schemaV1}, &got)
	if got.Version != 1 {
		t.Fatalf("lookup with deleted = %+v, want version 1", got)
	}
}

func TestCompatibilityEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	h.register("s", rec(fID))
	h.register("s", rec(fID, fKindDefault))
	type result struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}
	body := map[string]string{"schema": rec(fID, fKind)} // kind without default

	var r result
	// Against latest (v2 has kind): compatible.
	h.ok("POST", "/compatibility/subjects/s/versions/latest", body, &r)
	if !r.IsCompatible || r.Messages != nil {
		t.Fatalf("against latest = %+v, want compatible without messages", r)
	}
	// Against v1 (no kind): incompatible; without verbose, no messages.
	w := h.do("POST", "/compatibility/subjects/s/versions/1", body)
	if strings.TrimSpace(w.Body.String()) != `{"is_compatible":false}` {
		t.Fatalf("against v1 = %s, want {\"is_compatible\":false}", w.Body)
	}
	h.ok("POST", "/compatibility/subjects/s/versions/1?verbose=true", body, &r)
	if r.IsCompatible || len(r.Messages) != 1 || !strings.Contains(r.Messages[0], "field kind: reader field has no default") ||
		!strings.Contains(r.Messages[0], "version 1") {
		t.Fatalf("verbose against v1 = %+v", r)
	}
	// Verbose and compatible: an empty list.
	w = h.do("POST", "/compatibility/subjects/s/versions/2?verbose=true", body)
	if strings.TrimSpace(w.Body.String()) != `{"is_compatible":true,"messages":[]}` {
		t.Fatalf("verbose compatible = %s", w.Body)
	}
	// Without a version: what registration would check. BACKWARD checks
	// the latest only; BACKWARD_TRANSITIVE checks v1 too.
	h.ok("POST", "/compatibility/subjects/s/versions", body, &r)
	if !r.IsCompatible {
		t.Fatalf("all versions under BACKWARD = %+v, want compatible", r)
	}
	h.ok("PUT", "/config/s", map[string]string{"compatibility": "BACKWARD_TRANSITIVE"}, nil)
	h.ok("POST", "/compatibility/subjects/s/versions?verbose=true", body, &r)
	if r.IsCompatible || len(r.Messages) != 1 {
		t.Fatalf("all versions under BACKWARD_TRANSITIVE = %+v, want one reason", r)
	}
	// A subject without versions accepts anything.
	h.ok("POST", "/compatibility/subjects/new/versions", body, &r)
	if !r.IsCompatible {
		t.Fatalf("new subject = %+v, want compatible", r)
	}
	// NONE accepts anything.
	h.ok("PUT", "/config/s", map[string]string{"compatibility": "NONE"}, nil)
	h.ok("POST", "/compatibility/subjects/s/versions/1", map[string]string{"schema": `"int"`}, &r)
	if !r.IsCompatible {
		t.Fatalf("under NONE = %+v, want compatible", r)
	}
}

func TestConfig(t *testing.T) {
	h := newHarness(t, nil)
	var lvl struct {
		CompatibilityLevel string `json:"compatibilityLevel"`
		Compatibility      string `json:"compatibility"`
	}
	h.ok("GET", "/config", nil, &lvl)
	if lvl.CompatibilityLevel != "BACKWARD" {
		t.Fatalf("default global level = %+v, want BACKWARD", lvl)
	}
	w := h.do("PUT", "/config", map[string]string{"compatibility": "full"})
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"compatibility":"FULL"}` {
		t.Fatalf("PUT /config = %d %s", w.Code, w.Body)
	}
	h.ok("GET", "/config", nil, &lvl)
	if lvl.CompatibilityLevel != "FULL" {
		t.Fatalf("global level = %+v, want FULL", lvl)
	}

	h.register("s", schemaV1)
	msg := h.fail("GET", "/config/s", nil, CodeSubjectLevelNotSet)
	if !strings.Contains(msg, "defaultToGlobal") {
		t.Fatalf("message %q does not say how to get the level that applies", msg)
	}
	h.ok("GET", "/config/s?defaultToGlobal=true", nil, &lvl)
	if lvl.CompatibilityLevel != "FULL" {
		t.Fatalf("subject level with defaultToGlobal = %+v, want FULL", lvl)
	}
	w = h.do("PUT", "/config/s", map[string]string{"compatibility": "FORWARD_TRANSITIVE"})
	if strings.TrimSpace(w.Body.String()) != `{"compatibility":"FORWARD_TRANSITIVE"}` {
		t.Fatalf("PUT /config/s = %s", w.Body)
	}
	h.ok("GET", "/config/s", nil, &lvl)
	if lvl.CompatibilityLevel != "FORWARD_TRANSITIVE" {
		t.Fatalf("subject level = %+v", lvl)
	}
	// A level may be set for a subject before it has versions.
	h.ok("PUT", "/config/later", map[string]string{"compatibility": "NONE"}, nil)
	h.ok("GET", "/config/later", nil, &lvl)
	if lvl.CompatibilityLevel != "NONE" {
		t.Fatalf("level of a subject without versions = %+v", lvl)
	}

	h.ok("DELETE", "/config/s", nil, &lvl)
	if lvl.CompatibilityLevel != "FORWARD_TRANSITIVE" {
		t.Fatalf("DELETE /config/s returned %+v, want the old level", lvl)
	}
	h.fail("GET", "/config/s", nil, CodeSubjectLevelNotSet)
	h.ok("DELETE", "/config", nil, &lvl)
	if lvl.CompatibilityLevel != "FULL" {
		t.Fatalf("DELETE /config returned %+v, want FULL", lvl)
	}
	h.ok("GET", "/config", nil, &lvl)
	if lvl.CompatibilityLevel != "BACKWARD" {
		t.Fatalf("global level after DELETE = %+v, want the default BACKWARD", lvl)
	}
}

func TestWithDefaultLevel(t *testing.T) {
	h := newHarness(t, nil, WithDefaultLevel(LevelFull))
	var lvl levelBody
	h.ok("GET", "/config", nil, &lvl)
	if lvl.Level != LevelFull {
		t.Fatalf("global level = %q, want FULL", lvl.Level)
	}
}

func TestRegistrationEnforcesEveryLevel(t *testing.T) {
	for _, l := range Levels {
		for _, e := range evolutions {
			t.Run(fmt.Sprintf("%s/%s", l, e.name), func(t *testing.T) {
				h := newHarness(t, nil)
				h.ok("PUT", "/config/s", map[string]string{"compatibility": string(l)}, nil)
				h.register("s", e.old)
				if e.want(l) {
					h.register("s", e.new)
					return
				}
				msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": e.new}, CodeIncompatible)
				if !strings.Contains(msg, "field "+e.field+":") || !strings.Contains(msg, string(l)) {
					t.Fatalf("409 message %q does not name field %s and level %s", msg, e.field, l)
				}
				var versions []int
				h.ok("GET", "/subjects/s/versions", nil, &versions)
				if len(versions) != 1 {
					t.Fatalf("versions after a refused registration = %v, want [1]", versions)
				}
			})
		}
	}
}

func TestRegistrationTransitive(t *testing.T) {
	for _, c := range transitiveChains {
		for _, l := range []Level{c.flat, c.level} {
			t.Run(c.name+"/"+string(l), func(t *testing.T) {
				h := newHarness(t, nil)
				h.ok("PUT", "/config", map[string]string{"compatibility": string(l)}, nil)
				for _, s := range c.chain {
					h.register("s", s)
				}
				if l == c.flat {
					h.register("s", c.next)
					return
				}
				msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": c.next}, CodeIncompatible)
				if !strings.Contains(msg, "version 1") {
					t.Fatalf("message %q does not name version 1", msg)
				}
				// Soft-deleting version 1 takes it out of the check.
				h.ok("DELETE", "/subjects/s/versions/1", nil, nil)
				h.register("s", c.next)
			})
		}
	}
}

func TestDeleteVersionSoftThenPermanent(t *testing.T) {
	h := newHarness(t, nil)
	h.register("s", schemaV1)
	id2 := h.register("s", schemaV2)
	var n int
	h.ok("DELETE", "/subjects/s/versions/latest", nil, &n)
	if n != 2 {
		t.Fatalf("soft delete latest = %d, want 2", n)
	}
	h.fail("DELETE", "/subjects/s/versions/2", nil, CodeVersionSoftDeleted)
	h.fail("DELETE", "/subjects/s/versions/1?permanent=true", nil, CodeVersionNotSoftDeleted)
	h.ok("DELETE", "/subjects/s/versions/2?permanent=true", nil, &n)
	if n != 2 {
		t.Fatalf("permanent delete = %d, want 2", n)
	}
	h.fail("GET", "/subjects/s/versions/2?deleted=true", nil, CodeVersionNotFound)
	h.fail("GET", fmt.Sprintf("/schemas/ids/%d", id2), nil, CodeSchemaNotFound)
	// The next version continues after the highest one left.
	h.register("s", rec(fID, fNote2))
	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1, 2}) {
		t.Fatalf("versions = %v, want [1 2]", versions)
	}
}

func TestSoftDeletedVersionNumberIsNotReused(t *testing.T) {
	h := newHarness(t, nil)
	h.register("s", schemaV1)
	h.register("s", schemaV2)
	h.ok("DELETE", "/subjects/s/versions/2", nil, nil)
	h.register("s", rec(fID, fNote2))
	var latest subjectSchema
	h.ok("GET", "/subjects/s/versions/latest", nil, &latest)
	if latest.Version != 3 {
		t.Fatalf("version after soft-deleting 2 = %d, want 3", latest.Version)
	}
	// Re-registering the soft-deleted schema makes a new version with
	// the old id.
	var v2 subjectSchema
	h.ok("GET", "/subjects/s/versions/2?deleted=true", nil, &v2)
	if id := h.register("s", schemaV2); id != v2.ID {
		t.Fatalf("re-registered id = %d, want %d", id, v2.ID)
	}
}

func TestDeleteSubjectSoftThenPermanent(t *testing.T) {
	h := newHarness(t, nil)
	h.register("s", schemaV1)
	h.register("s", schemaV2)
	h.ok("PUT", "/config/s", map[string]string{"compatibility": "FULL"}, nil)
	h.fail("DELETE", "/subjects/s?permanent=true", nil, CodeSubjectNotSoftDeleted)
	var deleted []int
	h.ok("DELETE", "/subjects/s", nil, &deleted)
	if !reflect.DeepEqual(deleted, []int{1, 2}) {
		t.Fatalf("soft delete = %v, want [1 2]", deleted)
	}
	h.fail("DELETE", "/subjects/s", nil, CodeSubjectSoftDeleted)
	h.fail("GET", "/subjects/s/versions", nil, CodeSubjectNotFound)
	h.fail("GET", "/subjects/s/versions/1", nil, CodeSubjectNotFound)
	// With no live versions, anything registers again.
	h.register("s", `"int"`)
	h.ok("DELETE", "/subjects/s", nil, nil)
	h.ok("DELETE", "/subjects/s?permanent=true", nil, &deleted)
	if !reflect.DeepEqual(deleted, []int{1, 2, 3}) {
		t.Fatalf("permanent delete = %v, want [1 2 3]", deleted)
	}
	var all []string
	h.ok("GET", "/subjects?deleted=true", nil, &all)
	if len(all) != 0 {
		t.Fatalf("subjects after permanent delete = %v", all)
	}
	// The subject's own level went with it.
	h.fail("GET", "/config/s", nil, CodeSubjectLevelNotSet)
	h.fail("DELETE", "/subjects/s", nil, CodeSubjectNotFound)
}

func TestIDsAreNeverReused(t *testing.T) {
	store := NewMemoryStore()
	h := newHarness(t, store)
	h.register("a", schemaV1)
	idB := h.register("b", schemaV2)
	h.ok("DELETE", "/subjects/b", nil, nil)
	h.ok("DELETE", "/subjects/b?permanent=true", nil, nil)
	idC := h.register("c", `"string"`)
	if idC <= idB {
		t.Fatalf("id after permanently deleting id %d = %d, want a new one", idB, idC)
	}
	// The same holds after a restart over the same records.
	h.ok("DELETE", "/subjects/c", nil, nil)
	h.ok("DELETE", "/subjects/c?permanent=true", nil, nil)
	h2 := newHarness(t, store)
	if idD := h2.register("d", `"long"`); idD <= idC {
		t.Fatalf("id after restart = %d, want more than %d", idD, idC)
	}
	// The schema of a permanently deleted id gets a fresh id.
	if again := h2.register("b", schemaV2); again == idB {
		t.Fatalf("re-registering a permanently deleted schema reused id %d", idB)
	}
}

func TestStorageFailureChangesNothing(t *testing.T) {
	store := &flakyStore{Store: NewMemoryStore()}
	h := newHarness(t, store)
	h.register("s", schemaV1)
	store.setFailing(true)
	msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": schemaV2}, CodeStorage)
	if !strings.Contains(msg, errInjected.Error()) || !strings.Contains(msg, "nothing was changed") {
		t.Fatalf("50001 message %q does not carry the cause", msg)
	}
	h.fail("PUT", "/config", map[string]string{"compatibility": "NONE"}, CodeStorage)
	h.fail("DELETE", "/subjects/s/versions/1", nil, CodeStorage)
	h.fail("DELETE", "/subjects/s", nil, CodeStorage)
	h.fail("DELETE", "/config/nosuch", nil, CodeSubjectNotFound) // checked before writing

	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1}) {
		t.Fatalf("versions after failed writes = %v, want [1]", versions)
	}
	var lvl levelBody
	h.ok("GET", "/config", nil, &lvl)
	if lvl.Level != LevelBackward {
		t.Fatalf("level after a failed PUT = %q", lvl.Level)
	}
	store.setFailing(false)
	id := h.register("s", schemaV2)
	// The id tried during the failure is not handed out: the write may
	// have landed after all.
	if id != 3 {
		t.Fatalf("id after recovery = %d, want 3 (2 was attempted)", id)
	}
	// A new registry over the same records sees the same state.
	h2 := newHarness(t, store.Store)
	h2.ok("GET", "/subjects/s/versions", nil, &versions)
	if !reflect.DeepEqual(versions, []int{1, 2}) {
		t.Fatalf("versions after restart = %v, want [1 2]", versions)
	}
}

func TestClosedRegistryRefusesWrites(t *testing.T) {
	h := newHarness(t, nil)
	h.register("s", schemaV1)
	if err := h.reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	h.fail("POST", "/subjects/s/versions", map[string]string{"schema": schemaV2}, CodeStorage)
	var versions []int
	h.ok("GET", "/subjects/s/versions", nil, &versions) // reads still work
	if len(versions) != 1 {
		t.Fatalf("versions = %v", versions)
	}
}

func TestRootAndTypes(t *testing.T) {
	h := newHarness(t, nil)
	w := h.do("GET", "/", nil)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{}" {
		t.Fatalf("GET / = %d %s", w.Code, w.Body)
	}
	var types []string
	h.ok("GET", "/schemas/types", nil, &types)
	if !reflect.DeepEqual(types, []string{"AVRO"}) {
		t.Fatalf("types = %v", types)
	}
}

func TestRequestContentTypes(t *testing.T) {
	h := newHarness(t, nil)
	for _, ct := range []string{ContentType, "application/vnd.schemaregistry+json", "application/json", "application/json; charset=utf-8", "application/octet-stream", ""} {
		req := newRequest("POST", "/subjects/s/versions", `{"schema":"\"string\""}`)
		req.Header.Set("Content-Type", ct)
		w := serve(h, req)
		if w.Code != 200 {
			t.Errorf("content type %q: status %d %s", ct, w.Code, w.Body)
		}
	}
	req := newRequest("POST", "/subjects/s/versions", `{"schema":"\"string\""}`)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(h, req)
	var e errorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != 415 || e.ErrorCode != CodeUnsupportedMediaType || !strings.Contains(e.Message, ContentType) {
		t.Fatalf("form content type: %d %s", w.Code, w.Body)
	}
}

func TestSubjectNamesAreUnescaped(t *testing.T) {
	h := newHarness(t, nil)
	h.register("team%2Fglyph%3Avalue", schemaV1)
	var subjects []string
	h.ok("GET", "/subjects", nil, &subjects)
	if len(subjects) != 1 || subjects[0] != "team/glyph:value" {
		t.Fatalf("subjects = %q, want [team/glyph:value]", subjects)
	}
	var got subjectSchema
	h.ok("GET", "/subjects/team%2Fglyph%3Avalue/versions/1", nil, &got)
	if got.Subject != "team/glyph:value" {
		t.Fatalf("subject = %q", got.Subject)
	}
}
