package registry

import (
	"errors"
	"fmt"

	"github.com/twmb/avro"
)

// Check decides whether newSchema may follow the existing schemas (oldest
// first) under level, by the Avro specification's resolution rules. It is
// the decision the registry makes on registration, usable offline (by
// `matriz schema check`): transitive levels check every existing schema,
// the others only the last one.
//
// compatible is false when at least one rule is broken; reasons then names,
// for each broken pair, the field path, the rule and the direction, e.g.
//
//	field glyph.kind: reader field has no default and is missing from writer (BACKWARD: the new schema cannot read data written with existing schema 2)
//
// err is an *Error of kind ErrInvalidLevel or ErrInvalidSchema when the
// level or a schema cannot be used at all.
func Check(level Level, newSchema string, existing []string) (compatible bool, reasons []string, err error) {
	priors := make([]labelled, len(existing))
	for i, s := range existing {
		priors[i] = labelled{label: fmt.Sprintf("existing schema %d", i+1), text: s}
	}
	return check(level, newSchema, priors)
}

// SubjectVersion is one registered version of a subject: its number and
// schema text.
type SubjectVersion struct {
	Version int
	Schema  string
}

// CheckVersions is Check against a subject's registered versions (oldest
// first), naming each "version N" in the reasons as the registry itself
// does, so `matriz schema check --level` and the registry's own answer
// read the same.
func CheckVersions(level Level, newSchema string, versions []SubjectVersion) (compatible bool, reasons []string, err error) {
	priors := make([]labelled, len(versions))
	for i, v := range versions {
		priors[i] = labelled{label: fmt.Sprintf("version %d", v.Version), text: v.Schema}
	}
	return check(level, newSchema, priors)
}

type labelled struct{ label, text string }

func check(level Level, newSchema string, existing []labelled) (bool, []string, error) {
	if _, err := ParseLevel(string(level)); err != nil {
		return false, nil, err
	}
	next, err := parseSchema(newSchema)
	if err != nil {
		return false, nil, apiErr(ErrInvalidSchema, "invalid new schema: %v", err)
	}
	priors := make([]prior, len(existing))
	for i, e := range existing {
		ps, err := parseSchema(e.text)
		if err != nil {
			return false, nil, apiErr(ErrInvalidSchema, "invalid %s: %v", e.label, err)
		}
		priors[i] = prior{label: e.label, schema: ps}
	}
	reasons := checkParsed(level, next, priors)
	return len(reasons) == 0, reasons, nil
}

// prior is an earlier schema a new one is checked against, with the words
// that name it in a reason ("version 3").
type prior struct {
	label  string
	schema *avro.Schema
}

// checkParsed returns the broken rules of next against priors (oldest
// first) under level; none means compatible.
func checkParsed(level Level, next *avro.Schema, priors []prior) []string {
	if level == LevelNone || len(priors) == 0 {
		return nil
	}
	if !level.transitive() {
		priors = priors[len(priors)-1:]
	}
	var reasons []string
	for _, p := range priors {
		if level.backward() {
			if err := avro.CheckCompatibility(p.schema, next); err != nil {
				reasons = append(reasons, reason(err, fmt.Sprintf("%s: the new schema cannot read data written with %s", level, p.label)))
			}
		}
		if level.forward() {
			if err := avro.CheckCompatibility(next, p.schema); err != nil {
				reasons = append(reasons, reason(err, fmt.Sprintf("%s: %s cannot read data written with the new schema", level, p.label)))
			}
		}
	}
	return reasons
}

// reason turns a resolution failure into one line naming the field path
// and the rule broken, then the direction in brackets.
func reason(err error, direction string) string {
	var ce *avro.CompatibilityError
	if !errors.As(err, &ce) {
		return fmt.Sprintf("%v (%s)", err, direction)
	}
	where := "schema root"
	if ce.Path != "" && ce.Path != "(root)" {
		where = "field " + ce.Path
	}
	types := ""
	switch {
	case ce.ReaderType != "" && ce.WriterType != "":
		types = fmt.Sprintf(" (reader %s, writer %s)", ce.ReaderType, ce.WriterType)
	case ce.ReaderType != "":
		types = fmt.Sprintf(" (reader %s)", ce.ReaderType)
	}
	return fmt.Sprintf("%s: %s%s (%s)", where, ce.Detail, types, direction)
}
