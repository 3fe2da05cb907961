package stagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/matriz/pipelines/stages"
)

// RunStateful runs the snapshot suite against fresh instances of a
// stateful stage made by newStage, each one partition's state. frames
// returns a new copy of at least two frames of one partition on every
// call, and all but the last must leave the stage with state. The suite
// checks:
//
//   - snapshot, restore, same output: for every split k, an instance that
//     ran frames[:k] snapshots; a fresh instance restores that snapshot
//     (and snapshots to the same bytes); both run frames[k:], and every
//     frame's annotations, events, traces and actions are deep-equal and
//     the final snapshots byte-equal. A field Snapshot forgets fails here;
//   - a fresh instance has no state: its Snapshot is nil, and after
//     Restore(nil) (or empty bytes) a used instance snapshots to nil and
//     runs the frames as a fresh one does;
//   - bad snapshots change nothing: another stage's envelope, a future
//     format, garbage and truncated bytes are refused with an error
//     wrapping stages.ErrSnapshot, and the instance that refused one
//     snapshots as before and runs the last frame as an untouched twin.
func RunStateful(t *testing.T, newStage func() stages.Stateful, frames func() []*stages.Frame) {
	t.Helper()
	for _, c := range statefulChecks(newStage, frames) {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// check is one part of the suite. The checks return what is wrong instead
// of failing a test, so that the suite's own tests can show each one
// failing on a broken stage.
type check struct {
	name string
	run  func() error
}

func statefulChecks(newStage func() stages.Stateful, frames func() []*stages.Frame) []check {
	return []check{
		{"snapshot, restore, same output", func() error { return sameAfterRestore(newStage, frames) }},
		{"a fresh instance has no state", func() error { return freshHasNoState(newStage, frames) }},
		{"bad snapshots change nothing", func() error { return badSnapshotsChangeNothing(newStage, frames) }},
	}
}

func sameAfterRestore(newStage func() stages.Stateful, frames func() []*stages.Frame) error {
	n, err := frameCount(frames)
	if err != nil {
		return err
	}
	for k := 0; k <= n; k++ {
		fa, fb := frames(), frames()
		a := newStage()
		if err := process(a, fa[:k]); err != nil {
			return err
		}
		snap, err := snapshot(a)
		if err != nil {
			return err
		}
		b := newStage()
		if err := b.Restore(snap); err != nil {
			return fmt.Errorf("%s: split %d: restore of its own snapshot: %w\nsnapshot: %s", a.Name(), k, err, snap)
		}
		if again, err := snapshot(b); err != nil || !bytes.Equal(again, snap) {
			return fmt.Errorf("%s: split %d: the restored instance snapshots to\n%s (%v)\nthe snapshot it restored is\n%s", a.Name(), k, again, err, snap)
		}
		for i := k; i < n; i++ {
			if err := process(a, fa[i:i+1]); err != nil {
				return err
			}
			if err := process(b, fb[i:i+1]); err != nil {
				return err
			}
			if d := frameDiff(fa[i], fb[i]); d != "" {
				return fmt.Errorf("%s: split %d: frame %d after the restore differs from the run without one: %s\nthe restored snapshot was\n%s", a.Name(), k, i, d, snap)
			}
		}
		if err := sameState(a, b); err != nil {
			return fmt.Errorf("%s: split %d: after the last frame, %w", a.Name(), k, err)
		}
	}
	return nil
}

func freshHasNoState(newStage func() stages.Stateful, frames func() []*stages.Frame) error {
	if _, err := frameCount(frames); err != nil {
		return err
	}
	fresh := newStage()
	if b, err := fresh.Snapshot(); b != nil || err != nil {
		return fmt.Errorf("%s: a fresh instance's Snapshot = %q, %v; want nil, nil", fresh.Name(), b, err)
	}
	for _, empty := range [][]byte{nil, {}} {
		used := newStage()
		if err := process(used, frames()); err != nil {
			return err
		}
		if err := used.Restore(empty); err != nil {
			return fmt.Errorf("%s: Restore(%#v): %w", used.Name(), empty, err)
		}
		if b, err := used.Snapshot(); b != nil || err != nil {
			return fmt.Errorf("%s: after Restore(%#v), Snapshot = %q, %v; want nil, nil", used.Name(), empty, b, err)
		}
		fu, ff := frames(), frames()
		fresh := newStage()
		for i := range fu {
			if err := process(used, fu[i:i+1]); err != nil {
				return err
			}
			if err := process(fresh, ff[i:i+1]); err != nil {
				return err
			}
			if d := frameDiff(ff[i], fu[i]); d != "" {
				return fmt.Errorf("%s: after Restore(%#v), frame %d differs from a fresh instance's: %s", used.Name(), empty, i, d)
			}
		}
	}
	return nil
}

func badSnapshotsChangeNothing(newStage func() stages.Stateful, frames func() []*stages.Frame) error {
	n, err := frameCount(frames)
	if err != nil {
		return err
	}
	// warm returns an instance that ran all but the last frame.
	warm := func() (stages.Stateful, error) {
		st := newStage()
		return st, process(st, frames()[:n-1])
	}
	probe, err := warm()
	if err != nil {
		return err
	}
	good, err := snapshot(probe)
	if err != nil {
		return err
	}
	if good == nil {
		return fmt.Errorf("%s: no state after all but the last frame; give RunStateful frames that leave some", probe.Name())
	}
	// Foreign and future snapshots carry the state after every frame, so a
	// stage that applies part of a snapshot before refusing it shows.
	if err := process(probe, frames()[n-1:]); err != nil {
		return err
	}
	later, err := snapshot(probe)
	if err != nil {
		return err
	}
	bads, err := badSnapshots(probe.Name(), good, later)
	if err != nil {
		return err
	}
	for _, bad := range bads {
		st, err := warm()
		if err != nil {
			return err
		}
		twin, _ := warm()
		err = st.Restore(bad.b)
		if !errors.Is(err, stages.ErrSnapshot) {
			return fmt.Errorf("%s: Restore of %s = %v; want an error wrapping stages.ErrSnapshot\nsnapshot: %q", st.Name(), bad.what, err, bad.b)
		}
		if after, _ := st.Snapshot(); !bytes.Equal(after, good) {
			return fmt.Errorf("%s: refusing %s changed the state to\n%s\nfrom\n%s", st.Name(), bad.what, after, good)
		}
		fs, ft := frames()[n-1], frames()[n-1]
		if err := process(st, []*stages.Frame{fs}); err != nil {
			return err
		}
		_ = process(twin, []*stages.Frame{ft})
		if d := frameDiff(ft, fs); d != "" {
			return fmt.Errorf("%s: after refusing %s, the last frame differs from an untouched twin's: %s", st.Name(), bad.what, d)
		}
		fresh := newStage()
		if err := fresh.Restore(bad.b); !errors.Is(err, stages.ErrSnapshot) {
			return fmt.Errorf("%s: Restore of %s into a fresh instance = %v; want an error wrapping stages.ErrSnapshot", st.Name(), bad.what, err)
		}
		if b, _ := fresh.Snapshot(); b != nil {
			return fmt.Errorf("%s: refusing %s gave a fresh instance the state\n%s", st.Name(), bad.what, b)
		}
	}
	return nil
}

type badSnapshot struct {
	what string
	b    []byte
}

// badSnapshots derives what RunStateful feeds Restore from good and later,
// two snapshots of the stage in the envelope {"format","stage","state"}.
func badSnapshots(stage string, good, later []byte) ([]badSnapshot, error) {
	var env map[string]json.RawMessage
	var format int
	if err := json.Unmarshal(later, &env); err != nil || env["stage"] == nil || env["state"] == nil || json.Unmarshal(env["format"], &format) != nil {
		return nil, fmt.Errorf("%s: the snapshot %s is not the envelope {\"format\":N,\"stage\":...,\"state\":...}", stage, later)
	}
	with := func(key string, v any) []byte {
		e := make(map[string]json.RawMessage, len(env))
		for k, raw := range env {
			e[k] = raw
		}
		e[key], _ = json.Marshal(v)
		b, _ := json.Marshal(e)
		return b
	}
	return []badSnapshot{
		{"another stage's snapshot", with("stage", stage+"-other")},
		{fmt.Sprintf("a snapshot in a future format (%d)", format+1), with("format", format+1)},
		{"garbage", []byte("\x00\x01 not a snapshot \xff")},
		{"a snapshot cut in half", good[:len(good)/2]},
		{"a snapshot without its last byte", good[:len(good)-1]},
	}, nil
}

func frameCount(frames func() []*stages.Frame) (int, error) {
	n := len(frames())
	if n < 2 {
		return 0, fmt.Errorf("stagetest: RunStateful needs at least two frames, frames() returned %d", n)
	}
	return n, nil
}

func process(st stages.Stage, fs []*stages.Frame) error {
	for _, f := range fs {
		if err := st.Process(context.Background(), f); err != nil {
			return fmt.Errorf("%s: frame %d of partition %d: %w", st.Name(), f.Seq, f.Partition, err)
		}
	}
	return nil
}

// snapshot takes st's snapshot twice and refuses bytes that differ: the
// same state must encode to the same bytes.
func snapshot(st stages.Stateful) ([]byte, error) {
	a, err := st.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("%s: Snapshot: %w", st.Name(), err)
	}
	if b, _ := st.Snapshot(); !bytes.Equal(a, b) {
		return nil, fmt.Errorf("%s: two snapshots of one state differ:\n%s\n%s", st.Name(), a, b)
	}
	return a, nil
}

func sameState(a, b stages.Stateful) error {
	sa, err := snapshot(a)
	if err != nil {
		return err
	}
	sb, err := snapshot(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(sa, sb) {
		return fmt.Errorf("the restored instance snapshots to\n%s\nthe one that ran every frame to\n%s", sb, sa)
	}
	return nil
}

// frameDiff names the first thing that differs between two frames, or
// returns "" when they are deep-equal.
func frameDiff(want, got *stages.Frame) string {
	if equal(want, got) {
		return ""
	}
	if len(want.Records) == len(got.Records) {
		for i := range want.Records {
			w, g := &want.Records[i], &got.Records[i]
			switch {
			case !equal(w.Result, g.Result):
				return fmt.Sprintf("record %d's result is\n%+v\nwant\n%+v", i, g.Result, w.Result)
			case !equal(w.Scores, g.Scores):
				return fmt.Sprintf("record %d's scores are %v, want %v", i, g.Scores, w.Scores)
			case !equal(w.Verdict, g.Verdict):
				return fmt.Sprintf("record %d's verdict is %+v, want %+v", i, g.Verdict, w.Verdict)
			case !equal(*w, *g):
				return fmt.Sprintf("record %d is\n%+v\nwant\n%+v", i, *g, *w)
			}
		}
	}
	for _, part := range []struct {
		what      string
		want, got any
	}{{"events", want.Events, got.Events}, {"traces", want.Traces, got.Traces}, {"actions", want.Actions, got.Actions}} {
		if !equal(part.want, part.got) {
			return fmt.Sprintf("%s are\n%+v\nwant\n%+v", part.what, part.got, part.want)
		}
	}
	return fmt.Sprintf("frame is\n%+v\nwant\n%+v", *got, *want)
}
