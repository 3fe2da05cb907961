// Package stagetest is the conformance suite every stage and every node
// passes. A stage's own tests call RunStage with a factory and a few
// representative frames, and a stateful stage's also call RunStateful (see
// stateful.go) with the same frames; a node's tests call RunNode with
// representative messages. RunStage and RunNode check the contract, not the
// domain logic:
//
//   - a cancelled context stops work: Process/Handle returns an error that
//     wraps context.Canceled;
//   - inputs are not mutated: every record's message is deep-equal before
//     and after;
//   - determinism: two fresh instances fed the same frames (or messages)
//     give deep-equal output;
//   - crumbs present: every result a stage leaves on a live record carries
//     a crumb named after the stage (a stage that says nothing where it
//     did nothing declares where it speaks with CrumbsOnly); every node
//     result carries a crumb named after the node, and answers the message
//     it was given.
package stagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Option changes what RunStage checks.
type Option func(*options)

type options struct {
	crumbed func(*stages.Record) bool
}

// CrumbsOnly is for a stage that keeps results compact by leaving its
// crumb only on the records it did something about (learn): crumbed
// reports, after the stage ran, whether a live record is one of them. The
// suite then checks that those records carry the stage's crumb, the others
// none, and that the frames give it at least one to crumb.
func CrumbsOnly(crumbed func(r *stages.Record) bool) Option {
	return func(o *options) { o.crumbed = crumbed }
}

// RunStage runs the conformance suite against fresh stages made by newStage.
// frames returns a new copy of the input frames on every call (the suite
// processes them several times); they are processed in order by one stage
// instance, as the runtime does for one partition.
func RunStage(t *testing.T, newStage func() stages.Stage, frames func() []*stages.Frame, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	t.Run("cancelled context stops work", func(t *testing.T) {
		st := newStage()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		fs := frames()
		if len(fs) == 0 {
			t.Fatal("stagetest: frames() returned no frames")
		}
		err := st.Process(ctx, fs[0])
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Process with a cancelled context returned %v, want an error wrapping context.Canceled", st.Name(), err)
		}
	})

	t.Run("inputs not mutated", func(t *testing.T) {
		st := newStage()
		for i, f := range frames() {
			before := copyMessages(f)
			if err := st.Process(context.Background(), f); err != nil {
				t.Fatalf("%s: frame %d: %v", st.Name(), i, err)
			}
			for j, r := range f.Records {
				if !equal(before[j], *r.Msg) {
					t.Fatalf("%s: frame %d record %d: input message mutated:\nbefore %#v\nafter  %#v", st.Name(), i, j, before[j], *r.Msg)
				}
			}
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		a, b := newStage(), newStage()
		fa, fb := frames(), frames()
		for i := range fa {
			if err := a.Process(context.Background(), fa[i]); err != nil {
				t.Fatalf("%s: frame %d: %v", a.Name(), i, err)
			}
			if err := b.Process(context.Background(), fb[i]); err != nil {
				t.Fatalf("%s: frame %d: %v", b.Name(), i, err)
			}
			if !equal(fa[i], fb[i]) {
				t.Fatalf("%s: frame %d differs between two runs over the same input:\n%#v\n%#v", a.Name(), i, fa[i], fb[i])
			}
		}
	})

	t.Run("crumbs present", func(t *testing.T) {
		st := newStage()
		results, err := checkCrumbs(st, frames(), o)
		if err != nil {
			t.Fatal(err)
		}
		if results == 0 {
			t.Logf("%s: no live record carried a result in these frames; crumb check covered traces only", st.Name())
		}
	})
}

// checkCrumbs runs st over fs and returns how many live results it checked
// for the stage's crumb, or what is wrong.
func checkCrumbs(st stages.Stage, fs []*stages.Frame, o options) (int, error) {
	results, crumbed := 0, 0
	for i, f := range fs {
		if err := st.Process(context.Background(), f); err != nil {
			return 0, fmt.Errorf("%s: frame %d: %w", st.Name(), i, err)
		}
		for j := range f.Records {
			r := &f.Records[j]
			if !r.Live() || r.Result == nil {
				continue
			}
			results++
			want := o.crumbed == nil || o.crumbed(r)
			switch has := hasCrumb(r.Result.Trace, st.Name()); {
			case want && !has:
				return 0, fmt.Errorf("%s: frame %d record %d: result has no crumb from the stage; crumbs: %v", st.Name(), i, j, crumbStages(r.Result.Trace))
			case !want && has:
				return 0, fmt.Errorf("%s: frame %d record %d: result has a crumb from a stage that says it did nothing about the record; crumbs: %v", st.Name(), i, j, crumbStages(r.Result.Trace))
			case want:
				crumbed++
			}
		}
		for j, tr := range f.Traces {
			if len(tr.Crumbs) == 0 {
				return 0, fmt.Errorf("%s: frame %d trace %d has no crumbs", st.Name(), i, j)
			}
		}
	}
	if o.crumbed != nil && crumbed == 0 {
		return 0, fmt.Errorf("%s: CrumbsOnly: no record of these frames is one the stage crumbs, so nothing was checked", st.Name())
	}
	return results, nil
}

// RunNode runs the conformance suite against node over msgs.
func RunNode(t *testing.T, newNode func() stages.Node, msgs func() []schemas.MatrizMessage) {
	t.Helper()

	t.Run("cancelled context stops work", func(t *testing.T) {
		n := newNode()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ms := msgs()
		if len(ms) == 0 {
			t.Fatal("stagetest: msgs() returned no messages")
		}
		_, err := n.Handle(ctx, &ms[0])
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Handle with a cancelled context returned %v, want an error wrapping context.Canceled", n.Name(), err)
		}
	})

	t.Run("inputs not mutated", func(t *testing.T) {
		n := newNode()
		for i, m := range msgs() {
			before := deepCopyMessage(m)
			if _, err := n.Handle(context.Background(), &m); err != nil {
				t.Fatalf("%s: message %d: %v", n.Name(), i, err)
			}
			if !equal(before, m) {
				t.Fatalf("%s: message %d mutated:\nbefore %#v\nafter  %#v", n.Name(), i, before, m)
			}
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		a, b := newNode(), newNode()
		ma, mb := msgs(), msgs()
		for i := range ma {
			ra, err := a.Handle(context.Background(), &ma[i])
			if err != nil {
				t.Fatalf("%s: message %d: %v", a.Name(), i, err)
			}
			rb, err := b.Handle(context.Background(), &mb[i])
			if err != nil {
				t.Fatalf("%s: message %d: %v", b.Name(), i, err)
			}
			if !equal(ra, rb) {
				t.Fatalf("%s: message %d gives different results:\n%#v\n%#v", a.Name(), i, ra, rb)
			}
		}
	})

	t.Run("crumbs present and result answers the message", func(t *testing.T) {
		n := newNode()
		for i, m := range msgs() {
			r, err := n.Handle(context.Background(), &m)
			if err != nil {
				t.Fatalf("%s: message %d: %v", n.Name(), i, err)
			}
			if r.MsgID != m.MsgID || r.Node != n.Name() || r.NodeVersion != n.Version() || r.Lane != m.Lane {
				t.Fatalf("%s: message %d: result answers msg_id=%q node=%q version=%q lane=%q, want %q %q %q %q",
					n.Name(), i, r.MsgID, r.Node, r.NodeVersion, r.Lane, m.MsgID, n.Name(), n.Version(), m.Lane)
			}
			if !hasCrumb(r.Trace, n.Name()) {
				t.Fatalf("%s: message %d: result has no crumb from the node; crumbs: %v", n.Name(), i, crumbStages(r.Trace))
			}
			if !r.OK && len(r.Reasons) == 0 {
				t.Fatalf("%s: message %d: result not ok without a reason", n.Name(), i)
			}
		}
	})
}

func hasCrumb(cs []schemas.Crumb, stage string) bool {
	for _, c := range cs {
		if c.Stage == stage {
			return true
		}
	}
	return false
}

func crumbStages(cs []schemas.Crumb) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Stage
	}
	return out
}

func copyMessages(f *stages.Frame) []schemas.MatrizMessage {
	out := make([]schemas.MatrizMessage, len(f.Records))
	for i, r := range f.Records {
		out[i] = deepCopyMessage(*r.Msg)
	}
	return out
}

func deepCopyMessage(m schemas.MatrizMessage) schemas.MatrizMessage {
	c := m
	if m.Glyph.Tags != nil {
		c.Glyph.Tags = make(map[string]string, len(m.Glyph.Tags))
		for k, v := range m.Glyph.Tags {
			c.Glyph.Tags[k] = v
		}
	}
	c.Payload = m.Payload.Clone()
	return c
}
