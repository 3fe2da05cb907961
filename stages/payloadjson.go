package stages

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/matriz/pipelines/schemas"
)

// jsonPayload is a schemas.Payload in snapshot JSON. Plain JSON would turn
// []float64 into []any and int64 into float64, and cannot hold NaN or Inf,
// so each value is written with its type: {"t":"d","v":"0.5"}. Doubles are
// strings in strconv's shortest form, which round-trips every float64,
// NaN and ±Inf included.
type jsonPayload schemas.Payload

type jsonValue struct {
	T string          `json:"t"` // n(ull) b(ool) l(ong) d(ouble) s(tring) ad as
	V json.RawMessage `json:"v,omitempty"`
}

func formatDouble(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// MarshalJSON writes each value with its type tag.
func (p jsonPayload) MarshalJSON() ([]byte, error) {
	out := make(map[string]jsonValue, len(p))
	for k, v := range p {
		var jv jsonValue
		var raw any
		switch x := v.(type) {
		case nil:
			jv.T = "n"
		case bool:
			jv.T, raw = "b", x
		case int64:
			jv.T, raw = "l", x
		case float64:
			jv.T, raw = "d", formatDouble(x)
		case string:
			jv.T, raw = "s", x
		case []float64:
			ss := make([]string, len(x))
			for i, f := range x {
				ss[i] = formatDouble(f)
			}
			jv.T, raw = "ad", ss
		case []string:
			jv.T, raw = "as", x
		default:
			return nil, &schemas.PayloadTypeError{Key: k, Value: v}
		}
		if raw != nil {
			// bool, int64, string and []string always marshal.
			jv.V, _ = json.Marshal(raw)
		}
		out[k] = jv
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (p *jsonPayload) UnmarshalJSON(b []byte) error {
	var in map[string]jsonValue
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in == nil {
		*p = nil
		return nil
	}
	out := make(jsonPayload, len(in))
	for k, jv := range in {
		v, err := jv.value()
		if err != nil {
			return fmt.Errorf("payload key %q: %w", k, err)
		}
		out[k] = v
	}
	*p = out
	return nil
}

func (jv jsonValue) value() (any, error) {
	var err error
	var v any
	switch jv.T {
	case "n":
		return nil, nil
	case "b":
		var b bool
		err = json.Unmarshal(jv.V, &b)
		v = b
	case "l":
		var n int64
		err = json.Unmarshal(jv.V, &n)
		v = n
	case "d":
		var s string
		if err = json.Unmarshal(jv.V, &s); err == nil {
			v, err = strconv.ParseFloat(s, 64)
		}
	case "s":
		var s string
		err = json.Unmarshal(jv.V, &s)
		v = s
	case "ad":
		var ss []string
		err = json.Unmarshal(jv.V, &ss)
		fs := make([]float64, len(ss))
		for i := 0; err == nil && i < len(ss); i++ {
			fs[i], err = strconv.ParseFloat(ss[i], 64)
		}
		v = fs
	case "as":
		var ss []string
		err = json.Unmarshal(jv.V, &ss)
		v = ss
	default:
		return nil, fmt.Errorf("unknown value type %q", jv.T)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
