package registry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// rec builds a record schema named Glyph from field JSON snippets.
func rec(fields ...string) string {
	return `{"type":"record","name":"Glyph","namespace":"matriz","fields":[` + strings.Join(fields, ",") + `]}`
}

const (
	fID          = `{"name":"id","type":"string"}`
	fKind        = `{"name":"kind","type":"string"}`
	fKindDefault = `{"name":"kind","type":"string","default":"intent"}`
	fKindInt     = `{"name":"kind","type":"int"}`
	fCountInt    = `{"name":"count","type":"int"}`
	fCountLong   = `{"name":"count","type":"long"}`
	fLane2       = `{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate"]}}`
	fLane3       = `{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate","prod"]}}`
	fNote2       = `{"name":"note","type":["null","string"],"default":null}`
	fNote3       = `{"name":"note","type":["null","string","long"],"default":null}`
)

// evolution is one schema change, with whether the new schema reads old
// data (backward) and whether the old schema reads new data (forward), by
// the Avro resolution rules; field is the path a failure must name.
type evolution struct {
	name          string
	old, new      string
	backward, fwd bool
	field         string
}

var evolutions = []evolution{
	{"field added with default", rec(fID), rec(fID, fKindDefault), true, true, "kind"},
	{"field added without default", rec(fID), rec(fID, fKind), false, true, "kind"},
	{"field removed with default", rec(fID, fKindDefault), rec(fID), true, true, "kind"},
	{"field removed without default", rec(fID, fKind), rec(fID), true, false, "kind"},
	{"int to long promotion", rec(fID, fCountInt), rec(fID, fCountLong), true, false, "count"},
	{"enum symbol added", rec(fID, fLane2), rec(fID, fLane3), true, false, "lane"},
	{"union widened", rec(fID, fNote2), rec(fID, fNote3), true, false, "note"},
	{"field type changed string to int", rec(fID, fKind), rec(fID, fKindInt), false, false, "kind"},
}

// want is the verdict a level gives an evolution: the levels are defined
// by the two directions alone.
func (e evolution) want(l Level) bool {
	switch {
	case l == LevelNone:
		return true
	case l.backward() && l.forward():
		return e.backward && e.fwd
	case l.backward():
		return e.backward
	default:
		return e.fwd
	}
}

func TestCheckEvolutionsEveryLevel(t *testing.T) {
	for _, l := range Levels {
		var nCompatible, nIncompatible int
		for _, e := range evolutions {
			t.Run(fmt.Sprintf("%s/%s", l, e.name), func(t *testing.T) {
				ok, reasons, err := Check(l, e.new, []string{e.old})
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if ok != e.want(l) {
					t.Fatalf("compatible = %v, want %v (reasons %q)", ok, e.want(l), reasons)
				}
				if ok {
					if len(reasons) != 0 {
						t.Fatalf("compatible but reasons %q", reasons)
					}
					return
				}
				if len(reasons) == 0 {
					t.Fatal("incompatible without a reason")
				}
				for _, r := range reasons {
					if !strings.Contains(r, "field "+e.field+":") || !strings.Contains(r, string(l)) {
						t.Errorf("reason %q does not name field %s and level %s", r, e.field, l)
					}
				}
			})
			if e.want(l) {
				nCompatible++
			} else {
				nIncompatible++
			}
		}
		// Every level is shown accepting and refusing something, except
		// NONE, which by definition refuses nothing.
		if nCompatible == 0 || (l != LevelNone && nIncompatible == 0) {
			t.Errorf("level %s: %d compatible and %d incompatible evolutions in the table", l, nCompatible, nIncompatible)
		}
	}
}

func TestCheckReasonNamesNestedPathAndRule(t *testing.T) {
	msg := func(glyphFields ...string) string {
		return `{"type":"record","name":"MatrizMessage","fields":[{"name":"glyph","type":` + rec(glyphFields...) + `}]}`
	}
	ok, reasons, err := Check(LevelBackward, msg(fID, fKind), []string{msg(fID)})
	if err != nil || ok {
		t.Fatalf("Check = %v, %v; want incompatible", ok, err)
	}
	want := "field glyph.kind: reader field has no default and is missing from writer (reader string) (BACKWARD: the new schema cannot read data written with existing schema 1)"
	if len(reasons) != 1 || reasons[0] != want {
		t.Fatalf("reasons = %q\nwant [%q]", reasons, want)
	}
}

func TestCheckFullReportsBothDirections(t *testing.T) {
	ok, reasons, err := Check(LevelFull, rec(fID, fKindInt), []string{rec(fID, fKind)})
	if err != nil || ok {
		t.Fatalf("Check = %v, %v; want incompatible", ok, err)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "the new schema cannot read") || !strings.Contains(reasons[1], "cannot read data written with the new schema") {
		t.Fatalf("reasons = %q, want one per direction", reasons)
	}
	if !strings.Contains(reasons[0], "incompatible types (reader int, writer string)") {
		t.Fatalf("reason %q does not name the rule and types", reasons[0])
	}
}

// Transitive chains: the new schema is compatible with the latest version
// but not with the first, so only the transitive level refuses it.
var transitiveChains = []struct {
	name        string
	level, flat Level
	chain       []string
	next        string
}{
	{
		name:  "backward",
		level: LevelBackwardTransitive, flat: LevelBackward,
		// v3 reads v2 (kind is there) but not v1 (no kind, no default).
		chain: []string{rec(fID), rec(fID, fKindDefault)},
		next:  rec(fID, fKind),
	},
	{
		name:  "forward",
		level: LevelForwardTransitive, flat: LevelForward,
		// v2 reads v3 through kind's default; v1 has no default.
		chain: []string{rec(fID, fKind), rec(fID, fKindDefault)},
		next:  rec(fID),
	},
	{
		name:  "full",
		level: LevelFullTransitive, flat: LevelFull,
		chain: []string{rec(fID, fKind), rec(fID, fKindDefault)},
		next:  rec(fID),
	},
}

func TestCheckTransitiveVersusLatestOnly(t *testing.T) {
	for _, c := range transitiveChains {
		t.Run(c.name, func(t *testing.T) {
			ok, reasons, err := Check(c.flat, c.next, c.chain)
			if err != nil || !ok {
				t.Fatalf("%s: compatible = %v, err %v, reasons %q; want compatible with the latest", c.flat, ok, err, reasons)
			}
			ok, reasons, err = Check(c.level, c.next, c.chain)
			if err != nil || ok {
				t.Fatalf("%s: compatible = %v, err %v; want refused", c.level, ok, err)
			}
			if len(reasons) != 1 || !strings.Contains(reasons[0], "existing schema 1") || !strings.Contains(reasons[0], "field kind") {
				t.Fatalf("reasons = %q, want one naming existing schema 1 and field kind", reasons)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	cases := []struct {
		name     string
		level    Level
		next     string
		existing []string
		kind     error
		code     int
	}{
		{"unknown level", "SIDEWAYS", rec(fID), nil, ErrInvalidLevel, CodeInvalidLevel},
		{"new schema not JSON", LevelBackward, `{"type":`, nil, ErrInvalidSchema, CodeInvalidSchema},
		{"new schema unknown type", LevelBackward, `{"type":"nosuch"}`, nil, ErrInvalidSchema, CodeInvalidSchema},
		{"new schema empty", LevelBackward, "  ", nil, ErrInvalidSchema, CodeInvalidSchema},
		{"existing schema invalid", LevelBackward, rec(fID), []string{`{"type":"record"}`}, ErrInvalidSchema, CodeInvalidSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Check(c.level, c.next, c.existing)
			var e *Error
			if !errors.Is(err, c.kind) || !errors.As(err, &e) || e.Code != c.code {
				t.Fatalf("err = %v, want kind %v code %d", err, c.kind, c.code)
			}
		})
	}
}

func TestCheckLowercaseLevelAndNoExisting(t *testing.T) {
	ok, reasons, err := Check("backward", rec(fID), nil)
	if err != nil || !ok || reasons != nil {
		t.Fatalf("Check = %v, %q, %v; want compatible: nothing to break", ok, reasons, err)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range Levels {
		got, err := ParseLevel(strings.ToLower(string(l)))
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %q, %v", strings.ToLower(string(l)), got, err)
		}
	}
	if _, err := ParseLevel("BACKWARDS"); !errors.Is(err, ErrInvalidLevel) || !strings.Contains(err.Error(), "FULL_TRANSITIVE") {
		t.Fatalf("ParseLevel(BACKWARDS) err = %v, want ErrInvalidLevel listing valid levels", err)
	}
}
