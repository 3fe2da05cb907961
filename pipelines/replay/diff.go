package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
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
	// Scope, when set, is the replay's plan (Plan with the replay's --from
	// and --to): a left record only there is compared only if its source
	// offset is one the plan replays; the others — before a partial
	// replay's checkpoints, or records with no source offset — are counted
	// as out of scope, not as differences.
	Scope []runtime.ReplayRange
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
	d := &differ{lookup: codec.Lookup(), registryURL: cfg.RegistryURL, scope: cfg.Scope}

	rep := &DiffReport{Lane: cfg.Lane, Left: sideName(cfg.Left), Right: sideName(cfg.Right), Limit: limit}
	sem := make(chan struct{}, diffReaders)
	var all []RecordDiff
	byStage := map[stageKey]*DiffCounts{}
	outcomes := map[[2]string]int{}
	for _, k := range kinds {
		// Both sides at once: reading waits on the network, not the CPU.
		var (
			sides [2]*diffSet
			errs  [2]error
			wg    sync.WaitGroup
		)
		for i, side := range []string{cfg.Left, cfg.Right} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				topic := sideTopic(cfg.Lane, side, k)
				sides[i], errs[i] = d.read(ctx, cfg.Brokers, topic, k, ranges[topic], sem)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return nil, err
		}
		keep := -1
		if limit > 0 {
			keep = limit - len(all)
		}
		kd, recs, err := d.compare(ctx, k, sides[0], sides[1], keep, byStage, outcomes)
		if err != nil {
			return nil, err
		}
		rep.Kinds = append(rep.Kinds, kd)
		all = append(all, recs...)
	}
	rep.Records = all
	rep.Stages = sortedStages(kinds, byStage)
	rep.Outcomes = sortedOutcomes(outcomes)
	return rep, nil
}
