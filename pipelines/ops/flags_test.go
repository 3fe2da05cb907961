package ops_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// startBroker starts the embedded broker; with control, matriz.control is
// created as deploy creates it.
func startBroker(t *testing.T, control bool) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker (skipped with -short)")
	}
	b, err := topics.StartBroker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if control {
		admin, err := topics.NewAdmin(b.Addrs())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Ensure(t.Context(), topics.SharedSpecs(), false); err != nil {
			t.Fatal(err)
		}
	}
	return b.Addrs()
}

func readFlags(t *testing.T, brokers []string) ops.FlagRecords {
	t.Helper()
	got, err := ops.ReadFlags(t.Context(), brokers)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// wantEffective checks every lane's value of every flag against want,
// whose missing entries mean not set.
func wantEffective(t *testing.T, got ops.FlagRecords, want map[schemas.Lane]map[string]ops.FlagState) {
	t.Helper()
	for _, lane := range schemas.Lanes {
		for _, name := range runtime.FlagNames {
			if g, w := got.Effective(lane, name), want[lane][name]; g != w {
				t.Errorf("%s on lane %s: %s, want %s", name, lane, g, w)
			}
		}
	}
}

func keys(rs ops.FlagRecords) []string {
	var out []string
	for _, r := range rs.Records {
		out = append(out, r.Key+"="+map[bool]string{true: "true", false: "false"}[r.On])
	}
	return out
}

// TestFlagsSetClearReadBack: records written by SetFlag and ClearFlag read
// back as the records in force, with the off-wins rule per lane: a global
// false beats a lane's true, and its tombstone lets the lane's true stand.
func TestFlagsSetClearReadBack(t *testing.T) {
	brokers := startBroker(t, true)
	ctx := t.Context()
	const d, x = runtime.FlagDispatch, runtime.FlagExtActions

	empty := readFlags(t, brokers)
	if len(empty.Records) != 0 || len(empty.Ignored) != 0 || empty.Ends[0] != 0 {
		t.Fatalf("fresh topic: %+v, want nothing", empty)
	}
	wantEffective(t, empty, nil)

	for _, w := range []struct {
		lane  schemas.Lane
		name  string
		value bool
	}{{"", d, false}, {schemas.LaneProd, d, true}, {schemas.LaneCandidate, x, true}} {
		if err := ops.SetFlag(ctx, brokers, w.lane, w.name, w.value); err != nil {
			t.Fatal(err)
		}
	}
	got := readFlags(t, brokers)
	if k := strings.Join(keys(got), " "); k != "DISPATCH_ENABLED=false prod/DISPATCH_ENABLED=true candidate/EXT_ACTIONS_ENABLED=true" {
		t.Fatalf("records in force: %s", k)
	}
	prod := got.Records[1]
	if prod.Lane != schemas.LaneProd || prod.Name != d || prod.Offset != 1 || prod.Time.IsZero() {
		t.Errorf("prod record %+v, want lane prod, %s, offset 1, a timestamp", prod, d)
	}
	if got.Records[0].Lane != "" {
		t.Errorf("global record has lane %q", got.Records[0].Lane)
	}
	off, on := ops.FlagOff, ops.FlagOn
	wantEffective(t, got, map[schemas.Lane]map[string]ops.FlagState{
		schemas.LaneExperimental: {d: off},
		schemas.LaneCandidate:    {d: off, x: on},
		schemas.LaneProd:         {d: off}, // global false wins over prod's true
	})

	if err := ops.ClearFlag(ctx, brokers, "", d); err != nil {
		t.Fatal(err)
	}
	got = readFlags(t, brokers)
	if k := strings.Join(keys(got), " "); k != "prod/DISPATCH_ENABLED=true candidate/EXT_ACTIONS_ENABLED=true" {
		t.Fatalf("after the tombstone, records in force: %s", k)
	}
	if got.Ends[0] != 4 {
		t.Errorf("end %d after four writes, want 4: the tombstone is a record", got.Ends[0])
	}
	wantEffective(t, got, map[schemas.Lane]map[string]ops.FlagState{
		schemas.LaneCandidate: {x: on},
		schemas.LaneProd:      {d: on},
	})
	assertRuntimeAgrees(t, brokers, got)
}

// TestFlagsIgnoredRecordsKeepWhatWasInForce: a record the runtime cannot
// apply is listed as ignored and leaves the earlier record of its key in
// force, as the runtime does.
func TestFlagsIgnoredRecordsKeepWhatWasInForce(t *testing.T) {
	brokers := startBroker(t, true)
	env := &pipetest.Env{Brokers: brokers}
	if err := ops.SetFlag(t.Context(), brokers, schemas.LaneProd, runtime.FlagLearning, true); err != nil {
		t.Fatal(err)
	}
	env.Write(t, topics.ControlTopic, []topics.Message{
		{Key: []byte("prod/" + runtime.FlagLearning), Value: []byte("maybe")},
		{Key: []byte("TELEPORT_ENABLED"), Value: []byte("true")},
		{Key: []byte("staging/" + runtime.FlagDispatch), Value: []byte("true")},
		{Key: []byte("staging/" + runtime.FlagDispatch)}, // its tombstone: nothing left to report
	})
	got := readFlags(t, brokers)
	if k := strings.Join(keys(got), " "); k != "prod/LEARNING_ENABLED=true" {
		t.Fatalf("records in force: %s", k)
	}
	if len(got.Ignored) != 2 || got.Ignored[0].Value != "maybe" || got.Ignored[1].Key != "TELEPORT_ENABLED" {
		t.Fatalf("ignored %+v, want prod/LEARNING_ENABLED=maybe and TELEPORT_ENABLED", got.Ignored)
	}
	var unknown *ops.UnknownFlagError
	if !errors.As(got.Ignored[1].Err, &unknown) {
		t.Errorf("TELEPORT_ENABLED ignored for %v, want an unknown flag", got.Ignored[1].Err)
	}
	wantEffective(t, got, map[schemas.Lane]map[string]ops.FlagState{schemas.LaneProd: {runtime.FlagLearning: ops.FlagOn}})
	assertRuntimeAgrees(t, brokers, got)
}

// assertRuntimeAgrees feeds every record of matriz.control to a lane's
// LiveFlags, starting all on and all off, and checks it ends where
// ReadFlags says: a set flag at its value, an unset one at the start.
func assertRuntimeAgrees(t *testing.T, brokers []string, got ops.FlagRecords) {
	t.Helper()
	log := (&pipetest.Env{Brokers: brokers}).ReadAll(t, topics.ControlTopic)
	for _, lane := range schemas.Lanes {
		for _, start := range []bool{false, true} {
			live := runtime.NewLiveFlags(lane, stages.Flags{Dispatch: start, Learning: start, ExtActions: start})
			for _, m := range log {
				live.Apply(m.Key, m.Value) // a record it cannot apply is an error and changes nothing
			}
			f := live.Get()
			for name, v := range map[string]bool{runtime.FlagDispatch: f.Dispatch, runtime.FlagLearning: f.Learning, runtime.FlagExtActions: f.ExtActions} {
				want := start
				switch got.Effective(lane, name) {
				case ops.FlagOn:
					want = true
				case ops.FlagOff:
					want = false
				}
				if v != want {
					t.Errorf("lane %s starting %v: the runtime has %s=%v, ReadFlags says %s", lane, start, name, v, got.Effective(lane, name))
				}
			}
		}
	}
}

func TestSetFlagRefusesUnknownNamesAndLanes(t *testing.T) {
	// Refused before anything is dialled: this address has no broker.
	brokers := []string{"127.0.0.1:1"}
	err := ops.SetFlag(t.Context(), brokers, "", "TELEPORT_ENABLED", true)
	var unknown *ops.UnknownFlagError
	if !errors.As(err, &unknown) || unknown.Name != "TELEPORT_ENABLED" {
		t.Fatalf("unknown flag: err %v, want an *UnknownFlagError", err)
	}
	for _, name := range runtime.FlagNames {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q does not list %s", err, name)
		}
	}
	if err := ops.ClearFlag(t.Context(), brokers, "staging", runtime.FlagDispatch); !errors.Is(err, schemas.ErrUnknownLane) {
		t.Errorf("unknown lane: err %v, want ErrUnknownLane", err)
	}
}

// TestFlagsNeedTheControlTopic: on a cluster without matriz.control,
// reading and writing say to deploy, and neither creates the topic with
// the broker's defaults.
func TestFlagsNeedTheControlTopic(t *testing.T) {
	brokers := startBroker(t, false)
	ctx := t.Context()
	for what, err := range map[string]error{
		"set":  ops.SetFlag(ctx, brokers, "", runtime.FlagDispatch, false),
		"read": func() error { _, err := ops.ReadFlags(ctx, brokers); return err }(),
	} {
		var missing *topics.MissingTopicsError
		if !errors.As(err, &missing) || !strings.Contains(err.Error(), "matriz deploy") {
			t.Errorf("%s: err %v, want missing topics naming matriz deploy", what, err)
		}
	}
	var missing *topics.MissingTopicsError
	if err := topics.CheckTopics(ctx, brokers, []string{topics.ControlTopic}); !errors.As(err, &missing) {
		t.Errorf("after the attempts, %s: %v, want still missing", topics.ControlTopic, err)
	}
}

func TestFlagsUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	if err := ops.SetFlag(ctx, []string{addr}, "", runtime.FlagDispatch, false); !errors.Is(err, topics.ErrBrokerUnreachable) {
		t.Errorf("set: err %v, want ErrBrokerUnreachable", err)
	}
	if _, err := ops.ReadFlags(ctx, []string{addr}); !errors.Is(err, topics.ErrBrokerUnreachable) {
		t.Errorf("read: err %v, want ErrBrokerUnreachable", err)
	}
}
