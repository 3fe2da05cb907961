package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/schemas/registry"
)

// SchemaTool is what `matriz schema` does against a schema registry: list
// subjects, show and register schemas, check a schema's compatibility, and
// read or set compatibility levels. Every call goes through the franz-go
// registry client, so it works against the embedded registry, Confluent
// Schema Registry, Karapace and Redpanda alike.
type SchemaTool struct {
	client *sr.Client
	url    string
}

// Errors of SchemaTool, each wrapped with what was asked.
var (
	// ErrSubjectNotFound: the registry has no such subject.
	ErrSubjectNotFound = errors.New("subject not found")
	// ErrSchemaRefused: the registry refused to register a schema (409
	// incompatible, or an invalid schema).
	ErrSchemaRefused = errors.New("the registry refused the schema")
)

// NewSchemaTool returns a tool for the registry at registryURL.
func NewSchemaTool(registryURL string) (*SchemaTool, error) {
	cl, err := serde.NewRegistryClient(registryURL)
	if err != nil {
		return nil, err
	}
	return &SchemaTool{client: cl, url: registryURL}, nil
}

// fail turns a registry client error into one line that says what was
// asked and what to do.
func (t *SchemaTool) fail(what string, err error) error {
	if serde.Unreachable(err) {
		return &serde.RegistryUnreachableError{URL: t.url, Err: err}
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		case registry.CodeSubjectNotFound:
			return fmt.Errorf("%s: %w in the registry at %s (`matriz schema list` shows the subjects)", what, ErrSubjectNotFound, t.url)
		case registry.CodeVersionNotFound:
			return fmt.Errorf("%s: no such version (`matriz schema list` shows each subject's versions)", what)
		}
		return fmt.Errorf("%s: %s (error code %d)", what, oneLine(re.Message), re.ErrorCode)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// SubjectSummary is one line of `matriz schema list`.
type SubjectSummary struct {
	Subject  string
	Versions []int
	LatestID int
}

// List returns every subject with its versions and the id of its latest
// schema, sorted by subject.
func (t *SchemaTool) List(ctx context.Context) ([]SubjectSummary, error) {
	subs, err := t.client.Subjects(ctx)
	if err != nil {
		return nil, t.fail("listing subjects", err)
	}
	slices.Sort(subs)
	out := make([]SubjectSummary, 0, len(subs))
	for _, s := range subs {
		vs, err := t.client.SubjectVersions(ctx, s)
		if err != nil {
			return nil, t.fail("versions of "+s, err)
		}
		latest, err := t.client.SchemaByVersion(ctx, s, -1)
		if err != nil {
			return nil, t.fail("latest schema of "+s, err)
		}
		out = append(out, SubjectSummary{Subject: s, Versions: vs, LatestID: latest.ID})
	}
	return out, nil
}

// Show returns one version of subject (version -1: the latest).
func (t *SchemaTool) Show(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	s, err := t.client.SchemaByVersion(ctx, subject, version)
	if err != nil {
		v := fmt.Sprint(version)
		if version == -1 {
			v = "latest"
		}
		return s, t.fail(fmt.Sprintf("subject %s version %s", subject, v), err)
	}
	return s, nil
}

// RegisterResult says what registering did.
type RegisterResult struct {
	Subject string
	ID      int
	Version int
	New     bool // false: the subject already had this schema
}

func (r RegisterResult) String() string {
	if !r.New {
		return fmt.Sprintf("%s already has this schema: version %d, id %d", r.Subject, r.Version, r.ID)
	}
	return fmt.Sprintf("registered %s version %d, id %d", r.Subject, r.Version, r.ID)
}

// Register adds an Avro schema text to subject under the subject's
// compatibility level. A refusal is an error wrapping ErrSchemaRefused
// with the registry's reason (for 409, the field and the rule).
func (t *SchemaTool) Register(ctx context.Context, subject, text string) (RegisterResult, error) {
	schema := sr.Schema{Schema: text, Type: sr.TypeAvro}
	if got, err := t.client.LookupSchema(ctx, subject, schema); err == nil {
		return RegisterResult{Subject: subject, ID: got.ID, Version: got.Version}, nil
	} else if serde.Unreachable(err) {
		return RegisterResult{}, &serde.RegistryUnreachableError{URL: t.url, Err: err}
	}
	got, err := register(ctx, t.client, subject, schema)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.ErrorCode == registry.CodeIncompatible || re.ErrorCode == registry.CodeInvalidSchema) {
			return RegisterResult{}, fmt.Errorf("%w (HTTP %d, error code %d): %s", ErrSchemaRefused, re.StatusCode, re.ErrorCode, oneLine(re.Message))
		}
		return RegisterResult{}, t.fail("registering under "+subject, err)
	}
	return RegisterResult{Subject: subject, ID: got.ID, Version: got.Version, New: true}, nil
}

// CheckReport is the answer of `matriz schema check`.
type CheckReport struct {
	Subject    string
	Level      registry.Level
	ByRegistry bool  // true: the registry checked (its configured level); false: checked here
	Against    []int // the versions there were to check against
	Compatible bool
	Reasons    []string // one per broken rule: field path, rule, direction
}

// Check decides whether text may follow subject's versions. A subject the
// registry does not have is an error wrapping ErrSubjectNotFound that
// names the closest existing subject (a typo would otherwise pass as a
// first version), unless allowNew says the subject is meant to be new. With level ""
// the registry decides, under the subject's configured level, through its
// compatibility endpoint (verbose); with a level, the check runs here
// (registry.CheckVersions) against the versions fetched from the registry.
// Both answers agree on the embedded registry, reasons included.
func (t *SchemaTool) Check(ctx context.Context, subject, text string, level registry.Level, allowNew bool) (CheckReport, error) {
	rep := CheckReport{Subject: subject, Level: level, ByRegistry: level == ""}
	if _, _, err := registry.Check(registry.LevelNone, text, nil); err != nil {
		return rep, err // names what is wrong with the schema
	}
	all, err := t.client.Schemas(ctx, subject)
	var re *sr.ResponseError
	switch {
	case errors.As(err, &re) && re.ErrorCode == registry.CodeSubjectNotFound:
		if !allowNew {
			return rep, t.noSubject(ctx, subject)
		}
		all = nil
	case err != nil:
		return rep, t.fail("versions of "+subject, err)
	}
	slices.SortFunc(all, func(a, b sr.SubjectSchema) int { return a.Version - b.Version })
	for _, s := range all {
		rep.Against = append(rep.Against, s.Version)
	}
	if rep.ByRegistry {
		lvl, _, err := t.Level(ctx, subject)
		if err != nil {
			return rep, err
		}
		rep.Level = lvl
		res, err := t.client.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -2, sr.Schema{Schema: text, Type: sr.TypeAvro})
		if err != nil {
			return rep, t.fail("checking against "+subject, err)
		}
		rep.Compatible, rep.Reasons = res.Is, res.Messages
		if !rep.Compatible && len(rep.Reasons) == 0 {
			rep.Reasons = []string{"the registry gave no reason (it may not support verbose compatibility answers)"}
		}
		return rep, nil
	}
	versions := make([]registry.SubjectVersion, len(all))
	for i, s := range all {
		text, err := t.withReferences(ctx, s.Schema, 0)
		if err != nil {
			return rep, fmt.Errorf("%s version %d: %w", subject, s.Version, err)
		}
		versions[i] = registry.SubjectVersion{Version: s.Version, Schema: text}
	}
	ok, reasons, err := registry.CheckVersions(level, text, versions)
	if err != nil {
		return rep, err
	}
	rep.Compatible, rep.Reasons = ok, reasons
	return rep, nil
}

// withReferences returns a registered schema's text with the Confluent
// schema references it declares inlined, fetched from the registry
// (references of references too), so a check here can parse it.
func (t *SchemaTool) withReferences(ctx context.Context, s sr.Schema, depth int) (string, error) {
	if len(s.References) == 0 {
		return s.Schema, nil
	}
	if depth > 16 {
		return "", errors.New("schema references nest deeper than 16 (a cycle?)")
	}
	var cache avro.SchemaCache
	for _, ref := range s.References {
		got, err := t.client.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return "", t.fail(fmt.Sprintf("reference %s (subject %s version %d)", ref.Name, ref.Subject, ref.Version), err)
		}
		text, err := t.withReferences(ctx, got.Schema, depth+1)
		if err != nil {
			return "", err
		}
		if _, err := cache.Parse(text); err != nil {
			return "", fmt.Errorf("reference %s: %w", ref.Name, err)
		}
	}
	parsed, err := cache.Parse(s.Schema)
	if err != nil {
		return "", err
	}
	return parsed.String(), nil
}

// noSubject is the error for a subject the registry does not have: it
// names the closest subject it has, by edit distance.
func (t *SchemaTool) noSubject(ctx context.Context, subject string) error {
	subs, err := t.client.Subjects(ctx)
	if err != nil {
		return t.fail("listing subjects", err)
	}
	hint := "the registry has no subjects yet"
	if c := Closest(subject, subs); c != "" {
		hint = fmt.Sprintf("did you mean %s?", c)
	}
	return fmt.Errorf("subject %s: %w in the registry at %s; %s (pass --new to check a new subject's first schema)", subject, ErrSubjectNotFound, t.url, hint)
}

// Closest returns the candidate nearest to s by edit distance (ties: the
// first in sorted order), or "" when there are none.
func Closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// StandaloneSchema returns an .avsc file's schema with the named types the
// project's schemas share inlined (schemas.Standalone): the shipped
// message_v2.avsc references matriz.StringList from strings.avsc.
func StandaloneSchema(text string) (string, error) { return schemas.Standalone(text) }

// Level returns the compatibility level that governs subject (subject ""
// for the global one), and whether the subject has a level of its own.
func (t *SchemaTool) Level(ctx context.Context, subject string) (registry.Level, bool, error) {
	if subject != "" {
		res := t.client.Compatibility(ctx, subject)[0]
		var re *sr.ResponseError
		switch {
		case res.Err == nil:
			return registry.Level(res.Level.String()), true, nil
		case errors.As(res.Err, &re) && (re.ErrorCode == registry.CodeSubjectLevelNotSet || re.ErrorCode == registry.CodeSubjectNotFound):
		default:
			return "", false, t.fail("compatibility level of "+subject, res.Err)
		}
	}
	res := t.client.Compatibility(ctx)[0]
	if res.Err != nil {
		return "", false, t.fail("global compatibility level", res.Err)
	}
	return registry.Level(res.Level.String()), false, nil
}

// SetLevel sets subject's compatibility level (subject "": the global
// one) and returns the level that governed it before.
func (t *SchemaTool) SetLevel(ctx context.Context, subject string, level registry.Level) (before registry.Level, err error) {
	before, _, err = t.Level(ctx, subject)
	if err != nil {
		return "", err
	}
	var cl sr.CompatibilityLevel
	if err := cl.UnmarshalText([]byte(level)); err != nil {
		return "", fmt.Errorf("level %s: %w", level, err)
	}
	var res []sr.CompatibilityResult
	if subject == "" {
		res = t.client.SetCompatibility(ctx, sr.SetCompatibility{Level: cl})
	} else {
		res = t.client.SetCompatibility(ctx, sr.SetCompatibility{Level: cl}, subject)
	}
	if res[0].Err != nil {
		return "", t.fail("setting the compatibility level", res[0].Err)
	}
	return before, nil
}

// Level is a compatibility level: NONE, BACKWARD, BACKWARD_TRANSITIVE,
// FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE.
type Level = registry.Level

// DiffReport is what changed between two schemas and what each change
// means for BACKWARD and FORWARD; Effect is one direction's verdict.
type (
	DiffReport = registry.DiffReport
	Effect     = registry.Effect
)

// ParseLevel reads a compatibility level.
func ParseLevel(s string) (Level, error) { return registry.ParseLevel(s) }

// Diff compares two schema texts offline.
func Diff(oldText, newText string) (DiffReport, error) { return registry.Diff(oldText, newText) }
