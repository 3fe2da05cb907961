package runtime

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// poisonKind is one way a record can be hostile, and the DLQ reasons it
// may get (random bytes may happen to look like an unknown schema id).
type poisonKind struct {
	name    string
	reasons []string
}

var poisonKinds = []poisonKind{
	{"random", []string{ReasonUndecodable, ReasonUnknownSchemaID}},
	{"unknown-id", []string{ReasonUnknownSchemaID}},
	{"truncated", []string{ReasonUndecodable}},
	{"huge-length", []string{ReasonUndecodable}},
	{"contract", []string{ReasonContract}},
	{"future-ts", []string{ReasonFutureTimestamp}},
	{"zero-ts", []string{ReasonInvalidTimestamp}},
	// Made apart (largeRecords): records over what the project's Sink writes.
	{"1mb", []string{ReasonUndecodable, ReasonUnknownSchemaID}},
	{"huge-key", []string{ReasonOversizedOutput}},         // a valid message under a ~1 MB key, which its result would carry
	{"huge-traceparent", []string{ReasonOversizedOutput}}, // a valid message with a ~1 MB traceparent, which its result would carry
}

// smallKinds is how many of poisonKinds poisonRecords makes.
const smallKinds = 7

// poisonRecords makes n hostile records for lane, of every kind but 1mb,
// round robin, keyed "poison/<kind>/<i>".
func poisonRecords(t *testing.T, env *pipetest.Env, lane schemas.Lane, n int, rng *rand.Rand) []topics.Message {
	t.Helper()
	id, err := env.Serde.ID(serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)))
	if err != nil {
		t.Fatal(err)
	}
	gen := laneMessages(lane, n, 31, time.Second)
	wire := func(m schemas.MatrizMessage) []byte {
		m.MsgID = uuid.NewString()
		b, err := schemas.AppendWire(nil, id, &m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := make([]topics.Message, n)
	for i := range out {
		k := poisonKinds[i%smallKinds]
		m := gen[i]
		var v []byte
		switch k.name {
		case "random":
			v = make([]byte, 1+rng.IntN(300))
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
		case "unknown-id":
			v = binary.BigEndian.AppendUint32([]byte{0}, 100_000+rng.Uint32N(1000))
			v = append(v, wire(m)[5:]...)
		case "truncated":
			b := wire(m)
			v = b[:5+rng.IntN(len(b)-6)]
		case "huge-length":
			// msg_id's length prefix (zigzag varint) claims ~2^61 bytes.
			v = binary.AppendUvarint(wire(m)[:5], 1<<62)
			v = append(v, "short"...)
		case "contract":
			m.Glyph.ID = "not-a-uuid"
			v = wire(m)
		case "future-ts":
			m.TS = time.Now().AddDate(0, 0, 1+rng.IntN(60_000))
			v = wire(m)
		case "zero-ts":
			m.TS = time.UnixMicro(0)
			v = wire(m)
		}
		out[i] = topics.Message{Key: fmt.Appendf(nil, "poison/%s/%d", k.name, i), Value: v}
	}
	return out
}

// poisonID is "poison/<kind>/<i>" of a hostile record's key (a huge key
// reaches the DLQ truncated), or the key itself for any other.
func poisonID(key []byte) string {
	k := string(key[:min(len(key), 64)])
	parts := strings.SplitN(k, "/", 4)
	if len(parts) < 3 || parts[0] != "poison" {
		return k
	}
	return strings.Join(parts[:3], "/")
}

// largeRecords makes n records of the large kinds, round robin: ~1 MB of
// random bytes, and valid messages whose key or traceparent header is
// ~1 MB (their results would be too big to write).
func largeRecords(t *testing.T, env *pipetest.Env, lane schemas.Lane, n int, rng *rand.Rand) []topics.Message {
	t.Helper()
	msgs := laneMessages(lane, n, 51, time.Second)
	for i := range msgs {
		msgs[i].MsgID = uuid.NewString()
	}
	valid := env.Encode(t, lane, msgs)
	out := make([]topics.Message, n)
	for i := range out {
		k := poisonKinds[smallKinds+i%(len(poisonKinds)-smallKinds)].name
		key := fmt.Sprintf("poison/%s/%d", k, i)
		switch k {
		case "1mb":
			v := make([]byte, 1_000_000+rng.IntN(40_000)) // past what a record may be, under the broker's 1,048,588
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			out[i] = topics.Message{Key: []byte(key), Value: v}
		case "huge-key":
			out[i] = topics.Message{Key: []byte(key + "/" + strings.Repeat("k", 1_000_000)), Value: valid[i].Value}
		case "huge-traceparent":
			out[i] = topics.Message{Key: []byte(key), Value: valid[i].Value,
				Headers: []topics.Header{{Key: HeaderTraceparent, Value: []byte(strings.Repeat("t", 1_000_000))}}}
		}
	}
	return out
}

// TestPoisonRecordsMixedIntoAValidStream runs 10,000 hostile records —
// random bytes, unknown schema ids, truncated Avro, huge declared lengths,
// contract violations, far-future and zero timestamps, ~1 MB values, and
// valid messages under a ~1 MB key or traceparent header (whose results
// would be too big) — mixed into 5,000 valid ones through the prod lane on the embedded
// broker: the lane never stops, every hostile record reaches the DLQ once
// with a reason, every valid one gets its result.
func TestPoisonRecordsMixedIntoAValidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: 15,000 records, 30 of them ~1 MB, through the lane on the embedded broker (skipped with -short)")
	}
	const poison, large, valid = 10_000, 30, 5_000
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	rng := rand.New(rand.NewPCG(10, 10))
	msgs := laneMessages(lane, valid, 41, 10*time.Second)
	small := append(env.Encode(t, lane, msgs), poisonRecords(t, env, lane, poison-large, rng)...)
	rng.Shuffle(len(small), func(i, j int) { small[i], small[j] = small[j], small[i] })
	big := largeRecords(t, env, lane, large, rng)

	counters := &observe.LaneCounters{}
	start := time.Now()
	stop := runLane(t, env, Config{Lane: lane, Counters: counters})
	in := topics.Name(string(lane), topics.KindMessages)
	half := len(small) / 2
	env.Write(t, in, small[:half])
	writeLarge(t, env, in, big)
	env.Write(t, in, small[half:])
	waitCounted(t, counters, valid+poison, 90*time.Second)
	// Delivery is at least once: a rebalance under load may answer some
	// records twice, so the counters alone can run ahead; every offset
	// committed means every record's outputs are durable.
	env.WaitCommitted(t, in, GroupName("", lane), 90*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("the lane stopped with an error: %v", err)
	}
	t.Logf("%d records (%d hostile, %d of ~1 MB) answered in %v", valid+poison, poison, large, time.Since(start).Round(time.Millisecond))

	reasons := map[string]int{}
	perKind := map[string]int{}
	seen := map[string]int{}
	for _, d := range env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ)) {
		key := poisonID(d.Key)
		reason := pipetest.Header(d, HeaderDLQReason)
		reasons[reason]++
		seen[key]++
		if size := topics.RecordSize(d); size > topics.MaxRecordBytes {
			t.Errorf("DLQ record %s of %d bytes", key, size)
		}
		kind, _, _ := strings.Cut(strings.TrimPrefix(key, "poison/"), "/")
		var k *poisonKind
		for i := range poisonKinds {
			if poisonKinds[i].name == kind {
				k = &poisonKinds[i]
			}
		}
		if k == nil {
			t.Errorf("DLQ record of a valid input %q: reason %s (%s)", key, reason, pipetest.Header(d, HeaderDLQDetail))
			continue
		}
		perKind[kind]++
		ok := false
		for _, r := range k.reasons {
			ok = ok || r == reason
		}
		if !ok {
			t.Errorf("%s: reason %q, want one of %v (%s)", key, reason, k.reasons, pipetest.Header(d, HeaderDLQDetail))
		}
		if large := k.name == "1mb" || k.name == "huge-key" || k.name == "huge-traceparent"; large && pipetest.Header(d, HeaderDLQTruncated) != "true" {
			t.Errorf("%s: ~1 MB original not marked truncated", key)
		}
	}
	missing, dups := 0, 0
	for _, m := range append(small, big...) {
		k := poisonID(m.Key)
		switch {
		case !strings.HasPrefix(k, "poison/"):
		case seen[k] == 0:
			missing++
			if missing < 5 {
				t.Errorf("hostile record %s is not in the DLQ", k)
			}
		case seen[k] > 1:
			dups++
		}
	}
	answered := map[string]int{}
	for _, r := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		answered[pipetest.Header(r, HeaderMsgID)]++
	}
	unanswered := 0
	for _, m := range msgs {
		switch n := answered[m.MsgID]; {
		case n == 0:
			unanswered++
		case n > 1:
			dups++
		}
	}
	if missing > 0 || unanswered > 0 {
		t.Fatalf("%d hostile records not in the DLQ, %d valid records without a result", missing, unanswered)
	}
	t.Logf("DLQ by reason %v; by kind %v; %d valid records answered; %d records answered twice (redelivered after a rebalance)", reasons, perKind, valid, dups)
}
