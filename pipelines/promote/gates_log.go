package promote

import (
	"fmt"
	"slices"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/spec"
)

// ticks is the number of frames the lane ticked in the window: per
// partition, from its first frame with a result to its last, every frame,
// except that a run of more than the tick's idle limit of empty frames
// counts only the frames the tick emitted before it went idle. The tick
// emits empty frames (coherence and fold-guard count them) and only idles
// past the limit, so this is the frames the chain ran, from the log alone.
func (lg *laneLog) ticks() int64 {
	var n int64
	for _, p := range lg.parts {
		for i, f := range p.frames {
			if i == 0 {
				n++
				continue
			}
			prev := p.frames[i-1]
			if frameStart(prev) == frameStart(f) {
				continue // another result of the same frame
			}
			// Frames from prev (exclusive) to f (inclusive) on f's grid;
			// frame starts are floored to the nanosecond, so round.
			gap := f.seq - prev.seq
			if f.fps != prev.fps {
				gap = ((frameStart(f)-frameStart(prev))*f.fps + 500_000_000) / 1_000_000_000
			}
			gap = max(gap, 1)
			n += min(gap, operators.DefaultIdleFrames+1)
		}
	}
	return n
}

func (lg *laneLog) ticksGate() Gate {
	n := lg.ticks()
	g := Gate{Name: GateTicks, Threshold: fmt.Sprintf("≥ %d frames in the window", MinTicks), Value: float64(n), Pass: n >= MinTicks}
	g.Measured = fmt.Sprintf("%d frames on %d partitions (%d results)", n, len(lg.parts), lg.results)
	return g
}

// driftEMA folds each partition's drift samples in log order into an EMA
// with the lane's alpha (the drift stage's lane EMA: its first sample
// starts it), then pools the partitions weighted by their samples, as the
// lane's lukhas_drift_ema does.
func (lg *laneLog) driftEMA(alpha float64) (ema float64, samples int) {
	var sum float64
	for _, p := range lg.parts {
		var e float64
		for i, d := range p.drifts {
			if i == 0 {
				e = d
				continue
			}
			e = alpha*d + (1-alpha)*e
		}
		sum += e * float64(len(p.drifts))
		samples += len(p.drifts)
	}
	if samples == 0 {
		return 0, 0
	}
	return sum / float64(samples), samples
}

func (lg *laneLog) driftGate(alpha float64) Gate {
	ema, n := lg.driftEMA(alpha)
	g := Gate{Name: GateDrift, Threshold: fmt.Sprintf("≤ %.2f over ≥ 1 sample", MaxDriftEMA), Value: ema, Pass: n > 0 && ema <= MaxDriftEMA}
	if n == 0 {
		g.Measured = "no drift samples in the window"
	} else {
		g.Measured = fmt.Sprintf("%.4f over %d samples", ema, n)
	}
	return g
}

// interlockGate counts breaches: an action executed though its preview
// required an approval that no approval record names (or the execution
// says it was not approved), and a guardian decision that let a message
// through without consent.
func (lg *laneLog) interlockGate() Gate {
	var unapproved []string
	for id, approved := range lg.executed {
		if lg.previews[id] && (!approved || !lg.approvals[id]) {
			unapproved = append(unapproved, id)
		}
	}
	slices.Sort(unapproved)
	breaches := len(unapproved) + len(lg.consent)
	g := Gate{Name: GateInterlocks, Threshold: "0 breaches", Value: float64(breaches), Pass: breaches == 0}
	g.Measured = fmt.Sprintf("%d executed without approval, %d let through without consent (%d executions, %d guardian decisions)",
		len(unapproved), len(lg.consent), len(lg.executed), lg.decided)
	if len(unapproved) > 0 {
		g.Measured += "; first action " + unapproved[0]
	}
	if len(lg.consent) > 0 {
		g.Measured += "; first message " + lg.consent[0]
	}
	return g
}

// tickRateGate: every frame of the window ran at the lane's starting
// rate. The tick lowers the rate only when a full window's p95 frame time
// is over the lane's budget, so a frame at a lower rate is the log's
// record of a p95 over budget.
func (lg *laneLog) tickRateGate(t spec.Tick) Gate {
	var frames, slow int
	for _, p := range lg.parts {
		for i, f := range p.frames {
			if i > 0 && frameStart(p.frames[i-1]) == frameStart(f) {
				continue
			}
			frames++
			if f.fps < int64(t.FPS) {
				slow++
			}
		}
	}
	g := Gate{Name: GateTickP95, Threshold: fmt.Sprintf("≤ %d ms budget: 0 frames below %d FPS", t.BudgetMS, t.FPS), Value: float64(slow), Pass: slow == 0 && frames > 0}
	g.Measured = fmt.Sprintf("%d of %d frames with results ran below %d FPS", slow, frames, t.FPS)
	return g
}
