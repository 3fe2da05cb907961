package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// This file matches one kind's two sides by output id and judges each id:
// identical, changed (where first), or on one side only.

type stageKey struct {
	kind  topics.Kind
	stage string
}

// pairing is one output id: its record on each side (nil where absent).
type pairing struct{ l, r *diffRecord }

// verdict is how one pairing compares.
type verdict struct {
	status      DiffStatus // "" when a side did not decode
	stage       string
	outcomes    [2]string // results: the guardian outcome on each side
	field       string
	left, right any
	bad         *diffRecord // the record that did not decode
	badLeft     bool
	err         error
}

// compare matches one kind's two sides and returns its counts and its
// first keep differing records (all when keep < 0) in log order, left's
// ids first, then right's own; it adds to the stage and outcome counts. Decoding and comparing dominate a
// diff's time, so pairings are judged on every core, then counted in order.
func (d *differ) compare(ctx context.Context, k topics.Kind, left, right *diffSet, keep int, byStage map[stageKey]*DiffCounts, outcomes map[[2]string]int) (KindDiff, []RecordDiff, error) {
	var pairs []pairing
	for _, l := range logOrder(left.byID) {
		r := right.byID[l.id]
		if r == nil && !d.inScope(l) {
			left.stats.OutOfScope++
			continue
		}
		pairs = append(pairs, pairing{l: l, r: r})
	}
	for _, r := range logOrder(right.byID) {
		if _, ok := left.byID[r.id]; !ok {
			pairs = append(pairs, pairing{r: r})
		}
	}
	verdicts := make([]verdict, len(pairs))
	workers := min(goruntime.GOMAXPROCS(0), max(1, len(pairs)/256))
	var (
		wg    sync.WaitGroup
		fatal atomic.Pointer[error]
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(pairs) && fatal.Load() == nil; i += workers {
				v, err := d.judge(ctx, k, pairs[i])
				if err != nil {
					fatal.CompareAndSwap(nil, &err)
					return
				}
				verdicts[i] = v
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return KindDiff{}, nil, ctx.Err()
	}
	if err := fatal.Load(); err != nil {
		return KindDiff{}, nil, d.registryError(*err)
	}

	kd := KindDiff{Kind: k, Left: left.stats, Right: right.stats}
	var recs []RecordDiff
	for i, v := range verdicts {
		if v.status == "" {
			st := &kd.Right
			if v.badLeft {
				st = &kd.Left
			}
			st.Undecodable++
			if st.FirstError == "" {
				st.FirstError = fmt.Sprintf("%s partition %d offset %d: %v", k, v.bad.partition, v.bad.offset, v.err)
			}
			continue
		}
		c := byStage[stageKey{k, v.stage}]
		if c == nil {
			c = &DiffCounts{}
			byStage[stageKey{k, v.stage}] = c
		}
		c.add(v.status)
		kd.add(v.status)
		if v.status == StatusIdentical {
			continue
		}
		if v.status == StatusChanged && k == topics.KindResults {
			outcomes[v.outcomes]++
		}
		if keep >= 0 && len(recs) >= keep {
			continue // counted; not kept, so its values can be freed
		}
		p := pairs[i]
		rd := RecordDiff{Kind: k, Status: v.status, Stage: v.stage, Field: v.field, Left: v.left, Right: v.right, LeftOffset: -1, RightOffset: -1}
		if p.l != nil {
			rd.ID, rd.Partition, rd.LeftOffset = p.l.id, p.l.partition, p.l.offset
		}
		if p.r != nil {
			rd.ID, rd.Partition, rd.RightOffset = p.r.id, p.r.partition, p.r.offset
		}
		// A verdict does not hold a one-sided record (a diff against an
		// empty replay would hold them all): the few kept are decoded again.
		switch v.status {
		case StatusOnlyLeft:
			dl, _ := d.decode(ctx, k, p.l)
			rd.Left, rd.Right = dl.value, Absent{}
		case StatusOnlyRight:
			dr, _ := d.decode(ctx, k, p.r)
			rd.Left, rd.Right = Absent{}, dr.value
		}
		recs = append(recs, rd)
	}
	return kd, recs, nil
}

// judge compares one pairing. Only a registry failure is an error; a
// record that does not decode is a verdict without a status.
func (d *differ) judge(ctx context.Context, k topics.Kind, p pairing) (verdict, error) {
	undecodable := func(r *diffRecord, err error) (verdict, error) {
		if registryFailed(err) {
			return verdict{}, err
		}
		return verdict{bad: r, badLeft: r == p.l, err: err}, nil
	}
	if p.l == nil {
		rd, err := d.decode(ctx, k, p.r)
		if err != nil {
			return undecodable(p.r, err)
		}
		return verdict{status: StatusOnlyRight, stage: rd.stage}, nil
	}
	ld, err := d.decode(ctx, k, p.l)
	if err != nil {
		return undecodable(p.l, err)
	}
	if p.r == nil {
		return verdict{status: StatusOnlyLeft, stage: ld.stage}, nil
	}
	// Equal bytes are equal records; unequal bytes may still be (map
	// order), so only those are decoded on both sides. Actions are
	// normalised once decoded, so their bytes do not count.
	if k != topics.KindActions && string(p.l.value) == string(p.r.value) && (k != topics.KindDLQ || sameDLQHeaders(p.l, p.r)) {
		return verdict{status: StatusIdentical, stage: ld.stage}, nil
	}
	rd, err := d.decode(ctx, k, p.r)
	if err != nil {
		return undecodable(p.r, err)
	}
	field, lv, rv, changed := FirstDifference(ld.value, rd.value)
	if !changed {
		return verdict{status: StatusIdentical, stage: ld.stage}, nil
	}
	return verdict{status: StatusChanged, stage: ld.stage, outcomes: [2]string{ld.outcome, rd.outcome}, field: field, left: lv, right: rv}, nil
}

// registryFailed tells a record that does not decode (counted, the diff
// goes on) from a registry that did not answer (every record after it
// would fail too: the diff stops).
func registryFailed(err error) bool {
	if err == nil {
		return false
	}
	var we *schemas.WireError
	var de *schemas.DecodeError
	switch {
	case errors.As(err, &we), errors.As(err, &de),
		errors.Is(err, schemas.ErrUnknownSchemaID), errors.Is(err, schemas.ErrSchemaText), errors.Is(err, schemas.ErrIncompatible):
		return false
	}
	return true
}

func (d *differ) registryError(err error) error {
	if serde.Unreachable(err) {
		return &serde.RegistryUnreachableError{URL: d.registryURL, Err: err}
	}
	return fmt.Errorf("schema registry at %s: %w", d.registryURL, err)
}

func sameDLQHeaders(a, b *diffRecord) bool {
	for _, key := range []string{runtime.HeaderDLQReason, runtime.HeaderDLQStage, runtime.HeaderDLQDetail} {
		if string(topics.Message{Headers: a.headers}.Header(key)) != string(topics.Message{Headers: b.headers}.Header(key)) {
			return false
		}
	}
	return true
}

// logOrder lists a side's records by partition, then offset.
func logOrder(byID map[string]*diffRecord) []*diffRecord {
	out := make([]*diffRecord, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *diffRecord) int {
		if c := cmp.Compare(a.partition, b.partition); c != 0 {
			return c
		}
		return cmp.Compare(a.offset, b.offset)
	})
	return out
}

func sortedStages(kinds []topics.Kind, m map[stageKey]*DiffCounts) []StageDiff {
	out := make([]StageDiff, 0, len(m))
	for k, c := range m {
		out = append(out, StageDiff{Kind: k.kind, Stage: k.stage, DiffCounts: *c})
	}
	slices.SortFunc(out, func(a, b StageDiff) int {
		if a.Kind != b.Kind {
			return slices.Index(kinds, a.Kind) - slices.Index(kinds, b.Kind)
		}
		return strings.Compare(a.Stage, b.Stage)
	})
	return out
}

func sortedOutcomes(m map[[2]string]int) []OutcomeChange {
	out := make([]OutcomeChange, 0, len(m))
	for k, n := range m {
		out = append(out, OutcomeChange{Left: k[0], Right: k[1], Count: n})
	}
	slices.SortFunc(out, func(a, b OutcomeChange) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if c := strings.Compare(a.Left, b.Left); c != 0 {
			return c
		}
		return strings.Compare(a.Right, b.Right)
	})
	return out
}
