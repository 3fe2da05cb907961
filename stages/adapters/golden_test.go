package adapters_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/stages/adapters"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/adapters")

const goldenDir = "../../testdata/adapters"

// goldenCase is one fixture: a node and one input message.
type goldenCase struct {
	node  string
	name  string
	input string // path of <case>.input.json
}

func (c goldenCase) golden() string {
	return strings.TrimSuffix(c.input, ".input.json") + ".golden.json"
}

// goldenCases lists every fixture under testdata/adapters, in path order.
func goldenCases(t testing.TB) []goldenCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*", "*.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	cases := make([]goldenCase, len(paths))
	for i, p := range paths {
		cases[i] = goldenCase{
			node:  filepath.Base(filepath.Dir(p)),
			name:  strings.TrimSuffix(filepath.Base(p), ".input.json"),
			input: p,
		}
	}
	return cases
}

func nodesByName() map[string]stages.Node {
	m := map[string]stages.Node{}
	for _, n := range adapters.All() {
		m[n.Name()] = n
	}
	return m
}

func loadMessage(t testing.TB, path string) schemas.MatrizMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMessage(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestGolden runs every node on its fixtures and compares the results with
// the golden files. Refresh them with
//
//	go test ./stages/adapters/ -run Golden -update
//
// and review the diff.
func TestGolden(t *testing.T) {
	cases := goldenCases(t)
	nodes := nodesByName()
	perNode := map[string]int{}
	for _, c := range cases {
		perNode[c.node]++
	}
	if len(cases) != 33 {
		t.Errorf("found %d golden cases, want 33 (3 per node)", len(cases))
	}
	for name := range nodes {
		if perNode[name] != 3 {
			t.Errorf("node %s has %d golden cases, want 3", name, perNode[name])
		}
	}
	for _, c := range cases {
		t.Run(c.node+"/"+c.name, func(t *testing.T) {
			n, ok := nodes[c.node]
			if !ok {
				t.Fatalf("testdata directory %q names no node", c.node)
			}
			msg := loadMessage(t, c.input)
			if route := adapters.DefaultRoutes()[msg.Topic]; route != c.node {
				t.Errorf("fixture topic %q routes to %q, want %q", msg.Topic, route, c.node)
			}
			res, err := n.Handle(context.Background(), &msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeResult(res)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(c.golden(), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.golden())
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file %s:\ngot:\n%s\nwant:\n%s", c.node, c.golden(), got, want)
			}
		})
	}
}

// TestGoldenAvroRoundTrip checks that every golden input and result is a
// valid Avro record (every payload value is a union branch) and that the
// result survives an encode/decode round trip unchanged.
func TestGoldenAvroRoundTrip(t *testing.T) {
	nodes := nodesByName()
	for _, c := range goldenCases(t) {
		t.Run(c.node+"/"+c.name, func(t *testing.T) {
			msg := loadMessage(t, c.input)
			if _, err := schemas.AppendEncode(nil, &msg); err != nil {
				t.Fatalf("input does not encode: %v", err)
			}
			res, err := nodes[c.node].Handle(context.Background(), &msg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := schemas.AppendEncode(nil, &res)
			if err != nil {
				t.Fatalf("result does not encode: %v", err)
			}
			var back schemas.MatrizResult
			if err := schemas.Decode(b, &back); err != nil {
				t.Fatalf("result does not decode: %v", err)
			}
			want, _ := encodeResult(res)
			got, err := encodeResult(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result changed in an Avro round trip:\nbefore:\n%s\nafter:\n%s", want, got)
			}
			if !reflect.DeepEqual(back.Trace[0].Stage, c.node) {
				t.Errorf("crumb stage %q, want %q", back.Trace[0].Stage, c.node)
			}
		})
	}
}
