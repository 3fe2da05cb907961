package operators_test

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
)

// TestTickRestoreWithoutAGridCutsAtTheTickRate pins restoring a checkpoint
// whose state lists no grid (one written before grids were recorded): the
// partition is cut at the tick's own rate from where the checkpoint had
// closed, and a record before that point is late.
func TestTickRestoreWithoutAGridCutsAtTheTickRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickFPS(20))
		closed := tkAt(100 * time.Millisecond).UnixNano()
		r.send(operators.TickRestore{Partition: 0, State: operators.TickState{Closed: closed, MaxTS: closed, LastOffset: 10, LastFPS: 20}})
		early := r.rec(0, tkAt(90*time.Millisecond))
		r.send(operators.TickInput{Record: early})
		r.send(operators.TickInput{Record: r.rec(0, tkAt(120*time.Millisecond))})
		r.close()
		fs, late := r.take()
		if got, want := spans(fs), []string{"p0@20 [100.000,150.000) n=1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		if len(late) != 1 || late[0].Offset != early.Offset || !late[0].Late {
			t.Fatalf("late %+v, want the record before the restored close point", late)
		}
		if fps := r.tick.FPS(); fps != 20 {
			t.Fatalf("restored at %d FPS, want the tick's 20", fps)
		}
	})
}
