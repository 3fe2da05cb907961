package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
)

// TestReplayRefusesACheckpointItCannotRestore: a range that starts from a
// checkpoint whose stage state does not decode ends the replay with an
// error naming the partition and the checkpoint, instead of replaying
// from a fresh state and writing outputs the run never made.
func TestReplayRefusesACheckpointItCannotRestore(t *testing.T) {
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	cp := &Checkpoint{Lane: string(lane), Partition: 0, State: map[string][]byte{"drift": []byte("not a snapshot")}}
	stats, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, Name: "bad-cut",
		Ranges: []ReplayRange{{Partition: 0, From: 0, To: 1, Checkpoint: cp}}})
	if err == nil || !strings.Contains(err.Error(), "replay partition 0 from checkpoint "+cp.ID()) {
		t.Fatalf("Replay = %+v, %v; want the checkpoint refused", stats, err)
	}
}

// TestReplayRefusesATracingSetupItCannotUse: tracing the environment
// configures wrongly stops a replay before it connects, as it stops a run.
func TestReplayRefusesATracingSetupItCannotUse(t *testing.T) {
	env := map[string]string{observe.EnvTracesSampler: "sometimes", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
	_, err := Replay(context.Background(), ReplayConfig{Lane: schemas.LaneProd, Name: "r1", Brokers: []string{"127.0.0.1:1"},
		RegistryURL: "http://127.0.0.1:1", Getenv: func(k string) string { return env[k] }})
	if err == nil || !strings.Contains(err.Error(), observe.EnvTracesSampler) {
		t.Fatalf("Replay = %v, want the sampler refused", err)
	}
}
