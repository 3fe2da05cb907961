package bench

// The latency phases: end-to-end latency under the steady phase's rate
// (a probe beside bench.go's steady producer), and at low rates offered
// evenly to a lane started for them.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func init() {
	steadyLatencyHook = steadyLatency
	lowRateHook = lowRatePhase
}

// LowRates are the low rates offered, msgs/s.
var LowRates = []int{100, 2000}

// lowRateFor is how long each low rate is offered (full, short).
var lowRateFor = [2]time.Duration{10 * time.Second, 3 * time.Second}

// lowRateWarmUp is how long a low rate is offered before it is measured.
const lowRateWarmUp = time.Second

// latencyGoal is the end-to-end p99 goal; above it the low-rate
// phase measures again with the idle close at 10 ms, to show how much of
// the tail is the idle close.
const latencyGoal = 100 * time.Millisecond

// latencyGroup is the consumer group the low-rate phase runs its lane in.
const latencyGroup = "bench-latency"

// steadyLatency starts a probe on the steady phase's lane; finish reads
// its figures once the producer has stopped, giving results still in
// flight up to a second to arrive (a lane with a growing backlog does
// not catch up in that time; its unanswered inputs are counted, not
// waited for).
func steadyLatency(ctx context.Context, env PhaseEnv) (func(*Report) error, error) {
	start := env.Clock.Now()
	probe, err := startProbe(ctx, env.Brokers, env.Lane, start, env.Clock)
	if err != nil {
		return nil, err
	}
	return func(rep *Report) error {
		rep.SteadyFor = env.Clock.Now().Sub(start)
		sent, _ := probe.counts()
		_ = probe.waitAnswered(ctx, sent, time.Second) // a lane behind does not catch up: measured as it stands
		acked, seen := probe.summaries()
		if err := probe.close(); err != nil && ctx.Err() == nil {
			env.Say("  latency probe: %v", err)
		}
		rep.SteadyP50, rep.SteadyP99, rep.SteadyMax, rep.SteadyLatencySamples = acked.P50, acked.P99, acked.Max, acked.Count
		env.Say("  end to end (record timestamp → result's writer stamp): %v; %d inputs without a result yet", acked, acked.Unanswered)
		env.Say("  end to end as the probe read the results: %v", seen)
		probe.mu.Lock()
		toBroker, chain := probe.book.legs()
		timeline := probe.book.p99Timeline(start, time.Second)
		probe.mu.Unlock()
		env.Say("  %s", timelineString(timeline, time.Second))
		env.Say("  record timestamp → the probe read the input: %v; the probe read the input → result stamped: %v", toBroker, chain)
		return nil
	}, nil
}

// lowRatePhase offers each of LowRates evenly to the lane and measures end
// to end latency.
func lowRatePhase(ctx context.Context, env PhaseEnv, rep *Report) error {
	d := lowRateFor[0]
	if env.Short {
		d = lowRateFor[1]
	}
	if rep.LowRateP50 == nil {
		rep.LowRateP50, rep.LowRateP99 = map[int]time.Duration{}, map[int]time.Duration{}
	}
	for i, rate := range LowRates {
		env.Say("low rate: %d msgs/s offered evenly for %v", rate, d)
		acked, _, err := lowRate(ctx, env, rate, d, 0, uint64(100+i))
		if err != nil {
			return fmt.Errorf("low rate %d msgs/s: %w", rate, err)
		}
		rep.LowRateP50[rate], rep.LowRateP99[rate] = acked.P50, acked.P99
		if acked.P99 > latencyGoal {
			// Not a figure of the report: evidence for why the tail is long.
			env.Say("  p99 over %v: again with the idle close after 10 ms instead of the runtime's default", latencyGoal)
			if _, _, err := lowRate(ctx, env, rate, d, 10*time.Millisecond, uint64(200+i)); err != nil {
				return fmt.Errorf("low rate %d msgs/s, idle after 10ms: %w", rate, err)
			}
		}
	}
	return nil
}

// lowRate runs the lane with idleAfter (0: the default), offers rate for d,
// waits for every result and returns the distributions.
func lowRate(ctx context.Context, env PhaseEnv, rate int, d, idleAfter time.Duration, seed uint64) (acked, seen LatencySummary, err error) {
	lr, err := startLane(ctx, env, env.Spec, env.Lane, latencyGroup, idleAfter)
	if err != nil {
		return acked, seen, err
	}
	defer func() { err = errors.Join(err, lr.close()) }()
	// A lane just started first restores its partitions' state and reads
	// their recorded decisions; a warm-up, all answered before the probe
	// starts, keeps that start-up out of the figures.
	warm, err := offer(ctx, offerConfig{Lane: env.Lane, Brokers: env.Brokers, Serde: env.Serde, Rate: rate, For: lowRateWarmUp, Seed: seed + 1000, Clock: env.Clock})
	if err != nil {
		return acked, seen, fmt.Errorf("warm-up: %w", err)
	}
	if err := lr.waitAnswered(ctx, env, warm.Sent, 2*time.Minute); err != nil {
		return acked, seen, fmt.Errorf("warm-up: %w", err)
	}
	probeStart, lateBefore := env.Clock.Now(), lr.late()
	probe, err := startProbe(ctx, env.Brokers, env.Lane, probeStart, env.Clock)
	if err != nil {
		return acked, seen, err
	}
	defer func() { err = errors.Join(err, probe.close()) }()
	gc := readGCCPU()
	o, err := offer(ctx, offerConfig{Lane: env.Lane, Brokers: env.Brokers, Serde: env.Serde, Rate: rate, For: d, Seed: seed, Clock: env.Clock})
	if err != nil {
		return acked, seen, err
	}
	if err := probe.waitAnswered(ctx, int(o.Sent), 30*time.Second); err != nil {
		return acked, seen, err
	}
	acked, seen = probe.summaries()
	if acked.Count != int(o.Sent) {
		return acked, seen, fmt.Errorf("offered %d, measured %d results (%d unanswered, %d not this phase's)", o.Sent, acked.Count, acked.Unanswered, acked.Ignored)
	}
	idle := "default"
	if idleAfter > 0 {
		idle = idleAfter.String()
	}
	env.Say("  offered %d at %.0f msgs/s (idle close: %s); end to end: %v; %d judged late", o.Sent, o.Rate(), idle, acked, lr.late()-lateBefore)
	env.Say("  as the probe read the results: %v", seen)
	probe.mu.Lock()
	toBroker, chain := probe.book.legs()
	probe.mu.Unlock()
	env.Say("  record timestamp → the probe read the input: %v; the probe read the input → result stamped: %v", toBroker, chain)
	env.Say("  garbage collection meanwhile: %v", readGCCPU().since(gc))
	if closes, err := idleCloses(ctx, env, probeStart); err != nil {
		env.Say("  idle closes: not read: %v", err)
	} else {
		n := 0
		for _, c := range closes {
			n += len(c)
		}
		probe.mu.Lock()
		idle, rest := probe.book.splitByIdle(closes, time.Second/30)
		probe.mu.Unlock()
		env.Say("  %d idle closes; inputs in a frame an idle close closed: %v; the rest: %v", n, idle, rest)
	}
	return acked, seen, nil
}
