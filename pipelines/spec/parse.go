package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
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
		d.resolveCanaries(spec)
	}
	if len(d.errs) == 0 {
		d.validate(spec)
	}
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b *Error) int { return a.Line - b.Line })
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
			if s.Version = d.integer(v, f); s.Version != 1 && len(d.errs) == 0 {
				d.fail(v, f, "%d is not a spec version this binary reads; allowed: 1", s.Version)
			}
		},
		"flags": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"dispatch":    func(v *yaml.Node, f string) { s.Flags.Dispatch = d.boolean(v, f) },
				"learning":    func(v *yaml.Node, f string) { s.Flags.Learning = d.boolean(v, f) },
				"ext_actions": func(v *yaml.Node, f string) { s.Flags.ExtActions = d.boolean(v, f) },
				"canary":      func(v *yaml.Node, f string) { s.Flags.Canary = d.boolean(v, f) },
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
					d.decodeLane(v, f, ls, lane)
				}
			}
			d.fields(v, f, handlers)
		},
	})
}

// decodeLane reads a lane's section. Values are checked for their type
// here; their ranges and the rules between them are the stages' and the
// operators' own, checked when validate builds the lane.
func (d *specDecoder) decodeLane(n *yaml.Node, path string, l *Lane, lane schemas.Lane) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"canary":     func(v *yaml.Node, f string) { l.Canary = d.canary(v, f, lane) },
		"partitions": func(v *yaml.Node, f string) { l.Partitions = d.integer(v, f) },
		"stages":     func(v *yaml.Node, f string) { l.Stages = d.stageList(v, f) },
		"tick": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"fps":       func(v *yaml.Node, f string) { l.Tick.FPS = d.integer(v, f) },
				"grace_ms":  func(v *yaml.Node, f string) { l.Tick.GraceMS = d.millis(v, f) },
				"budget_ms": func(v *yaml.Node, f string) { l.Tick.BudgetMS = d.millis(v, f) },
			})
		},
		"decimate": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"policy":      func(v *yaml.Node, f string) { l.Decimate.Policy = d.text(v, f) },
				"k":           func(v *yaml.Node, f string) { l.Decimate.K = d.integer(v, f) },
				"max_records": func(v *yaml.Node, f string) { l.Decimate.MaxRecords = d.integer(v, f) },
			})
		},
		"route": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"dispatch": func(v *yaml.Node, f string) { l.Route.Dispatch = d.boolean(v, f) },
			})
		},
		"learn": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"window":     func(v *yaml.Node, f string) { l.Learn.Window = d.integer(v, f) },
				"max_glyphs": func(v *yaml.Node, f string) { l.Learn.MaxGlyphs = d.integer(v, f) },
			})
		},
		"drift": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"alpha":      func(v *yaml.Node, f string) { l.Drift.Alpha = d.number(v, f) },
				"warn":       func(v *yaml.Node, f string) { l.Drift.Warn = d.number(v, f) },
				"block":      func(v *yaml.Node, f string) { l.Drift.Block = d.number(v, f) },
				"window":     func(v *yaml.Node, f string) { l.Drift.Window = d.integer(v, f) },
				"max_glyphs": func(v *yaml.Node, f string) { l.Drift.MaxGlyphs = d.integer(v, f) },
			})
		},
		"fold_guard": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"max_fanout":  func(v *yaml.Node, f string) { l.FoldGuard.MaxFanout = d.integer(v, f) },
				"max_depth":   func(v *yaml.Node, f string) { l.FoldGuard.MaxDepth = d.integer(v, f) },
				"budget":      func(v *yaml.Node, f string) { l.FoldGuard.Budget = d.integer(v, f) },
				"cooldown_ms": func(v *yaml.Node, f string) { l.FoldGuard.CooldownMS = d.millis(v, f) },
			})
		},
		"breakthrough": func(v *yaml.Node, f string) {
			b := &l.Breakthrough
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"detector":       func(v *yaml.Node, f string) { b.Detector = d.enum(v, f, "zscore", "cusum") },
				"z":              func(v *yaml.Node, f string) { b.Z = d.number(v, f) },
				"min_samples":    func(v *yaml.Node, f string) { b.MinSamples = d.integer(v, f) },
				"novelty_weight": func(v *yaml.Node, f string) { b.NoveltyWeight = d.number(v, f) },
				"value_weight":   func(v *yaml.Node, f string) { b.ValueWeight = d.number(v, f) },
				"combine":        func(v *yaml.Node, f string) { b.Combine = d.enum(v, f, "sum", "product") },
				"cusum_k":        func(v *yaml.Node, f string) { b.CusumK = d.number(v, f) },
				"cusum_h":        func(v *yaml.Node, f string) { b.CusumH = d.number(v, f) },
				"baseline":       func(v *yaml.Node, f string) { b.Baseline = d.enum(v, f, "always", "learning") },
			})
		},
		"goals": func(v *yaml.Node, f string) {
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"max_goals": func(v *yaml.Node, f string) { l.Goals.MaxGoals = d.integer(v, f) },
				"max_depth": func(v *yaml.Node, f string) { l.Goals.MaxDepth = d.integer(v, f) },
				"max_risk":  func(v *yaml.Node, f string) { l.Goals.MaxRisk = d.number(v, f) },
			})
		},
		"guardian": func(v *yaml.Node, f string) {
			g := &l.Guardian
			d.fields(v, f, map[string]func(*yaml.Node, string){
				"max_risk":            func(v *yaml.Node, f string) { g.MaxRisk = d.number(v, f) },
				"max_drift":           func(v *yaml.Node, f string) { g.MaxDrift = d.number(v, f) },
				"dry_run":             func(v *yaml.Node, f string) { g.DryRun = d.boolean(v, f) },
				"executor_timeout_ms": func(v *yaml.Node, f string) { g.ExecutorTimeoutMS = d.integer(v, f) },
				"max_pending":         func(v *yaml.Node, f string) { g.MaxPending = d.integer(v, f) },
			})
		},
	})
}

// validate checks, after every field parsed, what spans fields: every lane
// is there, its stage order makes sense, and it builds — its topics, its
// chain, its tick and its decimation ring, dry, with the options the
// runtime uses — so what the runtime would refuse is refused here.
func (d *specDecoder) validate(s *Spec) {
	for _, lane := range schemas.Lanes {
		l, ok := s.Lanes[lane]
		if !ok {
			d.fail(nil, "lanes."+string(lane), "missing; every lane (%s) needs a spec", laneList())
			continue
		}
		p := "lanes." + string(lane)
		if l.Has(StageAdapter) && !l.Has(StageRoute) {
			d.fail(nil, p+".stages", "adapter needs route before it (the router picks the node)")
		}
		if l.Has(StageLearn) && !l.Has(StageRoute) {
			d.fail(nil, p+".stages", "learn needs route before it (it learns the ideas the router sends the creative node)")
		}
		if l.Has(StageGoals) && !(l.Has(StageAdapter) && l.Has(StageGuardian)) {
			d.fail(nil, p+".stages", "goals needs adapter and guardian before it (it follows the orchestration node's plans and the guardian's decisions on them)")
		}
		if _, err := topics.LaneSpecs(string(lane), l.Partitions); err != nil {
			d.fail(nil, p+".partitions", "%v", err)
		}
		if _, err := l.Chain(lane, ChainOptions{}); err != nil {
			d.refused(p, err)
		}
		d.validateCanary(lane, l)
		if err := operators.CheckTick(lane, l.TickOptions(lane)...); err != nil {
			d.refused(p, err)
		}
		if _, err := operators.NewDecimate(l.DecimateOptions()...); err != nil {
			d.refused(p, err)
		}
	}
}

// refused reports an option a stage or an operator refused (both say so
// with a *stages.OptionError) when the lane
// at path was built, at the field that set it (see optionFields): the
// first of the option's fields the file sets, else its first field at the
// line of its section.
func (d *specDecoder) refused(path string, err error) {
	var oe *stages.OptionError
	if !errors.As(err, &oe) || len(optionFields[oe.Option]) == 0 {
		d.fail(nil, path, "%v", err)
		return
	}
	fields := optionFields[oe.Option]
	primary := fields[0]
	field, line := path+"."+primary, 0
	for _, f := range fields {
		if n := d.lines[path+"."+f]; n > 0 {
			field, line = path+"."+f, n
			break
		}
	}
	if line == 0 {
		section, _, _ := strings.Cut(primary, ".")
		line = max(d.lines[path+"."+section], d.lines[path])
	}
	msg := fmt.Sprintf("%v: want %s", oe.Value, oe.Want)
	if field != path+"."+primary {
		_, name, _ := strings.Cut(primary, ".")
		msg = name + " " + msg
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: msg})
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

// integer reads a whole number.
func (d *specDecoder) integer(n *yaml.Node, path string) int {
	v, ok := d.scalar(n, path, "an integer")
	if !ok {
		return 0
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		d.fail(n, path, "%q is not an integer", v)
		return 0
	}
	return x
}

// maxMillis is the largest number of milliseconds a time.Duration holds.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// millis reads a whole number of milliseconds.
func (d *specDecoder) millis(n *yaml.Node, path string) int {
	x := d.integer(n, path)
	if int64(x) > maxMillis || int64(x) < -maxMillis {
		d.fail(n, path, "%d milliseconds is more than a duration holds (%d)", x, maxMillis)
		return 0
	}
	return x
}

// number reads a finite number.
func (d *specDecoder) number(n *yaml.Node, path string) float64 {
	v, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		d.fail(n, path, "%q is not a number", v)
		return 0
	}
	return x
}

// text reads a string the component it configures checks.
func (d *specDecoder) text(n *yaml.Node, path string) string {
	v, _ := d.scalar(n, path, "a string")
	return v
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
