package schemas

import (
	"bytes"
	"reflect"
	"testing"
)

// TestRoundTrip encodes and decodes every fixture and expects the same
// value back, and the same value again after re-encoding the decoded one.
// Where no map has more than one entry the bytes must match too; beyond
// that twmb/avro's map order may differ between encodings.
func TestRoundTrip(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			b, err := encodeAny(nil, f.value, f.version)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := decodeAny(f.schema, f.version, b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, d := range diffValues(f.value, got) {
				t.Error(d)
			}
			byteStable := maxMapLen(reflect.ValueOf(f.value)) <= 1
			for range 5 {
				again, err := encodeAny(nil, got, f.version)
				if err != nil {
					t.Fatalf("re-encode: %v", err)
				}
				back, err := decodeAny(f.schema, f.version, again)
				if err != nil {
					t.Fatalf("decode re-encoding: %v", err)
				}
				for _, d := range diffValues(got, back) {
					t.Errorf("re-encoded: %s", d)
				}
				if byteStable && !bytes.Equal(b, again) {
					t.Fatalf("re-encoding the decoded value gave different bytes:\n%x\n%x", b, again)
				}
			}
		})
	}
}

// TestEveryPayloadBranchInEveryRecord checks that each record type that
// carries a payload round-trips each branch of the payload union on its own,
// so a failure names the branch.
func TestEveryPayloadBranchInEveryRecord(t *testing.T) {
	all := payloadAll()
	for k, v := range payloadEdge() {
		all["edge:"+k] = v
	}
	for key, val := range all {
		p := Payload{key: val}
		msg := messageFixture()
		msg.Payload = p
		res := MatrizResult{ID: "r", MsgID: uuidMsg, TS: tsFixture, Lane: LaneProd, Payload: p,
			Trace: []Crumb{{Stage: "s", T: tsFixture, Data: p}}}
		ev := Event{ID: "e", TS: tsFixture, Kind: EventReward, Lane: LaneProd, Payload: p}
		tr := Trace{ID: "t", TS: tsFixture, Lane: LaneProd, RiskClass: RiskLimited, Inputs: p, Outputs: p,
			Crumbs: []Crumb{{Stage: "s", T: tsFixture, Data: p}}}
		for _, f := range []fixture{{name: "message", schema: NameMessage, value: &msg}, {name: "result", schema: NameResult, value: &res}, {name: "event", schema: NameEvent, value: &ev}, {name: "trace", schema: NameTrace, value: &tr}} {
			b, err := encodeAny(nil, f.value, f.version)
			if err != nil {
				t.Errorf("%s %q: encode: %v", f.name, key, err)
				continue
			}
			got, err := decodeAny(f.schema, f.version, b)
			if err != nil {
				t.Errorf("%s %q: decode: %v", f.name, key, err)
				continue
			}
			for _, d := range diffValues(f.value, got) {
				t.Errorf("%s %q: %s", f.name, key, d)
			}
		}
	}
}
