package stages

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// statuses returns the status of every action event of f.
func statuses(f *Frame) []string {
	var out []string
	for _, ev := range f.Actions {
		s, _ := ev.Payload.String("status")
		out = append(out, s)
	}
	return out
}

func TestGuardianExecutorPanicIsADenyAndThePartitionGoesOn(t *testing.T) {
	calls := 0
	ex := ExecutorFunc(func(context.Context, schemas.Lane, Action) error {
		calls++
		if calls == 1 {
			var m map[string]bool
			m["boom"] = true // a nil-map write: a runtime panic
		}
		return nil
	})
	g, err := NewGuardian(schemas.LaneProd, GuardianExecutor(ex))
	if err != nil {
		t.Fatal(err)
	}
	f := onceFrame(0, p1(1))
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatalf("Process = %v, want the panic decided, not returned", err)
	}
	v := f.Records[0].Verdict
	if v.Outcome != OutcomeDeny || len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "panic: assignment to entry in nil map") {
		t.Fatalf("verdict %+v, want a deny naming the panic", v)
	}
	fxEqual(t, "action statuses", statuses(f), []string{ActionPreview, ActionFailed})
	if e, _ := f.Actions[1].Payload.String("error"); !strings.Contains(e, "panic:") {
		t.Fatalf("failed event error %q", e)
	}
	// The next action of the partition executes.
	f2 := onceFrame(1, p1(2))
	if err := g.Process(context.Background(), f2); err != nil {
		t.Fatal(err)
	}
	if v := f2.Records[0].Verdict; v.Outcome != OutcomeExecuted || calls != 2 {
		t.Fatalf("next verdict %+v after %d calls, want executed", v, calls)
	}
}

func TestCallExecutorNamesWhereTheExecutorPanicked(t *testing.T) {
	err := callExecutor(context.Background(), ExecutorFunc(func(context.Context, schemas.Lane, Action) error {
		panic("webhook client is nil")
	}), time.Second, schemas.LaneProd, Action{ID: "a1"})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "webhook client is nil" || !strings.Contains(pe.At, "executor_guard_test.go:") {
		t.Fatalf("err = %#v, want a *PanicError raised in executor_guard_test.go", err)
	}
}

func TestGuardianHungExecutorTimesOutUncertain(t *testing.T) {
	for _, name := range []string{"ignores its context", "honours its context"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				ex := ExecutorFunc(func(ctx context.Context, _ schemas.Lane, _ Action) error {
					if name == "honours its context" {
						<-ctx.Done()
						return ctx.Err()
					}
					<-release // hangs whatever ctx says
					return nil
				})
				g, err := NewGuardian(schemas.LaneProd, GuardianExecutor(ex))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				f := onceFrame(0, p1(1))
				if err := g.Process(context.Background(), f); err != nil {
					t.Fatalf("Process = %v, want the timeout decided", err)
				}
				if waited := time.Since(start); waited != DefaultExecutorTimeout {
					t.Fatalf("waited %v, want the default timeout %v", waited, DefaultExecutorTimeout)
				}
				v := f.Records[0].Verdict
				if v.Outcome != OutcomeUncertain || len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "did not return within 10s") {
					t.Fatalf("verdict %+v, want uncertain naming the timeout", v)
				}
				fxEqual(t, "action statuses", statuses(f), []string{ActionPreview, ActionUncertain})
				close(release)
				// The partition goes on: its next frame is decided.
				f2 := onceFrame(1, gMsg(2, "trend", nil))
				if err := g.Process(context.Background(), f2); err != nil || f2.Records[0].Verdict == nil {
					t.Fatalf("next frame: %v, verdict %+v", err, f2.Records[0].Verdict)
				}
			})
		})
	}
}

func TestGuardianExecutorTimeoutOption(t *testing.T) {
	var oe *OptionError
	if _, err := NewGuardian(schemas.LaneProd, GuardianExecutorTimeout(0)); !errors.As(err, &oe) || oe.Option != "GuardianExecutorTimeout" {
		t.Fatalf("timeout 0: err = %v, want an *OptionError for GuardianExecutorTimeout", err)
	}
	synctest.Test(t, func(t *testing.T) {
		ex := ExecutorFunc(func(ctx context.Context, _ schemas.Lane, _ Action) error { <-ctx.Done(); return ctx.Err() })
		g, err := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianExecutorTimeout(250*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := g.Process(context.Background(), onceFrame(0, p1(1))); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Fatalf("waited %v, want 250ms", waited)
		}
	})
}

func TestCallExecutorReturnsTheFramesContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := callExecutor(ctx, ExecutorFunc(func(ctx context.Context, _ schemas.Lane, _ Action) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}), time.Hour, schemas.LaneProd, Action{ID: "a1"})
	var te *ExecutorTimeoutError
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Fatalf("err = %v, want context.Canceled, not a timeout", err)
	}
}
