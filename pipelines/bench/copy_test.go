package bench

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/segmentio/kafka-go"
)

// TestFanMessagesWritesExactlyThePlan: inputs read in batches of any size
// write, over n inputs, exactly the records the plan names (2.002 events
// per input is 2002 over 1000 inputs, spread one or more per input), with
// the padded value size and the input's key.
func TestFanMessagesWritesExactlyThePlan(t *testing.T) {
	const n = 1000
	for _, o := range []copyOutput{{Topic: "e", Records: 2002, ValueSize: 635}, {Topic: "a", Records: 7, ValueSize: 90}, {Topic: "r", Records: n, ValueSize: -1}} {
		var pad []byte
		if o.ValueSize >= 0 {
			pad = make([]byte, o.ValueSize)
		}
		total := int64(0)
		for first, size := 0, 1; first < n; first, size = first+size, size*2+1 {
			size = min(size, n-first)
			in := make([]kafka.Message, size)
			for j := range in {
				in[j] = kafka.Message{Key: []byte("k" + strconv.Itoa(first+j)), Value: []byte("input " + strconv.Itoa(first+j))}
			}
			out := fanMessages(in, first, n, o, pad)
			for _, m := range out {
				if o.ValueSize >= 0 && len(m.Value) != o.ValueSize {
					t.Fatalf("%s: value of %d bytes, want %d", o.Topic, len(m.Value), o.ValueSize)
				}
				if o.ValueSize < 0 && !bytes.HasPrefix(m.Value, []byte("input ")) {
					t.Fatalf("%s: value %q, want the input's", o.Topic, m.Value)
				}
				if !bytes.HasPrefix(m.Key, []byte("k")) {
					t.Fatalf("%s: key %q, want the input's", o.Topic, m.Key)
				}
			}
			total += int64(len(out))
		}
		if total != o.Records {
			t.Errorf("%s: %d inputs wrote %d records, want %d", o.Topic, n, total, o.Records)
		}
	}
}

// TestFanoutPlanFollowsTheChainsWrites: one output per kind the chain
// wrote, with its records, a value as long as its average value and
// headers, and its partitions; kinds it did not write are left out.
func TestFanoutPlanFollowsTheChainsWrites(t *testing.T) {
	outs, parts := fanoutPlan([]KindWrites{
		{Kind: "results", Partitions: 6, Records: 100, KeyBytes: 1000, ValueBytes: 70_000, HeaderBytes: 5000},
		{Kind: "actions", Partitions: 6},
		{Kind: "events", Partitions: 3, Records: 200, ValueBytes: 40_000, HeaderBytes: 2000},
	})
	if len(outs) != 2 || outs[0] != (copyOutput{Topic: "bench.fanout.results", Records: 100, ValueSize: 750}) ||
		outs[1] != (copyOutput{Topic: "bench.fanout.events", Records: 200, ValueSize: 210}) {
		t.Fatalf("plan %+v", outs)
	}
	if len(parts) != 2 || parts["bench.fanout.results"] != 6 || parts["bench.fanout.events"] != 3 {
		t.Fatalf("partitions %v", parts)
	}
}

// TestWritesTablePerInput: the table divides by the report's N and totals
// the kinds, the fan-out copy's beside the chain's.
func TestWritesTablePerInput(t *testing.T) {
	r := Report{N: 100,
		Writes:       []KindWrites{{Kind: "results", Records: 100, ValueBytes: 75_000}, {Kind: "events", Records: 250, KeyBytes: 1000, ValueBytes: 50_000}},
		FanoutWrites: []KindWrites{{Kind: "results", Records: 100, ValueBytes: 74_900}, {Kind: "events", Records: 250, ValueBytes: 51_000}},
	}
	got := r.WritesTable()
	for _, want := range []string{
		"results           1.000          750.0        750.0          1.000          749.0",
		"events            2.500          510.0        204.0          2.500          510.0",
		"total             3.500         1260.0                       3.500         1259.0",
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
