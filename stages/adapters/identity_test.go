package adapters_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

// TestSubjectSIDDerivation recomputes the documented encoding by hand.
func TestSubjectSIDDerivation(t *testing.T) {
	enc := func(s string) []byte {
		n := len(s)
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, s...)
	}
	var b []byte
	for _, s := range []string{"matriz-sid/1", "acme", "user:ada"} {
		b = append(b, enc(s)...)
	}
	sum := sha256.Sum256(b)
	if got, want := adapters.SubjectSID("acme", "user:ada"), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("SubjectSID = %s, want %s", got, want)
	}
	// Length prefixes keep field boundaries: no collision by shifting bytes.
	if adapters.SubjectSID("a", "bc") == adapters.SubjectSID("ab", "c") {
		t.Fatal("namespace/subject boundary is ambiguous")
	}
	if adapters.SubjectSID("", "Ada") == adapters.SubjectSID("", "ada") {
		t.Fatal("subjects are case-folded; they must be hashed as given")
	}
}

func TestIdentity(t *testing.T) {
	sid := adapters.SubjectSID("acme", "user:ada")
	for _, tc := range []struct {
		name     string
		tags     map[string]string
		p        schemas.Payload
		ok       bool
		supplied bool
	}{
		{"no claim", map[string]string{"subject": "user:ada", "namespace": "acme"}, nil, true, false},
		{"tag claim", map[string]string{"subject": "user:ada", "namespace": "acme", "subject_sid": sid}, nil, true, true},
		{"upper-case claim", map[string]string{"subject": "user:ada", "namespace": "acme", "subject_sid": strings.ToUpper(sid)}, nil, true, true},
		{"payload claim", map[string]string{"subject": "user:ada", "namespace": "acme"}, schemas.Payload{"subject_sid": sid}, true, true},
		{"wrong namespace", map[string]string{"subject": "user:ada", "namespace": "other", "subject_sid": sid}, nil, false, true},
		{"kind does not matter", map[string]string{"subject": "user:ada", "namespace": "acme", "subject_sid": sid}, nil, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := message(tc.p, tc.tags)
			if tc.name == "kind does not matter" {
				msg.Glyph.Kind, msg.Glyph.ID = "memory", "another-glyph"
			}
			r := handle(t, adapters.Identity{}, msg)
			if r.OK != tc.ok || r.Payload["sid_match"] != tc.ok || r.Payload["sid_supplied"] != tc.supplied {
				t.Fatalf("ok %v payload %v reasons %q", r.OK, r.Payload, r.Reasons)
			}
			if !tc.ok {
				wantReason(t, r, "does not match", `namespace "other"`)
			} else if str(t, r, "subject_sid") != sid {
				t.Fatalf("sid %s, want %s", r.Payload["subject_sid"], sid)
			}
		})
	}
	// Without a subject tag the glyph is the subject.
	r := handle(t, adapters.Identity{}, message(nil, nil))
	if str(t, r, "subject") != "glyph:glyph-1" || str(t, r, "subject_sid") != adapters.SubjectSID("", "glyph:glyph-1") || str(t, r, "namespace") != "" {
		t.Fatalf("glyph fallback: %v", r.Payload)
	}
}

func TestIdentityBadInput(t *testing.T) {
	msg := message(nil, nil)
	msg.Glyph.ID = ""
	wantReason(t, handle(t, adapters.Identity{}, msg), "no identity: glyph.tags subject and glyph.id are both empty")
	wantReason(t, handle(t, adapters.Identity{}, message(schemas.Payload{"subject_sid": "ab"}, map[string]string{"subject_sid": "cd"})), `glyph.tags subject_sid "cd" and payload.subject_sid "ab" differ`)
	wantReason(t, handle(t, adapters.Identity{}, message(schemas.Payload{"subject_sid": int64(7)}, nil)), "payload.subject_sid: got long 7")
}
