package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestNewLaneCanaryRefusesItsSettings: a canary whose share, floor or
// lane cannot run is refused when the lane starts, naming the setting,
// rather than shadowing nothing or aborting at once.
func TestNewLaneCanaryRefusesItsSettings(t *testing.T) {
	l := spec.Lane{}
	for _, tc := range []struct {
		name string
		lane schemas.Lane
		c    spec.Canary
		is   error
		want string
	}{
		{"no share", schemas.LaneProd, spec.Canary{Fraction: 0, MinAgreement: 0.9, MinSamples: 10, Lane: l}, stages.ErrCanaryConfig, "CanaryFraction"},
		{"agreement above one", schemas.LaneProd, spec.Canary{Fraction: 0.5, MinAgreement: 1.5, MinSamples: 10, Lane: l}, stages.ErrCanaryConfig, "CanaryMinAgreement"},
		{"no samples", schemas.LaneProd, spec.Canary{Fraction: 0.5, MinAgreement: 0.9, MinSamples: 0, Lane: l}, stages.ErrCanaryConfig, "CanaryMinSamples"},
		{"no such lane", "staging", spec.Canary{Fraction: 0.5, MinAgreement: 0.9, MinSamples: 10, Lane: l}, nil, "lane staging's canary: "},
	} {
		_, err := newLaneCanary(tc.lane, &tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: newLaneCanary = %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// TestCanaryFrameCutShortReleasesItsInputs: a shadow frame whose chain
// fails (here: cut short by shutdown) is reported and forgotten without
// outputs, and the holds it took on its inputs are released, so their
// offsets commit with the lane's own outputs; a record that failed before
// the chain is not shadowed at all.
func TestCanaryFrameCutShortReleasesItsInputs(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	lane := schemas.LaneProd
	l := sp.Lanes[lane]
	lc, err := newLaneCanary(lane, &spec.Canary{From: lane, Fraction: 1, MinAgreement: 0.5, MinSamples: 1, Lane: *l})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w := newWorker(&laneRuntime{lane: lane, canary: lc, log: slog.New(slog.NewTextHandler(&logs, nil))}, 0)
	msgs := laneMessages(lane, 2, 1, time.Second)
	f := &stages.Frame{Lane: lane, Seq: 5, FPS: 30, Flags: stages.Flags{Canary: true}}
	var acks []*topics.Ack
	for i := range msgs {
		ack := topics.NewAck()
		acks = append(acks, ack)
		w.inflight.put(int64(i), &pending{msg: topics.Message{Key: []byte(msgs[i].Glyph.ID), Offset: int64(i), Ack: ack}})
		f.Records = append(f.Records, stages.Record{Offset: int64(i), Msg: &msgs[i]})
	}
	f.Records[1].Fail("decode", "contract")
	if err := w.canaryFrame(f); err != nil {
		t.Fatal(err)
	}
	if w.canary == nil || w.canary.frame == nil || len(w.canary.frame.Records) != 1 {
		t.Fatalf("shadow frame %+v, want the one live record", w.canary)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.runCanary(ctx, f)
	if w.canary.frame != nil || w.encodeCanary() != nil {
		t.Fatal("the failed shadow frame was kept for its outputs")
	}
	if got := logs.String(); !strings.Contains(got, "partition 0: canary frame 5") {
		t.Errorf("logged %q, want the failed canary frame reported", got)
	}
	for i, a := range acks {
		a.Done(nil) // the lane's own answer of the input
		if !a.Resolved() {
			t.Errorf("input %d still held after the lane answered it: the shadow's hold was not released", i)
		}
	}
}

// TestCanaryOffWithoutBrokersSaysWhatToRun: an abort that cannot write
// CANARY_ENABLED=false to matriz.control stops the canary in this process
// only, and says so with the command that turns it off everywhere.
func TestCanaryOffWithoutBrokersSaysWhatToRun(t *testing.T) {
	var logs bytes.Buffer
	lr := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.NewTextHandler(&logs, nil))}
	lr.writeCanaryOff()
	got := logs.String()
	for _, want := range []string{"could not write prod/" + FlagCanary + "=false to " + topics.ControlTopic, "no brokers", "matriz flags set " + FlagCanary + " false --lane prod"} {
		if !strings.Contains(got, want) {
			t.Errorf("logged %q, want %q", got, want)
		}
	}
}
