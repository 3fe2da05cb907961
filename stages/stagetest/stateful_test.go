package stagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// defects are the ways the fake counter stage can get its state wrong.
type defects struct {
	forgetsGlyphs  bool // Snapshot leaves the per-glyph counts out
	unstable       bool // every Snapshot call gives other bytes
	freshNotNil    bool // a fresh instance snapshots to an empty state
	keepsOnReset   bool // Restore(nil) keeps the state
	acceptsFuture  bool // any format restores
	acceptsForeign bool // any stage's snapshot restores
	halfRestores   bool // the state is applied before the envelope is checked
	plainErrors    bool // refusals do not wrap stages.ErrSnapshot
	stateless      bool // Snapshot is always nil
}

// counter is a stateful stage for the suite's own tests: it counts every
// glyph's live records and the frames it has seen, scores each record with
// its glyph's count, and writes the envelope by hand.
type counter struct {
	defects
	frames  int64
	glyphs  map[string]int64
	snapped int
}

type counterState struct {
	Frames int64            `json:"frames"`
	Glyphs map[string]int64 `json:"glyphs,omitempty"`
	Calls  int              `json:"calls,omitempty"`
}

func (c *counter) Name() string { return "counter" }

func (c *counter) Process(ctx context.Context, f *stages.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.glyphs == nil {
		c.glyphs = map[string]int64{}
	}
	c.frames++
	for i := range f.Records {
		r := &f.Records[i]
		c.glyphs[r.Msg.Glyph.ID]++
		r.SetScore("seen", float64(c.glyphs[r.Msg.Glyph.ID]))
		r.SetScore("frames", float64(c.frames))
	}
	return nil
}

func (c *counter) Snapshot() ([]byte, error) {
	if (c.frames == 0 && !c.freshNotNil) || c.stateless {
		return nil, nil
	}
	s := counterState{Frames: c.frames, Glyphs: c.glyphs}
	if c.forgetsGlyphs {
		s.Glyphs = nil
	}
	if c.unstable {
		c.snapped++
		s.Calls = c.snapped
	}
	return json.Marshal(struct {
		Format int          `json:"format"`
		Stage  string       `json:"stage"`
		State  counterState `json:"state"`
	}{2, "counter", s})
}

func (c *counter) Restore(b []byte) error {
	if len(b) == 0 {
		if !c.keepsOnReset {
			c.frames, c.glyphs = 0, nil
		}
		return nil
	}
	refuse := func(why string) error {
		if c.plainErrors {
			return errors.New(why)
		}
		return fmt.Errorf("counter: %s: %w", why, stages.ErrSnapshot)
	}
	var env struct {
		Format int          `json:"format"`
		Stage  string       `json:"stage"`
		State  counterState `json:"state"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return refuse(err.Error())
	}
	if c.halfRestores {
		c.frames = env.State.Frames
	}
	switch {
	case env.Format != 2 && !c.acceptsFuture:
		return refuse(fmt.Sprintf("format %d", env.Format))
	case env.Stage != "counter" && !c.acceptsForeign:
		return refuse("stage " + env.Stage)
	}
	c.frames, c.glyphs = env.State.Frames, env.State.Glyphs
	return nil
}

func counterFrames() []*stages.Frame {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var fs []*stages.Frame
	for seq := range int64(4) {
		f := &stages.Frame{Lane: schemas.LaneProd, Partition: 1, Seq: seq, FPS: 30, Start: start, End: start.Add(time.Second / 30)}
		for i := range 3 {
			m := &schemas.MatrizMessage{MsgID: fmt.Sprintf("m%d-%d", seq, i), Glyph: schemas.Glyph{ID: fmt.Sprintf("g%d", (int(seq)+i)%2)}, Lane: schemas.LaneProd}
			f.Records = append(f.Records, stages.Record{Partition: 1, Offset: seq*10 + int64(i), Msg: m})
		}
		fs = append(fs, f)
	}
	return fs
}

// failures runs the suite's checks on counters with d and returns the
// errors by check name.
func failures(d defects, frames func() []*stages.Frame) map[string]error {
	out := map[string]error{}
	for _, c := range statefulChecks(func() stages.Stateful { return &counter{defects: d} }, frames) {
		if err := c.run(); err != nil {
			out[c.name] = err
		}
	}
	return out
}

func TestRunStatefulPassesACorrectStage(t *testing.T) {
	RunStateful(t, func() stages.Stateful { return &counter{} }, counterFrames)
	if f := failures(defects{}, counterFrames); len(f) != 0 {
		t.Fatalf("a correct stage fails: %v", f)
	}
}

// TestRunStatefulFailsBrokenStages shows that each check can fail: a stage
// with one defect fails the check that looks for it, with a message that
// says what went wrong.
func TestRunStatefulFailsBrokenStages(t *testing.T) {
	const (
		roundTrip = "snapshot, restore, same output"
		fresh     = "a fresh instance has no state"
		bad       = "bad snapshots change nothing"
	)
	cases := []struct {
		name  string
		d     defects
		check string
		says  string
	}{
		{"snapshot forgets a field", defects{forgetsGlyphs: true}, roundTrip, `record 0's scores are map[frames:2 seen:1], want map[frames:2 seen:2]`},
		{"snapshot bytes unstable", defects{unstable: true}, roundTrip, "two snapshots of one state differ"},
		{"fresh instance has state", defects{freshNotNil: true}, fresh, "a fresh instance's Snapshot"},
		{"Restore(nil) keeps state", defects{keepsOnReset: true}, fresh, "after Restore([]byte(nil)), Snapshot"},
		{"future format accepted", defects{acceptsFuture: true}, bad, "Restore of a snapshot in a future format (3) = <nil>"},
		{"foreign stage accepted", defects{acceptsForeign: true}, bad, "Restore of another stage's snapshot = <nil>"},
		{"half-restored state", defects{halfRestores: true}, bad, "refusing another stage's snapshot changed the state"},
		{"errors without ErrSnapshot", defects{plainErrors: true}, bad, "want an error wrapping stages.ErrSnapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := failures(tc.d, counterFrames)[tc.check]
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("check %q = %v; want a failure saying %q", tc.check, err, tc.says)
			}
		})
	}
}

func TestRunStatefulNeedsFramesThatLeaveState(t *testing.T) {
	one := func() []*stages.Frame { return counterFrames()[:1] }
	f := failures(defects{}, one)
	for name, err := range f {
		if !strings.Contains(err.Error(), "needs at least two frames, frames() returned 1") {
			t.Fatalf("%s with one frame: %v", name, err)
		}
	}
	if len(f) != 3 {
		t.Fatalf("%d checks failed with one frame, want all 3", len(f))
	}
	err := failures(defects{stateless: true}, counterFrames)["bad snapshots change nothing"]
	if err == nil || !strings.Contains(err.Error(), "no state after all but the last frame") {
		t.Fatalf("a stage without state: %v", err)
	}
}

func TestFrameDiffNamesWhatDiffers(t *testing.T) {
	cases := map[string]struct {
		change func(f *stages.Frame)
		says   string
	}{
		"result":    {func(f *stages.Frame) { f.Records[1].Result = &schemas.MatrizResult{OK: true} }, "record 1's result is"},
		"scores":    {func(f *stages.Frame) { f.Records[0].SetScore("x", 1) }, "record 0's scores are map[x:1]"},
		"verdict":   {func(f *stages.Frame) { f.Records[2].Verdict = &stages.Verdict{Outcome: stages.OutcomeDeny} }, "record 2's verdict is &{Outcome:deny"},
		"dropped":   {func(f *stages.Frame) { f.Records[0].Dropped = true }, "record 0 is"},
		"events":    {func(f *stages.Frame) { f.Events = []schemas.Event{{ID: "e"}} }, "events are"},
		"traces":    {func(f *stages.Frame) { f.Traces = []schemas.Trace{{ID: "t"}} }, "traces are"},
		"actions":   {func(f *stages.Frame) { f.Actions = []schemas.Event{{ID: "a"}} }, "actions are"},
		"records":   {func(f *stages.Frame) { f.Records = f.Records[:1] }, "frame is"},
		"frame seq": {func(f *stages.Frame) { f.Seq = 99 }, "frame is"},
		"no change": {func(*stages.Frame) {}, ""},
	}
	for name, tc := range cases {
		want, got := counterFrames()[0], counterFrames()[0]
		tc.change(got)
		d := frameDiff(want, got)
		if (tc.says == "") != (d == "") || !strings.Contains(d, tc.says) {
			t.Errorf("%s: frameDiff = %q, want it to say %q", name, d, tc.says)
		}
	}
}
