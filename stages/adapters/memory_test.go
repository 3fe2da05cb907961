package adapters_test

import (
	"slices"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestMemoryPlan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      schemas.Payload
		folds  []string
		depth  int64
		dups   int64
		selfs  int64
		fanout int64
	}{
		{"no links key", nil, []string{}, 0, 0, 0, 0},
		{"distinct", schemas.Payload{"links": []string{"b", "a"}, "depth": int64(1)}, []string{"b", "a"}, 1, 0, 0, 2},
		{"dups and self", schemas.Payload{"links": []string{"a", "glyph-1", "a", "a", "glyph-1", "c"}}, []string{"a", "c"}, 0, 2, 2, 2},
		{"depth as whole double", schemas.Payload{"links": []string{"a"}, "depth": 3.0}, []string{"a"}, 3, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Memory{}, message(tc.p, nil))
			wantOK(t, r)
			if got := strs(t, r, "folds"); !slices.Equal(got, tc.folds) {
				t.Errorf("folds %v, want %v", got, tc.folds)
			}
			if i64(t, r, "fanout") != tc.fanout || i64(t, r, "depth") != tc.depth || i64(t, r, "duplicates") != tc.dups || i64(t, r, "self_links") != tc.selfs {
				t.Errorf("plan %v", r.Payload)
			}
			if str(t, r, "event_kind") != string(schemas.EventMemoryWrite) || str(t, r, "fold_id") != "glyph-1" {
				t.Errorf("event fields %v", r.Payload)
			}
		})
	}
}

func TestMemoryBadInput(t *testing.T) {
	msg := message(schemas.Payload{"links": []string{"a"}}, nil)
	msg.Glyph.ID = ""
	wantReason(t, handle(t, adapters.Memory{}, msg), "glyph.id: empty")
	for _, tc := range []struct {
		p    schemas.Payload
		want string
	}{
		{schemas.Payload{"links": []string{"a", ""}}, "payload.links: got array<string> of 2; want an array<string> of non-empty strings"},
		{schemas.Payload{"links": "a"}, `payload.links: got string "a"`},
		{schemas.Payload{"depth": 1.5}, "payload.depth: got double 1.5; want a whole number ≥ 0"},
		{schemas.Payload{"depth": "deep"}, "payload.depth"},
	} {
		wantReason(t, handle(t, adapters.Memory{}, message(tc.p, nil)), tc.want)
	}
}
