package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

var updateGolden = flag.Bool("update", false, "rewrite the runtime's golden files under testdata/")

// TestChainOutputsGolden pins, byte for byte, what the prod lane's chain
// (dispatch on) and encode write for a fixed set of inputs: every output's
// topic, key, headers (fence stamped) and a SHA-256 of its value, in order.
// Work on the hot path (payload building in the stages, encoding, header
// carving) must leave this file unchanged; `go test -run
// TestChainOutputsGolden -update` rewrites it, and the diff is reviewed.
func TestChainOutputsGolden(t *testing.T) {
	got := chainOutputsDump(t)
	path := filepath.Join("testdata", "chain_outputs.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("outputs differ from %s at line %d (%d lines, want %d):\n got: %s\nwant: %s", path, i+1, len(gl), len(wl), g, w)
		}
	}
}

// chainOutputsDump runs three frames of partition 1 through a new prod
// chain and returns its outputs, one line each. The inputs vary what the
// stages branch on: GLYPH v2 identity and consent, consent refused, a P0
// and a P3 action asked for, out-of-range and missing payload values, a
// late record, a record failed at decode.
func chainOutputsDump(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	runGoldenChain(t, 3, func(m *topics.Message) {
		if m.Fence == nil {
			t.Errorf("%s output %s is not fenced", m.Topic, m.Header(HeaderOutputID))
		}
		fmt.Fprintf(&b, "%s key=%q", m.Topic, m.Key)
		for _, h := range m.Headers {
			fmt.Fprintf(&b, " %s=%q", h.Key, h.Value)
		}
		sum := sha256.Sum256(m.Value)
		fmt.Fprintf(&b, " value=%d:%s\n", len(m.Value), hex.EncodeToString(sum[:12]))
	})
	return b.String()
}

// runGoldenChain runs frames frames of the golden inputs through a new
// prod chain and encode, and hands out each output.
func runGoldenChain(t testing.TB, frames int, out func(*topics.Message)) {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	lane := schemas.LaneProd
	ch, err := sp.Lanes[lane].Chain(lane, spec.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ch.Factory.New()
	if err != nil {
		t.Fatal(err)
	}
	gen := devstack.NewSynthetic(lane, 11, 8)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fl := newInflight()
	o := newOutputs(string(lane), "", laneIDs{result: 21, event: 22, trace: 23, action: 24}, fl, func(err error) { t.Error(err) })
	o.readerVersion = schemas.Latest
	fence := newFence("matriz-prod", &topics.Claim{Partition: 1, Generation: 4, MemberID: "m-9"}, clock.Real{})
	o.fence = fence // as a live worker's: encode stamps what it carves, stampAll the rest
	const fps, perFrame = 30, 24
	offset := int64(100)
	for frame := range frames {
		seq := base.Add(time.Duration(frame)*time.Second/fps).UnixNano() / int64(time.Second/fps)
		f := &stages.Frame{Lane: lane, Partition: 1, Seq: seq, FPS: fps, Flags: stages.Flags{Dispatch: true, Learning: true},
			Start: time.Unix(0, seq*int64(time.Second/fps)).UTC(), End: time.Unix(0, (seq+1)*int64(time.Second/fps)).UTC()}
		for i := range perFrame {
			n := frame*perFrame + i
			msg := gen.Next(f.Start.Add(time.Duration(i) * time.Millisecond))
			varyMessage(&msg, n)
			offset++
			p := &pending{schemaID: 300 + uint32(n%2), msg: topics.Message{Topic: "matriz.prod.messages", Partition: 1, Offset: offset,
				Key: []byte(msg.Glyph.ID), Value: []byte("v"), Ack: topics.NewAck(),
				Headers: []topics.Header{{Key: HeaderTraceparent, Value: []byte(inputTP)}}}}
			fl.put(offset, p)
			rec := stages.Record{Partition: 1, Offset: offset, Msg: &msg, Late: n == 30}
			if n == 17 {
				rec = stages.Record{Partition: 1, Offset: offset}
				rec.Fail("decode", "unknown schema id 999")
				p.reason = ReasonUnknownSchemaID
			}
			f.Records = append(f.Records, rec)
		}
		if err := chain.Run(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		ms := fence.stampAll(o.encode(f))
		for i := range ms {
			out(&ms[i])
		}
	}
}

// BenchmarkChainEncode is the lane's CPU work per input without Kafka:
// the prod chain (dispatch on) and encode over the golden inputs, 24 per
// frame. It reports ns and allocations per input (b.N frames).
func BenchmarkChainEncode(b *testing.B) {
	b.ReportAllocs()
	outputs := 0
	runGoldenChain(b, b.N, func(*topics.Message) { outputs++ })
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*24), "ns/input")
	b.ReportMetric(float64(outputs)/float64(b.N*24), "outputs/input")
}

// varyMessage makes the n-th message of the golden run exercise a branch.
func varyMessage(m *schemas.MatrizMessage, n int) {
	switch n % 9 {
	case 1:
		sid, consent := fmt.Sprintf("sid-%d", n), &schemas.Consent{Granted: true, Purpose: "care"}
		m.Glyph.SubjectSID, m.Glyph.Consent = &sid, consent
		m.Glyph.Provenance = []string{"sensor", "import"}
	case 2:
		m.Glyph.Tags["consent"] = "no"
	case 3:
		m.Payload["action_kind"], m.Payload["priority"] = "notify", "P0"
	case 4:
		m.Payload["action_kind"] = "notify"
	case 5:
		m.Payload["risk"] = 0.95
	case 6:
		delete(m.Payload, "novelty")
		m.Payload["value"] = "high"
	case 7:
		m.Payload["intent"] = []float64{}
	}
}
