package registry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fixedSchema is a distinct schema per n.
func fixedSchema(n int) string { return fmt.Sprintf(`{"type":"fixed","name":"F","size":%d}`, n) }

// TestVersionsPerSubjectLimit: past the limit a subject takes no new
// version, with an error that names the limit and what to do; other
// subjects and re-registrations of a stored schema still work.
func TestVersionsPerSubjectLimit(t *testing.T) {
	h := newHarness(t, nil, WithDefaultLevel(LevelNone), WithLimits(Limits{VersionsPerSubject: 3}))
	for i := range 3 {
		h.register("s", fixedSchema(i+1))
	}
	msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": fixedSchema(9)}, CodeLimitExceeded)
	for _, want := range []string{`"s"`, "3 versions", "delete"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if id := h.register("s", fixedSchema(2)); id != 2 {
		t.Fatalf("re-registering a stored schema: id %d, want 2", id)
	}
	h.register("other", fixedSchema(9))
	// Soft-deleted versions still count: they are on the topic and in memory.
	h.ok("DELETE", "/subjects/s/versions/1", nil, nil)
	h.fail("POST", "/subjects/s/versions", map[string]string{"schema": fixedSchema(10)}, CodeLimitExceeded)
	h.ok("DELETE", "/subjects/s/versions/1?permanent=true", nil, nil)
	h.register("s", fixedSchema(10))
}

// TestSchemasTotalLimit: the registry holds at most the configured number
// of schema versions over all subjects.
func TestSchemasTotalLimit(t *testing.T) {
	h := newHarness(t, nil, WithDefaultLevel(LevelNone), WithLimits(Limits{Schemas: 5}))
	for i := range 5 {
		h.register(fmt.Sprintf("s%d", i), fixedSchema(i+1))
	}
	msg := h.fail("POST", "/subjects/t/versions", map[string]string{"schema": fixedSchema(1)}, CodeLimitExceeded)
	if !strings.Contains(msg, "5 schema versions") {
		t.Errorf("message %q does not name the limit", msg)
	}
	var subjects []string
	h.ok("GET", "/subjects", nil, &subjects)
	if len(subjects) != 5 {
		t.Fatalf("subjects after a refused registration: %v", subjects)
	}
	if id := h.register("s0", fixedSchema(1)); id != 1 {
		t.Fatalf("re-registering a stored schema at the limit: id %d, want 1", id)
	}
}

// TestSchemaSizeLimit: a schema text over the size limit is refused before
// it is parsed, with 42201 and the sizes.
func TestSchemaSizeLimit(t *testing.T) {
	h := newHarness(t, nil, WithLimits(Limits{SchemaBytes: 100}))
	big := `{"type":"record","name":"R","doc":"` + strings.Repeat("d", 200) + `","fields":[]}`
	msg := h.fail("POST", "/subjects/s/versions", map[string]string{"schema": big}, CodeInvalidSchema)
	if !strings.Contains(msg, "100 bytes") {
		t.Errorf("message %q does not name the limit", msg)
	}
	h.fail("POST", "/compatibility/subjects/s/versions", map[string]string{"schema": big}, CodeInvalidSchema)
	h.register("s", `"int"`)
}

// TestDefaultLimits: the defaults are those documented.
func TestDefaultLimits(t *testing.T) {
	l := defaultConfig().limits
	if l.VersionsPerSubject != 1000 || l.Schemas != 10_000 || l.SchemaBytes != 1<<20 {
		t.Fatalf("default limits %+v", l)
	}
	for _, bad := range []Limits{{VersionsPerSubject: -1}, {Schemas: -1}, {SchemaBytes: -1}, {SchemaBytes: maxSchemaBytes + 1}} {
		if _, err := New(NewMemoryStore(), WithLimits(bad)); !errors.Is(err, ErrConfig) {
			t.Errorf("limits %+v: got %v, want ErrConfig", bad, err)
		}
	}
}
