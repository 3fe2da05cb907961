package bench

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestFanoutCopyWritesWhatItClaims runs the fan-out copy over messages on
// the embedded broker and reads its topics back: each holds the records
// the plan names and the copy counted, of the planned value size, on the
// planned partitions.
func TestFanoutCopyWritesWhatItClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	ctx := t.Context()
	const n, partitions = 1500, 2
	lane := schemas.LaneProd
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	sp.Lanes[lane].Partitions = partitions
	stack, err := devstack.StartDeployed(ctx, devstack.Config{Partitions: partitions}, sp.Partitions(), lane)
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	brokers := stack.BrokerAddrs()
	src := topics.Name(string(lane), topics.KindMessages)
	if err := benchProduce(ctx, brokers, stack.Serde, lane, n, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	outs, parts := fanoutPlan([]KindWrites{
		{Kind: "results", Partitions: 2, Records: n, ValueBytes: n * 700},
		{Kind: "events", Partitions: 3, Records: 2*n + 3, ValueBytes: (2*n + 3) * 200, HeaderBytes: (2*n + 3) * 10},
		{Kind: "actions", Partitions: 1, Records: 17, ValueBytes: 17 * 90},
	})
	if err := ensureCopyTopics(ctx, brokers, parts); err != nil {
		t.Fatal(err)
	}
	set := DefaultCopySettings
	set.Batch, set.InFlight = 200, 3 // several batches in flight over so few records
	st, err := runCopy(ctx, brokers, src, "bench-fanout-test", n, outs, set, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		got, err := scanTopic(ctx, brokers, o.Topic)
		if err != nil {
			t.Fatal(err)
		}
		if got.Records != o.Records || st.Records[o.Topic] != o.Records {
			t.Errorf("%s: holds %d records, the copy claims %d, the plan %d", o.Topic, got.Records, st.Records[o.Topic], o.Records)
		}
		if got.KeyBytes+got.ValueBytes != st.Bytes[o.Topic] || got.ValueBytes != o.Records*int64(o.ValueSize) || got.Partitions != parts[o.Topic] {
			t.Errorf("%s: holds %+v, the copy claims %d bytes, the plan %d-byte values", o.Topic, got, st.Bytes[o.Topic], o.ValueSize)
		}
	}
	if st.Took <= 0 {
		t.Fatalf("copy took %v", st.Took)
	}
}
