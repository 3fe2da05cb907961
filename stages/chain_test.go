package stages_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/matriz/pipelines/stages"
)

// chStage records the order stages ran in and optionally fails.
type chStage struct {
	name  string
	log   *[]string
	err   error
	state []byte
	bad   bool // Snapshot and Restore fail
}

func (s *chStage) Name() string { return s.name }
func (s *chStage) Process(ctx context.Context, f *stages.Frame) error {
	*s.log = append(*s.log, s.name)
	return s.err
}

// chStateful is a chStage that implements Stateful: its state is bytes.
type chStateful struct{ chStage }

func (s *chStateful) Snapshot() ([]byte, error) {
	if s.bad {
		return nil, errors.New("disk full")
	}
	return s.state, nil
}

func (s *chStateful) Restore(b []byte) error {
	if s.bad {
		return errors.New("corrupt")
	}
	s.state = b
	return nil
}

// chWrapped is a stage wrapped as the runtime wraps stages for metrics: it
// is not Stateful itself and gives the stage behind it with Unwrap.
type chWrapped struct{ inner stages.Stage }

func (w chWrapped) Name() string { return w.inner.Name() }
func (w chWrapped) Process(ctx context.Context, f *stages.Frame) error {
	return w.inner.Process(ctx, f)
}
func (w chWrapped) Unwrap() stages.Stage { return w.inner }

func TestChainRunsInOrderAndStops(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		failAt  string
		cancel  bool
		wantLog []string
		wantErr string
		wantIs  error
	}{
		{name: "all stages in order", wantLog: []string{"a", "b", "c"}},
		{name: "stage error stops the chain", failAt: "b", wantLog: []string{"a", "b"}, wantErr: "stage b: boom", wantIs: boom},
		{name: "cancelled context runs nothing", cancel: true, wantLog: nil, wantErr: "chain stopped before stage a", wantIs: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			var ss []stages.Stage
			for _, n := range []string{"a", "b", "c"} {
				s := &chStage{name: n, log: &log}
				if n == tc.failAt {
					s.err = boom
				}
				ss = append(ss, s)
			}
			c, err := stages.NewChain(ss...)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
				t.Fatalf("Names = %v", got)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			err = c.Run(ctx, &stages.Frame{})
			if !reflect.DeepEqual(log, tc.wantLog) {
				t.Fatalf("ran %v, want %v", log, tc.wantLog)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q wrapping %v", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestChainStopsBetweenStagesOnCancel(t *testing.T) {
	var log []string
	ctx, cancel := context.WithCancel(context.Background())
	a := &chStage{name: "a", log: &log}
	canceller := cancelStage{cancel: cancel, log: &log}
	c, err := stages.NewChain(a, canceller, &chStage{name: "c", log: &log})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(ctx, &stages.Frame{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "before stage c") {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(log, []string{"a", "cancel"}) {
		t.Fatalf("ran %v", log)
	}
}

type cancelStage struct {
	cancel func()
	log    *[]string
}

func (cancelStage) Name() string { return "cancel" }
func (s cancelStage) Process(context.Context, *stages.Frame) error {
	*s.log = append(*s.log, "cancel")
	s.cancel()
	return nil
}

func TestNewChainRejects(t *testing.T) {
	var log []string
	tests := []struct {
		name   string
		stages []stages.Stage
		want   string
	}{
		{"nil stage", []stages.Stage{&chStage{name: "a", log: &log}, nil}, "stage 1 is nil"},
		{"unnamed", []stages.Stage{&chStage{log: &log}}, "has no name"},
		{"duplicate", []stages.Stage{&chStage{name: "a", log: &log}, &chStage{name: "a", log: &log}}, `stages 0 and 1 are both named "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stages.NewChain(tc.stages...)
			if !errors.Is(err, stages.ErrChain) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestChainStatePlumbing(t *testing.T) {
	var log []string
	x := &chStateful{chStage{name: "x", log: &log, state: []byte("x1")}}
	y := &chStateful{chStage{name: "y", log: &log, state: []byte("y1")}}
	plain := &chStage{name: "plain", log: &log}
	c, err := stages.NewChain(x, plain, chWrapped{chWrapped{y}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"x": []byte("x1"), "y": []byte("y1")}
	if !reflect.DeepEqual(snap, want) {
		t.Fatalf("Snapshot = %q, want %q", snap, want)
	}

	// Restore into fresh stages, as a new owner of the partition does.
	x2 := &chStateful{chStage{name: "x", log: &log}}
	y2 := &chStateful{chStage{name: "y", log: &log}}
	c2, _ := stages.NewChain(chWrapped{x2}, plain, y2)
	if err := c2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if string(x2.state) != "x1" || string(y2.state) != "y1" {
		t.Fatalf("restored %q %q", x2.state, y2.state)
	}

	if err := c2.Restore(map[string][]byte{"plain": nil}); !errors.Is(err, stages.ErrChain) || !strings.Contains(err.Error(), `stage "plain"`) {
		t.Fatalf("state for a stateless stage: err = %v", err)
	}
	if err := c2.Restore(map[string][]byte{"gone": nil}); !errors.Is(err, stages.ErrChain) {
		t.Fatalf("state for a missing stage: err = %v", err)
	}
	x2.bad = true
	if _, err := c2.Snapshot(); err == nil || !strings.Contains(err.Error(), "snapshot of stage x: disk full") {
		t.Fatalf("Snapshot error = %v", err)
	}
	if err := c2.Restore(snap); err == nil || !strings.Contains(err.Error(), "restore of stage x: corrupt") {
		t.Fatalf("Restore error = %v", err)
	}
}

func TestAsFindsStagesBehindWrappers(t *testing.T) {
	var log []string
	x := &chStateful{chStage{name: "x", log: &log}}
	plain := &chStage{name: "plain", log: &log}
	c, _ := stages.NewChain(chWrapped{plain}, chWrapped{chWrapped{x}})
	if got, ok := stages.As[*chStateful](c); !ok || got != x {
		t.Fatalf("As[*chStateful] = %v, %v; want the stage behind two wrappers", got, ok)
	}
	if got, ok := stages.As[*chStage](c); !ok || got != plain {
		t.Fatalf("As[*chStage] = %v, %v", got, ok)
	}
	if got, ok := stages.As[chWrapped](c); !ok || got.Name() != "plain" {
		t.Fatalf("As[chWrapped] = %v, %v; want the first wrapper", got, ok)
	}
	if got, ok := stages.As[*stages.Drift](c); ok || got != nil {
		t.Fatalf("As[*Drift] of a chain without drift = %v, %v", got, ok)
	}
}

// TestChainRouteAdapter runs the real route → adapter chain over seeded
// frames in both flag settings and checks every live record ends with
// exactly one result of the right node.
func TestChainRouteAdapter(t *testing.T) {
	for _, dispatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("dispatch=%v", dispatch), func(t *testing.T) {
			r, a := adStages(t, adNode{name: "memory"}, adNode{name: "contradiction"})
			c, err := stages.NewChain(r, a)
			if err != nil {
				t.Fatal(err)
			}
			f := rtFrame(rtMessages(21, 300), dispatch)
			if err := c.Run(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			for i, rec := range f.Records {
				want := "router"
				if dispatch && (rec.Msg.Topic == "memory" || rec.Msg.Topic == "contradiction") {
					want = rec.Msg.Topic
				}
				if rec.Result == nil || rec.Result.Node != want {
					t.Fatalf("record %d (topic %s): result %+v, want node %s", i, rec.Msg.Topic, rec.Result, want)
				}
			}
		})
	}
}

func BenchmarkChainRouteAdapter(b *testing.B) {
	r, a := adStages(b, adNode{name: "memory"}, adNode{name: "contradiction"}, adNode{name: "trend"}, adNode{name: "unrouted"})
	c, err := stages.NewChain(r, a)
	if err != nil {
		b.Fatal(err)
	}
	msgs := rtMessages(1, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := rtFrame(msgs, true)
		b.StartTimer()
		if err := c.Run(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/msg")
}
