package observe

// This file is the live page's data: once a period it reads the process's
// metrics (and the lanes' status counters for what the metrics lack) into a
// snapshot per lane, with rates from the counters' deltas over the clock and
// a short history for the sparklines. /api/lanes serves the latest one.

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
)

// The drift EMA lines the page draws: the alerts' warn and block levels.
const (
	PageDriftWarn  = 0.25
	PageDriftBlock = 0.35
)

// PageConfig configures a live page.
type PageConfig struct {
	Lanes    []schemas.Lane
	Gatherer prometheus.Gatherer
	// Counters, when set, gives a lane's status counters: the page takes
	// the tick p95 from them (the last frames, not histogram buckets).
	Counters func(schemas.Lane) *LaneCounters
	Clock    clock.Clock   // default clock.Real
	Every    time.Duration // sampling period; default 1s
	Keep     int           // samples of history per lane; default 120
}

// PageSnapshot is what /api/lanes answers. A nil figure is one the process
// does not export (the page shows "–"), never a made-up zero.
type PageSnapshot struct {
	At           time.Time  `json:"at"`
	EverySeconds float64    `json:"every_seconds"`
	DriftWarn    float64    `json:"drift_warn"`
	DriftBlock   float64    `json:"drift_block"`
	Lanes        []PageLane `json:"lanes"`
}

// PageLane is one lane's figures. Rates are per second over the last
// sampling period, measured on the page's clock.
type PageLane struct {
	Lane             string             `json:"lane"`
	InTotal          *float64           `json:"in_total"`
	OutTotal         *float64           `json:"out_total"`
	InRate           *float64           `json:"in_rate"`
	OutRate          *float64           `json:"out_rate"`
	TickP95Ms        *float64           `json:"tick_p95_ms"`
	FPS              *float64           `json:"fps"`
	DriftEMA         *float64           `json:"drift_ema"`
	Coherence        *float64           `json:"coherence"`
	Breaks           *float64           `json:"circuit_breaks"`
	Breakthroughs    *float64           `json:"breakthroughs"`
	Late             *float64           `json:"late"`
	Decisions        map[string]float64 `json:"decisions"` // by outcome
	DLQ              map[string]float64 `json:"dlq"`       // by reason
	ApprovalsWaiting *float64           `json:"approvals_waiting"`
	Waiting          []string           `json:"waiting"` // ids of the first waiting actions (at most pageWaitingMax), oldest first per partition
	ApproveCmd       string             `json:"approve_cmd"`
	ListCmd          string             `json:"list_cmd"`
	Lag              *float64           `json:"lag"` // summed over the lane's partitions
	Partitions       []PagePartition    `json:"partitions"`
	History          PageHistory        `json:"history"`
}

// PagePartition is one partition's figures, from the per-partition series.
type PagePartition struct {
	Partition    int32    `json:"partition"`
	FPS          *float64 `json:"fps"`
	Backlog      *float64 `json:"backlog"`
	Lag          *float64 `json:"lag"`
	Committed    *float64 `json:"committed"`
	OldestAgeSec *float64 `json:"oldest_age_seconds"`
}

// PageHistory holds the last samples of a lane's headline figures, oldest
// first; null where a sample had none.
type PageHistory struct {
	InRate    []*float64 `json:"in_rate"`
	OutRate   []*float64 `json:"out_rate"`
	DriftEMA  []*float64 `json:"drift_ema"`
	TickP95Ms []*float64 `json:"tick_p95_ms"`
}

// pageWaitingMax bounds the waiting action ids a lane's card lists; the
// count and `matriz actions` tell the rest.
const pageWaitingMax = 20

// Page samples the figures and serves them (Handler).
type Page struct {
	cfg PageConfig

	mu     sync.Mutex
	snap   PageSnapshot
	prevAt time.Time
	prev   map[schemas.Lane]laneTotals
}

// laneTotals are what a lane's next rates are measured from.
type laneTotals struct {
	in, out *float64
	tick    []bucket
}

// NewPage returns a page over cfg's lanes; it has no figures until the
// first Sample (Run takes one at once).
func NewPage(cfg PageConfig) *Page {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 120
	}
	return &Page{cfg: cfg, prev: map[schemas.Lane]laneTotals{}}
}

// Run samples once a period until ctx ends.
func (p *Page) Run(ctx context.Context) {
	tk := p.cfg.Clock.NewTicker(p.cfg.Every)
	defer tk.Stop()
	p.Sample(p.cfg.Clock.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C():
			p.Sample(now)
		}
	}
}

// Snapshot returns the latest sample.
func (p *Page) Snapshot() PageSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Sample reads the figures as of now.
func (p *Page) Sample(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := gather(p.cfg.Gatherer)
	elapsed := now.Sub(p.prevAt).Seconds()
	if p.prevAt.IsZero() {
		elapsed = 0
	}
	p.prevAt = now
	old := map[string]PageHistory{}
	for _, l := range p.snap.Lanes {
		old[l.Lane] = l.History
	}
	lanes := make([]PageLane, 0, len(p.cfg.Lanes))
	for _, l := range p.cfg.Lanes {
		pl := p.lane(g, l, elapsed)
		h := old[string(l)]
		pl.History = PageHistory{
			InRate:    keepLast(h.InRate, pl.InRate, p.cfg.Keep),
			OutRate:   keepLast(h.OutRate, pl.OutRate, p.cfg.Keep),
			DriftEMA:  keepLast(h.DriftEMA, pl.DriftEMA, p.cfg.Keep),
			TickP95Ms: keepLast(h.TickP95Ms, pl.TickP95Ms, p.cfg.Keep),
		}
		lanes = append(lanes, pl)
	}
	p.snap = PageSnapshot{At: now.UTC(), EverySeconds: p.cfg.Every.Seconds(), DriftWarn: PageDriftWarn, DriftBlock: PageDriftBlock, Lanes: lanes}
}

// lane reads one lane's figures; elapsed is the time since the last sample
// (0: the first, which has no rates).
func (p *Page) lane(g gathered, l schemas.Lane, elapsed float64) PageLane {
	name := string(l)
	var c *LaneCounters
	if p.cfg.Counters != nil {
		c = p.cfg.Counters(l)
	}
	pl := PageLane{
		Lane:             name,
		InTotal:          g.sum("lukhas_messages_in_total", name),
		OutTotal:         g.sum("lukhas_messages_out_total", name),
		FPS:              g.laneGauge("lukhas_fps", name, minOf),
		DriftEMA:         g.laneGauge("lukhas_drift_ema", name, maxOf),
		Coherence:        g.laneGauge("lukhas_coherence", name, minOf),
		Breaks:           g.sum("lukhas_memory_circuit_breaks_total", name),
		Breakthroughs:    g.sum("lukhas_breakthrough_flags_total", name),
		Late:             g.sum("lukhas_late_messages_total", name),
		Decisions:        g.by("lukhas_guardian_decisions_total", name, "outcome"),
		DLQ:              g.by("lukhas_dlq_total", name, "reason"),
		ApprovalsWaiting: g.laneGauge("lukhas_approvals_waiting", name, sumOf),
		ApproveCmd:       "matriz approve --lane " + name + " ACTION_ID",
		ListCmd:          "matriz actions --lane " + name,
		Lag:              g.laneGauge("lukhas_consumer_lag", name, sumOf),
		Partitions:       partitions(g, name),
	}
	if c != nil {
		pl.Waiting = c.Waiting()
		if len(pl.Waiting) > pageWaitingMax {
			pl.Waiting = pl.Waiting[:pageWaitingMax]
		}
		pl.InTotal = orCount(pl.InTotal, c.In.Load())
		pl.OutTotal = orCount(pl.OutTotal, c.Out.Load())
		if pl.FPS == nil {
			pl.FPS = ptr(float64(c.FPS.Load()))
		}
		if pl.DriftEMA == nil {
			pl.DriftEMA = ptr(c.DriftEMA())
		}
	}
	tick := g.histogram("lukhas_tick_duration_seconds", name)
	prev, seen := p.prev[l]
	p.prev[l] = laneTotals{in: pl.InTotal, out: pl.OutTotal, tick: tick}
	if c != nil {
		if d, n := c.FramesP95(); n > 0 {
			pl.TickP95Ms = ptr(float64(d) / float64(time.Millisecond))
		}
	} else if q, ok := quantile(0.95, prev.tick, tick); ok {
		pl.TickP95Ms = ptr(q * 1000)
	}
	if seen && elapsed > 0 {
		pl.InRate = rate(prev.in, pl.InTotal, elapsed)
		pl.OutRate = rate(prev.out, pl.OutTotal, elapsed)
	}
	return pl
}

// partitions gathers the per-partition series of the lane, by partition.
func partitions(g gathered, lane string) []PagePartition {
	byP := map[int32]*PagePartition{}
	for _, f := range []struct {
		name string
		set  func(*PagePartition, *float64)
	}{
		{"lukhas_fps", func(p *PagePartition, v *float64) { p.FPS = v }},
		{"lukhas_backlog_frames", func(p *PagePartition, v *float64) { p.Backlog = v }},
		{"lukhas_consumer_lag", func(p *PagePartition, v *float64) { p.Lag = v }},
		{"lukhas_committed_offset", func(p *PagePartition, v *float64) { p.Committed = v }},
		{"lukhas_oldest_uncommitted_age_seconds", func(p *PagePartition, v *float64) { p.OldestAgeSec = v }},
	} {
		for part, v := range g.perPartition(f.name, lane) {
			pp := byP[part]
			if pp == nil {
				pp = &PagePartition{Partition: part}
				byP[part] = pp
			}
			f.set(pp, ptr(v))
		}
	}
	out := make([]PagePartition, 0, len(byP))
	for _, k := range slices.Sorted(maps.Keys(byP)) {
		out = append(out, *byP[k])
	}
	return out
}

// rate is (cur-prev)/elapsed; a counter that went back (the process's
// series were reset) counts from zero.
func rate(prev, cur *float64, elapsed float64) *float64 {
	if prev == nil || cur == nil {
		return nil
	}
	d := *cur - *prev
	if d < 0 {
		d = *cur
	}
	return ptr(d / elapsed)
}

func orCount(v *float64, n int64) *float64 {
	if v != nil {
		return v
	}
	return ptr(float64(n))
}

func keepLast(h []*float64, v *float64, keep int) []*float64 {
	h = append(slices.Clone(h), v)
	return h[max(0, len(h)-keep):]
}

func ptr(v float64) *float64 { return &v }

func maxOf(vs []float64) float64 {
	m := vs[0]
	for _, v := range vs[1:] {
		m = max(m, v)
	}
	return m
}
