package registry

import (
	"fmt"
	"strings"
	"testing"
)

// diffLine renders a change compactly for the tables below.
func diffLine(c Change) string {
	return fmt.Sprintf("%s %s [%s → %s] B:%v F:%v", c.Kind, c.Path, c.Old, c.New, c.Backward.OK, c.Forward.OK)
}

func TestDiff(t *testing.T) {
	nested := func(fields ...string) string {
		return `{"type":"record","name":"M","fields":[{"name":"glyph","type":` + rec(fields...) + `}]}`
	}
	cases := []struct {
		name     string
		old, new string
		want     []string
		bwd, fwd bool
	}{
		{"no change", rec(fID, fKind), rec(fID, fKind), nil, true, true},
		{"field added with default", rec(fID), rec(fID, fKindDefault),
			[]string{`added kind [ → string, default "intent"] B:true F:true`}, true, true},
		{"field added without default", rec(fID), rec(fID, fKind),
			[]string{`added kind [ → string] B:false F:true`}, false, true},
		{"field removed without default", rec(fID, fKind), rec(fID),
			[]string{`removed kind [string → ] B:true F:false`}, true, false},
		{"promotion", rec(fID, fCountInt), rec(fID, fCountLong),
			[]string{`retyped count [int → long] B:true F:false`}, true, false},
		{"retyped string to int", rec(fID, fKind), rec(fID, fKindInt),
			[]string{`retyped kind [string → int] B:false F:false`}, false, false},
		{"default added", rec(fID, fKind), rec(fID, fKindDefault),
			[]string{`default changed kind [ → "intent"] B:true F:true`}, true, true},
		{"enum symbol added", rec(fID, fLane2), rec(fID, fLane3),
			[]string{`symbol added lane [ → prod] B:true F:false`}, true, false},
		{"enum symbol removed", rec(fID, fLane3), rec(fID, fLane2),
			[]string{`symbol removed lane [prod → ] B:false F:true`}, false, true},
		{"union branch added", rec(fID, fNote2), rec(fID, fNote3),
			[]string{`branch added note [ → long] B:true F:false`}, true, false},
		{"nested field added", nested(fID), nested(fID, fKind),
			[]string{`added glyph.kind [ → string] B:false F:true`}, false, true},
		{"renamed with alias", rec(fID, fKind), rec(fID, `{"name":"category","type":"string","aliases":["kind"]}`),
			[]string{`renamed category [kind → category] B:true F:false`}, true, false},
		{"renamed through the old field's alias", rec(fID, `{"name":"kind","type":"string","aliases":["category"]}`), rec(fID, `{"name":"category","type":"string"}`),
			[]string{`renamed category [kind → category] B:false F:true`}, false, true},
		{"union branch removed", rec(fID, fNote3), rec(fID, fNote2),
			[]string{`branch removed note [long → ] B:false F:true`}, false, true},
		{"enum default added", rec(fID, fLane2), rec(fID, `{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate"],"default":"experimental"}}`),
			[]string{`enum default changed lane [ → experimental] B:true F:true`}, true, true},
		{"enum symbol removed, new default", rec(fID, fLane3), rec(fID, `{"name":"lane","type":{"type":"enum","name":"Lane","symbols":["experimental","candidate"],"default":"experimental"}}`),
			[]string{`symbol removed lane [prod → ] B:true F:true`, `enum default changed lane [ → experimental] B:true F:true`}, true, true},
		{"record renamed", `{"type":"record","name":"M","fields":[{"name":"g","type":` + rec(fID) + `}]}`, `{"type":"record","name":"M","fields":[{"name":"g","type":{"type":"record","name":"Other","fields":[` + fID + `]}}]}`,
			[]string{`name changed g [matriz.Glyph → Other] B:false F:false`}, false, false},
		{"referenced enum changes at each use", rec(fID, fLane2, `{"name":"prev","type":"Lane"}`), rec(fID, fLane3, `{"name":"prev","type":"Lane"}`),
			[]string{`symbol added lane [ → prod] B:true F:false`, `symbol added prev [ → prod] B:true F:false`}, true, false},
		{"map values retyped", rec(`{"name":"m","type":{"type":"map","values":"string"}}`), rec(`{"name":"m","type":{"type":"map","values":"boolean"}}`),
			[]string{`retyped m{} [string → boolean] B:false F:false`}, false, false},
		{"array items promoted", rec(`{"name":"xs","type":{"type":"array","items":"int"}}`), rec(`{"name":"xs","type":{"type":"array","items":"double"}}`),
			[]string{`retyped xs[] [int → double] B:true F:false`}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Diff(c.old, c.new)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range rep.Changes {
				got = append(got, diffLine(ch))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if rep.Backward.OK != c.bwd || rep.Forward.OK != c.fwd {
				t.Errorf("overall backward %v forward %v, want %v %v (%s / %s)", rep.Backward.OK, rep.Forward.OK, c.bwd, c.fwd, rep.Backward.Why, rep.Forward.Why)
			}
			// The per-change effects explain the overall verdict: some
			// change breaks a direction exactly when the whole check does.
			for _, dir := range []struct {
				name    string
				overall bool
				get     func(Change) bool
			}{{"BACKWARD", c.bwd, func(ch Change) bool { return ch.Backward.OK }}, {"FORWARD", c.fwd, func(ch Change) bool { return ch.Forward.OK }}} {
				broken := false
				for _, ch := range rep.Changes {
					broken = broken || !dir.get(ch)
				}
				if broken == dir.overall {
					t.Errorf("%s: a change breaks it = %v, but the full check says compatible = %v", dir.name, broken, dir.overall)
				}
			}
		})
	}
}

func TestDiffInvalid(t *testing.T) {
	if _, err := Diff(`{"type":`, rec(fID)); err == nil || !strings.Contains(err.Error(), "old schema") {
		t.Fatalf("got %v", err)
	}
	if _, err := Diff(rec(fID), `nope`); err == nil || !strings.Contains(err.Error(), "new schema") {
		t.Fatalf("got %v", err)
	}
}
