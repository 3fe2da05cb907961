package stages

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// Fixtures shared by the drift, fold-guard, breakthrough and guardian tests.

var fxEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const fxPeriod = time.Second / 30

// fxID returns a valid, deterministic uuid for n.
func fxID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// fxMsg is a message on glyph g with payload p; fxFrame sets its time and lane.
func fxMsg(n int, glyph, topic string, p schemas.Payload) *schemas.MatrizMessage {
	return &schemas.MatrizMessage{
		MsgID:   fxID(n),
		Glyph:   schemas.Glyph{ID: glyph, Kind: "intent", Version: "1", Tags: map[string]string{}},
		Payload: p,
		Topic:   topic,
	}
}

// fxFrame builds frame seq of a partition with a router result on every
// record, as the chain would present it to the stages after route.
func fxFrame(lane schemas.Lane, partition int32, seq int64, msgs ...*schemas.MatrizMessage) *Frame {
	start := fxEpoch.Add(time.Duration(seq) * fxPeriod)
	f := &Frame{Lane: lane, Partition: partition, Seq: seq, Start: start, End: start.Add(fxPeriod), FPS: 30}
	for i, m := range msgs {
		m.TS = start.Add(time.Duration(i) * time.Microsecond)
		if m.Lane == "" {
			m.Lane = lane
		}
		f.Records = append(f.Records, Record{
			Partition: partition,
			Offset:    seq*10_000 + int64(i),
			Msg:       m,
			Result: &schemas.MatrizResult{
				ID: DerivedID(m.MsgID, "router"), MsgID: m.MsgID, TS: m.TS, Lane: lane,
				Node: "router", NodeVersion: "1", OK: true,
				Trace: []schemas.Crumb{{Stage: "router", T: m.TS}},
			},
		})
	}
	return f
}

// fxCrumb returns the crumb stage left on r's result, failing if absent.
func fxCrumb(t *testing.T, r *Record, stage string) schemas.Crumb {
	t.Helper()
	for _, c := range r.Result.Trace {
		if c.Stage == stage {
			return c
		}
	}
	t.Fatalf("record %s: no %s crumb in %+v", r.Msg.MsgID, stage, r.Result.Trace)
	return schemas.Crumb{}
}

// fxEvents returns the events of kind in f.
func fxEvents(f *Frame, kind schemas.EventKind) []schemas.Event {
	var out []schemas.Event
	for _, e := range f.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// fxRotated returns the unit vector at angle theta in the plane of e0, e1,
// padded to dim elements.
func fxRotated(theta float64, dim int) []float64 {
	v := make([]float64, dim)
	v[0], v[1] = math.Cos(theta), math.Sin(theta)
	return v
}

// fxEqual fails when two values differ, showing both.
func fxEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %#v, want %#v", what, got, want)
	}
}

// fxNear fails when |got - want| > tol.
func fxNear(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Fatalf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

// benchFrames runs st over frames of msgs (1,000 per frame in the stage
// benchmarks), one frame per iteration with a fresh router result on every
// record, and reports ns and allocations per message besides per frame.
func benchFrames(b *testing.B, st Stage, lane schemas.Lane, msgs []*schemas.MatrizMessage) {
	b.Helper()
	benchFramesFlags(b, st, lane, Flags{}, msgs)
}

// benchFramesFlags is benchFrames with flags set on every frame.
func benchFramesFlags(b *testing.B, st Stage, lane schemas.Lane, flags Flags, msgs []*schemas.MatrizMessage) {
	b.Helper()
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		b.StopTimer()
		f := fxFrame(lane, 0, seq, msgs...)
		f.Flags = flags
		seq++
		b.StartTimer()
		if err := st.Process(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N) * float64(len(msgs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/msg")
	b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
}
