package runtime

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// otlpReceiver is an OTLP/HTTP traces endpoint: it decodes each protobuf
// ExportTraceServiceRequest and keeps the spans with their service name.
type otlpReceiver struct {
	URL      string
	mu       sync.Mutex
	spans    []receivedSpan
	requests int
}

type receivedSpan struct {
	service string
	span    *tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
			http.Error(w, "want POST /v1/traces", http.StatusNotFound)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ex coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests++
		for _, rs := range ex.GetResourceSpans() {
			service := stringAttr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					r.spans = append(r.spans, receivedSpan{service: service, span: s})
				}
			}
		}
		r.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *otlpReceiver) all() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

func stringAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func findAttr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// tracedInputs gives each record a traceparent of its own trace (sampled)
// and returns the traceparents by msg_id.
func tracedInputs(recs []topics.Message, msgs []schemas.MatrizMessage, seed uint64) map[string][2][]byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := map[string][2][]byte{}
	for i := range recs {
		tid, sid := make([]byte, 16), make([]byte, 8)
		for j := range tid {
			tid[j] = byte(rng.UintN(256))
		}
		for j := range sid {
			sid[j] = byte(rng.UintN(256))
		}
		tid[0], sid[0] = 0xab, 0xcd // never all zero
		recs[i].Headers = append(recs[i].Headers, topics.Header{Key: HeaderTraceparent, Value: fmt.Appendf(nil, "00-%x-%x-01", tid, sid)})
		out[msgs[i].MsgID] = [2][]byte{tid, sid}
	}
	return out
}

// TestTracingSpansFollowInputTraceparent is issue 11's acceptance for
// tracing: a real lane, its tracer configured by the OTEL_* variables
// only (pointed at an OTLP/HTTP receiver in the test), gets records each
// carrying a W3C traceparent of its own trace. The receiver gets, for every
// input, a matriz.frame span in the input's trace whose parent is the
// input's span, with the guardian's decisions and the drift EMA as
// attributes, and under it a span per stage of the lane's chain; every
// result carries the traceparent of the frame span that produced it, and
// the GLYPH identity headers.
func TestTracingSpansFollowInputTraceparent(t *testing.T) {
	const n = 6
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	recv := startOTLPReceiver(t)
	// One message a second of event time: every frame (33 ms) holds one
	// record, so each frame is the child of its only input.
	msgs := laneMessages(lane, n, 11, n*time.Second)
	recs := e.Encode(t, lane, msgs)
	inputs := tracedInputs(recs, msgs, 11)
	e.Write(t, topics.Name(string(lane), topics.KindMessages), recs)

	env := envMap(map[string]string{observe.EnvOTLPEndpoint: recv.URL})
	tracer, err := observe.NewTracerFromEnv(context.Background(), env, observe.ServiceLive)
	if err != nil || tracer == nil {
		t.Fatalf("tracer from %s=%s: %v, %v", observe.EnvOTLPEndpoint, recv.URL, tracer, err)
	}
	if got := tracer.Config().Endpoint; got != recv.URL+"/v1/traces" {
		t.Fatalf("endpoint %q, want %q", got, recv.URL+"/v1/traces")
	}
	counters := &observe.LaneCounters{}
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, Getenv: env, Tracer: tracer})
	waitCounted(t, counters, n, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := tracer.Shutdown(); err != nil {
		t.Fatalf("flush: %v", err)
	}

	wantStages := []string{"route", "learn", "adapter", "drift", "fold-guard", "breakthrough", "guardian", "goals"}
	spans := recv.all()
	frames := map[string]*tracepb.Span{} // msg_id -> its frame span
	for msgID, in := range inputs {
		for _, s := range spans {
			sp := s.span
			if sp.GetName() == observe.SpanFrame && bytes.Equal(sp.GetTraceId(), in[0]) && bytes.Equal(sp.GetParentSpanId(), in[1]) {
				if s.service != observe.ServiceLive {
					t.Errorf("frame span of %s under service %q, want %q", msgID, s.service, observe.ServiceLive)
				}
				frames[msgID] = sp
			}
		}
		f := frames[msgID]
		if f == nil {
			t.Errorf("input %s (trace %x, span %x): no %s span with it as parent among %d spans", msgID, in[0], in[1], observe.SpanFrame, len(spans))
			continue
		}
		if v := stringAttr(f.GetAttributes(), observe.AttrLane); v != string(lane) {
			t.Errorf("frame span lane %q", v)
		}
		if findAttr(f.GetAttributes(), observe.AttrGuardianOutcomes) == nil || findAttr(f.GetAttributes(), observe.AttrDriftEMAMax) == nil {
			t.Errorf("frame span of %s lacks the guardian outcomes or drift EMA: %v", msgID, f.GetAttributes())
		}
		var got []string
		for _, s := range spans {
			if bytes.Equal(s.span.GetParentSpanId(), f.GetSpanId()) && bytes.Equal(s.span.GetTraceId(), in[0]) {
				got = append(got, s.span.GetName())
			}
		}
		for _, st := range wantStages {
			if !slices.Contains(got, observe.SpanStagePrefix+st) {
				t.Errorf("frame of %s: no %s%s child span; children %v", msgID, observe.SpanStagePrefix, st, got)
			}
		}
	}

	frameSpans := 0
	for _, s := range spans {
		if s.span.GetName() == observe.SpanFrame {
			frameSpans++
		}
	}
	if frameSpans != n {
		t.Errorf("%d %s spans, want %d: one per frame with records, none for the empty frames idle partitions close", frameSpans, observe.SpanFrame, n)
	}

	results := e.ReadAll(t, topics.Name(string(lane), topics.KindResults))
	if len(results) != n {
		t.Fatalf("%d results, want %d", len(results), n)
	}
	for _, r := range results {
		msgID := pipetest.Header(r, HeaderIDMsg)
		f := frames[msgID]
		if f == nil {
			t.Errorf("result for %q: no frame span", msgID)
			continue
		}
		want := "00-" + hex.EncodeToString(f.GetTraceId()) + "-" + hex.EncodeToString(f.GetSpanId()) + "-01"
		if got := pipetest.Header(r, HeaderTraceparent); got != want {
			t.Errorf("result for %s: traceparent %q, want the frame span's %q", msgID, got, want)
		}
		for _, k := range []string{HeaderGlyphID, HeaderLane, HeaderSchemaID, HeaderNode} {
			if pipetest.Header(r, k) == "" {
				t.Errorf("result for %s: no %s header", msgID, k)
			}
		}
	}
	t.Logf("%d spans received; %d frame spans each the child of its input, with %d stage spans each", len(spans), len(frames), len(wantStages))

	// A replay of the log makes its own tracer from the same variables,
	// under the replay's service name: its frames are children of the same
	// inputs, told apart from the live run's.
	replayRecv := startOTLPReceiver(t)
	if _, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL,
		Name: "traced", Ranges: fullRanges(t, e, lane), Getenv: envMap(map[string]string{observe.EnvOTLPEndpoint: replayRecv.URL})}); err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, s := range replayRecv.all() {
		if s.span.GetName() != observe.SpanFrame {
			continue
		}
		replayed++
		if s.service != observe.ServiceReplay || !findAttr(s.span.GetAttributes(), observe.AttrReplay).GetBoolValue() {
			t.Errorf("replay frame span under service %q, %s=%v; want %q and true", s.service, observe.AttrReplay, findAttr(s.span.GetAttributes(), observe.AttrReplay), observe.ServiceReplay)
		}
		parent := false
		for _, in := range inputs {
			parent = parent || bytes.Equal(s.span.GetTraceId(), in[0]) && bytes.Equal(s.span.GetParentSpanId(), in[1])
		}
		if !parent {
			t.Errorf("replay frame span %x is the child of no input", s.span.GetSpanId())
		}
	}
	if replayed != n {
		t.Errorf("replay: %d frame spans received (flushed when Replay returned), want %d", replayed, n)
	}
}

// TestTracingOffPassesTraceparentThrough: with no OTLP endpoint the lane
// makes no tracer, and each result carries its input's traceparent
// unchanged.
func TestTracingOffPassesTraceparentThrough(t *testing.T) {
	const n = 4
	lane := schemas.LaneCandidate
	e := pipetest.Start(t, lane)
	tracer, err := observe.NewTracerFromEnv(context.Background(), envMap(nil), observe.ServiceLive)
	if err != nil || tracer != nil {
		t.Fatalf("no endpoint: tracer %v, err %v; want nil, nil", tracer, err)
	}
	msgs := laneMessages(lane, n, 12, n*time.Second)
	recs := e.Encode(t, lane, msgs)
	tracedInputs(recs, msgs, 12)
	want := map[string]string{}
	for i := range recs {
		want[msgs[i].MsgID] = string(recs[i].Header(HeaderTraceparent))
	}
	e.Write(t, topics.Name(string(lane), topics.KindMessages), recs)
	counters := &observe.LaneCounters{}
	stop := runLane(t, e, Config{Lane: lane, Counters: counters})
	waitCounted(t, counters, n, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	var results []topics.Message
	clocktest.WaitFor(t, 30*time.Second, "every result readable", func() bool {
		results = e.ReadAll(t, topics.Name(string(lane), topics.KindResults))
		return len(results) >= n
	})
	for _, r := range results {
		id := pipetest.Header(r, HeaderIDMsg)
		if got := pipetest.Header(r, HeaderTraceparent); got == "" || got != want[id] {
			t.Errorf("result for %s: traceparent %q, want the input's %q", id, got, want[id])
		}
	}
}
