package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/topics"
)

// A failed soak's diff lists the first differing records in log order,
// which says what differs but not where the runs went apart. The locator
// below says where: for each input partition, the first source offset
// whose result differs, and which runs wrote that result. A stage state
// applied twice (or not at all) changes every later result of its
// partition, so the first one is the place to look, and the run that
// wrote it, with the runs around it, is the restart to suspect.

// runOfOutput is the run that wrote output m of kind k: the first whose
// output ends, taken at its kill, lie past m.
func runOfOutput(runs []soakRun, k topics.Kind, m topics.Message) int {
	for i, r := range runs {
		if r.ends != nil && m.Offset < r.ends[k][int(m.Partition)] {
			return i
		}
	}
	return len(runs) - 1
}

// divergence is where one input partition's results first differ.
type divergence struct {
	partition int32
	first     int64 // the lowest source offset of a differing result
	differ    int   // differing results of the partition
	id        string
	runs      []int // the runs that wrote a copy of the first one, in log order
}

func (d divergence) String() string {
	return fmt.Sprintf("partition %d: %d results differ, the first from source offset %d (result %s, written by run %s)",
		d.partition, d.differ, d.first, d.id, joinInts(d.runs, " and "))
}

// locateDivergence compares the live results with replay name's and
// returns where each input partition's first differs, by partition.
func (l *e2eLane) locateDivergence(t *testing.T, name string, brokers []string, runs []soakRun) []divergence {
	t.Helper()
	args := append([]string{"replay", "diff", name, "--kinds", string(topics.KindResults), "--json", "--limit", "-1"}, brokers...)
	_, out, errOut := runCLI(args...)
	var rep replay.DiffReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Logf("locating the divergence: matriz %s printed no report: %v\n%s", strings.Join(args, " "), err, errOut)
		return nil
	}
	copies := map[string][]soakCopy{}
	for _, m := range l.ReadAll(t, topics.Name(string(l.lane), topics.KindResults)) {
		id := pipetest.Header(m, runtime.HeaderOutputID)
		copies[id] = append(copies[id], soakCopy{
			src: soakSrc{int32(pipetest.HeaderInt(t, m, runtime.HeaderSrcPartition)), pipetest.HeaderInt(t, m, runtime.HeaderSrcOffset)},
			run: runOfOutput(runs, topics.KindResults, m),
		})
	}
	return firstDivergences(rep.Records, copies)
}

// soakCopy is one copy of a live output: its source and the run that
// wrote it.
type soakCopy struct {
	src soakSrc
	run int
}

// firstDivergences groups the differing records by their source
// partition (from the live copies; a record only in the replay has none
// and is left out) and keeps each partition's lowest source offset.
func firstDivergences(records []replay.RecordDiff, copies map[string][]soakCopy) []divergence {
	by := map[int32]*divergence{}
	for _, r := range records {
		cs := copies[r.ID]
		if len(cs) == 0 {
			continue
		}
		src := cs[0].src
		d := by[src.partition]
		if d == nil {
			d = &divergence{partition: src.partition, first: src.offset}
			by[src.partition] = d
		}
		d.differ++
		if src.offset <= d.first {
			d.first, d.id, d.runs = src.offset, r.ID, nil
			for _, c := range cs {
				d.runs = append(d.runs, c.run)
			}
		}
	}
	out := make([]divergence, 0, len(by))
	for _, p := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[p])
	}
	return out
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

// linesAbout keeps the run log lines about the partitions in ds, and those
// about no partition in particular; all of them when ds is empty.
func linesAbout(lines []string, ds []divergence) []string {
	if len(ds) == 0 {
		return lines
	}
	var out []string
	for _, line := range lines {
		fields := strings.Fields(line)
		keep := !slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "partition=") })
		for _, d := range ds {
			keep = keep || slices.Contains(fields, fmt.Sprintf("partition=%d", d.partition))
		}
		if keep {
			out = append(out, line)
		}
	}
	return out
}

// aboutPartitions says which partitions linesAbout kept lines of.
func aboutPartitions(ds []divergence) string {
	if len(ds) == 0 {
		return ""
	}
	ps := make([]int, len(ds))
	for i, d := range ds {
		ps[i] = int(d.partition)
	}
	return " (partitions " + joinInts(ps, ", ") + " and the lane)"
}
