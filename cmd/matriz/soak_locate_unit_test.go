package main

import (
	"slices"
	"testing"

	"github.com/matriz/pipelines/pipelines/replay"
)

func TestFirstDivergencesNamesEachPartitionsLowestSourceAndItsWriters(t *testing.T) {
	copies := map[string][]soakCopy{
		"a": {{soakSrc{5, 9400}, 16}},
		"b": {{soakSrc{5, 9326}, 15}, {soakSrc{5, 9326}, 17}},
		"c": {{soakSrc{2, 70}, 3}},
		"d": {{soakSrc{5, 9500}, 17}},
	}
	records := []replay.RecordDiff{{ID: "a"}, {ID: "d"}, {ID: "b"}, {ID: "c"}, {ID: "only-in-the-replay"}}
	got := firstDivergences(records, copies)
	if len(got) != 2 {
		t.Fatalf("got %d partitions, want 2: %v", len(got), got)
	}
	if d := got[0]; d.partition != 2 || d.first != 70 || d.differ != 1 || d.id != "c" || !slices.Equal(d.runs, []int{3}) {
		t.Errorf("partition 2: %+v", d)
	}
	if d := got[1]; d.partition != 5 || d.first != 9326 || d.differ != 3 || d.id != "b" || !slices.Equal(d.runs, []int{15, 17}) {
		t.Errorf("partition 5: %+v", d)
	}
	if s := got[1].String(); s != "partition 5: 3 results differ, the first from source offset 9326 (result b, written by run 15 and 17)" {
		t.Errorf("String() = %q", s)
	}
}

func TestLinesAboutKeepsTheDivergedPartitionsAndTheLane(t *testing.T) {
	lines := []string{
		`run 3: time=x level=INFO msg="state restored" lane=prod partition=5 checkpoint=5@9354`,
		`run 3: time=x level=INFO msg="state restored" lane=prod partition=15 checkpoint=15@1`,
		`run 3: time=x level=WARN msg="registry down" lane=prod`,
		`run 4: time=x level=INFO msg="re-deciding" lane=prod partition=2`,
	}
	got := linesAbout(lines, []divergence{{partition: 5}})
	if !slices.Equal(got, []string{lines[0], lines[2]}) {
		t.Errorf("linesAbout kept %q", got)
	}
	if all := linesAbout(lines, nil); !slices.Equal(all, lines) {
		t.Errorf("with nothing located, linesAbout kept %q, want every line", all)
	}
	if s := aboutPartitions([]divergence{{partition: 5}, {partition: 2}}); s != " (partitions 5, 2 and the lane)" {
		t.Errorf("aboutPartitions = %q", s)
	}
}
