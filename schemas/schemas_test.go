package schemas

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSchemasLoad(t *testing.T) {
	for _, n := range Names {
		s, err := Schema(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if root := s.Root(); root.Name != string(n) || root.Namespace != "matriz" {
			t.Errorf("%s: schema is %s.%s", n, root.Namespace, root.Name)
		}
		text, err := Text(n)
		if err != nil || !strings.Contains(text, `"name":"`+string(n)+`"`) {
			t.Errorf("%s: Text = %.80s..., %v", n, text, err)
		}
	}
	if _, err := Schema("Nope"); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("unknown schema: %v", err)
	}
	if _, err := Text("Nope"); err == nil {
		t.Error("Text of an unknown schema gave no error")
	}
}

func TestNameOf(t *testing.T) {
	got := []Name{NameOf[Glyph](), NameOf[MatrizMessage](), NameOf[MatrizResult](), NameOf[Event](), NameOf[Trace]()}
	if !slices.Equal(got, Names) {
		t.Fatalf("NameOf = %v, want %v", got, Names)
	}
}

// TestGoTypesMatchSchemas checks the Go structs against the .avsc files:
// same fields in the same order (the order the writer in encode.go writes),
// and the enum symbol lists the writer indexes into.
func TestGoTypesMatchSchemas(t *testing.T) {
	types := map[Name]reflect.Type{
		NameGlyph: reflect.TypeFor[Glyph](), NameMessage: reflect.TypeFor[MatrizMessage](),
		NameResult: reflect.TypeFor[MatrizResult](), NameEvent: reflect.TypeFor[Event](), NameTrace: reflect.TypeFor[Trace](),
	}
	enums := map[string][]string{}
	for name, typ := range types {
		s, err := Schema(name)
		if err != nil {
			t.Fatal(err)
		}
		var avsc []string
		for _, f := range s.Root().Fields {
			avsc = append(avsc, f.Name)
			if f.Type.Type == "enum" {
				enums[f.Type.Name] = f.Type.Symbols
			}
			if f.Type.Type == "array" && f.Type.Items.Type == "record" {
				var crumb []string
				for _, cf := range f.Type.Items.Fields {
					crumb = append(crumb, cf.Name)
				}
				if want := tagNames(reflect.TypeFor[Crumb]()); !slices.Equal(crumb, want) {
					t.Errorf("Crumb fields %v, Go %v", crumb, want)
				}
			}
		}
		if want := tagNames(typ); !slices.Equal(avsc, want) {
			t.Errorf("%s: avsc fields %v, Go fields %v", name, avsc, want)
		}
	}
	checks := map[string][]string{
		"Lane": symbolStrings(Lanes), "EventKind": symbolStrings(EventKinds), "RiskClass": symbolStrings(RiskClasses),
	}
	for enum, goSymbols := range checks {
		if !slices.Equal(enums[enum], goSymbols) {
			t.Errorf("%s: avsc symbols %v, Go %v", enum, enums[enum], goSymbols)
		}
	}
	for _, l := range Lanes {
		if !l.Valid() {
			t.Errorf("%s not valid", l)
		}
	}
	if Lane("staging").Valid() || Lane("").Valid() {
		t.Error("unknown lane valid")
	}
}

func tagNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		out = append(out, t.Field(i).Tag.Get("avro"))
	}
	return out
}

func symbolStrings[S ~string](symbols []S) []string {
	out := make([]string, len(symbols))
	for i, s := range symbols {
		out[i] = string(s)
	}
	return out
}
