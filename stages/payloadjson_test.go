package stages

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

func TestJSONPayloadRoundTripsEveryType(t *testing.T) {
	in := jsonPayload{
		"null": nil, "bool": false, "long": int64(-1 << 62), "double": 0.1,
		"nan": math.NaN(), "inf": math.Inf(-1), "tiny": 5e-324,
		"string": "ü\"", "vec": []float64{1.5, math.MaxFloat64}, "empty": []float64{}, "strings": []string{"a", ""},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out jsonPayload
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(out["nan"].(float64)) {
		t.Fatalf("nan became %v", out["nan"])
	}
	delete(in, "nan")
	delete(out, "nan")
	fxEqual(t, "round trip", out, in)

	var null jsonPayload = jsonPayload{"x": nil}
	if err := json.Unmarshal([]byte(`null`), &null); err != nil || null != nil {
		t.Fatalf("null payload: %v %v", null, err)
	}
}

func TestJSONPayloadRejectsBadInput(t *testing.T) {
	_, err := json.Marshal(jsonPayload{"k": 3})
	var pe *schemas.PayloadTypeError
	if !errors.As(err, &pe) || pe.Key != "k" {
		t.Fatalf("marshal of an int: %v", err)
	}
	for _, bad := range []string{
		`[1]`,
		`{"k":{"t":"q"}}`,
		`{"k":{"t":"b","v":"yes"}}`,
		`{"k":{"t":"l","v":1.5}}`,
		`{"k":{"t":"d","v":1.5}}`,
		`{"k":{"t":"d","v":"one"}}`,
		`{"k":{"t":"s","v":1}}`,
		`{"k":{"t":"ad","v":["1","x"]}}`,
		`{"k":{"t":"ad","v":"1"}}`,
		`{"k":{"t":"as","v":[1]}}`,
	} {
		var p jsonPayload
		err := json.Unmarshal([]byte(bad), &p)
		if err == nil {
			t.Fatalf("%s decoded to %v", bad, p)
		}
		if strings.HasPrefix(bad, `{"k"`) && !strings.Contains(err.Error(), `payload key "k"`) {
			t.Fatalf("%s: error %q does not name the key", bad, err)
		}
	}
}
