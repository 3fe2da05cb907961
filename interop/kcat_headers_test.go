package interop

import (
	"bufio"
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// kcatRecord is one line of `kcat -C -J`.
type kcatRecord struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Headers   []string `json:"headers"` // name, value, name, value, …
}

// header returns the value of the first header named key and whether
// there is one.
func (r kcatRecord) header(key string) (string, bool) {
	for i := 0; i+1 < len(r.Headers); i += 2 {
		if r.Headers[i] == key {
			return r.Headers[i+1], true
		}
	}
	return "", false
}

// kcatJSON reads at most n records of topic from its beginning with
// `kcat -C -J -e`: to its end, or its first n, since a topic the lane
// keeps writing may not give kcat an end to stop at (then what it printed
// within 30 s is taken, less a last line it was stopped in the middle of).
// Extra kcat arguments (a partition) come last.
func kcatJSON(t *testing.T, kcat, broker, topic string, n int, extra ...string) []kcatRecord {
	t.Helper()
	out := runFor(t, 30*time.Second, kcat, append([]string{"-C", "-J", "-e", "-q", "-c", strconv.Itoa(n), "-b", broker, "-t", topic}, extra...)...)
	if i := bytes.LastIndexByte(out, '\n'); i != len(out)-1 {
		out = out[:i+1] // stopped mid-line: the line is not whole JSON
	}
	var recs []kcatRecord
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("kcat -J line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// kcatEachPartition reads the first n records of every partition of topic:
// kcat drains a topic's partitions in no set order, so a read of the whole
// topic capped at a count can miss every record of one partition.
func kcatEachPartition(t *testing.T, kcat, broker, topic string, n int) []kcatRecord {
	t.Helper()
	admin, err := topics.NewAdmin([]string{broker})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := admin.ListTopics(t.Context())
	if err != nil || counts[topic] == 0 {
		t.Fatalf("partitions of %s: %d (%v)", topic, counts[topic], err)
	}
	var recs []kcatRecord
	for p := range counts[topic] {
		recs = append(recs, kcatJSON(t, kcat, broker, topic, n, "-p", strconv.Itoa(p))...)
	}
	return recs
}

// spanCounter is an OTLP/HTTP traces endpoint counting the spans it gets
// by service name.
type spanCounter struct {
	mu    sync.Mutex
	spans map[string]int
}

func startSpanCounter(t *testing.T) (*spanCounter, string) {
	t.Helper()
	c := &spanCounter{spans: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		var ex coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &ex)
		}
		if err != nil || req.URL.Path != "/v1/traces" {
			http.Error(w, fmt.Sprintf("%s: %v", req.URL.Path, err), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range ex.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				c.spans[service] += len(ss.GetSpans())
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *spanCounter) count(service string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans[service]
}

// launchTracedDev runs a `matriz dev` of its own whose environment points
// its tracer at endpoint (the package's shared dev runs without tracing).
func launchTracedDev(t *testing.T, endpoint string) *devProcess {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(binary, "dev", "--data-dir", filepath.Join(dir, "dev"),
		"--listen", freeAddr(t), "--registry-listen", freeAddr(t), "--http-addr", freeAddr(t), "--rate", "100")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, observe.EnvOTLPEndpoint+"="+endpoint)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &devProcess{cmd: cmd, out: &pipetest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(d.out, sc.Text())
			if m := devReady.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { d.done <- cmd.Wait() }()
	select {
	case m := <-ready:
		d.broker, d.registry = m[1], m[2]
	case err := <-d.done:
		t.Fatalf("matriz dev exited before it was ready (%v):\n%s", err, d.out)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("matriz dev printed no ready line within 60s:\n%s", d.out)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// isFrameEvent reports whether an event is one of the router's per-frame
// events, which are keyed by the partition whose frame they list.
func isFrameEvent(r kcatRecord) bool {
	_, decision := r.header(runtime.HeaderDecision)
	return !decision && r.Key != nil && strings.HasPrefix(*r.Key, "partition:")
}

func countFrameEvents(evs []kcatRecord) int {
	n := 0
	for _, r := range evs {
		if isFrameEvent(r) {
			n++
		}
	}
	return n
}

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

// TestKcatShowsGlyphHeaders is issue 11's acceptance for GLYPH headers:
// `kcat -C -J -e` on a lane's results, events and DLQ shows each record's
// glyph-id, subject-sid, lane, msg-id, schema-id, node and traceparent (a
// `matriz dev` with OTEL_EXPORTER_OTLP_ENDPOINT set, so every output
// carries its frame span's; the endpoint gets the spans under service
// matriz), beside the source coordinates and the fence's claim. The
// schema-id header is the id in the value's Confluent prefix; msg-id is
// the decoded result's msg_id.
func TestKcatShowsGlyphHeaders(t *testing.T) {
	kcat := requireKcat(t)
	spans, endpoint := startSpanCounter(t)
	d := launchTracedDev(t, endpoint)
	const lane = "prod"
	results, events, dlq := topics.Name(lane, topics.KindResults), topics.Name(lane, topics.KindEvents), topics.Name(lane, topics.KindDLQ)
	var res, evs, dead []kcatRecord
	// The scenario's corrupt records come 1 s to 7 s into each cycle.
	clocktest.WaitFor(t, 90*time.Second, "results, events and four DLQ records on "+lane, func() bool {
		// Events are read partition by partition: the router's frame
		// events are keyed by input partition, so only some of the
		// events topic's partitions hold them.
		res, evs, dead = kcatJSON(t, kcat, d.broker, results, 300), kcatEachPartition(t, kcat, d.broker, events, 100), kcatJSON(t, kcat, d.broker, dlq, 100)
		return len(res) >= 50 && len(evs) >= 10 && len(dead) >= 4 && countFrameEvents(evs) > 0
	}, func() string {
		return fmt.Sprintf("%d results, %d events (%d the router's per frame), %d DLQ records", len(res), len(evs), countFrameEvents(evs), len(dead))
	})

	codec := devSerde(t, d)
	must := func(what string, r kcatRecord, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if v, ok := r.header(k); !ok || v == "" {
				t.Errorf("%s %s[%d]@%d: no %s header in %v", what, r.Topic, r.Partition, r.Offset, k, r.Headers)
			}
		}
		if v, _ := r.header(runtime.HeaderLane); v != lane {
			t.Errorf("%s: lane header %q", what, v)
		}
		if v, ok := r.header(runtime.HeaderTraceparent); ok && !traceparentRE.MatchString(v) {
			t.Errorf("%s: traceparent %q is not W3C", what, v)
		}
	}
	// schemaOf reads the record with kafka-go and returns the schema id
	// of its value's wire prefix.
	schemaOf := func(r kcatRecord) string {
		m := readAt(t, d.broker, r.Topic, r.Partition, r.Offset)
		if len(m.Value) < 5 || m.Value[0] != 0 {
			return "none"
		}
		return strconv.FormatUint(uint64(bin.BigEndian.Uint32(m.Value[1:5])), 10)
	}
	for i, r := range res {
		must("result", r, runtime.HeaderGlyphID, runtime.HeaderSubjectSID, runtime.HeaderIDMsg, runtime.HeaderSchemaID, runtime.HeaderNode,
			runtime.HeaderTraceparent, runtime.HeaderSrcTopic, runtime.HeaderSrcOffset, runtime.HeaderOutputID, runtime.HeaderGroup, runtime.HeaderGeneration)
		if i%10 != 0 || i > 300 {
			continue // the bytes of one in ten of the first: kcat's view matches the record's
		}
		if sid, _ := r.header(runtime.HeaderSchemaID); sid != schemaOf(r) {
			t.Errorf("result %d@%d: schema-id %s, value written with %s", r.Partition, r.Offset, sid, schemaOf(r))
		}
		var v schemas.MatrizResult
		if _, err := schemas.DecodeWire(t.Context(), codec.Lookup(), readAt(t, d.broker, r.Topic, r.Partition, r.Offset).Value, &v); err != nil {
			t.Fatal(err)
		}
		if id, _ := r.header(runtime.HeaderIDMsg); id != v.MsgID {
			t.Errorf("result %d@%d: msg-id %s, the result answers %s", r.Partition, r.Offset, id, v.MsgID)
		}
		if node, _ := r.header(runtime.HeaderNode); node != v.Node {
			t.Errorf("result %d@%d: node %s, the result's node %s", r.Partition, r.Offset, node, v.Node)
		}
	}
	stageEvents, frameEvents := 0, 0
	for _, r := range evs {
		must("event", r, runtime.HeaderSchemaID, runtime.HeaderOutputID)
		if _, decision := r.header(runtime.HeaderDecision); decision {
			continue
		}
		if isFrameEvent(r) {
			// The router's events of a frame list many messages: no one
			// message's identity, but the trace it was made in.
			must("frame event", r, runtime.HeaderTraceparent)
			for _, k := range []string{runtime.HeaderGlyphID, runtime.HeaderIDMsg} {
				if v, ok := r.header(k); ok {
					t.Errorf("frame event %s[%d]@%d: %s %q, but it speaks for many messages", r.Topic, r.Partition, r.Offset, k, v)
				}
			}
			frameEvents++
			continue
		}
		must("stage event", r, runtime.HeaderGlyphID, runtime.HeaderIDMsg, runtime.HeaderTraceparent)
		stageEvents++
	}
	if frameEvents == 0 {
		t.Error("no frame event of the router's among the events")
	}
	reasons := map[string]int{}
	for _, r := range dead {
		must("DLQ record", r, runtime.HeaderDLQReason, runtime.HeaderSrcOffset, runtime.HeaderTraceparent)
		reason, _ := r.header(runtime.HeaderDLQReason)
		reasons[reason]++
		if reason == runtime.ReasonContract {
			must("contract_violation DLQ record", r, runtime.HeaderGlyphID, runtime.HeaderIDMsg, runtime.HeaderSubjectSID)
		}
		// What the bytes say: the unknown id the record names, no id for
		// bytes that are not in the wire format.
		sid, has := r.header(runtime.HeaderSchemaID)
		if w := schemaOf(r); (w == "none") == has || has && sid != w {
			t.Errorf("DLQ %s record: schema-id %q (%v), its bytes name %s", reason, sid, has, w)
		}
	}
	if stageEvents == 0 || reasons[runtime.ReasonUnknownSchemaID] == 0 || reasons[runtime.ReasonContract] == 0 {
		t.Errorf("%d stage events, DLQ reasons %v: want stage events, an unknown_schema_id and a contract_violation record", stageEvents, reasons)
	}
	clocktest.WaitFor(t, 30*time.Second, "spans under service matriz at the OTLP endpoint", func() bool { return spans.count(observe.ServiceLive) > 0 })
	first := res[0]
	t.Logf("kcat -J %s[%d]@%d headers: %v", first.Topic, first.Partition, first.Offset, first.Headers)
	t.Logf("%d results, %d events (%d from stages about one message, %d the router's per frame), %d DLQ records %v with GLYPH headers; %d spans under %q", len(res), len(evs), stageEvents, frameEvents, len(dead), reasons, spans.count(observe.ServiceLive), observe.ServiceLive)
}
