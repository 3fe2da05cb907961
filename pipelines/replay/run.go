package replay

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// RunConfig is one `matriz replay`: a lane, a range of its log, the
// pipeline to run it through, and the namespace its outputs go to.
type RunConfig struct {
	Lane        schemas.Lane
	Brokers     []string
	RegistryURL string
	// From and To are position specs (PositionForms); To defaults to "end".
	// A replay starts at the checkpoint at or before From in each
	// partition, or at the log's start with empty state when there is none.
	From, To   string
	Partitions []int32 // only these partitions (default all)
	Glyph      string  // write only this glyph's outputs (the chain still sees every record)
	Spec       *spec.Spec
	Getenv     func(string) string
	Name       string
	Clock      clock.Clock
	Logger     *slog.Logger
	// Progress is told the plan once and each partition's records as they
	// are done.
	Progress Progress
}

// Progress follows a replay.
type Progress interface {
	Start(ranges []runtime.ReplayRange)
	Done(partition int32, records int64)
}

// RunReport is what a replay did.
type RunReport struct {
	Name   string
	Ranges []runtime.ReplayRange
	Stats  runtime.ReplayStats
}

// Run plans the replay (positions resolved per partition, each partition's
// start moved back to its checkpoint), creates the namespace and runs it.
func Run(ctx context.Context, cfg RunConfig) (*RunReport, error) {
	if err := ValidateNamespace(string(cfg.Lane), cfg.Name); err != nil {
		return nil, err
	}
	if cfg.To == "" {
		cfg.To = "end"
	}
	ranges, err := Plan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ends, err := topics.PartitionEnds(ctx, cfg.Brokers, topics.Name(string(cfg.Lane), topics.KindResults))
	if err != nil {
		return nil, err
	}
	if err := CreateNamespace(ctx, cfg.Brokers, string(cfg.Lane), cfg.Name, len(ends)); err != nil {
		return nil, err
	}
	var parts []int32
	for _, r := range ranges {
		parts = append(parts, r.Partition)
	}
	decisions, err := LoadDecisions(ctx, cfg.Brokers, cfg.RegistryURL, cfg.Lane, parts)
	if err != nil {
		return nil, err
	}
	rc := runtime.ReplayConfig{Decisions: decisions, Lane: cfg.Lane, Brokers: cfg.Brokers, RegistryURL: cfg.RegistryURL, Spec: cfg.Spec, Getenv: cfg.Getenv,
		Name: cfg.Name, Ranges: ranges, Clock: cfg.Clock, Logger: cfg.Logger, Glyph: cfg.Glyph}
	if cfg.Progress != nil {
		cfg.Progress.Start(ranges)
		rc.Progress = cfg.Progress.Done
	}
	stats, err := runtime.Replay(ctx, rc)
	return &RunReport{Name: cfg.Name, Ranges: ranges, Stats: stats}, err
}

// Plan resolves cfg's range into one ReplayRange per partition.
func Plan(ctx context.Context, cfg RunConfig) ([]runtime.ReplayRange, error) {
	lane := string(cfg.Lane)
	topic := topics.Name(lane, topics.KindMessages)
	from, err := ParsePosition(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	to, err := ParsePosition(cfg.To)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	ends, err := ResolvePositions(ctx, cfg.Brokers, topic, Position{Kind: PositionEnd})
	if err != nil {
		return nil, err
	}
	var toOffs map[int32]int64
	if to.Kind == PositionCheckpoint {
		cp, err := FindCheckpoint(ctx, cfg.Brokers, lane, to.CheckpointID)
		if err != nil {
			return nil, fmt.Errorf("--to: %w", err)
		}
		toOffs = map[int32]int64{cp.Partition: cp.Next}
	} else if toOffs, err = ResolvePositions(ctx, cfg.Brokers, topic, to); err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	endOf := func(p int32) int64 {
		if o, ok := toOffs[p]; ok {
			return o
		}
		return ends[p]
	}
	var ranges []runtime.ReplayRange
	if from.Kind == PositionCheckpoint {
		cp, err := FindCheckpoint(ctx, cfg.Brokers, lane, from.CheckpointID)
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		ranges = append(ranges, runtime.ReplayRange{Partition: cp.Partition, From: cp.Resume, To: endOf(cp.Partition), Checkpoint: cp})
		return filterPartitions(ranges, cfg.Partitions)
	}
	fromOffs, err := ResolvePositions(ctx, cfg.Brokers, topic, from)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	starts, err := ResolvePositions(ctx, cfg.Brokers, topic, Position{Kind: PositionStart})
	if err != nil {
		return nil, err
	}
	for p, off := range fromOffs {
		r := runtime.ReplayRange{Partition: p, From: starts[p], To: endOf(p)}
		if off > starts[p] {
			cp, err := CheckpointAtOrBefore(ctx, cfg.Brokers, lane, p, off)
			if err != nil {
				return nil, err
			}
			if cp != nil {
				r.From, r.Checkpoint = cp.Resume, cp
			}
		}
		ranges = append(ranges, r)
	}
	slices.SortFunc(ranges, func(a, b runtime.ReplayRange) int { return int(a.Partition - b.Partition) })
	return filterPartitions(ranges, cfg.Partitions)
}

func filterPartitions(rs []runtime.ReplayRange, only []int32) ([]runtime.ReplayRange, error) {
	if len(only) == 0 {
		return rs, nil
	}
	var out []runtime.ReplayRange
	for _, p := range only {
		i := slices.IndexFunc(rs, func(r runtime.ReplayRange) bool { return r.Partition == p })
		if i < 0 {
			return nil, fmt.Errorf("--partitions: partition %d is not in the range (the lane's partitions: %s)", p, partitionList(rs))
		}
		out = append(out, rs[i])
	}
	return out, nil
}

func partitionList(rs []runtime.ReplayRange) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(r.Partition)
	}
	return s
}
