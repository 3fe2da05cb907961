package adapters

import (
	"context"
	"math"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Memory plans a memory write: which folds the message's memory links to,
// how far the write fans out and how deep it sits, so the fold-guard stage
// can limit it before anything is written. The plan is the result payload;
// its event_kind (stages.NodeEventKey) makes the adapter stage write a
// memory_write event for it when dispatched: the write as planned, which
// the fold-guard stage may still refuse (its crumb on the result, and a
// circuit_break event when the budget trips, say so).
//
// Payload in:
//
//	links  array<string>, optional (empty allowed): ids of the folds this
//	       memory links to
//	depth  long ≥ 0, optional (default 0): the recursion depth of this
//	       write, 0 for a write caused directly by input, n for one caused
//	       by a write at depth n-1
//
// The fold being written is the glyph (glyph.id, required). Its plan links
// to every distinct non-self link in first-seen order: duplicates are
// dropped and counted, and a link to the glyph itself (a cycle of length
// one) is dropped and counted, never followed.
//
// Payload out: event_kind ("memory_write"), fold_id (glyph.id), folds (the
// planned link targets), fanout (len(folds)), depth, duplicates,
// self_links.
type Memory struct{}

// Name returns "memory".
func (Memory) Name() string { return NameMemory }

// Version returns the node's version.
func (Memory) Version() string { return "1.0.0" }

// Handle plans msg's memory write.
func (m Memory) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameMemory); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameMemory, m.Version()), nil
	}
	in := newInput(NameMemory, msg)
	if msg.Glyph.ID == "" {
		in.problem("glyph.id: empty; want the id of the fold being written")
	}
	links, _ := in.texts("links", false, true)
	depth, _ := in.long("depth", 0, math.MaxInt64, false)
	if !in.ok() {
		return refuse(msg, NameMemory, m.Version(), in.reasons), nil
	}
	folds := make([]string, 0, len(links))
	seen := make(map[string]bool, len(links))
	var dups, self int64
	for _, l := range links {
		switch {
		case l == msg.Glyph.ID:
			self++
		case seen[l]:
			dups++
		default:
			seen[l] = true
			folds = append(folds, l)
		}
	}
	fanout := int64(len(folds))
	out := schemas.Payload{
		stages.NodeEventKey: string(schemas.EventMemoryWrite),
		"fold_id":           msg.Glyph.ID,
		"folds":             folds,
		"fanout":            fanout,
		"depth":             depth,
		"duplicates":        dups,
		"self_links":        self,
	}
	data := schemas.Payload{"fanout": fanout, "depth": depth, "duplicates": dups, "self_links": self}
	return answer(msg, NameMemory, m.Version(), nil, out, data), nil
}
