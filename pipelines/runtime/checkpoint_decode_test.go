package runtime

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/operators"
)

// TestDecodeCheckpointRefusesWhatIsNoCut: a state record that is not a
// checkpoint, or whose offsets are no range (resume negative or past
// next), is an error naming the checkpoint: restoring it would skip or
// repeat records.
func TestDecodeCheckpointRefusesWhatIsNoCut(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"not JSON", `{"lane":`, "checkpoint: "},
		{"wrong type", `{"partition":"two"}`, "checkpoint: "},
		{"resume negative", `{"partition":2,"resume":-1,"next":5}`, "checkpoint 2@5: resume -1 and next 5 are not an offset range"},
		{"resume past next", `{"partition":2,"resume":9,"next":5}`, "checkpoint 2@5: resume 9 and next 5 are not an offset range"},
	} {
		cp, err := DecodeCheckpoint([]byte(tc.value))
		if err == nil || cp != nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: DecodeCheckpoint = %+v, %v; want an error starting %q", tc.name, cp, err, tc.want)
		}
	}
}

// TestCheckpointTickStateOnlyWhenItHoldsOne: a cut an older binary wrote
// holds no tick window, and one whose window does not parse is treated
// the same: the restart rebuilds the window instead of failing the
// partition; a cut with a window gives it back as taken.
func TestCheckpointTickStateOnlyWhenItHoldsOne(t *testing.T) {
	if _, ok := (&Checkpoint{}).TickState(); ok {
		t.Error("a cut without a tick window reported one")
	}
	if _, ok := (&Checkpoint{Tick: json.RawMessage(`[1,2`)}).TickState(); ok {
		t.Error("a cut with a malformed tick window reported one")
	}
	want := operators.TickState{Closed: 41, MaxTS: 5_000, LastFPS: 30, LastOffset: 99, Grid: []operators.GridSwitch{{From: 1_000, FPS: 30}}}
	tick, err := jsonState(want)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := (&Checkpoint{Tick: tick}).TickState()
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("TickState = %+v, %v; want %+v", got, ok, want)
	}
}
