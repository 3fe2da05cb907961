package adapters_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestContradictionMatrixCells(t *testing.T) {
	node := must(adapters.NewContradiction(adapters.ContradictionTopPrinciples(40)))(t)
	// Cells of the classic matrix, by standard parameter numbers.
	for _, tc := range []struct {
		improve, worsen string
		cell            string
	}{
		{"39", "36", "12,17,28,24"}, // productivity vs device complexity
		{"27", "36", "13,35,1"},     // reliability vs device complexity
		{"9", "27", "11,35,27,28"},  // speed vs reliability
		{"39", "27", "1,35,10,38"},  // productivity vs reliability
		{"27", "39", "1,35,29,38"},  // reliability vs productivity
		{"38", "39", "5,12,35,26"},  // automation vs productivity
		{"35", "37", "1"},           // adaptability vs difficulty of detecting
		{"9", "25", ""},             // speed vs loss of time: an empty cell
	} {
		r := handle(t, node, message(schemas.Payload{"improve": []string{tc.improve}, "worsen": []string{tc.worsen}}, nil))
		wantOK(t, r)
		if got := strs(t, r, "cells"); !slices.Equal(got, []string{tc.cell}) {
			t.Errorf("%s vs %s: cell %q, want %q", tc.improve, tc.worsen, got, tc.cell)
		}
		if tc.cell == "" && (len(strs(t, r, "principles")) != 0 || r.Trace[0].Data["empty_cells"] != int64(1)) {
			t.Errorf("empty cell proposed %v", r.Payload)
		}
	}
}

func TestContradictionRanking(t *testing.T) {
	node := must(adapters.NewContradiction(adapters.ContradictionTopPrinciples(2)))(t)
	r := handle(t, node, message(schemas.Payload{"improve": []string{"Productivity"}, "worsen": []string{"reliability", "device complexity"}}, nil))
	wantOK(t, r)
	// 39→27: 1(4) 35(3) 10(2) 38(1); 39→36: 12(4) 17(3) 28(2) 24(1).
	// 1 and 12 score 4; ties go to the lower number.
	if got := strs(t, r, "principles"); !slices.Equal(got, []string{"1 Segmentation", "12 Equipotentiality"}) {
		t.Fatalf("principles %v", got)
	}
	if got := vec(t, r, "principle_scores"); !slices.Equal(got, []float64{4, 4}) {
		t.Fatalf("scores %v", got)
	}
	if got := strs(t, r, "pairs"); !slices.Equal(got, []string{"productivity->reliability", "productivity->device_complexity"}) {
		t.Fatalf("pairs %v", got)
	}
	// Improving only: no contradiction, nothing proposed.
	r = handle(t, node, message(schemas.Payload{"improve": []string{"speed", "speed"}}, nil))
	if i64(t, r, "contradictions") != 0 || len(strs(t, r, "principles")) != 0 || !slices.Equal(strs(t, r, "improving"), []string{"speed"}) {
		t.Fatalf("improve only: %v", r.Payload)
	}
	// Zero value is the default (top 5).
	r = handle(t, &adapters.Contradiction{}, message(schemas.Payload{"improve": []string{"speed", "productivity"}, "worsen": []string{"reliability", "device_complexity"}}, nil))
	if len(strs(t, r, "principles")) != 5 {
		t.Fatalf("zero value proposed %v", r.Payload["principles"])
	}
	for _, n := range []int{0, -1, 41} {
		if _, err := adapters.NewContradiction(adapters.ContradictionTopPrinciples(n)); !errors.Is(err, adapters.ErrInvalidOption) {
			t.Errorf("top %d: err %v", n, err)
		}
	}
}

func TestContradictionBadInput(t *testing.T) {
	node := must(adapters.NewContradiction())(t)
	for _, tc := range []struct {
		p    schemas.Payload
		want []string
	}{
		{nil, []string{"neither improve/worsen nor parameters/deltas"}},
		{schemas.Payload{"improve": []string{"speed"}, "deltas": []float64{1}}, []string{"both improve/worsen and parameters/deltas"}},
		{schemas.Payload{"improve": []string{"speed"}, "worsen": []string{"9"}}, []string{"parameter speed both improves and worsens"}},
		{schemas.Payload{"improve": []string{"1"}}, []string{`payload.improve: unknown TRIZ parameter "1"`, "productivity"}},
		{schemas.Payload{"improve": "speed"}, []string{"payload.improve: got string"}},
		{schemas.Payload{"parameters": []string{"speed"}}, []string{"payload.deltas: missing"}},
		{schemas.Payload{"parameters": []string{"speed"}, "deltas": []float64{1, 2}}, []string{"payload.deltas: has 2 entries; want 1"}},
		{schemas.Payload{"parameters": []string{"warp"}, "deltas": []float64{1}}, []string{`payload.parameters: unknown TRIZ parameter "warp"`}},
	} {
		wantReason(t, handle(t, node, message(tc.p, nil)), tc.want...)
	}
}
