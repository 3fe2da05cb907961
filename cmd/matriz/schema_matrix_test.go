package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas/registry"
)

// The compatibility matrix: schema changes whose readability in each
// direction the Avro specification decides ("Schema Resolution"), checked
// under each of the seven levels by the embedded registry over HTTP
// (through the franz-go client: the compatibility endpoint and an actual
// registration) and by `matriz schema check` run through the CLI's own
// code path, once with the registry deciding and once with --level
// checking here. Every one must give the expected verdict, and the two
// check paths must give the same reasons.

// r builds a record schema named R from field snippets.
func r(fields ...string) string {
	return `{"type":"record","name":"R","namespace":"m","fields":[` + strings.Join(fields, ",") + `]}`
}

// f is a field snippet.
func f(name, typ string, extra ...string) string {
	s := fmt.Sprintf(`{"name":%q,"type":%s`, name, typ)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

const (
	id      = `{"name":"id","type":"string"}`
	str     = `"string"`
	noDef   = ""
	enum2   = `{"type":"enum","name":"Lane","symbols":["a","b"]}`
	enum3   = `{"type":"enum","name":"Lane","symbols":["a","b","c"]}`
	enum2D  = `{"type":"enum","name":"Lane","symbols":["a","b"],"default":"a"}`
	enum3D  = `{"type":"enum","name":"Lane","symbols":["a","b","c"],"default":"a"}`
	union2  = `["null","string"]`
	union3  = `["null","string","long"]`
	nullDef = `"default":null`
)

// inner builds the nested record type G with the given fields.
func inner(name string, fields ...string) string {
	return `{"type":"record","name":"` + name + `","fields":[` + strings.Join(fields, ",") + `]}`
}

// compatCase is one schema change. bw: the new schema reads data written
// with the latest existing one; fw: the latest reads the new one's data;
// bwAll and fwAll: the same against every existing version (the
// transitive levels).
type compatCase struct {
	name         string
	chain        []string // existing versions, oldest first
	next         string
	bw, fw       bool
	bwAll, fwAll bool
}

// pair is a change against one existing version, so latest and all agree.
func pair(name, old, next string, bw, fw bool) compatCase {
	return compatCase{name: name, chain: []string{old}, next: next, bw: bw, fw: fw, bwAll: bw, fwAll: fw}
}

func compatCases() []compatCase {
	num := func(t string) string { return r(id, f("n", `"`+t+`"`)) }
	return []compatCase{
		pair("no change", r(id), r(id), true, true),
		// Fields added and removed.
		pair("field added with default", r(id), r(id, f("kind", str, `"default":"intent"`)), true, true),
		pair("field added without default", r(id), r(id, f("kind", str)), false, true),
		pair("nullable field added with null default", r(id), r(id, f("sid", union2, nullDef)), true, true),
		pair("field removed that had a default", r(id, f("kind", str, `"default":"intent"`)), r(id), true, true),
		pair("field removed that had no default", r(id, f("kind", str)), r(id), true, false),
		pair("default changed", r(id, f("kind", str, `"default":"a"`)), r(id, f("kind", str, `"default":"b"`)), true, true),
		pair("default added", r(id, f("kind", str)), r(id, f("kind", str, `"default":"a"`)), true, true),
		// Promotions, and the reverse narrowing.
		pair("int to long", num("int"), num("long"), true, false),
		pair("int to float", num("int"), num("float"), true, false),
		pair("int to double", num("int"), num("double"), true, false),
		pair("long to float", num("long"), num("float"), true, false),
		pair("long to double", num("long"), num("double"), true, false),
		pair("float to double", num("float"), num("double"), true, false),
		pair("long to int (narrowed)", num("long"), num("int"), false, true),
		pair("double to float (narrowed)", num("double"), num("float"), false, true),
		pair("double to long (narrowed)", num("double"), num("long"), false, true),
		pair("float to int (narrowed)", num("float"), num("int"), false, true),
		pair("string to bytes", num("string"), num("bytes"), true, true),
		pair("bytes to string", num("bytes"), num("string"), true, true),
		pair("string to int", num("string"), num("int"), false, false),
		pair("boolean to int", num("boolean"), num("int"), false, false),
		pair("array items int to long", r(f("xs", `{"type":"array","items":"int"}`)), r(f("xs", `{"type":"array","items":"long"}`)), true, false),
		pair("map values float to double", r(f("m", `{"type":"map","values":"float"}`)), r(f("m", `{"type":"map","values":"double"}`)), true, false),
		pair("logical type changed on the same long", r(f("t", `{"type":"long","logicalType":"timestamp-millis"}`)), r(f("t", `{"type":"long","logicalType":"timestamp-micros"}`)), true, true),
		pair("fixed size changed", r(f("h", `{"type":"fixed","name":"H","size":16}`)), r(f("h", `{"type":"fixed","name":"H","size":32}`)), false, false),
		// Enums.
		pair("enum symbol added, no enum default", r(f("lane", enum2)), r(f("lane", enum3)), true, false),
		pair("enum symbol added, old enum has a default", r(f("lane", enum2D)), r(f("lane", enum3D)), true, true),
		pair("enum symbol removed, no enum default", r(f("lane", enum3)), r(f("lane", enum2)), false, true),
		pair("enum symbol removed, new enum has a default", r(f("lane", enum3)), r(f("lane", enum2D)), true, true),
		pair("enum default added", r(f("lane", enum2)), r(f("lane", enum2D)), true, true),
		// Unions.
		pair("union branch added", r(f("note", union2, nullDef)), r(f("note", union3, nullDef)), true, false),
		pair("union branch removed", r(f("note", union3, nullDef)), r(f("note", union2, nullDef)), false, true),
		pair("type widened to a union holding it", r(f("note", str)), r(f("note", union2)), true, false),
		pair("union narrowed to one of its types", r(f("note", union2)), r(f("note", str)), false, true),
		pair("union branch promoted int to long", r(f("n", `["null","int"]`)), r(f("n", `["null","long"]`)), true, false),
		// Nested records.
		pair("nested field added with default", r(f("g", inner("G", id))), r(f("g", inner("G", id, f("kind", str, `"default":""`)))), true, true),
		pair("nested field added without default", r(f("g", inner("G", id))), r(f("g", inner("G", id, f("kind", str)))), false, true),
		pair("nested field removed without default", r(f("g", inner("G", id, f("kind", str)))), r(f("g", inner("G", id))), true, false),
		pair("nested field retyped string to int", r(f("g", inner("G", id, f("kind", str)))), r(f("g", inner("G", id, f("kind", `"int"`)))), false, false),
		pair("nested field promoted int to long", r(f("g", inner("G", f("n", `"int"`)))), r(f("g", inner("G", f("n", `"long"`)))), true, false),
		pair("nested record renamed without alias", r(f("g", inner("G", id))), r(f("g", inner("H", id))), false, false),
		pair("nested record renamed with an alias", r(f("g", inner("G", id))), r(f("g", `{"type":"record","name":"H","aliases":["G"],"fields":[`+id+`]}`)), true, false),
		pair("nested record in a nullable union gains a field", r(f("c", `["null",`+inner("C", f("ok", `"boolean"`))+`]`, nullDef)), r(f("c", `["null",`+inner("C", f("ok", `"boolean"`), f("why", str))+`]`, nullDef)), false, true),
		// Field aliases.
		pair("field renamed with an alias", r(id, f("kind", str)), r(id, f("category", str, `"aliases":["kind"]`)), true, false),
		pair("field renamed with an alias, old field had a default", r(id, f("kind", str, `"default":""`)), r(id, f("category", str, `"aliases":["kind"]`)), true, true),
		pair("field renamed without an alias", r(id, f("kind", str)), r(id, f("category", str)), false, false),
		pair("field renamed without an alias, both with defaults", r(id, f("kind", str, `"default":""`)), r(id, f("category", str, `"default":""`)), true, true),
		// Aliases work for the reader only: here the old schema, when it
		// reads new data (FORWARD).
		pair("alias on the old field only", r(id, f("kind", str, `"aliases":["category"]`)), r(id, f("category", str)), false, true),
		// Three-version chains: the new schema is fine with the latest
		// version, so only a transitive level refuses it.
		{name: "chain: field gains a default, then loses it",
			chain: []string{r(id), r(id, f("kind", str, `"default":"x"`))}, next: r(id, f("kind", str)),
			bw: true, fw: true, bwAll: false, fwAll: true},
		{name: "chain: field gains a default, then is removed",
			chain: []string{r(id, f("kind", str)), r(id, f("kind", str, `"default":"x"`))}, next: r(id),
			bw: true, fw: true, bwAll: true, fwAll: false},
		{name: "chain: field removed, then back with another type",
			chain: []string{r(id, f("x", str)), r(id)}, next: r(id, f("x", `"int"`, `"default":0`)),
			bw: true, fw: true, bwAll: false, fwAll: false},
		{name: "chain: enum gains a default, then a symbol",
			chain: []string{r(f("lane", enum2)), r(f("lane", enum2D))}, next: r(f("lane", enum3D)),
			bw: true, fw: true, bwAll: true, fwAll: false},
	}
}

// want is the verdict level gives c.
func (c compatCase) want(l registry.Level) bool {
	switch l {
	case registry.LevelNone:
		return true
	case registry.LevelBackward:
		return c.bw
	case registry.LevelBackwardTransitive:
		return c.bwAll
	case registry.LevelForward:
		return c.fw
	case registry.LevelForwardTransitive:
		return c.fwAll
	case registry.LevelFull:
		return c.bw && c.fw
	case registry.LevelFullTransitive:
		return c.bwAll && c.fwAll
	}
	panic("unknown level " + l)
}

func TestCompatibilityMatrix(t *testing.T) {
	url := embeddedRegistry(t)
	cl, err := serde.NewRegistryClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	cases := compatCases()
	total, perLevel := 0, map[registry.Level][2]int{}
	for ci, c := range cases {
		file := filepath.Join(dir, fmt.Sprintf("case%02d.avsc", ci))
		if err := os.WriteFile(file, []byte(c.next), 0o644); err != nil {
			t.Fatal(err)
		}
		if c.bwAll && !c.bw || c.fwAll && !c.fw {
			t.Fatalf("%s: a transitive verdict cannot be kinder than the latest-only one", c.name)
		}
		for _, l := range registry.Levels {
			want := c.want(l)
			total++
			counts := perLevel[l]
			if want {
				counts[0]++
			} else {
				counts[1]++
			}
			perLevel[l] = counts
			t.Run(fmt.Sprintf("%s/%s", l, c.name), func(t *testing.T) {
				subject := fmt.Sprintf("case%02d-%s", ci, strings.ToLower(string(l)))
				setLevel(t, cl, subject, registry.LevelNone)
				for _, s := range c.chain {
					if _, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: s, Type: sr.TypeAvro}); err != nil {
						t.Fatalf("registering the chain: %v", err)
					}
				}
				setLevel(t, cl, subject, l)

				// 1. The registry's compatibility endpoint, over HTTP.
				res, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -2, sr.Schema{Schema: c.next, Type: sr.TypeAvro})
				if err != nil {
					t.Fatal(err)
				}
				if res.Is != want {
					t.Errorf("registry endpoint: compatible = %v, want %v (%q)", res.Is, want, res.Messages)
				}
				// 2. matriz schema check, the registry deciding.
				code, out, errOut := runCLI("schema", "check", file, "--subject", subject, "--registry", url)
				if (code == 0) != want || (code != 0 && code != 1) {
					t.Errorf("matriz schema check: exit %d, want compatible = %v\n%s%s", code, want, out, errOut)
				}
				// 3. matriz schema check --level, checked here.
				code2, out2, errOut2 := runCLI("schema", "check", file, "--subject", subject, "--level", string(l), "--registry", url)
				if (code2 == 0) != want || (code2 != 0 && code2 != 1) {
					t.Errorf("matriz schema check --level: exit %d, want compatible = %v\n%s%s", code2, want, out2, errOut2)
				}
				if reasonsOf(out) != reasonsOf(out2) || reasonsOf(out) != strings.Join(res.Messages, "\n") {
					t.Errorf("the paths give different reasons:\nregistry endpoint %q\ncheck             %q\ncheck --level     %q", res.Messages, reasonsOf(out), reasonsOf(out2))
				}
				if !want && !strings.Contains(out, "  field ") && !strings.Contains(out, "  schema root") {
					t.Errorf("incompatible without a field path:\n%s", out)
				}
				// 4. Registration itself: accepted, or refused with 409.
				_, err = cl.CreateSchema(ctx, subject, sr.Schema{Schema: c.next, Type: sr.TypeAvro})
				var re *sr.ResponseError
				switch {
				case want && err != nil:
					t.Errorf("registration refused: %v", err)
				case !want && (!errors.As(err, &re) || re.StatusCode != 409):
					t.Errorf("registration: got %v, want 409", err)
				}
			})
		}
	}
	levels := slices.Clone(registry.Levels)
	var summary []string
	for _, l := range levels {
		summary = append(summary, fmt.Sprintf("%s %d/%d", l, perLevel[l][0], perLevel[l][1]))
	}
	t.Logf("%d changes × %d levels = %d cases, each checked 4 ways (compatible/incompatible per level: %s)",
		len(cases), len(levels), total, strings.Join(summary, ", "))
	for _, l := range levels {
		if l != registry.LevelNone && (perLevel[l][0] == 0 || perLevel[l][1] == 0) {
			t.Errorf("level %s: the table does not both accept and refuse", l)
		}
	}
}

// reasonsOf returns the indented reason lines of check's output.
func reasonsOf(out string) string {
	var rs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  ") {
			rs = append(rs, strings.TrimPrefix(line, "  "))
		}
	}
	return strings.Join(rs, "\n")
}

func setLevel(t *testing.T, cl *sr.Client, subject string, l registry.Level) {
	t.Helper()
	var level sr.CompatibilityLevel
	if err := level.UnmarshalText([]byte(l)); err != nil {
		t.Fatal(err)
	}
	if res := cl.SetCompatibility(context.Background(), sr.SetCompatibility{Level: level}, subject); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

// TestDiffExplainsMatrix runs `matriz schema diff`'s analysis on every
// change of the matrix (against the latest existing version): its verdicts
// are the expected ones, and some listed change breaks a direction exactly
// when that direction is broken, so the change list explains the verdict.
func TestDiffExplainsMatrix(t *testing.T) {
	for _, c := range compatCases() {
		t.Run(c.name, func(t *testing.T) {
			rep, err := registry.Diff(c.chain[len(c.chain)-1], c.next)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Backward.OK != c.bw || rep.Forward.OK != c.fw {
				t.Fatalf("verdicts backward %v forward %v, want %v %v", rep.Backward, rep.Forward, c.bw, c.fw)
			}
			brokenB, brokenF := false, false
			for _, ch := range rep.Changes {
				brokenB = brokenB || !ch.Backward.OK
				brokenF = brokenF || !ch.Forward.OK
				if ch.Path == "" || ch.Backward.Why == "" || ch.Forward.Why == "" {
					t.Errorf("change without a path or a reason: %+v", ch)
				}
			}
			if brokenB == c.bw || brokenF == c.fw {
				t.Errorf("changes do not explain the verdicts (backward %v, forward %v):", c.bw, c.fw)
				for _, ch := range rep.Changes {
					t.Logf("  %s %s [%s → %s]: BACKWARD %s; FORWARD %s", ch.Path, ch.Kind, ch.Old, ch.New, ch.Backward, ch.Forward)
				}
			}
			if c.name != "no change" && !strings.HasPrefix(c.name, "chain") && len(rep.Changes) == 0 {
				t.Error("a change with no change listed")
			}
		})
	}
}
