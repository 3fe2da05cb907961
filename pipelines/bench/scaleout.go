package bench

// The scale-out phase: one `matriz run` process on the lane, then two on
// one group, each time over the same input (a backlog produced with the
// same seed, so neither run drains it during the window), the broker in
// the bench process, not in theirs. What they answer together over the
// window, the rebalance that splits the partitions over, is the figure;
// the goal is two ≥ 1.6× one.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/replay"
)

func init() { scaleOutHook = scaleOutPhase }

// ScaleOutGoal is the bound: two processes answer at least this
// times what one does.
const ScaleOutGoal = 1.6

// scaleOutFor is the measuring window (full, short).
var scaleOutFor = [2]time.Duration{10 * time.Second, 4 * time.Second}

// scaleOutWorkingWithin bounds the wait, once every process joined, for
// every partition to be worked: each one restores its state and scans the
// lane's recent event log for decisions first, which on a lane that wrote
// much in the last minutes takes tens of seconds.
const scaleOutWorkingWithin = 3 * time.Minute

// scaleOutStartup is how long the backlog must last beyond the window: a
// second process joins only after the first rejoins, and the first works
// meanwhile; then every partition restores before the window opens.
const scaleOutStartup = 8 * time.Second

// scaleOutRun is one run's figures.
type scaleOutRun struct {
	Procs    int
	Backlog  int64         // messages produced before the processes started
	Joined   time.Duration // start of the first process to the last one joined
	Working  time.Duration // the last one joined to every partition committed past where it stood then
	Answered int64         // answered over the window
	Window   time.Duration
	CPU      cpuUse // over the window: this process's, then each lane process's
	CPUErr   error  // why CPU is not measured (no /proc)
}

// Rate is what the processes answered together over the window, msgs/s.
func (r scaleOutRun) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Answered) / r.Window.Seconds()
}

func scaleOutPhase(ctx context.Context, env PhaseEnv, rep *Report) error {
	if env.Executable == "" {
		env.Say("scale-out: not measured: %v", errNoExecutable)
		return nil
	}
	d := scaleOutFor[0]
	if env.Short {
		d = scaleOutFor[1]
	}
	backlog := scaleOutBacklog(max(rep.ChainRate, rep.SteadyRate), d)
	env.Say("scale-out: %d messages backlogged on %s, then 1, then 2 matriz run processes on one group; answered msgs/s over %v once every process joined and every partition committed (the broker runs in the bench process)",
		backlog, env.Lane, d)
	var runs [2]scaleOutRun
	for i, procs := range []int{1, 2} {
		if i > 0 {
			backlog = max(backlog, nextScaleOutBacklog(runs[0], d))
		}
		r, err := scaleOutMeasured(env, procs, backlog, func(backlog int64, try int) (scaleOutRun, error) {
			return scaleOutOnce(ctx, env, procs, backlog, d, try)
		})
		if err != nil {
			return fmt.Errorf("%d process(es): %w", procs, err)
		}
		runs[i] = r
		rep.ScaleOutIdle[i] = -1
		if r.CPUErr == nil {
			rep.ScaleOutIdle[i] = r.CPU.MachineIdle
		}
		env.Say("  %d process(es): all joined after %v, every partition worked %v later; %d answered in %v: %.0f msgs/s",
			procs, r.Joined.Round(time.Millisecond), r.Working.Round(time.Millisecond), r.Answered, r.Window.Round(time.Millisecond), r.Rate())
		if r.CPUErr != nil {
			env.Say("    CPU not measured: %v", r.CPUErr)
		} else {
			env.Say("    %v", r.CPU)
		}
	}
	rep.ScaleOutFor = d
	rep.ScaleOutOne, rep.ScaleOutTwo = runs[0].Rate(), runs[1].Rate()
	if rep.ScaleOutOne > 0 {
		rep.ScaleOutRatio = rep.ScaleOutTwo / rep.ScaleOutOne
	}
	env.Say("  two over one: %.2f (goal ≥ %.1f)", rep.ScaleOutRatio, ScaleOutGoal)
	return nil
}

// scaleOutBacklog is enough input that two processes, each at up to 1.5×
// rate (a lane alone in its process may beat the in-process chain), do
// not drain it before the window ends; backlogLeft checks they did not.
// It is no larger: the broker holds it, and every output, in the bench's
// log directory (in its memory with --broker-in-memory).
func scaleOutBacklog(rate float64, window time.Duration) int64 {
	per := 1.5 * max(rate, 5000)
	return int64(per*scaleOutStartup.Seconds() + 2*per*window.Seconds())
}

// nextScaleOutBacklog sizes the two-process run's backlog from the
// one-process run: two processes at up to twice its rate, through twice
// its start-up (a second join and a rebalance) and the window.
func nextScaleOutBacklog(one scaleOutRun, window time.Duration) int64 {
	startup := max(scaleOutStartup, 2*(one.Joined+one.Working))
	return int64(2 * one.Rate() * (startup + window).Seconds())
}

// scaleOutTries bounds the runs of one process count: a backlog that ran
// dry is doubled and the run measured again.
const scaleOutTries = 3

// scaleOutMeasured runs once (scaleOutOnce) until a run's backlog lasts
// the window: processes that start slower than the backlog allowed for (a
// busy machine, a long restore) drain it before the window ends, and the
// rate over that window would be understated.
func scaleOutMeasured(env PhaseEnv, procs int, backlog int64, once func(backlog int64, try int) (scaleOutRun, error)) (scaleOutRun, error) {
	for try := 1; ; try++ {
		r, err := once(backlog, try)
		var dry *backlogRanOutError
		if !errors.As(err, &dry) || try == scaleOutTries {
			return r, err
		}
		env.Say("  %d process(es): %v after %v joining and %v until every partition worked; again with %d messages",
			procs, err, r.Joined.Round(time.Millisecond), r.Working.Round(time.Millisecond), 2*backlog)
		backlog *= 2
	}
}

// scaleOutOnce backlogs the lane, starts procs processes on a fresh group
// at the backlog's start, and counts what they answer over window once
// every one joined and every partition works (committed past where it
// stood when the last one joined: its restore is done).
func scaleOutOnce(ctx context.Context, env PhaseEnv, procs int, backlog int64, window time.Duration, try int) (scaleOutRun, error) {
	res := scaleOutRun{Procs: procs, Backlog: backlog}
	group := fmt.Sprintf("bench-scale-out-%d", procs)
	if try > 1 {
		group = fmt.Sprintf("%s-try-%d", group, try) // no member of an earlier try's group to wait out
	}
	// The group starts at the log's end, then the backlog goes in: the
	// processes read exactly it. Event times start now, after every
	// earlier phase's, so none of it is late.
	lanes := make(laneProcs, 0, procs)
	defer func() { lanes.kill() }()
	if err := moveGroupToEnd(ctx, env, env.Lane, group); err != nil {
		return res, err
	}
	if err := benchProduce(ctx, env.Brokers, env.Serde, env.Lane, int(backlog), env.Clock.Now()); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}
	start := env.Clock.Now()
	started := make(chan startedLane, procs)
	for i := range procs {
		go func() {
			p, err := startLaneProc(ctx, env, env.Lane, group, fmt.Sprintf("scale-out matriz run %d of %d", i+1, procs))
			started <- startedLane{p, err}
		}()
	}
	var errs []error
	for range procs {
		s := <-started
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		lanes = append(lanes, s.p)
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	res.Joined = env.Clock.Now().Sub(start)
	joined := env.Clock.Now()
	if err := awaitWorking(ctx, env, lanes, group); err != nil {
		return res, err
	}
	res.Working = env.Clock.Now().Sub(joined)
	first, err := lanes.counts(ctx)
	if err != nil {
		return res, err
	}
	pids := []int{0}
	for _, lp := range lanes {
		pids = append(pids, lp.pid())
	}
	cpu0, cpuErr := takeCPUSnapshot(pids)
	t1 := env.Clock.Now()
	if !clock.Sleep(ctx, env.Clock, window) {
		return res, ctx.Err()
	}
	last, err := lanes.counts(ctx)
	if err != nil {
		return res, err
	}
	res.Window = env.Clock.Now().Sub(t1)
	if cpuErr == nil {
		var cpu1 cpuSnapshot
		if cpu1, cpuErr = takeCPUSnapshot(pids); cpuErr == nil {
			res.CPU, cpuErr = cpuUseBetween(cpu0, cpu1, res.Window)
		}
	}
	res.CPUErr = cpuErr
	res.Answered = last.Answered() - first.Answered()
	if err := backlogLeft(ctx, env, group); err != nil {
		return res, errors.Join(err, lanes.stop(env))
	}
	return res, lanes.stop(env)
}

type startedLane struct {
	p   *laneProc
	err error
}

// awaitWorking polls until every partition of the lane's messages topic
// has a committed offset past the one it had when called: a partition
// commits only once restored and working. A process that exits meanwhile
// ends the wait with its error.
func awaitWorking(ctx context.Context, env PhaseEnv, lanes laneProcs, group string) error {
	cfg := replay.OffsetsConfig{Lane: env.Lane, Group: group, Brokers: env.Brokers}
	at, err := replay.ShowOffsets(ctx, cfg)
	if err != nil {
		return err
	}
	from := map[int32]int64{}
	for _, p := range at.Partitions {
		from[p.Partition] = p.Committed
	}
	var failed error
	err = pollUntil(ctx, env.Clock, 100*time.Millisecond, scaleOutWorkingWithin, func() (bool, string) {
		for _, p := range lanes {
			if failed = p.err(); failed != nil {
				return true, ""
			}
		}
		now, err := replay.ShowOffsets(ctx, cfg)
		if err != nil {
			failed = err
			return true, ""
		}
		idle := 0
		for _, p := range now.Partitions {
			if p.Committed <= from[p.Partition] {
				idle++
			}
		}
		return idle == 0, fmt.Sprintf("%d of %d partitions not committed since every process joined", idle, len(now.Partitions))
	})
	if failed != nil {
		return failed
	}
	return err
}

// backlogLeft is an error when a partition of the lane's messages topic
// has nothing left for group to read: it ran dry inside the window, and
// the rate over the window would be understated. (Committed offsets trail
// by up to a commit interval, so a partition that ran dry in the last
// second passes.)
func backlogLeft(ctx context.Context, env PhaseEnv, group string) error {
	g, err := replay.ShowOffsets(ctx, replay.OffsetsConfig{Lane: env.Lane, Group: group, Brokers: env.Brokers})
	if err != nil {
		return err
	}
	for _, p := range g.Partitions {
		if p.Lag <= 0 {
			return &backlogRanOutError{Partition: p.Partition, Committed: p.Committed, End: p.End}
		}
	}
	return nil
}

// backlogRanOutError: a partition had nothing left to read when the
// window closed.
type backlogRanOutError struct {
	Partition      int32
	Committed, End int64
}

func (e *backlogRanOutError) Error() string {
	return fmt.Sprintf("partition %d's backlog ran out inside the window (committed %d of %d): the rate would be understated", e.Partition, e.Committed, e.End)
}
