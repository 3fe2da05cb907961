package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestCanaryTurnedOnAgainStartsAfresh: a canary this process aborted stays
// stopped until CANARY_ENABLED is turned on again on matriz.control; then
// it shadows again, and the change is reported to OnFlagChange once it is
// in force.
func TestCanaryTurnedOnAgainStartsAfresh(t *testing.T) {
	var changes []FlagChange
	lr := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.DiscardHandler), canary: &laneCanary{},
		flags: NewLiveFlags(schemas.LaneProd, stages.Flags{}),
		cfg: Config{OnFlagChange: func(c FlagChange) {
			changes = append(changes, c)
		}}}
	lr.canary.stopped.Store(true)
	lr.applyControl(topics.Message{Key: []byte(FlagLearning), Value: []byte("true")})
	if !lr.canary.stopped.Load() {
		t.Fatal("another flag turning on restarted the aborted canary")
	}
	lr.applyControl(topics.Message{Key: []byte(string(schemas.LaneProd) + "/" + FlagCanary), Value: []byte("true")})
	if lr.canary.stopped.Load() {
		t.Fatal("CANARY_ENABLED on again left the canary stopped")
	}
	want := []FlagChange{{FlagLearning, false, true}, {FlagCanary, false, true}}
	if len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] {
		t.Fatalf("changes reported %v, want %v", changes, want)
	}
	if !lr.flags.Get().Canary {
		t.Fatal("the canary flag is not in force after the change was reported")
	}
}

// TestApprovalsTopicRecordsOnlyApprovals: a record of the approvals topic
// approves the action its payload names; one that does not decode, is no
// approval or names no action is logged and approves nothing, and does
// not wake a partition.
func TestApprovalsTopicRecordsOnlyApprovals(t *testing.T) {
	s := memRegistry(t, schemas.LaneProd)
	id, err := s.ID(serde.ValueSubject(topics.Name(string(schemas.LaneProd), topics.KindApprovals)))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := sp.Lanes[schemas.LaneProd].Chain(schemas.LaneProd, spec.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lr := &laneRuntime{lane: schemas.LaneProd, serde: s, chain: chain, work: context.Background(),
		log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	previewed := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	lr.verdicts.index = fakePreviews{"act-1": {Kind: "notify", ParamsHash: "sha256:aa", Required: true, At: previewed}}
	record := func(ev schemas.Event) topics.Message {
		t.Helper()
		val, err := schemas.AppendWire(nil, id, &ev)
		if err != nil {
			t.Fatal(err)
		}
		return topics.Message{Offset: 4, Value: val, Time: previewed.Add(time.Minute)}
	}
	for _, tc := range []struct {
		name string
		m    topics.Message
		log  string
	}{
		{"undecodable", topics.Message{Offset: 2, Value: []byte("approve act-1")}, "ignoring undecodable approval"},
		{"not an approval", record(schemas.Event{ID: "e1", Kind: schemas.EventAction, Lane: schemas.LaneProd, Payload: schemas.Payload{stages.ApprovalActionKey: "act-1"}}), "ignoring approval record without an action id"},
		{"no action id", record(schemas.Event{ID: "e2", Kind: schemas.EventApproval, Lane: schemas.LaneProd, Payload: schemas.Payload{"approver": "ana"}}), "ignoring approval record without an action id"},
	} {
		logs.Reset()
		lr.applyApproval(tc.m)
		if !strings.Contains(logs.String(), tc.log) {
			t.Errorf("%s: logged %q, want %q", tc.name, logs.String(), tc.log)
		}
		if lr.chain.Approvals.Approved("act-1") || lr.approvalCount.Load() != 0 {
			t.Fatalf("%s: the record approved act-1", tc.name)
		}
	}
	logs.Reset()
	lr.applyApproval(record(schemas.Event{ID: "e4", Kind: schemas.EventApproval, Lane: schemas.LaneProd, Payload: schemas.Payload{stages.ApprovalActionKey: "act-1", "approver": "ana",
		stages.ActionKindKey: "notify", stages.ParamsHashKey: "sha256:bb"}}))
	if lr.chain.Approvals.Approved("act-1") || !strings.Contains(logs.String(), "approval refused") || !strings.Contains(logs.String(), stages.RefusedParams) {
		t.Fatalf("an approval naming other parameters: approved %v, logged %q", lr.chain.Approvals.Approved("act-1"), logs.String())
	}
	logs.Reset()
	lr.applyApproval(record(schemas.Event{ID: "e3", Kind: schemas.EventApproval, Lane: schemas.LaneProd, Payload: schemas.Payload{stages.ApprovalActionKey: "act-1", "approver": "ana",
		stages.ActionKindKey: "notify", stages.ParamsHashKey: "sha256:aa"}}))
	if !lr.chain.Approvals.Approved("act-1") || lr.approvalCount.Load() != 1 {
		t.Fatalf("an approval of act-1: approved %v, count %d", lr.chain.Approvals.Approved("act-1"), lr.approvalCount.Load())
	}
	if got := logs.String(); !strings.Contains(got, "action approved") || !strings.Contains(got, "action=act-1") || !strings.Contains(got, "by=ana") {
		t.Errorf("approval logged %q, want the action and approver", got)
	}
}

// fakePreviews is an action index holding the previews given, caught up.
type fakePreviews map[string]*stages.PreviewFacts

func (f fakePreviews) Preview(id string) *stages.PreviewFacts { return f[id] }

func (fakePreviews) ReadTo(map[int]int64) bool { return true }

func (fakePreviews) CaughtUp() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
