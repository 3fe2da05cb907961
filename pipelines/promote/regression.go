package promote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// regressionSpec is the spec the source lane's log is replayed under: the
// target lane's stages and their parameters, with the source lane's own
// modes — partitions, tick, decimation ring and the guardian's dry-run —
// since those say how the lane runs, not what it decides, and a replay
// reads the source's decimation and tick decisions from its log anyway.
func regressionSpec(s *spec.Spec, from, to schemas.Lane) *spec.Spec {
	out := *s
	out.Lanes = make(map[schemas.Lane]*spec.Lane, len(s.Lanes))
	for k, v := range s.Lanes {
		out.Lanes[k] = v
	}
	src, dst := s.Lanes[from], *s.Lanes[to]
	dst.Stages = append([]string(nil), dst.Stages...)
	dst.Partitions, dst.Tick, dst.Decimate = src.Partitions, src.Tick, src.Decimate
	dst.Guardian.DryRun = src.Guardian.DryRun
	out.Lanes[from] = &dst
	return &out
}

// regressionGate replays the window of the source lane's log under the
// target's stage parameters into a namespace of its own, diffs it against
// what the lane decided, counts the guardian outcome changes the
// allow-list does not name, and removes the namespace.
func regressionGate(ctx context.Context, cfg Config) (Gate, error) {
	g := Gate{Name: GateRegression, Threshold: "0 unexpected decision changes"}
	name := "promote-" + strconv.FormatInt(cfg.Clock.Now().UnixMilli(), 10)
	from := "start"
	if !cfg.Since.IsZero() {
		from = cfg.Since.UTC().Format(time.RFC3339Nano)
	}
	to, err := answeredThrough(ctx, cfg)
	if err != nil {
		return g, err
	}
	rr, err := replay.Run(ctx, replay.RunConfig{Lane: cfg.From, Brokers: cfg.Brokers, RegistryURL: cfg.RegistryURL,
		From: from, To: to, Spec: regressionSpec(cfg.Spec, cfg.From, cfg.To), Getenv: cfg.Getenv, Name: name,
		Clock: cfg.Clock, Logger: cfg.Logger})
	defer func() {
		// A promotion check leaves nothing behind; a namespace it could
		// not remove is said, not hidden.
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := replay.RemoveNamespace(rmCtx, cfg.Brokers, string(cfg.From), name); err != nil {
			cfg.Logger.Warn("could not remove the regression replay's namespace; remove it with matriz replay rm", "lane", cfg.From, "replay", name, "err", err)
		}
	}()
	if err != nil {
		return g, fmt.Errorf("capability-regression replay of %s: %w", cfg.From, err)
	}
	rep, err := replay.Diff(ctx, replay.DiffConfig{Brokers: cfg.Brokers, RegistryURL: cfg.RegistryURL, Lane: cfg.From,
		Right: name, Kinds: []topics.Kind{topics.KindResults}, Scope: rr.Ranges, Limit: -1})
	if err != nil {
		return g, fmt.Errorf("capability-regression diff of %s: %w", cfg.From, err)
	}
	var compared, changed, allowed int
	var unexpected []string
	for _, k := range rep.Kinds {
		compared += k.Identical + k.Changed
		// A result on one side only is a decision made on one side only.
		changed += k.OnlyLeft + k.OnlyRight
		if n := k.OnlyLeft + k.OnlyRight; n > 0 {
			unexpected = append(unexpected, fmt.Sprintf("%d results on one side only", n))
		}
	}
	for _, o := range rep.Outcomes {
		from, to := outcomeName(o.Left), outcomeName(o.Right)
		if from == to {
			continue
		}
		changed += o.Count
		if cfg.AllowList.Allows(from, to) {
			allowed += o.Count
			continue
		}
		unexpected = append(unexpected, fmt.Sprintf("%d %s -> %s", o.Count, from, to))
	}
	n := changed - allowed
	g.Value, g.Pass = float64(n), n == 0 && compared > 0
	g.Measured = fmt.Sprintf("%d unexpected of %d decision changes (%d allowed) over %d results replayed under %s's stages", n, changed, allowed, compared, cfg.To)
	if len(unexpected) > 0 {
		g.Measured += ": " + strings.Join(unexpected, ", ")
	}
	if compared == 0 {
		g.Measured = "no results in the window to replay"
	}
	return g, nil
}

// answeredThrough is the replay's end: each partition's offset the lane's
// group committed, so only inputs whose every output the lane has written
// are replayed. A lane still working on the newest inputs would otherwise
// show their replayed results as decisions made on one side only.
func answeredThrough(ctx context.Context, cfg Config) (string, error) {
	g, err := replay.ShowOffsets(ctx, replay.OffsetsConfig{Lane: cfg.From, Group: cfg.Group, Brokers: cfg.Brokers})
	if err != nil {
		return "", fmt.Errorf("the %s lane's committed offsets: %w", cfg.From, err)
	}
	var parts []string
	for _, p := range g.Partitions {
		parts = append(parts, fmt.Sprintf("%d:%d", p.Partition, max(p.Committed, p.Start)))
	}
	if len(parts) == 0 {
		return "end", nil
	}
	return strings.Join(parts, ","), nil
}

// outcomeName is an outcome as allow-lists name it: "none" for a result
// without a guardian crumb.
func outcomeName(o string) string {
	if o == "" {
		return "none"
	}
	return o
}
