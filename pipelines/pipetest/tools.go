package pipetest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of an outside tool a test drives (kcat,
// promtool, chromium). When it is missing the test skips, naming the Debian
// package to install, or fails where every outside tool is required: CI
// sets MATRIZ_REQUIRE_INTEROP=1 so a missing tool never passes unnoticed.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	why := fmt.Sprintf("%s is not installed (%v): apt-get install -y --no-install-recommends %s", name, err, debianPackage)
	if os.Getenv("MATRIZ_REQUIRE_INTEROP") == "1" {
		t.Fatalf("MATRIZ_REQUIRE_INTEROP=1 and %s", why)
	}
	t.Skip(why)
	return ""
}
