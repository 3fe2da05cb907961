package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestResultIDIsTheChainsRule(t *testing.T) {
	r := handle(t, adapters.Bio{}, message(schemas.Payload{"load": 0.5, "energy": 0.5}, nil))
	if r.ID != stages.ResultID(r.MsgID, "bio") {
		t.Fatalf("result ID %s, want stages.ResultID(msg, node) %s", r.ID, stages.ResultID(r.MsgID, "bio"))
	}
}

func TestAll(t *testing.T) {
	nodes := adapters.All()
	want := []string{"bio", "bridge", "compliance", "consciousness", "contradiction", "creative", "emotion", "governance", "identity", "memory", "orchestration"}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name())
		if n.Version() != "1.0.0" {
			t.Errorf("%s: version %q, want 1.0.0", n.Name(), n.Version())
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("All() names %v, want %v", names, want)
	}
}

func TestDefaultRoutes(t *testing.T) {
	routes := adapters.DefaultRoutes()
	for topic, node := range map[string]string{
		"contradiction": "contradiction", "resource": "bio", "trend": "consciousness", "memory": "memory",
		"external": "bridge", "purpose": "compliance", "attention": "consciousness", "idea": "creative",
		"affect": "emotion", "policy": "governance", "subject": "identity", "goal": "orchestration",
	} {
		if routes[topic] != node {
			t.Errorf("topic %q routes to %q, want %q", topic, routes[topic], node)
		}
	}
	reached := map[string]bool{}
	for _, node := range routes {
		reached[node] = true
	}
	for _, n := range adapters.All() {
		if routes[n.Name()] != n.Name() {
			t.Errorf("topic %q routes to %q, want the node of that name", n.Name(), routes[n.Name()])
		}
		if !reached[n.Name()] {
			t.Errorf("no topic reaches %s", n.Name())
		}
	}
	routes["resource"] = "changed"
	if adapters.DefaultRoutes()["resource"] != "bio" {
		t.Fatal("DefaultRoutes shares its map between calls")
	}
}

func TestNilMessage(t *testing.T) {
	for _, n := range adapters.All() {
		r, err := n.Handle(context.Background(), nil)
		if err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		if r.OK || len(r.Reasons) != 1 || r.Node != n.Name() || len(r.Trace) != 1 || r.Trace[0].Stage != n.Name() {
			t.Fatalf("%s: nil message gave %+v, want a not-OK result with a reason and a crumb", n.Name(), r)
		}
	}
}

func TestContextDone(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, n := range adapters.All() {
		msg := message(schemas.Payload{}, nil)
		for ctx, want := range map[context.Context]error{cancelled: context.Canceled, expired: context.DeadlineExceeded} {
			r, err := n.Handle(ctx, msg)
			if !errors.Is(err, want) {
				t.Fatalf("%s: err %v, want %v", n.Name(), err, want)
			}
			if !reflect.DeepEqual(r, schemas.MatrizResult{}) {
				t.Fatalf("%s: a stopped Handle returned a result %+v", n.Name(), r)
			}
		}
	}
}

// TestHostileInputs feeds every node messages whose payload keys all hold
// the same wrong value (NaN included) and glyphs with missing fields: no
// panic, no NaN out, a reason whenever the result is not OK, and the input
// unchanged.
func TestHostileInputs(t *testing.T) {
	msgs := hostile(true)
	// Every key a string, -Inf, NaN or a list with NaN: every node reads
	// at least one of the keys and must refuse.
	type refusal struct{ describe string }
	mustRefuse := map[int]*refusal{2: {"-Inf"}, 3: {`"x"`}, 13: {"NaN"}, 14: {"[1, NaN]"}}
	for i, what := range map[int]func(any) bool{
		2:  func(v any) bool { f, ok := v.(float64); return ok && math.IsInf(f, -1) },
		3:  func(v any) bool { return v == "x" },
		13: func(v any) bool { f, ok := v.(float64); return ok && math.IsNaN(f) },
		14: func(v any) bool { f, ok := v.([]float64); return ok && len(f) == 2 && math.IsNaN(f[1]) },
	} {
		if !what(msgs[i].Payload["load"]) {
			t.Fatalf("hostile message %d is not the %s payload the test expects", i, mustRefuse[i].describe)
		}
	}
	for _, g := range []schemas.Glyph{{}, {ID: "g", Tags: map[string]string{"purpose": ""}}} {
		for _, p := range []schemas.Payload{nil, {"links": []string{"a"}, "goal": "x", "values": []float64{1}, "risks": []float64{0}}} {
			m := *message(p, nil)
			m.Glyph = g
			msgs = append(msgs, m)
		}
	}
	for _, n := range adapters.All() {
		for i := range msgs {
			m := msgs[i]
			before := fmt.Sprintf("%#v", m)
			r := handle(t, n, &m)
			if after := fmt.Sprintf("%#v", m); after != before {
				t.Fatalf("%s: message %d mutated:\n%s\n%s", n.Name(), i, before, after)
			}
			if mustRefuse[i] != nil && r.OK {
				t.Errorf("%s: hostile message %d (%s) accepted: %v", n.Name(), i, mustRefuse[i].describe, r.Payload)
			}
		}
	}
}

// TestResultsDoNotAliasInputs scribbles over every list in every golden
// result and checks the input message did not change.
func TestResultsDoNotAliasInputs(t *testing.T) {
	nodes := nodesByName()
	for _, c := range goldenCases(t) {
		msg := loadMessage(t, c.input)
		before := fmt.Sprintf("%#v", msg)
		r := handle(t, nodes[c.node], &msg)
		for _, v := range r.Payload {
			switch x := v.(type) {
			case []float64:
				for i := range x {
					x[i] = -12345
				}
			case []string:
				for i := range x {
					x[i] = "scribbled"
				}
			}
		}
		if after := fmt.Sprintf("%#v", msg); after != before {
			t.Fatalf("%s/%s: the result aliases the input:\n%s\n%s", c.node, c.name, before, after)
		}
	}
}

// TestSharedNodesConcurrently runs one set of nodes from several
// goroutines, as the router shares them between partitions; run with
// -race it proves the nodes hold no mutable state.
func TestSharedNodesConcurrently(t *testing.T) {
	nodes := nodesByName()
	cases := goldenCases(t)
	want := make([]schemas.MatrizResult, len(cases))
	msgs := make([]schemas.MatrizMessage, len(cases))
	for i, c := range cases {
		msgs[i] = loadMessage(t, c.input)
		want[i] = handle(t, nodes[c.node], &msgs[i])
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for round := range 20 {
				for i := range cases {
					k := (i + g + round) % len(cases)
					got, err := nodes[cases[k].node].Handle(context.Background(), &msgs[k])
					if err == nil && !reflect.DeepEqual(got, want[k]) {
						err = fmt.Errorf("%s/%s: a concurrent run gave a different result", cases[k].node, cases[k].name)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
