package bench

// The replay phase: how fast runtime.Replay re-runs the lane's log through
// the chain, beside the live chain's rate over the same records. It runs
// right after the chain phase, over every partition from its log start to
// its end as the chain phase left it (exactly the records the chain
// phase answered), with the decisions the live run recorded, into a
// namespace of its own. The live runtime is still running, idle, as it is
// for the steady phase after; nothing is produced to the lane meanwhile.
// The time is the whole call: reading the decisions, running the
// partitions, and waiting until the sink has every output acknowledged,
// since runtime.Replay returns only then.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// replayNamespace is the namespace the replay phase writes to; not the
// events phase's, whose count must be exactly what that phase wrote.
const replayNamespace = "bench-replay"

// replayConfig is what the replay phase needs of the run.
type replayConfig struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	Spec        *spec.Spec
	Getenv      func(string) string
	Clock       clock.Clock
}

// replayStats is what the replay phase measured.
type replayStats struct {
	Records int64         // records replayed, all partitions
	Took    time.Duration // from calling runtime.Replay until it returned
}

// Rate is the records replayed per second.
func (s replayStats) Rate() float64 {
	if s.Took <= 0 {
		return 0
	}
	return float64(s.Records) / s.Took.Seconds()
}

// replayRanges returns, for every partition of lane's messages topic, the
// range from its log start to its end now.
func replayRanges(ctx context.Context, brokers []string, lane schemas.Lane) ([]runtime.ReplayRange, error) {
	topic := topics.Name(string(lane), topics.KindMessages)
	starts, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionStart})
	if err != nil {
		return nil, err
	}
	ends, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionEnd})
	if err != nil {
		return nil, err
	}
	rs := make([]runtime.ReplayRange, 0, len(ends))
	for p := range int32(len(ends)) {
		end, ok := ends[p]
		if !ok {
			return nil, fmt.Errorf("%s: partition %d has no end offset", topic, p)
		}
		rs = append(rs, runtime.ReplayRange{Partition: p, From: starts[p], To: end})
	}
	return rs, nil
}

// replayPhase replays ranges of the lane's log into replayNamespace.
func replayPhase(ctx context.Context, cfg replayConfig, ranges []runtime.ReplayRange) (replayStats, error) {
	var st replayStats
	start := cfg.Clock.Now()
	// As matriz replay does: the decisions in one scan of the event log,
	// then the ranges; both are timed.
	parts := make([]int32, len(ranges))
	for i, r := range ranges {
		parts[i] = r.Partition
	}
	decisions, err := replay.LoadDecisions(ctx, cfg.Brokers, cfg.RegistryURL, cfg.Lane, parts)
	if err != nil {
		return st, err
	}
	stats, err := runtime.Replay(ctx, runtime.ReplayConfig{Lane: cfg.Lane, Brokers: cfg.Brokers, RegistryURL: cfg.RegistryURL,
		Spec: cfg.Spec, Getenv: cfg.Getenv, Name: replayNamespace, Ranges: ranges, Clock: cfg.Clock, Decisions: decisions,
		Logger: slog.New(slog.DiscardHandler)})
	st.Took = cfg.Clock.Now().Sub(start)
	for _, n := range stats.Records {
		st.Records += n
	}
	return st, err
}
