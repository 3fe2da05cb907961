package stages

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// TestDriftKeepsAtMostMaxGlyphs: past DriftMaxGlyphs the least recently
// seen glyphs are forgotten, the same ones in every run, and a snapshot
// of a larger state restores within the bound.
func TestDriftKeepsAtMostMaxGlyphs(t *testing.T) {
	const limit = 100
	run := func() map[string]glyphDrift {
		d, err := NewDrift(DriftMaxGlyphs(limit))
		if err != nil {
			t.Fatal(err)
		}
		vec := schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 1}}
		for seq := range int64(50) {
			var ms []*schemas.MatrizMessage
			for i := range 7 { // 350 glyphs in all, 7 new per frame
				ms = append(ms, fxMsg(int(seq)*7+i, fmt.Sprintf("g%03d", int(seq)*7+i), "trend", vec))
			}
			if err := d.Process(context.Background(), fxFrame(schemas.LaneProd, 0, seq, ms...)); err != nil {
				t.Fatal(err)
			}
			if n := d.Stats().Glyphs; n > limit {
				t.Fatalf("frame %d: %d glyphs held, at most %d", seq, n, limit)
			}
		}
		snap, _ := d.Snapshot()
		var s driftSnapshot
		if err := decodeSnapshot(StageDrift, snap, &s); err != nil {
			t.Fatal(err)
		}
		return s.Glyphs
	}
	a, b := run(), run()
	if len(a) < limit*9/10 || len(a) != len(b) {
		t.Fatalf("%d and %d glyphs kept, want between %d and %d, the same", len(a), len(b), limit*9/10, limit)
	}
	for id := range a {
		if _, ok := b[id]; !ok {
			t.Fatalf("two runs kept different glyphs (%s)", id)
		}
	}
	if _, ok := a["g349"]; !ok {
		t.Fatal("the most recent glyph was forgotten")
	}
	if _, ok := a["g000"]; ok {
		t.Fatal("the oldest glyph was kept")
	}

	// A snapshot from a run with a larger bound comes back within this one.
	big, _ := NewDrift()
	vec := schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 1}}
	var ms []*schemas.MatrizMessage
	for i := range 300 {
		ms = append(ms, fxMsg(i, fmt.Sprintf("h%03d", i), "trend", vec))
	}
	_ = big.Process(context.Background(), fxFrame(schemas.LaneProd, 0, 0, ms...))
	snap, _ := big.Snapshot()
	small, _ := NewDrift(DriftMaxGlyphs(limit))
	if err := small.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if n := small.Stats().Glyphs; n > limit {
		t.Fatalf("restored %d glyphs into a bound of %d", n, limit)
	}
	if _, err := NewDrift(DriftMaxGlyphs(0)); err == nil {
		t.Fatal("DriftMaxGlyphs(0) accepted")
	}
}

// TestDriftSweepsGlyphsSeenInTheFuture: a glyph last seen far ahead of
// event time (a record from the future) is swept like an idle one.
func TestDriftSweepsGlyphsSeenInTheFuture(t *testing.T) {
	d, _ := NewDrift(DriftIdleTTL(time.Second))
	vec := schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 1}}
	for seq := int64(0); seq < driftSweepEvery; seq++ {
		f := fxFrame(schemas.LaneProd, 0, seq)
		if seq == 0 {
			f = fxFrame(schemas.LaneProd, 0, seq, fxMsg(1, "future", "trend", vec), fxMsg(2, "now", "trend", vec))
			f.Records[0].Msg.TS = f.Start.AddDate(100, 0, 0)
		}
		if seq == driftSweepEvery-1 {
			f = fxFrame(schemas.LaneProd, 0, seq, fxMsg(3, "now", "trend", vec))
		}
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := d.Snapshot()
	var s driftSnapshot
	_ = decodeSnapshot(StageDrift, snap, &s)
	if _, ok := s.Glyphs["future"]; ok || len(s.Glyphs) != 1 {
		t.Fatalf("after the sweep glyphs = %v, want only now", s.Glyphs)
	}
}

// TestApprovalSetIsBounded: past its limit an ApprovalSet forgets the
// oldest approved and the oldest used ids, and keeps the newest.
func TestApprovalSetIsBounded(t *testing.T) {
	s := NewApprovalSet()
	s.SetLimit(10)
	for i := range 1000 {
		s.Approve(fmt.Sprint("a", i))
		if i%3 == 0 {
			s.Consume(fmt.Sprint("a", i))
		}
	}
	ids := s.IDs()
	if len(ids) > 10 || !s.Approved("a998") || s.Approved("a1") {
		t.Fatalf("%d approved ids (a998 %v, a1 %v), want at most 10, the newest", len(ids), s.Approved("a998"), s.Approved("a1"))
	}
	if !s.Consumed("a999") || s.Consumed("a0") {
		t.Fatal("used ids not bounded to the newest")
	}
	s.mu.RLock()
	used, orders := len(s.used), len(s.idOrder)+len(s.usedOrder)
	s.mu.RUnlock()
	if used > 10 || orders > 2*(10+10)+2*64 {
		t.Fatalf("%d used ids, %d order entries: not bounded", used, orders)
	}
	// An approval already used stays used while remembered.
	s.Approve("a999")
	if s.Approved("a999") {
		t.Fatal("a used approval approved again")
	}
	var zero ApprovalSet
	for i := range DefaultApprovalLimit + 5 {
		zero.Approve(fmt.Sprint(i))
	}
	if n := len(zero.IDs()); n != DefaultApprovalLimit {
		t.Fatalf("zero-value set holds %d ids, want %d", n, DefaultApprovalLimit)
	}
}

// TestGuardianOverflowIsDecidedNotDropped: past GuardianMaxPending every
// new action that would wait is denied, each with its reason and its
// guardian_decision event; the waiting ones stay within the cap.
func TestGuardianOverflowIsDecidedNotDropped(t *testing.T) {
	const limit, asks = 5, 40
	g, err := NewGuardian(schemas.LaneProd, GuardianMaxPending(limit))
	if err != nil {
		t.Fatal(err)
	}
	var ms []*schemas.MatrizMessage
	for i := range asks {
		ms = append(ms, gMsg(i, "trend", schemas.Payload{"action_kind": fmt.Sprint("k", i)}))
	}
	f := fxFrame(schemas.LaneProd, 0, 0, ms...)
	f.Flags.ExtActions = true
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	denied := 0
	for i := range f.Records {
		v := f.Records[i].Verdict
		if v.Outcome == OutcomeDeny {
			denied++
			if len(v.Reasons) == 0 || !strings.Contains(v.Reasons[0], "already await approval") {
				t.Fatalf("overflow deny without its reason: %+v", v)
			}
		}
	}
	decisions := fxEvents(f, schemas.EventGuardianDecision)
	if len(g.Pending()) != limit || denied != asks-limit || len(decisions) != asks {
		t.Fatalf("%d waiting, %d denied, %d decision events; want %d, %d, %d", len(g.Pending()), denied, len(decisions), limit, asks-limit, asks)
	}
}
