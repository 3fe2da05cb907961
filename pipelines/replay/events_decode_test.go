package replay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// randomEvent returns an event using every payload union branch over the
// seeds, with empty and odd values among them.
func randomEvent(rng *rand.Rand) schemas.Event {
	ev := schemas.Event{
		ID:      fmt.Sprintf("ev-%x", rng.Uint64()),
		TS:      time.UnixMicro(rng.Int64N(1<<52) - 1<<50).UTC(),
		Kind:    schemas.EventKinds[rng.IntN(len(schemas.EventKinds))],
		Lane:    schemas.Lanes[rng.IntN(len(schemas.Lanes))],
		GlyphID: []string{"", "glyph-1", "ğlyph—ünïcode", "partition:3"}[rng.IntN(4)],
		MsgID:   []string{"", fmt.Sprintf("msg-%d", rng.IntN(1000))}[rng.IntN(2)],
		Stage:   []string{"", "route", "drift", "decimate"}[rng.IntN(4)],
		Payload: schemas.Payload{},
	}
	for i := range rng.IntN(12) {
		k := fmt.Sprintf("k%d", i)
		switch rng.IntN(9) {
		case 0:
			ev.Payload[k] = nil
		case 1:
			ev.Payload[k] = rng.IntN(2) == 1
		case 2:
			ev.Payload[k] = rng.Int64() - math.MaxInt64/2
		case 3:
			ev.Payload[k] = rng.NormFloat64() * 1e6
		case 4:
			ev.Payload[k] = fmt.Sprintf("value %d ✓", rng.IntN(100))
		case 5:
			fs := make([]float64, rng.IntN(5))
			for j := range fs {
				fs[j] = rng.Float64()
			}
			ev.Payload[k] = fs
		case 6:
			ss := make([]string, rng.IntN(4))
			for j := range ss {
				ss[j] = fmt.Sprint(j)
			}
			ev.Payload[k] = ss
		case 7:
			ev.Payload[k] = []float64{}
		default:
			ev.Payload[k] = int64(rng.IntN(300)) // small: no boxing allocation
		}
	}
	return ev
}

// TestFastEventDecodesAsSchemas: for thousands of events over every
// payload branch, fastEvent gives exactly what schemas.Decode gives, and
// for every truncation and many corruptions of their bytes, it fails
// whenever schemas.Decode fails and agrees whenever it succeeds.
func TestFastEventDecodesAsSchemas(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		in := randomEvent(rng)
		body, err := schemas.AppendEncode(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		var want, got schemas.Event
		if err := schemas.Decode(body, &want); err != nil {
			t.Fatal(err)
		}
		if err := fastEvent(body, &got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d:\nfast    %#v\nschemas %#v", i, got, want)
		}
		if i%10 != 0 {
			continue
		}
		for n := range len(body) {
			if err := fastEvent(body[:n], &got); err == nil {
				t.Fatalf("event %d truncated to %d of %d bytes decoded: %#v", i, n, len(body), got)
			}
		}
		if err := fastEvent(append(body[:len(body):len(body)], 0), &got); err == nil {
			t.Fatalf("event %d with a trailing byte decoded", i)
		}
		for range 50 {
			bad := append([]byte(nil), body...)
			bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
			wantErr := schemas.Decode(bad, &want)
			gotErr := fastEvent(bad, &got)
			switch {
			case wantErr != nil && gotErr == nil:
				t.Fatalf("event %d corrupted: schemas refused it (%v), fast decoded %#v", i, wantErr, got)
			case wantErr == nil && gotErr != nil:
				t.Fatalf("event %d corrupted: schemas decoded it, fast refused it: %v", i, gotErr)
			case wantErr == nil && !reflect.DeepEqual(got, want):
				t.Fatalf("event %d corrupted:\nfast    %#v\nschemas %#v", i, got, want)
			}
		}
	}
}

// TestFastEventRefusesHostileCounts: a map or array count larger than the
// bytes left is an error, not an allocation.
func TestFastEventRefusesHostileCounts(t *testing.T) {
	in := schemas.Event{ID: "e", Kind: schemas.EventRouting, Lane: schemas.LaneProd}
	body, err := schemas.AppendEncode(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	// The payload is the last field: an empty map is one 0 byte. Replace it
	// with a block of 2^40 entries.
	hostile := append(body[:len(body)-1:len(body)-1], 0x80, 0x80, 0x80, 0x80, 0x80, 0x40)
	var ev schemas.Event
	if err := fastEvent(hostile, &ev); err == nil {
		t.Fatal("a 2^40-entry payload decoded")
	}
}

// TestEventDecoderPicksThePath: a value written with the binary's schema
// takes the fast path, and the decoder's answer is schemas.DecodeWire's.
func TestEventDecoderPicksThePath(t *testing.T) {
	text, err := schemas.TextOf(schemas.NameEvent, schemas.Latest)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := schemas.NewSchemaLookup(schemas.StaticFetcher(map[uint32]string{7: text}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newEventDecoder(lookup)
	if err != nil {
		t.Fatal(err)
	}
	in := randomEvent(rand.New(rand.NewPCG(3, 4)))
	b, err := schemas.AppendWire(nil, 7, &in)
	if err != nil {
		t.Fatal(err)
	}
	var got, want schemas.Event
	if _, err := d.decode(context.Background(), b, &got, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := schemas.DecodeWire(context.Background(), lookup, b, &want); err != nil {
		t.Fatal(err)
	}
	if !d.fast[7] || !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path %v; got %#v, want %#v", d.fast[7], got, want)
	}
	if _, err := d.decode(context.Background(), schemas.AppendWireHeader(nil, 8), &got, nil); err == nil {
		t.Fatal("unknown schema id decoded")
	}
}

// TestAvroLongEdges: the varint reader takes the extremes and refuses an
// eleventh byte or a tenth byte past bit 63, as twmb/avro does.
func TestAvroLongEdges(t *testing.T) {
	for _, want := range []int64{0, -1, 1, 63, -64, 64, math.MaxInt64, math.MinInt64} {
		in := schemas.Event{Kind: schemas.EventLate, Lane: schemas.LaneProd, Payload: schemas.Payload{"n": want}}
		body, err := schemas.AppendEncode(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		var got schemas.Event
		if err := fastEvent(body, &got); err != nil || got.Payload["n"] != want {
			t.Fatalf("%d: got %v, %v", want, got.Payload["n"], err)
		}
	}
	for _, b := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00},
	} {
		r := avroReader{b: b, str: string(b)}
		if r.long(); r.err == nil {
			t.Fatalf("% x read as a long", b)
		}
	}
}

// TestFastEventIfSkipsThePayload: a filter that refuses the event's head
// leaves the payload undecoded; one that keeps it gets the whole event.
func TestFastEventIfSkipsThePayload(t *testing.T) {
	in := randomEvent(rand.New(rand.NewPCG(5, 6)))
	in.Payload["x"] = "y"
	body, err := schemas.AppendEncode(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	var got schemas.Event
	var asked schemas.Event
	kept, err := fastEventIf(body, &got, func(ev *schemas.Event) bool { asked = *ev; return false })
	if err != nil || kept || got.Payload != nil || asked.ID != in.ID || asked.Kind != in.Kind || asked.GlyphID != in.GlyphID || !asked.TS.Equal(in.TS) {
		t.Fatalf("refused: kept %v, err %v, payload %v, asked with %+v", kept, err, got.Payload, asked)
	}
	kept, err = fastEventIf(body, &got, func(*schemas.Event) bool { return true })
	if err != nil || !kept || !reflect.DeepEqual(got, in) {
		t.Fatalf("kept: %v, %v, %+v", kept, err, got)
	}
}
