package stages

import (
	"fmt"
	"math"
)

// recordValue returns a payload value of r: from the node's answer
// (Result.Payload) when the node gave that key, else from the input
// message. Nodes refine their input (the memory node plans fanout and
// depth, the creative node scores novelty), so their figure wins.
func recordValue(r *Record, key string) (any, bool) {
	if r.Result != nil {
		if v, ok := r.Result.Payload[key]; ok && v != nil {
			return v, true
		}
	}
	v, ok := r.Msg.Payload[key]
	return v, ok && v != nil
}

// finiteNumber converts a payload value to a finite float64, or says why it
// is not one.
func finiteNumber(key string, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("%s is %v", key, x)
		}
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("%s is %T, want a number", key, v)
}
