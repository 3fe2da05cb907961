package bench

// The overload phase: ten times the sustainable rate offered to the
// experimental lane (drop-oldest: every input must come out as a result,
// a DLQ record, or an offset listed by a decimation event) and to prod
// (backpressure: nothing dropped, the backlog grows in Kafka, the
// answered rate holds), with each lane's peak resident memory. Each lane
// runs as its own `matriz run` process (laneproc.go), so its memory is
// its own: the embedded broker, which holds every offered record, the
// producer and the output tails stay in the bench process.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func init() { overloadHook = overloadPhase }

// OverloadFactor times the steady phase's answered rate is what the
// overload phase offers.
const OverloadFactor = 10

// overloadFor is how long overload is offered (full, short).
var overloadFor = [2]time.Duration{30 * time.Second, 5 * time.Second}

// MemoryGoal is the bound on resident memory.
const MemoryGoal = 256 << 20

// overloadGroup is the consumer group the overload phase runs its lanes in.
const overloadGroup = "bench-overload"

// overloadPhase runs both lane phases and fills the report's overload
// figures.
func overloadPhase(ctx context.Context, env PhaseEnv, rep *Report) error {
	if env.Executable == "" {
		env.Say("overload: not measured: %v", errNoExecutable)
		return nil
	}
	rate := int(rep.SteadyRate * OverloadFactor)
	if rate <= 0 {
		rate = max(rep.OfferedRate, 1) * OverloadFactor
	}
	d := overloadFor[0]
	if env.Short {
		d = overloadFor[1]
	}
	rep.OverloadRate = rate
	if rep.OverloadPeakRSSByLane == nil {
		rep.OverloadPeakRSSByLane = map[string]uint64{}
	}
	env.Say("overload: %d msgs/s (%d× the steady phase's answered rate) offered for %v to experimental (drop oldest), then prod (backpressure)", rate, OverloadFactor, d)
	ex, err := overloadExperimental(ctx, env, rate, d)
	if err != nil {
		return fmt.Errorf("overload, experimental: %w", err)
	}
	rep.ExperimentalDrops, rep.ExperimentalDropsAccounted = ex.Drops, ex.Accounted
	rep.OverloadPeakRSSByLane[string(schemas.LaneExperimental)] = ex.PeakRSS
	env.Say("  experimental: offered %d at %.0f msgs/s (the last acknowledged after %v); %d answered (%d results, %d DLQ), %d dropped, of which %d listed by decimation events (%d events); "+
		"%d listed offsets had an answer too; the lane process's peak RSS %s (≤ 256 MiB: %v; %s at most while input was offered; %s when it joined its group)",
		ex.Offered.Sent, ex.Offered.Rate(), ex.Offered.Acked.Round(time.Millisecond), ex.Answered, ex.Results, ex.DLQ, ex.Drops, ex.Accounted, ex.Events, ex.ListedAnswered, mib(ex.PeakRSS), ex.PeakRSS <= MemoryGoal, mib(ex.OfferedPeakRSS), mib(ex.StartRSS))
	pr, err := overloadProd(ctx, env, rate, d)
	if err != nil {
		return fmt.Errorf("overload, prod: %w", err)
	}
	rep.ProdOverloadDropped, rep.ProdOverloadAnswered = pr.Dropped, pr.AnsweredRate
	rep.OverloadPeakRSSByLane[string(env.Lane)] = pr.PeakRSS
	rep.OverloadPeakRSS = max(ex.PeakRSS, pr.PeakRSS)
	env.Say("  prod: warm-up (1 s at 1,000 msgs/s) answered %v after it started", pr.WarmUp.Round(time.Millisecond))
	env.Say("  prod: offered %d at %.0f msgs/s (the last acknowledged after %v); answered %.0f msgs/s; backlog %d at the end; %d dropped; the lane process's peak RSS %s (≤ 256 MiB: %v; %s after the warm-up)",
		pr.Offered.Sent, pr.Offered.Rate(), pr.Offered.Acked.Round(time.Millisecond), pr.AnsweredRate, pr.Backlog, pr.Dropped, mib(pr.PeakRSS), pr.PeakRSS <= MemoryGoal, mib(pr.StartRSS))
	env.Say("  (RSS is each lane's own `matriz run` process, sampled from /proc/<pid>/status; the broker, the producer and the tails run in the bench process)")
	return nil
}

// experimentalOverload is the experimental lane phase's figures.
type experimentalOverload struct {
	Offered                offered
	Answered, Results, DLQ int64 // inputs with a result or a DLQ record
	Drops                  int64 // inputs with neither
	Accounted              int64 // of Drops, offsets a decimation event lists
	ListedAnswered         int64 // offsets a decimation event lists that were answered too
	Events                 int64 // decimation events read
	PeakRSS, StartRSS      uint64
	OfferedPeakRSS         uint64 // of PeakRSS, the largest while input was offered; past it, the lane was draining
}

// overloadExperimental deploys the experimental lane, offers rate for d,
// lets the lane read to the end, stops it and accounts for every offset.
func overloadExperimental(ctx context.Context, env PhaseEnv, rate int, d time.Duration) (experimentalOverload, error) {
	var res experimentalOverload
	lane := schemas.LaneExperimental
	if _, err := ops.Deploy(ctx, ops.DeployConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lanes: []schemas.Lane{lane},
		Partitions: map[schemas.Lane]int{lane: env.Partitions}}); err != nil {
		return res, fmt.Errorf("deploy: %w", err)
	}
	codec, err := serde.Open(ctx, env.RegistryURL, serde.Subjects([]schemas.Lane{lane}))
	if err != nil {
		return res, err
	}
	if l := env.Spec.Lanes[lane]; l != nil {
		l.Partitions = env.Partitions
	}
	msgs := topics.Name(string(lane), topics.KindMessages)
	begin, err := topics.PartitionEnds(ctx, env.Brokers, msgs)
	if err != nil {
		return res, err
	}
	start := env.Clock.Now()
	outs := newOffsetTails()
	for _, kind := range []topics.Kind{topics.KindResults, topics.KindDLQ} {
		if err := outs.follow(ctx, env.Brokers, topics.Name(string(lane), kind), msgs, start); err != nil {
			outs.close()
			return res, err
		}
	}
	defer outs.close()
	if err := moveGroupToEnd(ctx, env, lane, overloadGroup); err != nil {
		return res, err
	}
	lp, err := startLaneProc(ctx, env, lane, overloadGroup, "the experimental lane's matriz run")
	if err != nil {
		return res, err
	}
	lanes := laneProcs{lp}
	defer lanes.kill()
	res.StartRSS, _ = readVmRSS(lp.pid())
	rss := sampleRSS(env.Clock, lp.pid())
	res.Offered, err = offer(ctx, offerConfig{Lane: lane, Brokers: env.Brokers, Serde: codec, Rate: rate, For: d, Seed: 300, Clock: env.Clock})
	res.OfferedPeakRSS = rss.soFar()
	if err == nil {
		err = lp.heapProfile(ctx, laneProfile(env, lane))
	}
	if err == nil {
		err = lanes.waitProgress(ctx, env, "consumed", func(c laneCounts) int64 { return c.In }, res.Offered.Sent, 30*time.Second)
	}
	res.PeakRSS, _ = rss.peak()
	if err = errors.Join(err, lanes.stop(env)); err != nil {
		return res, err
	}
	dropped := offsetSets{}
	_, err = replay.ScanEvents(ctx, replay.EventQuery{Brokers: env.Brokers, Serde: codec, Lane: lane, Kinds: []schemas.EventKind{schemas.EventDecimation}, Since: start.Add(-time.Minute)},
		func(r replay.EventRecord) error {
			dec, err := operators.ParseDecimation(r.Event)
			if err != nil {
				return err
			}
			res.Events++
			for _, o := range dec.Offsets {
				dropped.add(dec.Partition, o)
			}
			return nil
		})
	if err != nil {
		return res, fmt.Errorf("scan decimation events: %w", err)
	}
	if err := outs.readToEnd(ctx, env, time.Minute); err != nil {
		return res, err
	}
	end, err := topics.PartitionEnds(ctx, env.Brokers, msgs)
	if err != nil {
		return res, err
	}
	outs.mu.Lock()
	defer outs.mu.Unlock()
	res.Results, res.DLQ = outs.counts[topics.Name(string(lane), topics.KindResults)], outs.counts[topics.Name(string(lane), topics.KindDLQ)]
	for p, e := range end {
		for o := begin[p]; o < e; o++ {
			listed := dropped.has(int32(p), o)
			if outs.answered.has(int32(p), o) {
				res.Answered++
				if listed {
					res.ListedAnswered++
				}
				continue
			}
			res.Drops++
			if listed {
				res.Accounted++
			}
		}
	}
	return res, nil
}

// prodOverload is the prod lane phase's figures.
type prodOverload struct {
	Offered      offered
	AnsweredRate float64
	Backlog      int64 // offered but not answered when offering ended
	Dropped      int64 // records decimation events list: 0 under backpressure
	PeakRSS      uint64
	StartRSS     uint64
	WarmUp       time.Duration // start of a 1 s warm-up at 1,000 msgs/s to its last answer
}

// overloadProd offers rate to prod for d and measures what it answered
// meanwhile; it does not wait for the backlog (minutes at 10×).
func overloadProd(ctx context.Context, env PhaseEnv, rate int, d time.Duration) (prodOverload, error) {
	var res prodOverload
	if err := moveGroupToEnd(ctx, env, env.Lane, overloadGroup); err != nil {
		return res, err
	}
	lp, err := startLaneProc(ctx, env, env.Lane, overloadGroup, "the prod lane's matriz run")
	if err != nil {
		return res, err
	}
	lanes := laneProcs{lp}
	defer lanes.kill()
	// The lane's start-up (restoring state, reading recorded decisions)
	// is not the rate it holds: a warm-up, all answered, goes first.
	warmStart := env.Clock.Now()
	warm, err := offer(ctx, offerConfig{Lane: env.Lane, Brokers: env.Brokers, Serde: env.Serde, Rate: 1000, For: time.Second, Seed: 401, Clock: env.Clock})
	if err == nil {
		err = lanes.waitFor(ctx, env, "answered", laneCounts.Answered, warm.Sent, 2*time.Minute)
	}
	if err != nil {
		return res, errors.Join(fmt.Errorf("warm-up: %w", err), lanes.stop(env))
	}
	res.WarmUp = env.Clock.Now().Sub(warmStart)
	start := env.Clock.Now()
	res.StartRSS, _ = readVmRSS(lp.pid())
	rss := sampleRSS(env.Clock, lp.pid())
	before, err := lanes.counts(ctx)
	if err != nil {
		return res, err
	}
	res.Offered, err = offer(ctx, offerConfig{Lane: env.Lane, Brokers: env.Brokers, Serde: env.Serde, Rate: rate, For: d, Seed: 400, Clock: env.Clock})
	after, cerr := lanes.counts(ctx)
	answered := after.Answered() - before.Answered()
	if err == nil {
		err = lp.heapProfile(ctx, laneProfile(env, env.Lane))
	}
	res.PeakRSS, _ = rss.peak()
	if err = errors.Join(err, cerr, lanes.stop(env)); err != nil {
		return res, err
	}
	if res.Offered.Acked > 0 {
		res.AnsweredRate = float64(answered) / res.Offered.Acked.Seconds() // answered by the time the last input was acknowledged
	}
	res.Backlog = res.Offered.Sent - answered
	_, err = replay.ScanEvents(ctx, replay.EventQuery{Brokers: env.Brokers, Serde: env.Serde, Lane: env.Lane, Kinds: []schemas.EventKind{schemas.EventDecimation}, Since: start},
		func(r replay.EventRecord) error {
			dec, err := operators.ParseDecimation(r.Event)
			if err != nil {
				return err
			}
			res.Dropped += int64(len(dec.Offsets))
			return nil
		})
	if err != nil {
		return res, fmt.Errorf("scan decimation events: %w", err)
	}
	return res, nil
}

// laneProfile is the file of lane's heap profile.
func laneProfile(env PhaseEnv, lane schemas.Lane) string {
	return env.LaneMemProfile + "." + string(lane) + ".pprof"
}

// offsetSets is a set of offsets per partition, one bit an offset.
type offsetSets map[int32][]uint64

func (s offsetSets) add(p int32, o int64) {
	if o < 0 {
		return
	}
	w := int(o / 64)
	if w >= len(s[p]) {
		s[p] = append(s[p], make([]uint64, w+1-len(s[p]))...)
	}
	s[p][w] |= 1 << (o % 64)
}

func (s offsetSets) has(p int32, o int64) bool {
	w := int(o / 64)
	return o >= 0 && w < len(s[p]) && s[p][w]&(1<<(o%64)) != 0
}

// offsetTails follows output topics and keeps which input offsets of src
// they answer (by the source headers every output carries).
type offsetTails struct {
	mu       sync.Mutex
	answered offsetSets
	counts   map[string]int64
	next     map[string]map[int32]int64 // topic → partition → next offset to read
	tails    []*topics.Tail
	errs     []error
}

func newOffsetTails() *offsetTails {
	return &offsetTails{answered: offsetSets{}, counts: map[string]int64{}, next: map[string]map[int32]int64{}}
}

func (t *offsetTails) follow(ctx context.Context, brokers []string, topic, src string, since time.Time) error {
	t.mu.Lock()
	t.next[topic] = map[int32]int64{}
	t.mu.Unlock()
	tail, err := topics.StartTailSince(ctx, brokers, topic, since, func(m topics.Message) {
		part, err1 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcPartition)), 10, 32)
		off, err2 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcOffset)), 10, 64)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.next[topic][m.Partition] = m.Offset + 1
		if string(m.Header(runtime.HeaderSrcTopic)) != src || err1 != nil || err2 != nil {
			return
		}
		t.counts[topic]++
		t.answered.add(int32(part), off)
	}, func(err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if len(t.errs) < 10 {
			t.errs = append(t.errs, err)
		}
	})
	if err != nil {
		return err
	}
	t.tails = append(t.tails, tail)
	return nil
}

// readToEnd polls until every followed topic is read to its current end.
func (t *offsetTails) readToEnd(ctx context.Context, env PhaseEnv, within time.Duration) error {
	ends := map[string]map[int]int64{}
	for topic := range t.next {
		e, err := topics.PartitionEnds(ctx, env.Brokers, topic)
		if err != nil {
			return err
		}
		ends[topic] = e
	}
	return pollUntil(ctx, env.Clock, 20*time.Millisecond, within, func() (bool, string) {
		behind := ""
		t.mu.Lock()
		defer t.mu.Unlock()
		for topic, e := range ends {
			for p, end := range e {
				if end > 0 && t.next[topic][int32(p)] < end {
					behind = fmt.Sprintf("%s/%d at %d of %d", topic, p, t.next[topic][int32(p)], end)
				}
			}
		}
		return behind == "", "outputs not read to their end: " + behind
	})
}

func (t *offsetTails) close() error {
	var errs []error
	for _, tail := range t.tails {
		errs = append(errs, tail.Close())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(append(errs, t.errs...)...)
}
