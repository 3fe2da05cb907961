package stages

import (
	"errors"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

func TestControlKeyRoundTrips(t *testing.T) {
	for _, lane := range append([]schemas.Lane{""}, schemas.Lanes...) {
		for _, name := range FlagNames {
			key := ControlKey(lane, name)
			gotLane, gotName, err := ParseControlKey(key)
			if err != nil || gotLane != lane || gotName != name {
				t.Errorf("ParseControlKey(%q) = %q, %q, %v; want %q, %q", key, gotLane, gotName, err, lane, name)
			}
		}
	}
	if got := ControlKey(schemas.LaneProd, FlagDispatch); got != "prod/DISPATCH_ENABLED" {
		t.Errorf("ControlKey(prod, dispatch) = %q", got)
	}
}

func TestParseControlKeyRefusesUnknownNamesAndLanes(t *testing.T) {
	_, _, err := ParseControlKey("TELEPORT_ENABLED")
	var unknown *UnknownFlagError
	if !errors.As(err, &unknown) || unknown.Name != "TELEPORT_ENABLED" {
		t.Fatalf("unknown flag: err %v, want an *UnknownFlagError", err)
	}
	for _, name := range FlagNames {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q does not list %s", err, name)
		}
	}
	if _, _, err := ParseControlKey("staging/" + FlagDispatch); !errors.Is(err, schemas.ErrUnknownLane) {
		t.Errorf("unknown lane: err %v, want ErrUnknownLane", err)
	}
	if _, _, err := ParseControlKey("dispatch_enabled"); err == nil {
		t.Error("a lower-case name was accepted: the runtime matches keys exactly")
	}
}

// TestCombineFlagOffWins: every combination of a global and a lane
// override, unset included.
func TestCombineFlagOffWins(t *testing.T) {
	unset, on, off := FlagOverride{}, FlagOverride{On: true, Set: true}, FlagOverride{Set: true}
	for _, tc := range []struct {
		name         string
		global, lane FlagOverride
		want         FlagOverride
	}{
		{"neither", unset, unset, unset},
		{"global on", on, unset, on},
		{"global off", off, unset, off},
		{"lane on", unset, on, on},
		{"lane off", unset, off, off},
		{"global off, lane on", off, on, off},
		{"global on, lane off", on, off, off},
		{"both on", on, on, on},
		{"both off", off, off, off},
	} {
		if got := CombineFlag(tc.global, tc.lane); got != tc.want {
			t.Errorf("%s: CombineFlag = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseFlagValue(t *testing.T) {
	for in, want := range map[string]bool{"true": true, " ON ": true, "1": true, "yes": true, "false": false, "Off": false, "0": false, "no": false} {
		if got, err := ParseFlagValue(in); err != nil || got != want {
			t.Errorf("ParseFlagValue(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseFlagValue("maybe"); err == nil {
		t.Error(`"maybe" accepted`)
	}
}
