package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// Diff compares a replay's outputs with the live ones, or two replays,
// record by record: the capability-regression suite. Record a lane, change
// a threshold, replay it, and Diff says which decisions changed:
//
//	rep, err := replay.Diff(ctx, replay.DiffConfig{Brokers: b, RegistryURL: u, Lane: "prod", Right: "thr2"})
//	...
//	rep.WriteText(os.Stdout)
//	if !rep.Identical() { ... }
//
// Outputs are matched by their matriz-output-id header (DLQ records by
// their source partition and offset) and compared decoded, field by field.

// DiffLive names the live side of a diff in reports.
const DiffLive = "live"

// DefaultDiffLimit is how many differing records a report keeps when
// DiffConfig.Limit is 0.
const DefaultDiffLimit = 20

// DiffConfig is one comparison of two sides of a lane: the live topics
// (an empty name) or a replay namespace.
type DiffConfig struct {
	Brokers     []string
	RegistryURL string
	Lane        schemas.Lane
	// Left and Right name replays; "" is the live topics. Comparing a
	// replay with live: Left "" and Right the replay.
	Left, Right string
	// Kinds to compare; empty compares every kind a replay writes
	// (topics.ReplayKinds: results, events, traces, actions, dlq).
	Kinds []topics.Kind
	// Limit is how many differing records the report keeps, in log order;
	// 0 keeps DefaultDiffLimit, a negative value all. Counts are always
	// complete.
	Limit int
}

// DiffConfigError is a DiffConfig that cannot run: the field and why.
type DiffConfigError struct {
	Field  string
	Reason string
}

func (e *DiffConfigError) Error() string { return e.Field + ": " + e.Reason }

// DiffNotFoundError is a side of a diff whose topics do not exist: a
// replay never run (or removed), or a lane never deployed.
type DiffNotFoundError struct {
	Lane    schemas.Lane
	Name    string   // the replay; "" for the live topics
	Missing []string // the topics that do not exist
}

func (e *DiffNotFoundError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("lane %s has no %s: run `matriz deploy --lanes %s` first", e.Lane, strings.Join(e.Missing, ", "), e.Lane)
	}
	if len(e.Missing) < len(topics.ReplayKinds()) {
		return fmt.Sprintf("replay %s on lane %s lacks %s: run `matriz replay --into %s` again", e.Name, e.Lane, strings.Join(e.Missing, ", "), e.Name)
	}
	return fmt.Sprintf("replay %s not found on lane %s: run `matriz replay --into %s` first", e.Name, e.Lane, e.Name)
}

// ParseDiffKinds reads a comma-separated list of the kinds a diff
// compares (results, events, traces, actions, dlq).
func ParseDiffKinds(list string) ([]topics.Kind, error) {
	var out []topics.Kind
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k := topics.Kind(s)
		if !slices.Contains(topics.ReplayKinds(), k) {
			return nil, &DiffConfigError{Field: "kinds", Reason: fmt.Sprintf("%q, want some of results, events, traces, actions, dlq", s)}
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, &DiffConfigError{Field: "kinds", Reason: "empty, want some of results, events, traces, actions, dlq"}
	}
	return out, nil
}

func (c *DiffConfig) validate() error {
	bad := func(field, format string, args ...any) error {
		return &DiffConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if !c.Lane.Valid() {
		return bad("lane", "%q, want experimental, candidate or prod", c.Lane)
	}
	if len(c.Brokers) == 0 {
		return bad("brokers", "empty, want at least one host:port")
	}
	for _, b := range c.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			return bad("brokers", "%q is not host:port", b)
		}
	}
	if c.RegistryURL == "" {
		return bad("registry", "empty, want the schema registry URL")
	}
	for _, n := range []struct{ field, name string }{{"left", c.Left}, {"right", c.Right}} {
		if n.name == "" {
			continue
		}
		if i := strings.IndexFunc(n.name, func(r rune) bool {
			return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}); i >= 0 {
			return bad(n.field, "replay name %q: character %q; only ASCII letters, digits, '_' and '-'", n.name, n.name[i])
		}
	}
	if c.Left == c.Right {
		return bad("right", "both sides are %s; name a replay to compare with", sideName(c.Left))
	}
	for _, k := range c.Kinds {
		if !slices.Contains(topics.ReplayKinds(), k) {
			return bad("kinds", "%q, want some of results, events, traces, actions, dlq", k)
		}
	}
	return nil
}

func sideName(n string) string {
	if n == "" {
		return DiffLive
	}
	return n
}

func sideTopic(lane schemas.Lane, name string, k topics.Kind) string {
	if name == "" {
		return topics.Name(string(lane), k)
	}
	return topics.ReplayName(string(lane), name, k)
}

// Diff reads both sides' topics of each kind from their first offset to the
// end each partition had when it began, and compares them. Values are
// decoded through the registry at cfg.RegistryURL. A side whose topics do
// not exist is a *DiffNotFoundError; a bad config a *DiffConfigError.
func Diff(ctx context.Context, cfg DiffConfig) (*DiffReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kinds := cfg.Kinds
	if len(kinds) == 0 {
		kinds = topics.ReplayKinds()
	}
	limit := cfg.Limit
	if limit == 0 {
		limit = DefaultDiffLimit
	}

	var names []string
	for _, side := range []string{cfg.Left, cfg.Right} {
		for _, k := range kinds {
			names = append(names, sideTopic(cfg.Lane, side, k))
		}
	}
	ranges, missing, err := diffRanges(ctx, cfg.Brokers, names)
	if err != nil {
		return nil, err
	}
	for _, side := range []string{cfg.Left, cfg.Right} {
		var gone []string
		for _, k := range kinds {
			if t := sideTopic(cfg.Lane, side, k); slices.Contains(missing, t) {
				gone = append(gone, t)
			}
		}
		if len(gone) > 0 {
			return nil, &DiffNotFoundError{Lane: cfg.Lane, Name: side, Missing: gone}
		}
	}

	codec, err := serde.Open(ctx, cfg.RegistryURL, nil)
	if err != nil {
		return nil, err
	}
	d := &differ{lookup: codec.Lookup(), registryURL: cfg.RegistryURL}

	rep := &DiffReport{Lane: cfg.Lane, Left: sideName(cfg.Left), Right: sideName(cfg.Right), Limit: limit}
	sem := make(chan struct{}, diffReaders)
	var all []RecordDiff
	byStage := map[stageKey]*DiffCounts{}
	outcomes := map[[2]string]int{}
	for _, k := range kinds {
		var sides [2]*diffSet
		for i, side := range []string{cfg.Left, cfg.Right} {
			topic := sideTopic(cfg.Lane, side, k)
			s, err := d.read(ctx, cfg.Brokers, topic, k, ranges[topic], sem)
			if err != nil {
				return nil, err
			}
			sides[i] = s
		}
		kd, recs, err := d.compare(ctx, k, sides[0], sides[1], byStage, outcomes)
		if err != nil {
			return nil, err
		}
		rep.Kinds = append(rep.Kinds, kd)
		all = append(all, recs...)
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	rep.Records = all
	rep.Stages = sortedStages(kinds, byStage)
	rep.Outcomes = sortedOutcomes(outcomes)
	return rep, nil
}

// diffRecord is the winning copy of one output id on one side.
type diffRecord struct {
	id        string
	partition int32
	offset    int64
	value     []byte
	headers   []topics.Header
	action    *schemas.Event // actions are decoded as they are read
}

// diffSet is one side's records of one kind, by output id.
type diffSet struct {
	byID  map[string]*diffRecord
	stats SideStats
}

// differ holds what a Diff shares across kinds.
type differ struct {
	lookup      *schemas.SchemaLookup
	registryURL string
}

// read scans topic and keeps the last copy of each output id.
func (d *differ) read(ctx context.Context, brokers []string, topic string, k topics.Kind, ranges []diffRange, sem chan struct{}) (*diffSet, error) {
	var mu sync.Mutex
	parts := map[int32][]topics.Message{}
	err := diffScan(ctx, brokers, topic, ranges, sem, func(m topics.Message) {
		mu.Lock()
		parts[m.Partition] = append(parts[m.Partition], m)
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	set := &diffSet{byID: map[string]*diffRecord{}}
	fail := func(format string, args ...any) {
		if set.stats.FirstError == "" {
			set.stats.FirstError = fmt.Sprintf(format, args...)
		}
	}
	// Partitions in order, each in offset order: the last copy of an id
	// wins. All copies of an id share its key and so its partition.
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		for _, m := range parts[p] {
			set.stats.Records++
			id := outputID(k, m)
			if id == "" {
				set.stats.MissingID++
				fail("%s partition %d offset %d has no %s header", topic, m.Partition, m.Offset, runtime.HeaderOutputID)
				continue
			}
			rec := &diffRecord{id: id, partition: m.Partition, offset: m.Offset, value: m.Value}
			switch k {
			case topics.KindDLQ:
				rec.headers = m.Headers
			case topics.KindActions:
				var ev schemas.Event
				if _, err := schemas.DecodeWire(ctx, d.lookup, m.Value, &ev); err != nil {
					if registryFailed(err) {
						return nil, d.registryError(err)
					}
					set.stats.Undecodable++
					fail("%s partition %d offset %d: %v", topic, m.Partition, m.Offset, err)
					continue
				}
				if bookkeeping(&ev) {
					set.stats.Ignored++
					continue
				}
				rec.action = &ev
			}
			if _, ok := set.byID[id]; ok {
				set.stats.Superseded++
			}
			set.byID[id] = rec
		}
	}
	return set, nil
}

// outputID is a record's id across sides: the output id the runtime
// stamps; for a DLQ record without one, its source partition and offset,
// which a replay of the same input shares.
func outputID(k topics.Kind, m topics.Message) string {
	if id := m.Header(runtime.HeaderOutputID); len(id) > 0 {
		return string(id)
	}
	if k != topics.KindDLQ {
		return ""
	}
	p, o := m.Header(runtime.HeaderSrcPartition), m.Header(runtime.HeaderSrcOffset)
	if len(p) == 0 || len(o) == 0 {
		return ""
	}
	return "src " + string(p) + "@" + string(o)
}

// Action statuses that need normalising. A replay never executes an
// external action: where live wrote status "executed", the replay writes
// the same id with "would_execute" — the same decision, so the two compare
// equal. "executing" (written and acknowledged before the external call,
// so a new owner never calls twice) and "uncertain" (a crash left it
// unknown whether the call happened) are delivery bookkeeping around the
// call, not decisions: a replay writes neither, so both sides drop them and
// count them as ignored.
const (
	actionExecuted     = "executed"
	actionWouldExecute = "would_execute"
	actionExecuting    = "executing"
	actionUncertain    = "uncertain"
)

// bookkeeping reports whether an action record is delivery bookkeeping,
// and otherwise normalises would_execute to executed.
func bookkeeping(ev *schemas.Event) bool {
	switch s, _ := ev.Payload.String("status"); s {
	case actionExecuting, actionUncertain:
		return true
	case actionWouldExecute:
		ev.Payload["status"] = actionExecuted
	}
	return false
}

// decoded is one record decoded for comparison, with its stage.
type decoded struct {
	value   any
	stage   string
	outcome string // results: the guardian crumb's outcome
}

// dlqRecord is what a DLQ record is compared on: the original input and
// why it was refused.
type dlqRecord struct {
	Value  string `avro:"value"`
	Reason string `avro:"reason"`
	Stage  string `avro:"stage"`
	Detail string `avro:"detail"`
}

func (d *differ) decode(ctx context.Context, k topics.Kind, r *diffRecord) (decoded, error) {
	switch k {
	case topics.KindResults:
		var v schemas.MatrizResult
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Node, outcome: guardianOutcome(&v)}, nil
	case topics.KindEvents:
		var v schemas.Event
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Stage}, nil
	case topics.KindTraces:
		var v schemas.Trace
		if _, err := schemas.DecodeWire(ctx, d.lookup, r.value, &v); err != nil {
			return decoded{}, err
		}
		return decoded{value: &v, stage: v.Stage}, nil
	case topics.KindActions:
		return decoded{value: r.action, stage: r.action.Stage}, nil
	default: // DLQ
		h := func(key string) string { return string(topics.Message{Headers: r.headers}.Header(key)) }
		v := dlqRecord{Value: string(r.value), Reason: h(runtime.HeaderDLQReason), Stage: h(runtime.HeaderDLQStage), Detail: h(runtime.HeaderDLQDetail)}
		return decoded{value: &v, stage: v.Stage}, nil
	}
}

// guardianOutcome is the outcome on a result's last guardian crumb.
func guardianOutcome(r *schemas.MatrizResult) string {
	for i := len(r.Trace) - 1; i >= 0; i-- {
		if r.Trace[i].Stage == stages.StageGuardian {
			s, _ := r.Trace[i].Data.String("outcome")
			return s
		}
	}
	return ""
}

type stageKey struct {
	kind  topics.Kind
	stage string
}

// compare matches one kind's two sides and returns its counts and every
// differing record in log order; it adds to the stage and outcome counts.
func (d *differ) compare(ctx context.Context, k topics.Kind, left, right *diffSet, byStage map[stageKey]*DiffCounts, outcomes map[[2]string]int) (KindDiff, []RecordDiff, error) {
	kd := KindDiff{Kind: k, Left: left.stats, Right: right.stats}
	count := func(stage string, s DiffStatus) {
		c := byStage[stageKey{k, stage}]
		if c == nil {
			c = &DiffCounts{}
			byStage[stageKey{k, stage}] = c
		}
		c.add(s)
		kd.add(s)
	}
	undecodable := func(st *SideStats, r *diffRecord, err error) {
		st.Undecodable++
		if st.FirstError == "" {
			st.FirstError = fmt.Sprintf("%s partition %d offset %d: %v", k, r.partition, r.offset, err)
		}
	}
	var recs []RecordDiff
	for _, l := range logOrder(left.byID) {
		r, ok := right.byID[l.id]
		ld, err := d.decode(ctx, k, l)
		if registryFailed(err) {
			return kd, nil, d.registryError(err)
		}
		if err != nil {
			undecodable(&kd.Left, l, err)
			continue
		}
		if !ok {
			count(ld.stage, StatusOnlyLeft)
			recs = append(recs, RecordDiff{Kind: k, ID: l.id, Status: StatusOnlyLeft, Stage: ld.stage, Left: ld.value, Right: Absent{},
				Partition: l.partition, LeftOffset: l.offset, RightOffset: -1})
			continue
		}
		// Equal bytes are equal records; unequal bytes may still be
		// (map order), so only those are decoded on both sides.
		if k != topics.KindActions && string(l.value) == string(r.value) && (k != topics.KindDLQ || sameDLQHeaders(l, r)) {
			count(ld.stage, StatusIdentical)
			continue
		}
		rd, err := d.decode(ctx, k, r)
		if registryFailed(err) {
			return kd, nil, d.registryError(err)
		}
		if err != nil {
			undecodable(&kd.Right, r, err)
			continue
		}
		field, lv, rv, changed := FirstDifference(ld.value, rd.value)
		if !changed {
			count(ld.stage, StatusIdentical)
			continue
		}
		count(ld.stage, StatusChanged)
		if k == topics.KindResults {
			outcomes[[2]string{ld.outcome, rd.outcome}]++
		}
		recs = append(recs, RecordDiff{Kind: k, ID: l.id, Status: StatusChanged, Stage: ld.stage, Field: field, Left: lv, Right: rv,
			Partition: l.partition, LeftOffset: l.offset, RightOffset: r.offset})
	}
	for _, r := range logOrder(right.byID) {
		if _, ok := left.byID[r.id]; ok {
			continue
		}
		rd, err := d.decode(ctx, k, r)
		if registryFailed(err) {
			return kd, nil, d.registryError(err)
		}
		if err != nil {
			undecodable(&kd.Right, r, err)
			continue
		}
		count(rd.stage, StatusOnlyRight)
		recs = append(recs, RecordDiff{Kind: k, ID: r.id, Status: StatusOnlyRight, Stage: rd.stage, Left: Absent{}, Right: rd.value,
			Partition: r.partition, LeftOffset: -1, RightOffset: r.offset})
	}
	return kd, recs, nil
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
