package runtime

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestDecodeStallAtTheLogsEndJudgesNothingLate: a partition's fetch runs
// up to its Out buffer ahead of decode, so it reaches the log's end while
// records are still on their way to the tick. Here decode stops on a
// record whose schema the registry fails to serve three times (700 ms of
// retries) with ~100 of the partition's records fetched behind it, the
// first of them (the twin) stamped with the event time of the record
// before the stall, so its frame is the one open then. The partition is
// not idle — those records are unread — so no idle close or frame
// deadline may pass them: none is judged late, and the stalled record
// still reaches the DLQ.
func TestDecodeStallAtTheLogsEndJudgesNothingLate(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	const (
		valid     = 2000
		stallAt   = 1400 // valid records written before the stalled one
		unknownID = 999_999
		failures  = 3
	)
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)

	// The registry, behind a proxy that fails the lookup of unknownID
	// with 503 (transient: decode retries) before it passes it on (40403:
	// unknown_schema_id, to the DLQ).
	target, err := url.Parse(env.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	pass := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/schemas/ids/999999/schema" && refused.Load() < failures {
			refused.Add(1)
			http.Error(w, `{"error_code":50301,"message":"registry busy"}`, http.StatusServiceUnavailable)
			return
		}
		pass.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	msgs := laneMessages(lane, valid, 33, 3*time.Second)
	twin := msgs[stallAt-1]
	twin.MsgID = uuid.NewString()
	msgs = append(msgs, twin)
	records := env.Encode(t, lane, msgs)
	stalled := topics.Message{Key: records[stallAt-1].Key} // the partition of the record before it
	stalled.Value = binary.BigEndian.AppendUint32([]byte{0}, unknownID)
	stalled.Value = append(stalled.Value, records[0].Value[5:]...)
	behindStall := append([]topics.Message{stalled, records[valid]}, records[stallAt:valid]...)
	records = append(records[:stallAt:stallAt], behindStall...)
	env.Produce(t, lane, nil, records)

	counters := &observe.LaneCounters{}
	proxied := *env
	proxied.RegistryURL = proxy.URL
	stop := runLane(t, &proxied, Config{Lane: lane, Counters: counters})
	waitCounted(t, counters, valid+2, 90*time.Second)
	env.WaitCommitted(t, topics.Name(string(lane), topics.KindMessages), GroupName("", lane), 90*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := refused.Load(); n != failures {
		t.Fatalf("the registry refused the lookup %d times, want %d: decode never stalled", n, failures)
	}
	dlq := env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ))
	if len(dlq) != 1 || pipetest.Header(dlq[0], HeaderDLQReason) != ReasonUnknownSchemaID {
		t.Fatalf("DLQ holds %d records, want the stalled one as %s", len(dlq), ReasonUnknownSchemaID)
	}
	stalledPartition := pipetest.Header(dlq[0], HeaderSrcPartition)
	late, behind, twinAnswered := 0, 0, false
	for _, r := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		if pipetest.Header(r, HeaderLate) == "true" {
			late++
		}
		twinAnswered = twinAnswered || pipetest.Header(r, HeaderMsgID) == twin.MsgID
		if pipetest.Header(r, HeaderSrcPartition) == stalledPartition && pipetest.HeaderInt(t, r, HeaderSrcOffset) > pipetest.HeaderInt(t, dlq[0], HeaderSrcOffset) {
			behind++
		}
	}
	if behind == 0 || !twinAnswered {
		t.Fatalf("%d results from behind the stalled record, the twin answered: %v", behind, twinAnswered)
	}
	if late > 0 {
		t.Fatalf("%d results judged late after decode stalled with %d records of partition %s behind it", late, behind, stalledPartition)
	}
	t.Logf("decode stalled %d times on partition %s with %d records behind it; none judged late", failures, stalledPartition, behind)
}
