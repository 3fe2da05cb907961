package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/pipelines"
	"github.com/matriz/pipelines/topics"
)

// module is this module's path; imports under it are the project's own.
const module = "github.com/matriz/pipelines"

// layers are the project's packages from the ground floor up: a package
// may import its own layer's neighbours named in sameLayer and anything
// below, never above. This is the architecture of the README as a test.
var layers = [][]string{
	{"clock", "clock/clocktest", "schemas", "topics/topicstest"},
	{"schemas/registry", "stages", "topics"},
	{"stages/adapters", "stages/stagetest"},
	{"pipelines/serde", "pipelines/operators", "pipelines/observe"},
	{"pipelines/spec", "pipelines/ops"},
	{"pipelines/runtime", "pipelines/devstack"},
	{"pipelines/replay"},
	{"pipelines/inspect", "pipelines/promote"},
	{"pipelines/bench", "pipelines/pipetest", "pipelines", "deploy/rehearsal"},
	{"cmd/matriz"},
}

// foreignClients are what the ground floors (schemas, stages) may not pull
// in, directly or through any dependency: Kafka clients, the embedded
// broker, Prometheus, and (stages only) the operator graph.
var foreignClients = []string{
	"github.com/segmentio/kafka-go",
	"github.com/twmb/franz-go/pkg/kgo",
	"github.com/twmb/franz-go/pkg/kfake",
	"github.com/prometheus/client_golang",
}

type listed struct {
	ImportPath  string
	Imports     []string
	Deps        []string
	TestImports []string
	GoFiles     []string
	Dir         string
}

func goList(t *testing.T) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

// TestImportsPointOneWay: every project import goes to a lower layer (or
// to a package of its own layer that is its parent), and every package is
// placed in a layer.
func TestImportsPointOneWay(t *testing.T) {
	layerOf := map[string]int{}
	for i, ps := range layers {
		for _, p := range ps {
			layerOf[p] = i
		}
	}
	for name, p := range goList(t) {
		if name == "" || name == "deploy" || name == "interop" {
			continue // test-only packages
		}
		l, ok := layerOf[name]
		if !ok {
			t.Errorf("package %s is in no layer: place it in layout_test.go's layers", name)
			continue
		}
		for _, imp := range p.Imports {
			own, isOwn := strings.CutPrefix(imp, module+"/")
			if !isOwn {
				continue
			}
			if li := layerOf[own]; li > l || (li == l && own != name) {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down only", name, l, own, li)
			}
		}
	}
}

// TestGroundFloorsImportNoClients: nothing under schemas/ or stages/ needs
// a Kafka client, the embedded broker or Prometheus, in its code or its
// tests; stages/ needs no go-streams; cmd/matriz imports only pipelines/*
// of the project.
func TestGroundFloorsImportNoClients(t *testing.T) {
	for name, p := range goList(t) {
		ground := strings.HasPrefix(name, "schemas") || strings.HasPrefix(name, "stages")
		if ground {
			banned := foreignClients
			if strings.HasPrefix(name, "stages") {
				banned = append(banned[:len(banned):len(banned)], "github.com/reugn/go-streams")
			}
			for _, d := range append(p.Deps, p.TestImports...) {
				for _, b := range banned {
					if d == b || strings.HasPrefix(d, b+"/") {
						t.Errorf("%s depends on %s", name, d)
					}
				}
			}
		}
		if name == "cmd/matriz" {
			for _, imp := range p.Imports {
				if strings.Contains(imp, ".") && !strings.HasPrefix(imp, module+"/pipelines") {
					t.Errorf("cmd/matriz imports %s; it imports only pipelines/* of the project and the standard library", imp)
				}
			}
		}
	}
}

// TestPipelinesRootIsTheCompositionRootOnly: pipelines/ holds at most three
// files; every job has its own package below it.
func TestPipelinesRootIsTheCompositionRootOnly(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "..", "pipelines"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	if len(files) > 3 {
		t.Fatalf("pipelines/ holds %d files %v; the composition root has at most 3", len(files), files)
	}
}

// TestTopicsKnowTheSameLanes: topics keeps the lane names as plain strings
// (it knows bytes and headers, not records); they are schemas' lanes, in
// the same order, and every other lane string goes through schemas.ParseLane.
func TestTopicsKnowTheSameLanes(t *testing.T) {
	var want []string
	for _, l := range pipelines.AllLanes() {
		want = append(want, string(l))
	}
	if got := topics.Lanes(); !slices.Equal(got, want) {
		t.Fatalf("topics.Lanes() = %v, schemas.Lanes = %v", got, want)
	}
}
