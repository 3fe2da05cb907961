package stages

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// toyState stands for a stage's state in the tests of the encoding.
type toyState struct {
	Lane  string         `json:"lane"`
	N     int64          `json:"n"`
	X     float64        `json:"x"`
	ByKey map[string]int `json:"by_key"`
}

func TestSnapshotEnvelopeRoundTripsAndIsStable(t *testing.T) {
	in := toyState{Lane: "prod", N: 3, X: 1.0 / 3, ByKey: map[string]int{"b": 2, "a": 1, "c": 3}}
	b, err := encodeSnapshot("toy", in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":2,"stage":"toy","state":{"lane":"prod","n":3,"x":0.3333333333333333,"by_key":{"a":1,"b":2,"c":3}}}`
	fxEqual(t, "snapshot", string(b), want)
	var out toyState
	if err := decodeSnapshot("toy", b, &out); err != nil {
		t.Fatal(err)
	}
	fxEqual(t, "decoded", out, in)
	again, _ := encodeSnapshot("toy", out)
	fxEqual(t, "re-encoded", string(again), string(b))
}

func TestSnapshotReadsTheLegacyFormat(t *testing.T) {
	var out toyState
	if err := decodeSnapshot("toy", []byte(`{"v":1,"lane":"candidate","n":7,"by_key":{"z":9}}`), &out); err != nil {
		t.Fatal(err)
	}
	fxEqual(t, "legacy state", out, toyState{Lane: "candidate", N: 7, ByKey: map[string]int{"z": 9}})
}

func TestSnapshotRefusesWhatItCannotRead(t *testing.T) {
	good, _ := encodeSnapshot("toy", toyState{Lane: "prod", N: 1})
	cases := []struct {
		name, b, found, want string
	}{
		{"garbage", "\x00\xffnot json", "bytes that are not a JSON object", "a snapshot in format 2 (or the legacy format 1)"},
		{"truncated", string(good[:len(good)/2]), "bytes that are not a JSON object", "format 2"},
		{"trailing bytes", string(good) + "x", "bytes that are not a JSON object", "format 2"},
		{"an array", `[1]`, "bytes that are not a JSON object", "format 2"},
		{"null", `null`, "found null", "format 2"},
		{"neither format nor v", `{"lane":"prod","n":1}`, "fields lane, n and neither format nor v", "format 2"},
		{"empty object", `{}`, "fields (none)", "format 2"},
		{"future format", `{"format":3,"stage":"toy","state":{}}`, "found format 3", "want format 2 (or the legacy format 1)"},
		{"format 1 in an envelope", `{"format":1,"stage":"toy","state":{}}`, "found format 1", "want format 2"},
		{"format not a number", `{"format":"2","stage":"toy","state":{}}`, `found format "2"`, "want format 2"},
		{"another stage", `{"format":2,"stage":"drift","state":{}}`, `a snapshot of stage "drift"`, `want a snapshot of stage "toy"`},
		{"no stage", `{"format":2,"state":{}}`, "a snapshot of stage (none)", `want a snapshot of stage "toy"`},
		{"envelope field", `{"format":2,"stage":"toy","state":{},"v":1}`, `envelope field "v"`, "only format, stage and state"},
		{"no state", `{"format":2,"stage":"toy"}`, "an envelope without state", "format, stage and state"},
		{"state field", `{"format":2,"stage":"toy","state":{"lane":"prod","extra":1}}`, `unknown field "extra"`, "want the toy state"},
		{"state type", `{"format":2,"stage":"toy","state":{"n":"one"}}`, "does not decode", "want the toy state"},
		{"legacy version", `{"v":2,"lane":"prod"}`, "a bare state with v 2", "want format 2"},
		{"legacy field", `{"v":1,"lane":"prod","base":{}}`, `format-1 state that does not decode (json: unknown field "base")`, "want the toy state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out toyState
			err := decodeSnapshot("toy", []byte(tc.b), &out)
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("decode(%q) = %v, want an error wrapping ErrSnapshot", tc.b, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "toy: restore: found ") || !strings.Contains(msg, tc.found) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not name the stage, %q and %q", msg, tc.found, tc.want)
			}
		})
	}
}

func TestSnapshotEncodeReportsErrors(t *testing.T) {
	_, err := encodeSnapshot("toy", toyState{X: math.NaN()})
	if err == nil || !strings.HasPrefix(err.Error(), "toy: snapshot: ") {
		t.Fatalf("encode of NaN: %v", err)
	}
}
