package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/matriz/pipelines/schemas"
)

// Parse parses and validates a spec. Defaults come from the embedded
// spec, so a file may set only what it changes. Every error names the file,
// the line, the field and the allowed values.
func Parse(file string, data []byte) (*Spec, error) {
	spec := &Spec{File: file, Lanes: map[schemas.Lane]*Lane{}}
	if file != DefaultFile {
		def, err := Default()
		if err != nil {
			return nil, err
		}
		spec.Version, spec.Flags = def.Version, def.Flags
		for l, ls := range def.Lanes {
			c := *ls
			c.Stages = slices.Clone(ls.Stages)
			spec.Lanes[l] = &c
		}
		spec.File = file
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{yamlSyntaxError(file, err)}
	}
	d := &specDecoder{file: file, lines: map[string]int{}}
	if len(root.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Msg: "empty pipeline spec; expected keys version, flags, lanes"}}
	}
	d.decodeRoot(root.Content[0], spec)
	if len(d.errs) == 0 {
		d.validate(spec)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return spec, nil
}

func yamlSyntaxError(file string, err error) *Error {
	msg := err.Error()
	line := 0
	// yaml.v3 reports "yaml: line N: ..."
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "not valid YAML: " + msg}
}

type specDecoder struct {
	file  string
	errs  Errors
	lines map[string]int // field path → line, for errors found after parsing
}

func (d *specDecoder) fail(n *yaml.Node, field, format string, args ...any) {
	line := d.lines[field] // a cross-field rule points at the section it names
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling the handler for each known key and
// failing on unknown keys with the list of allowed ones.
func (d *specDecoder) fields(n *yaml.Node, path string, handlers map[string]func(v *yaml.Node, field string)) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping with keys %s, got %s", keyList(handlers), nodeKind(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := joinPath(path, k.Value)
		h, ok := handlers[k.Value]
		if !ok {
			d.fail(k, field, "unknown field; allowed: %s", keyList(handlers))
			continue
		}
		d.lines[field] = k.Line
		h(v, field)
	}
}

func (d *specDecoder) decodeRoot(n *yaml.Node, s *Spec) {
	d.fields(n, "", map[string]func(*yaml.Node, string){
		"version": func(v *yaml.Node, f string) {
			s.Version = d.intIn(v, f, 1, 1)
		},
		"flags": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"dispatch":    func(v *yaml.Node, f string) { s.Flags.Dispatch = d.boolean(v, f) },
				"learning":    func(v *yaml.Node, f string) { s.Flags.Learning = d.boolean(v, f) },
				"ext_actions": func(v *yaml.Node, f string) { s.Flags.ExtActions = d.boolean(v, f) },
			})
		},
		"lanes": func(v *yaml.Node, f string) {
			handlers := map[string]func(*yaml.Node, string){}
			for _, lane := range schemas.Lanes {
				handlers[string(lane)] = func(v *yaml.Node, f string) {
					ls := s.Lanes[lane]
					if ls == nil {
						ls = &Lane{}
						s.Lanes[lane] = ls
					}
					d.decodeLane(v, f, ls)
				}
			}
			d.fields(v, f, handlers)
		},
	})
}

func (d *specDecoder) decodeLane(n *yaml.Node, path string, l *Lane) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"partitions": func(v *yaml.Node, f string) { l.Partitions = d.intIn(v, f, 1, 1024) },
		"stages":     func(v *yaml.Node, f string) { l.Stages = d.stageList(v, f) },
		"tick": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"fps":       func(v *yaml.Node, f string) { l.Tick.FPS = d.intOneOf(v, f, 30, 20, 15) },
				"grace_ms":  func(v *yaml.Node, f string) { l.Tick.GraceMS = d.intIn(v, f, 0, 10000) },
				"budget_ms": func(v *yaml.Node, f string) { l.Tick.BudgetMS = d.intIn(v, f, 1, 60000) },
			})
		},
		"decimate": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"policy": func(v *yaml.Node, f string) { l.Decimate.Policy = d.enum(v, f, "drop-oldest", "backpressure") },
				"k":      func(v *yaml.Node, f string) { l.Decimate.K = d.intIn(v, f, 1, 1<<20) },
			})
		},
		"route": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"dispatch": func(v *yaml.Node, f string) { l.Route.Dispatch = d.boolean(v, f) },
			})
		},
		"drift": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"alpha":  func(v *yaml.Node, f string) { l.Drift.Alpha = d.floatIn(v, f, 0, 1, false) },
				"warn":   func(v *yaml.Node, f string) { l.Drift.Warn = d.floatIn(v, f, 0, 2, false) },
				"block":  func(v *yaml.Node, f string) { l.Drift.Block = d.floatIn(v, f, 0, 2, false) },
				"window": func(v *yaml.Node, f string) { l.Drift.Window = d.intIn(v, f, 1, 100000) },
			})
		},
		"fold_guard": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"max_fanout":  func(v *yaml.Node, f string) { l.FoldGuard.MaxFanout = d.intIn(v, f, 1, 1<<20) },
				"max_depth":   func(v *yaml.Node, f string) { l.FoldGuard.MaxDepth = d.intIn(v, f, 1, 1<<10) },
				"budget":      func(v *yaml.Node, f string) { l.FoldGuard.Budget = d.intIn(v, f, 1, 1<<30) },
				"cooldown_ms": func(v *yaml.Node, f string) { l.FoldGuard.CooldownMS = d.intIn(v, f, 0, 24*3600*1000) },
			})
		},
		"breakthrough": func(v *yaml.Node, f string) {
			b := &l.Breakthrough
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"detector":       func(v *yaml.Node, f string) { b.Detector = d.enum(v, f, "zscore", "cusum") },
				"z":              func(v *yaml.Node, f string) { b.Z = d.floatIn(v, f, 0, 100, false) },
				"min_samples":    func(v *yaml.Node, f string) { b.MinSamples = d.intIn(v, f, 2, 1<<30) },
				"novelty_weight": func(v *yaml.Node, f string) { b.NoveltyWeight = d.floatIn(v, f, 0, 1, true) },
				"value_weight":   func(v *yaml.Node, f string) { b.ValueWeight = d.floatIn(v, f, 0, 1, true) },
				"combine":        func(v *yaml.Node, f string) { b.Combine = d.enum(v, f, "sum", "product") },
				"cusum_k":        func(v *yaml.Node, f string) { b.CusumK = d.floatIn(v, f, 0, 100, true) },
				"cusum_h":        func(v *yaml.Node, f string) { b.CusumH = d.floatIn(v, f, 0, 1000, false) },
			})
		},
		"guardian": func(v *yaml.Node, f string) {
			g := &l.Guardian
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"max_risk":  func(v *yaml.Node, f string) { g.MaxRisk = d.floatIn(v, f, 0, 1, true) },
				"max_drift": func(v *yaml.Node, f string) { g.MaxDrift = d.floatIn(v, f, 0, 2, true) },
				"dry_run":   func(v *yaml.Node, f string) { g.DryRun = d.boolean(v, f) },
			})
		},
	})
}

// validate checks rules that span fields, after every field parsed.
func (d *specDecoder) validate(s *Spec) {
	for _, lane := range schemas.Lanes {
		l, ok := s.Lanes[lane]
		if !ok {
			d.fail(nil, "lanes."+string(lane), "missing; every lane (%s) needs a spec", laneList())
			continue
		}
		p := "lanes." + string(lane)
		if l.Drift.Warn >= l.Drift.Block {
			d.fail(nil, p+".drift", "warn (%g) must be below block (%g)", l.Drift.Warn, l.Drift.Block)
		}
		if l.Breakthrough.Combine == "sum" && l.Breakthrough.NoveltyWeight+l.Breakthrough.ValueWeight == 0 {
			d.fail(nil, p+".breakthrough", "novelty_weight and value_weight are both 0; the score would always be 0")
		}
		if l.Has(StageAdapter) && !l.Has(StageRoute) {
			d.fail(nil, p+".stages", "adapter needs route before it (the router picks the node)")
		}
	}
}

func (d *specDecoder) stageList(n *yaml.Node, path string) []string {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list of stages from %s, got %s", strings.Join(StageNames, ", "), nodeKind(n))
		return nil
	}
	var out []string
	last := -1
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		idx := slices.Index(StageNames, item.Value)
		switch {
		case item.Kind != yaml.ScalarNode || idx < 0:
			d.fail(item, f, "unknown stage %q; allowed: %s", item.Value, strings.Join(StageNames, ", "))
		case slices.Contains(out, item.Value):
			d.fail(item, f, "stage %q listed twice", item.Value)
		case idx < last:
			d.fail(item, f, "stage %q out of order; stages run in the order %s", item.Value, strings.Join(StageNames, " → "))
		default:
			out = append(out, item.Value)
			last = idx
		}
	}
	return out
}

func (d *specDecoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, got %s", want, nodeKind(n))
		return "", false
	}
	return n.Value, true
}

func (d *specDecoder) boolean(n *yaml.Node, path string) bool {
	v, ok := d.scalar(n, path, "true or false")
	if !ok {
		return false
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	d.fail(n, path, "%q is not a boolean; allowed: true, false", v)
	return false
}

func (d *specDecoder) intIn(n *yaml.Node, path string, lo, hi int) int {
	v, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0
	}
	x, err := strconv.Atoi(v)
	if err != nil || x < lo || x > hi {
		d.fail(n, path, "%q is not an integer in [%d, %d]", v, lo, hi)
		return 0
	}
	return x
}

func (d *specDecoder) intOneOf(n *yaml.Node, path string, allowed ...int) int {
	v, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0
	}
	x, err := strconv.Atoi(v)
	if err != nil || !slices.Contains(allowed, x) {
		strs := make([]string, len(allowed))
		for i, a := range allowed {
			strs[i] = strconv.Itoa(a)
		}
		d.fail(n, path, "%q is not allowed; allowed: %s", v, strings.Join(strs, ", "))
		return 0
	}
	return x
}

// floatIn parses a number in [lo, hi] when loInclusive, else in (lo, hi].
func (d *specDecoder) floatIn(n *yaml.Node, path string, lo, hi float64, loInclusive bool) float64 {
	v, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0
	}
	x, err := strconv.ParseFloat(v, 64)
	bad := err != nil || math.IsNaN(x) || x > hi || x < lo || (!loInclusive && x == lo)
	if bad {
		open := "("
		if loInclusive {
			open = "["
		}
		d.fail(n, path, "%q is not a number in %s%g, %g]", v, open, lo, hi)
		return 0
	}
	return x
}

func (d *specDecoder) enum(n *yaml.Node, path string, allowed ...string) string {
	v, ok := d.scalar(n, path, "one of "+strings.Join(allowed, ", "))
	if !ok {
		return ""
	}
	if !slices.Contains(allowed, v) {
		d.fail(n, path, "%q is not allowed; allowed: %s", v, strings.Join(allowed, ", "))
		return ""
	}
	return v
}

func keyList(m map[string]func(*yaml.Node, string)) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

func laneList() string {
	s := make([]string, len(schemas.Lanes))
	for i, l := range schemas.Lanes {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
