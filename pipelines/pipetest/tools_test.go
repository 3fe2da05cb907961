package pipetest

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestRequireToolFindsAToolOnThePath(t *testing.T) {
	path := RequireTool(t, "go", "golang")
	if filepath.Base(path) != "go" {
		t.Fatalf("RequireTool(go) = %q, want a path ending in go", path)
	}
}

func TestRequireToolFailsForAMissingToolWhenRequired(t *testing.T) {
	t.Setenv("MATRIZ_REQUIRE_INTEROP", "1")
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		RequireTool(rec, "matriz-no-such-tool", "none")
	}()
	<-done
	if !rec.fataled {
		t.Fatal("a missing tool under MATRIZ_REQUIRE_INTEROP=1 did not fail the test")
	}
}

// recordingTB records a Fatalf instead of failing the outer test.
type recordingTB struct {
	testing.TB
	fataled bool
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(string, ...any) {
	r.fataled = true
	runtimeGoexit()
}
func (r *recordingTB) Skip(...any) { runtimeGoexit() }

func runtimeGoexit() { runtime.Goexit() }
