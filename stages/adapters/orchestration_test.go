package adapters_test

import (
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestValidTransition(t *testing.T) {
	statuses := []string{"pending", "active", "done", "blocked"}
	allowed := map[[2]string]bool{
		{"pending", "active"}: true, {"pending", "blocked"}: true,
		{"active", "done"}: true, {"active", "blocked"}: true, {"active", "pending"}: true,
		{"blocked", "pending"}: true, {"blocked", "active"}: true,
	}
	for _, from := range statuses {
		for _, to := range statuses {
			want := from == to || allowed[[2]string{from, to}]
			if got := adapters.ValidTransition(from, to); got != want {
				t.Errorf("%s -> %s: %v, want %v", from, to, got, want)
			}
		}
	}
	if adapters.ValidTransition("paused", "paused") || adapters.ValidTransition("pending", "paused") {
		t.Error("unknown statuses must be invalid")
	}
}

func TestOrchestrationPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          schemas.Payload
		goalStatus string
		next       string
		ev, risk   float64
		progress   float64
		reward     float64 // Σ ev of the steps done
	}{
		{"fresh plan: next is the best pending", schemas.Payload{"goal": "g", "subgoals": []string{"a", "b", "c"}, "values": []float64{1, 4, 4}, "risks": []float64{0, 0.5, 0.25}},
			"pending", "c", 1 + 2 + 3, 1 - 0.5*0.75, 0, 0},
		{"active beats a better pending", schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{1, 9}, "risks": []float64{0, 0}, "status": []string{"active", "pending"}},
			"active", "a", 10, 0, 0, 0},
		{"all done", schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{1, 2}, "risks": []float64{0.1, 0.2}, "status": []string{"done", "active"}, "next_status": []string{"done", "done"}},
			"done", "", 0, 0, 1, 0.9 + 1.6},
		{"only blocked left", schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{1, 2}, "risks": []float64{0, 0.2}, "status": []string{"done", "pending"}, "next_status": []string{"done", "blocked"}},
			"blocked", "", 1.6, 0.2, 0.5, 1},
		{"negative values allowed", schemas.Payload{"goal": "g", "values": []float64{-2}, "risks": []float64{0.5}},
			"pending", "g", -1, 0.5, 0, 0},
		{"a step done this message counts", schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{3, 2}, "risks": []float64{0.5, 0}, "status": []string{"active", "active"}, "next_status": []string{"done", "active"}},
			"active", "b", 2, 0, 0.5, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Orchestration{}, message(tc.p, nil))
			wantOK(t, r)
			if str(t, r, "goal_status") != tc.goalStatus || str(t, r, "next_step") != tc.next ||
				!near(f64(t, r, "expected_value"), tc.ev) || !near(f64(t, r, "risk"), tc.risk) || !near(f64(t, r, "progress"), tc.progress) {
				t.Fatalf("plan %v", r.Payload)
			}
			if str(t, r, "event_kind") != string(schemas.EventReward) || !near(f64(t, r, "reward"), tc.reward) {
				t.Fatalf("event_kind %v reward %v, want reward %v", r.Payload["event_kind"], r.Payload["reward"], tc.reward)
			}
		})
	}
	r := handle(t, adapters.Orchestration{}, message(schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{1, 2}, "risks": []float64{0, 0}, "status": []string{"blocked", "active"}, "next_status": []string{"active", "pending"}}, nil))
	if got := strs(t, r, "transitions"); !slices.Equal(got, []string{"a: blocked->active", "b: active->pending"}) {
		t.Fatalf("transitions %v", got)
	}
	if got := strs(t, r, "step_status"); !slices.Equal(got, []string{"active", "pending"}) {
		t.Fatalf("step_status %v", got)
	}
}

func TestOrchestrationBadInput(t *testing.T) {
	base := func(extra schemas.Payload) schemas.Payload {
		p := schemas.Payload{"goal": "g", "subgoals": []string{"a", "b"}, "values": []float64{1, 2}, "risks": []float64{0.1, 0.2}}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name string
		p    schemas.Payload
		want string
	}{
		{"no goal", schemas.Payload{"values": []float64{1}, "risks": []float64{0}}, "payload.goal: missing; want a non-empty string"},
		{"no goal with subgoals", base(schemas.Payload{"goal": nil}), "payload.goal: got null"},
		{"bad subgoals", base(schemas.Payload{"subgoals": []float64{1}}), "payload.subgoals: got array<double> of 1"},
		{"duplicate subgoal", base(schemas.Payload{"subgoals": []string{"a", "a"}}), `payload.subgoals: "a" listed twice`},
		{"values missing", base(schemas.Payload{"values": nil}), "payload.values: got null"},
		{"values short", base(schemas.Payload{"values": []float64{1}}), "payload.values: has 1 entries; want 2"},
		{"risks short", base(schemas.Payload{"risks": []float64{1}}), "payload.risks: has 1 entries; want 2"},
		{"risk above 1", base(schemas.Payload{"risks": []float64{0.1, 1.5}}), "payload.risks[1] (b): 1.5; want a probability in [0, 1]"},
		{"unknown status", base(schemas.Payload{"status": []string{"pending", "paused"}}), `payload.status[1] (b): unknown status "paused"`},
		{"status short", base(schemas.Payload{"status": []string{"pending"}}), "payload.status: has 1 entries; want 2"},
		{"next_status wrong type", base(schemas.Payload{"next_status": "done"}), `payload.next_status: got string "done"`},
		{"invalid transition", base(schemas.Payload{"next_status": []string{"done", "pending"}}), `step "a": transition pending -> done is not allowed; allowed from pending: active, blocked`},
		{"done is final", base(schemas.Payload{"status": []string{"done", "pending"}, "next_status": []string{"pending", "pending"}}), "allowed from done: none, done is final"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Orchestration{}, message(tc.p, nil))
			wantReason(t, r, tc.want)
			if r.Payload != nil {
				t.Fatalf("refused plan carries a payload: %v", r.Payload)
			}
		})
	}
}
