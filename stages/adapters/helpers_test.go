package adapters_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

var testTS = time.Date(2026, 3, 1, 12, 0, 0, 500_000, time.UTC)

// message builds a test message with payload p and glyph tags.
func message(p schemas.Payload, tags map[string]string) *schemas.MatrizMessage {
	return &schemas.MatrizMessage{
		MsgID:   "3e1f0c2a-9b8d-4c7e-a6f5-0d1c2b3a4958",
		TS:      testTS,
		Lane:    schemas.LaneCandidate,
		Glyph:   schemas.Glyph{ID: "glyph-1", Kind: "intent", Version: "1", Tags: tags},
		Payload: p,
		Topic:   "test",
	}
}

// handle runs n on msg and checks the contract a test always relies on.
func handle(t testing.TB, n stages.Node, msg *schemas.MatrizMessage) schemas.MatrizResult {
	t.Helper()
	r, err := n.Handle(context.Background(), msg)
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	checkResult(t, n, msg, r)
	return r
}

// checkResult checks the invariants every result has: it answers msg,
// ok=false has reasons naming the node, the node's crumb is at msg.TS,
// and every number is finite and every value a payload union branch.
func checkResult(t testing.TB, n stages.Node, msg *schemas.MatrizMessage, r schemas.MatrizResult) {
	t.Helper()
	if r.MsgID != msg.MsgID || r.Lane != msg.Lane || !r.TS.Equal(msg.TS) || r.Node != n.Name() || r.NodeVersion != n.Version() {
		t.Fatalf("%s: result does not answer the message: %+v", n.Name(), r)
	}
	if !r.OK && len(r.Reasons) == 0 {
		t.Fatalf("%s: not OK without a reason", n.Name())
	}
	if r.OK != (len(r.Reasons) == 0) {
		t.Fatalf("%s: OK=%v with reasons %q", n.Name(), r.OK, r.Reasons)
	}
	for _, reason := range r.Reasons {
		if !strings.HasPrefix(reason, n.Name()+": ") {
			t.Fatalf("%s: reason %q does not start with the node name", n.Name(), reason)
		}
	}
	if len(r.Trace) != 1 || r.Trace[0].Stage != n.Name() || !r.Trace[0].T.Equal(msg.TS) {
		t.Fatalf("%s: trace %+v, want one crumb from the node at the message time", n.Name(), r.Trace)
	}
	if err := checkPayload(r.Payload); err != nil {
		t.Fatalf("%s: payload: %v", n.Name(), err)
	}
	if err := checkPayload(r.Trace[0].Data); err != nil {
		t.Fatalf("%s: crumb data: %v", n.Name(), err)
	}
}

func checkPayload(p schemas.Payload) error {
	for k, v := range p {
		switch x := v.(type) {
		case nil, bool, int64, string, []string:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%q = %v", k, x)
			}
		case []float64:
			for i, f := range x {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return fmt.Errorf("%q[%d] = %v", k, i, f)
				}
			}
		default:
			return fmt.Errorf("%q holds %T, not a payload union branch", k, v)
		}
	}
	return nil
}

// wantReason fails unless some reason contains every fragment.
func wantReason(t testing.TB, r schemas.MatrizResult, fragments ...string) {
	t.Helper()
	if r.OK {
		t.Fatalf("%s: result OK, want a reason containing %q; payload %v", r.Node, fragments, r.Payload)
	}
next:
	for _, reason := range r.Reasons {
		for _, f := range fragments {
			if !strings.Contains(reason, f) {
				continue next
			}
		}
		return
	}
	t.Fatalf("%s: no reason contains all of %q; reasons:\n%s", r.Node, fragments, strings.Join(r.Reasons, "\n"))
}

// wantOK fails unless r is OK.
func wantOK(t testing.TB, r schemas.MatrizResult) {
	t.Helper()
	if !r.OK {
		t.Fatalf("%s: not OK: %q", r.Node, r.Reasons)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func f64(t testing.TB, r schemas.MatrizResult, key string) float64 {
	t.Helper()
	v, ok := r.Payload[key].(float64)
	if !ok {
		t.Fatalf("%s: payload %q = %#v, want a double", r.Node, key, r.Payload[key])
	}
	return v
}

func i64(t testing.TB, r schemas.MatrizResult, key string) int64 {
	t.Helper()
	v, ok := r.Payload[key].(int64)
	if !ok {
		t.Fatalf("%s: payload %q = %#v, want a long", r.Node, key, r.Payload[key])
	}
	return v
}

func str(t testing.TB, r schemas.MatrizResult, key string) string {
	t.Helper()
	v, ok := r.Payload[key].(string)
	if !ok {
		t.Fatalf("%s: payload %q = %#v, want a string", r.Node, key, r.Payload[key])
	}
	return v
}

func strs(t testing.TB, r schemas.MatrizResult, key string) []string {
	t.Helper()
	v, ok := r.Payload[key].([]string)
	if !ok {
		t.Fatalf("%s: payload %q = %#v, want an array<string>", r.Node, key, r.Payload[key])
	}
	return v
}

func vec(t testing.TB, r schemas.MatrizResult, key string) []float64 {
	t.Helper()
	v, ok := r.Payload[key].([]float64)
	if !ok {
		t.Fatalf("%s: payload %q = %#v, want an array<double>", r.Node, key, r.Payload[key])
	}
	return v
}
