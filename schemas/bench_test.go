package schemas

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports a benchmark's CPU time per op (user and system time of
// the whole process, the collector's included) beside its wall time. On a
// machine shared with other jobs the wall time per op grows with their
// load; the CPU time much less, so it is the figure to compare across runs.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

func (m cpuMeter) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMessage is a realistic MatrizMessage: intent and action vectors of 8
// doubles, three glyph tags and six payload keys.
func benchMessage() MatrizMessage {
	return MatrizMessage{
		MsgID: uuidMsg,
		TS:    tsFixture,
		Lane:  LaneProd,
		Glyph: Glyph{ID: uuidGlyph, Kind: "intent", Version: "1.0.0",
			Tags: map[string]string{"subject_sid": "sid-42", "consent": "granted", "purpose": "care"}},
		Payload: Payload{
			"intent":                  []float64{0.12, -0.5, 1, 0.25, 3.25, -7.125, 0.001, 42},
			"action":                  []float64{0.1, -0.45, 0.9, 0.2, 3, -7, 0.002, 41.5},
			"constraint_satisfaction": 0.875,
			"novelty":                 0.62,
			"fanout":                  int64(3),
			"priority":                "P2",
		},
		Topic: "contradiction",
	}
}

func BenchmarkMessageEncode(b *testing.B) {
	m := benchMessage()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], &m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkMessageDecode(b *testing.B) {
	m := benchMessage()
	body, err := AppendEncode(nil, &m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var out MatrizMessage
	for b.Loop() {
		if err := Decode(body, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageDecodeWire is the runtime's path: header, cached schema
// lookup and resolution, decode.
func BenchmarkMessageDecodeWire(b *testing.B) {
	m := benchMessage()
	l, err := NewSchemaLookup(StaticFetcher(ownTexts(b)))
	if err != nil {
		b.Fatal(err)
	}
	wire, err := AppendWire(nil, 2, &m)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	var out MatrizMessage
	for b.Loop() {
		if _, err := DecodeWire(ctx, l, wire, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageValidate(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSyntheticMessage is a message as the devstack's synthetic generator
// writes it: two vectors of 8 doubles, three glyph tags, seven payload keys.
func benchSyntheticMessage() MatrizMessage {
	m := benchMessage()
	m.Glyph.Version = "1"
	m.Glyph.Tags["purpose"] = "research"
	m.Payload = Payload{
		"intent":                  []float64{0.12, -0.5, 0.93, 0.25, -0.33, -0.71, 0.01, 0.42},
		"action":                  []float64{0.1, -0.45, 0.9, 0.2, -0.3, -0.7, 0.02, 0.415},
		"constraint_satisfaction": 0.87,
		"novelty":                 0.6183,
		"value":                   0.4142,
		"risk":                    0.1234,
		"priority":                "P3",
	}
	return m
}

// benchResult is a result as the runtime writes it: a small payload, the
// runtime's decode crumb and the node's own crumb in front of it.
func benchResult() MatrizResult {
	return MatrizResult{
		ID: "r-" + uuidMsg + "-memory", MsgID: uuidMsg, TS: tsFixture, Lane: LaneProd,
		Node: "memory", NodeVersion: "1.4.2", OK: true, Reasons: []string{"consent:granted"},
		Payload: Payload{"score": 0.8125, "recalled": int64(3), "route": "memory", "embedding": []float64{0.1, 0.2, 0.3, 0.4}},
		Trace: []Crumb{
			{Stage: "decode", T: tsFixture, Data: Payload{"schema_id": int64(2), "reader_version": int64(2),
				"frame_seq": int64(1042), "frame_fps": int64(10), "frame_start": "2026-03-14T09:26:53.5Z",
				"glyph_subject_sid": nil, "glyph_consent": nil, "glyph_provenance": []string{}}},
			{Stage: "drift", T: tsFixture, Data: Payload{"ema": 0.034, "breaker": "closed"}},
			{Stage: "memory", T: tsFixture, Data: Payload{"hits": int64(3)}},
		},
	}
}

// benchChainResult is a result as the prod chain writes it (the shape
// of the chain's golden outputs, which matriz bench's codec phase
// encodes): two reasons, an empty payload, and a crumb from the decode
// and every stage after it, eight payloads of one to eight entries.
func benchChainResult() MatrizResult {
	const msgID = "fec2a76f-557f-56af-87f8-530d5516d5be"
	t := time.Date(2026, time.March, 1, 11, 59, 59, 976335000, time.UTC)
	return MatrizResult{
		ID: "2f9517ce-1568-573a-8421-189261edf602", MsgID: msgID, TS: t, Lane: LaneProd,
		Node: "contradiction", NodeVersion: "1.0.0", OK: false,
		Reasons: []string{"contradiction: payload has neither improve/worsen nor parameters/deltas; want the TRIZ parameters " +
			`that improve and worsen, e.g. improve=["speed"] worsen=["reliability"]`, "guardian: upstream result not ok"},
		Payload: Payload{},
		Trace: []Crumb{
			{Stage: "decode", T: t, Data: Payload{"frame_fps": int64(30), "frame_seq": int64(53170992531),
				"frame_start": "2026-03-01T11:59:59.976335823Z", "glyph_consent": nil, "glyph_provenance": []string{},
				"glyph_subject_sid": nil, "reader_version": int64(2), "schema_id": int64(300)}},
			{Stage: "route", T: t, Data: Payload{"dispatched": true, "lane": "prod", "msg_id": msgID,
				"routed_to": "contradiction", "topic": "contradiction"}},
			{Stage: "contradiction", T: t, Data: Payload{"ok": false, "problems": int64(1)}},
			{Stage: "adapter", T: t, Data: Payload{"dispatched": true, "node": "contradiction", "node_version": "1.0.0", "ok": false}},
			{Stage: "drift", T: t, Data: Payload{"coherence": 0.5298207555676946, "cos": 0.9996618029579143,
				"drift": 0.00033819704208570833, "drift_ema": 0.00033819704208570833, "level": "none"}},
			{Stage: "fold-guard", T: t, Data: Payload{"memory_write": false}},
			{Stage: "breakthrough", T: t, Data: Payload{"flagged": false, "mean": 0.0, "samples": int64(0),
				"score": 0.14879319965594306, "scored": true, "std": 0.0}},
			{Stage: "guardian", T: t, Data: Payload{"outcome": "deny", "reasons": []string{"upstream result not ok"}, "risk_class": "minimal"}},
		},
	}
}

func benchEvent() Event {
	return Event{ID: "ev-" + uuidMsg, TS: tsFixture, Kind: EventDecimation, Lane: LaneProd, GlyphID: uuidGlyph,
		MsgID: uuidMsg, Stage: "tick", Payload: Payload{"partition": int64(3), "from_fps": int64(30), "to_fps": int64(10),
			"offsets": []float64{1041, 1042, 1043}, "reason": "overload", "load": 0.93}}
}

func benchTrace() Trace {
	r := benchResult()
	return Trace{ID: "tr-" + uuidMsg, TS: tsFixture, MsgID: uuidMsg, Lane: LaneProd, Stage: "guardian",
		Decision: "allow", Crumbs: r.Trace[1:], Inputs: Payload{"risk": 0.12, "consent": true},
		Outputs: Payload{"allowed": true, "rule": "care-v2"}, Constraints: []string{"consent", "purpose"},
		RiskClass: RiskLimited, DataOrigin: "sensor:a", ExplanationLink: "https://explain.example/tr"}
}

// BenchmarkRoundTrip is one message through a node's codec work: decode
// its body, encode the result (issue 15's target: ≤ 2 µs, ≤ 10 allocs).
func BenchmarkRoundTrip(b *testing.B) { benchRoundTrip(b, benchResult()) }

// BenchmarkRoundTripChain is BenchmarkRoundTrip with the result the prod
// chain writes (benchChainResult), the shapes matriz bench's codec phase
// measures.
func BenchmarkRoundTripChain(b *testing.B) { benchRoundTrip(b, benchChainResult()) }

// benchRoundTrip decodes a synthetic message's body and encodes r, over
// and over, buffers and records reused as the runtime reuses them.
func benchRoundTrip(b *testing.B, r MatrizResult) {
	m := benchSyntheticMessage()
	body, err := AppendEncode(nil, &m)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	var in MatrizMessage
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if err := Decode(body, &in); err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendEncode(buf[:0], &r); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

func benchEncode[T Record](b *testing.B, v *T) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeResult(b *testing.B) { r := benchResult(); benchEncode(b, &r) }
func BenchmarkEncodeChainResult(b *testing.B) {
	r := benchChainResult()
	benchEncode(b, &r)
}
func BenchmarkEncodeEvent(b *testing.B) { e := benchEvent(); benchEncode(b, &e) }
func BenchmarkEncodeTrace(b *testing.B) { t := benchTrace(); benchEncode(b, &t) }

// BenchmarkRoundTripReflective is BenchmarkRoundTrip through twmb/avro's
// reflective codec, the path the direct one replaced: compare the two
// within one run, since other load on the machine moves both alike.
func BenchmarkRoundTripReflective(b *testing.B) {
	m := benchSyntheticMessage()
	body, err := AppendEncode(nil, &m)
	if err != nil {
		b.Fatal(err)
	}
	ms, err := Schema(NameMessage)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := Schema(NameResult)
	if err != nil {
		b.Fatal(err)
	}
	r := benchResult()
	buf := make([]byte, 0, 1024)
	var in MatrizMessage
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if err := decodeReflective(ms, NameMessage, body, &in); err != nil {
			b.Fatal(err)
		}
		if buf, err = appendReflective(buf[:0], rs, NameResult, &r); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}
