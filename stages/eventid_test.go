package stages

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestDerivedIDIsUUIDv5OfTheJoinedParts(t *testing.T) {
	long := strings.Repeat("x", 300) // past the stack buffer
	for _, parts := range [][]string{{"m", "drift", "drift_alert"}, {""}, {long, "guardian"}} {
		want := uuid.NewSHA1(IDNamespace, []byte(strings.Join(parts, "/"))).String()
		if got := DerivedID(parts...); got != want {
			t.Fatalf("DerivedID(%q) = %s, want %s", parts, got, want)
		}
		u, err := uuid.Parse(DerivedID(parts...))
		if err != nil || u.Version() != 5 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("DerivedID(%q) is not a v5 uuid: %v %v", parts, u, err)
		}
	}
	if DerivedID("a", "b") != DerivedID("a/b") {
		t.Fatal("parts are joined with /")
	}
	if DerivedID("a", "b") == DerivedID("b", "a") {
		t.Fatal("order of parts does not matter")
	}
}

func TestBoxKeepsValues(t *testing.T) {
	for _, s := range []string{"allow", "high", "warn", "half_open", "not common"} {
		if box(s) != any(s) {
			t.Fatalf("box(%q) = %v", s, box(s))
		}
	}
}
