package stages_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// bombStage annotates every live record (a crumb, a score, a per-record
// event) and emits one frame-level event per call; it panics on the record
// whose msg_id is bad, after annotating it, so the chain has something to
// roll back. how picks the panic: a value, or a runtime error.
type bombStage struct {
	bad   string
	how   string // "value", "nil map", "whole frame"
	calls int
}

func (s *bombStage) Name() string { return "bomb" }

func (s *bombStage) Process(_ context.Context, f *stages.Frame) error {
	s.calls++
	f.Events = append(f.Events, schemas.Event{ID: "frame-event", Kind: schemas.EventKind("tick")})
	if s.how == "whole frame" && len(f.Records) > 1 {
		panic("only a whole frame makes me panic")
	}
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: "bomb"})
		r.Result.Reasons = append(r.Result.Reasons, "bomb saw it")
		f.Events = append(f.Events, schemas.Event{ID: "ev-" + r.Msg.MsgID, MsgID: r.Msg.MsgID})
		if r.Msg.MsgID == s.bad {
			switch s.how {
			case "nil map":
				var m map[string]int
				m[r.Msg.MsgID] = 1
			default:
				panic(fmt.Sprintf("cannot handle %s", r.Msg.MsgID))
			}
		}
	}
	return nil
}

// crumbStage adds a crumb to every live record.
type crumbStage struct{ name string }

func (s crumbStage) Name() string { return s.name }
func (s crumbStage) Process(_ context.Context, f *stages.Frame) error {
	for i := range f.Records {
		if r := &f.Records[i]; r.Live() {
			r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: s.name})
		}
	}
	return nil
}

func recoverFrame(ids ...string) *stages.Frame {
	f := &stages.Frame{Lane: schemas.LaneProd, Seq: 7, FPS: 30}
	for i, id := range ids {
		f.Records = append(f.Records, stages.Record{
			Offset: int64(i),
			Msg:    &schemas.MatrizMessage{MsgID: id},
			Result: &schemas.MatrizResult{MsgID: id, OK: true},
		})
	}
	return f
}

func crumbStages(r *stages.Record) []string {
	var out []string
	for _, c := range r.Result.Trace {
		out = append(out, c.Stage)
	}
	return out
}

func TestChainRecoversAStagePanicPerRecord(t *testing.T) {
	for _, how := range []string{"value", "nil map"} {
		t.Run(how, func(t *testing.T) {
			bomb := &bombStage{bad: "m2", how: how}
			c, err := stages.NewChain(crumbStage{"pre"}, bomb, crumbStage{"post"})
			if err != nil {
				t.Fatal(err)
			}
			f := recoverFrame("m1", "m2", "m3", "m4")
			if err := c.Run(context.Background(), f); err != nil {
				t.Fatalf("Run = %v, want nil: the other records go on", err)
			}
			bad := &f.Records[1]
			if bad.Live() || bad.Failure == nil || bad.Failure.Stage != "bomb" {
				t.Fatalf("panicking record: failure %+v, want failed by stage bomb", bad.Failure)
			}
			if !strings.HasPrefix(bad.Failure.Reason, "panic: ") {
				t.Fatalf("reason %q, want \"panic: ...\"", bad.Failure.Reason)
			}
			var pe *stages.PanicError
			if !errors.As(bad.Failure.Err, &pe) {
				t.Fatalf("failure err %v, want a *PanicError", bad.Failure.Err)
			}
			if !strings.Contains(pe.At, "(*bombStage).Process recover_test.go:") {
				t.Fatalf("panic site %q, want bombStage.Process in recover_test.go, not the runtime", pe.At)
			}
			if got := crumbStages(bad); strings.Join(got, ",") != "pre" || len(bad.Result.Reasons) != 0 {
				t.Fatalf("panicking record keeps crumbs %v reasons %v, want only pre's: the failed stage's work is undone", got, bad.Result.Reasons)
			}
			for _, i := range []int{0, 2, 3} {
				r := &f.Records[i]
				if !r.Live() {
					t.Fatalf("record %s failed: %+v", r.Msg.MsgID, r.Failure)
				}
				if got := strings.Join(crumbStages(r), ","); got != "pre,bomb,post" {
					t.Fatalf("record %s crumbs %s, want pre,bomb,post", r.Msg.MsgID, got)
				}
				if len(r.Result.Reasons) != 1 {
					t.Fatalf("record %s reasons %v, want one", r.Msg.MsgID, r.Result.Reasons)
				}
			}
			count := map[string]int{}
			for _, e := range f.Events {
				count[e.ID]++
			}
			want := map[string]int{"frame-event": 1, "ev-m1": 1, "ev-m3": 1, "ev-m4": 1}
			if fmt.Sprint(count) != fmt.Sprint(want) {
				t.Fatalf("events %v, want %v: one copy of each, none about the failed record", count, want)
			}
			if bomb.calls != 1+4 {
				t.Fatalf("bomb called %d times, want the frame once and each live record alone", bomb.calls)
			}
		})
	}
}

func TestChainPanicNoRecordReproducesIsAStageError(t *testing.T) {
	c, err := stages.NewChain(&bombStage{how: "whole frame"}, crumbStage{"post"})
	if err != nil {
		t.Fatal(err)
	}
	f := recoverFrame("m1", "m2")
	err = c.Run(context.Background(), f)
	var se *stages.StageError
	var pe *stages.PanicError
	if !errors.As(err, &se) || se.Stage != "bomb" || !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *StageError of stage bomb wrapping a *PanicError", err)
	}
	for i := range f.Records {
		if got := crumbStages(&f.Records[i]); len(got) != 1 || got[0] != "bomb" {
			t.Fatalf("record %d crumbs %v: post must not run after a stage error", i, got)
		}
	}
}

func TestChainStageErrorNamesTheStage(t *testing.T) {
	boom := errors.New("boom")
	var log []string
	c, err := stages.NewChain(&chStage{name: "a", log: &log}, &chStage{name: "b", log: &log, err: boom})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background(), recoverFrame("m1"))
	var se *stages.StageError
	if !errors.As(err, &se) || se.Stage != "b" || se.Skipped || !errors.Is(err, boom) {
		t.Fatalf("Run = %#v, want *StageError{Stage: b} wrapping boom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.Run(ctx, recoverFrame("m1"))
	if !errors.As(err, &se) || se.Stage != "a" || !se.Skipped || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run on a cancelled context = %#v, want *StageError{Stage: a, Skipped} wrapping context.Canceled", err)
	}
}
