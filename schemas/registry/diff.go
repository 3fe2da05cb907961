// Diff: what changed between two versions of a schema, field by field, and
// what each change means for BACKWARD and FORWARD compatibility.

package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/avro"
)

// ChangeKind is what happened to one element of a schema.
type ChangeKind string

// The kinds of change Diff reports.
const (
	ChangeAdded         ChangeKind = "added"           // a record field
	ChangeRemoved       ChangeKind = "removed"         // a record field
	ChangeRenamed       ChangeKind = "renamed"         // a field whose new name carries the old one as an alias
	ChangeRetyped       ChangeKind = "retyped"         // a field's (or element's) type changed
	ChangeDefault       ChangeKind = "default changed" // added, removed or changed default
	ChangeSymbolAdded   ChangeKind = "symbol added"    // an enum symbol
	ChangeSymbolRemoved ChangeKind = "symbol removed"  // an enum symbol
	ChangeBranchAdded   ChangeKind = "branch added"    // a union branch
	ChangeBranchRemoved ChangeKind = "branch removed"  // a union branch
	ChangeEnumDefault   ChangeKind = "enum default changed"
	ChangeRecordRenamed ChangeKind = "name changed" // a record, enum or fixed's own name
)

// Effect is what one change means in one direction: whether the reader of
// that direction still reads the writer's data, and why.
type Effect struct {
	OK  bool
	Why string
}

func (e Effect) String() string {
	if e.OK {
		return "ok: " + e.Why
	}
	return "breaks: " + e.Why
}

// Change is one difference between an old and a new schema. Path is the
// dotted field path ("glyph.consent"); array items add "[]", map values
// "{}". Backward says whether the new schema still reads data written with
// the old one; Forward whether the old schema reads data written with the
// new one.
type Change struct {
	Path     string
	Kind     ChangeKind
	Old, New string // the type, default, symbol or branch before and after; empty when absent
	Backward Effect
	Forward  Effect
}

// DiffReport is every change from an old schema to a new one, with the
// verdict of the full compatibility check in each direction (the
// authoritative answer: a change list explains it).
type DiffReport struct {
	Changes  []Change
	Backward Effect // the new schema reads old data
	Forward  Effect // the old schema reads new data
}

// Diff compares two schema texts offline. It reports fields added,
// removed, renamed (through an alias) and retyped, defaults changed, enum
// symbols and union branches added or removed, through nested records,
// arrays, maps and unions, each with its meaning for BACKWARD and FORWARD
// by the Avro resolution rules. An invalid schema is an *Error of kind
// ErrInvalidSchema naming which one.
func Diff(oldText, newText string) (DiffReport, error) {
	oldS, err := parseSchema(oldText)
	if err != nil {
		return DiffReport{}, apiErr(ErrInvalidSchema, "invalid old schema: %v", err)
	}
	newS, err := parseSchema(newText)
	if err != nil {
		return DiffReport{}, apiErr(ErrInvalidSchema, "invalid new schema: %v", err)
	}
	d := differ{
		oldNames: namedTypes(oldS.Root()),
		newNames: namedTypes(newS.Root()),
		seen:     map[[2]string]bool{},
	}
	d.node("", oldS.Root(), newS.Root())
	return DiffReport{
		Changes:  d.changes,
		Backward: overall(avro.CheckCompatibility(oldS, newS)),
		Forward:  overall(avro.CheckCompatibility(newS, oldS)),
	}, nil
}

func overall(err error) Effect {
	if err == nil {
		return Effect{OK: true, Why: "compatible"}
	}
	var ce *avro.CompatibilityError
	if !errors.As(err, &ce) {
		return Effect{Why: err.Error()}
	}
	where := "schema root"
	if ce.Path != "" && ce.Path != "(root)" {
		where = "field " + ce.Path
	}
	return Effect{Why: where + ": " + ruleOf(ce)}
}

type differ struct {
	oldNames, newNames map[string]*avro.SchemaNode
	seen               map[[2]string]bool // record pairs already walked (recursive types)
	changes            []Change
}

func (d *differ) add(c Change) { d.changes = append(d.changes, c) }

// namedTypes indexes every record, enum and fixed defined in a tree by its
// full name, so references resolve.
func namedTypes(root *avro.SchemaNode) map[string]*avro.SchemaNode {
	out := map[string]*avro.SchemaNode{}
	var walk func(n *avro.SchemaNode)
	walk = func(n *avro.SchemaNode) {
		switch n.Type {
		case "record", "error", "enum", "fixed":
			if _, dup := out[fullName(n)]; dup {
				return
			}
			out[fullName(n)] = n
			for i := range n.Fields {
				walk(&n.Fields[i].Type)
			}
		case "array":
			walk(n.Items)
		case "map":
			walk(n.Values)
		case "union":
			for i := range n.Branches {
				walk(&n.Branches[i])
			}
		}
	}
	walk(root)
	return out
}

func fullName(n *avro.SchemaNode) string {
	if strings.Contains(n.Name, ".") || n.Namespace == "" {
		return n.Name
	}
	return n.Namespace + "." + n.Name
}

// resolve follows a name reference to its definition.
func resolve(n *avro.SchemaNode, names map[string]*avro.SchemaNode) *avro.SchemaNode {
	if n == nil {
		return nil
	}
	switch n.Type {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string",
		"record", "error", "enum", "fixed", "array", "map", "union":
		return n
	}
	if def, ok := names[n.Type]; ok {
		return def
	}
	for full, def := range names {
		if full == n.Type || strings.HasSuffix(full, "."+n.Type) {
			return def
		}
	}
	return n
}

// kindOf is a node's kind, "record" for "error".
func kindOf(n *avro.SchemaNode) string {
	if n.Type == "error" {
		return "record"
	}
	return n.Type
}

// node diffs two schema nodes at path.
func (d *differ) node(path string, o, n *avro.SchemaNode) {
	o, n = resolve(o, d.oldNames), resolve(n, d.newNames)
	ok, nk := kindOf(o), kindOf(n)
	if ok == "union" && nk == "union" {
		d.union(path, o, n)
		return
	}
	if ok != nk || (ok != "record" && ok != "enum" && ok != "array" && ok != "map" && o.LogicalType != n.LogicalType) || (ok == "fixed" && o.Size != n.Size) {
		d.retyped(path, o, n)
		return
	}
	if (ok == "record" || ok == "enum" || ok == "fixed") && fullName(o) != fullName(n) {
		c := Change{Path: pathOr(path), Kind: ChangeRecordRenamed, Old: fullName(o), New: fullName(n)}
		c.Backward, c.Forward = d.check(o, n)
		d.add(c)
	}
	switch ok {
	case "record":
		key := [2]string{fullName(o), fullName(n)}
		if d.seen[key] {
			return
		}
		d.seen[key] = true
		d.record(path, o, n)
	case "enum":
		d.enum(path, o, n)
	case "array":
		d.node(path+"[]", o.Items, n.Items)
	case "map":
		d.node(path+"{}", o.Values, n.Values)
	}
}

func pathOr(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *differ) record(path string, o, n *avro.SchemaNode) {
	oldByName := map[string]*avro.SchemaField{}
	for i := range o.Fields {
		oldByName[o.Fields[i].Name] = &o.Fields[i]
	}
	matched := map[string]bool{}
	for i := range n.Fields {
		nf := &n.Fields[i]
		p := join(path, nf.Name)
		of := oldByName[nf.Name]
		if of == nil {
			of = d.renamedFrom(o, nf, matched, n)
		}
		if of == nil {
			c := Change{Path: p, Kind: ChangeAdded, New: typeString(&nf.Type, d.newNames) + defaultString(nf)}
			c.Forward = Effect{OK: true, Why: "readers on the old schema skip it"}
			if nf.HasDefault {
				c.Backward = Effect{OK: true, Why: "reading old data, the new schema fills it from its default"}
			} else {
				c.Backward = Effect{Why: "old data lacks it and it has no default"}
			}
			d.add(c)
			continue
		}
		matched[of.Name] = true
		if of.Name != nf.Name {
			d.add(renamed(p, of, nf))
		}
		if od, nd := defaultString(of), defaultString(nf); od != nd {
			c := Change{Path: p, Kind: ChangeDefault, Old: strings.TrimPrefix(od, ", default "), New: strings.TrimPrefix(nd, ", default ")}
			switch {
			case !nf.HasDefault:
				c.Backward = Effect{OK: true, Why: "old data has the field; but the new schema can no longer read data that lacks it"}
			default:
				c.Backward = Effect{OK: true, Why: "the default only fills data that lacks the field"}
			}
			c.Forward = Effect{OK: true, Why: "the default only fills data that lacks the field"}
			d.add(c)
		}
		d.node(p, &of.Type, &nf.Type)
	}
	for i := range o.Fields {
		of := &o.Fields[i]
		if matched[of.Name] {
			continue
		}
		c := Change{Path: join(path, of.Name), Kind: ChangeRemoved, Old: typeString(&of.Type, d.oldNames) + defaultString(of)}
		c.Backward = Effect{OK: true, Why: "reading old data, the new schema skips it"}
		if of.HasDefault {
			c.Forward = Effect{OK: true, Why: "readers on the old schema fill it from its default"}
		} else {
			c.Forward = Effect{Why: "readers on the old schema need it and it has no default"}
		}
		d.add(c)
	}
}

// renamedFrom finds the old field a new field renames: one named by an
// alias of the new field, or one whose own aliases name the new field, and
// that keeps no field of its name in the new record.
func (d *differ) renamedFrom(o *avro.SchemaNode, nf *avro.SchemaField, matched map[string]bool, n *avro.SchemaNode) *avro.SchemaField {
	inNew := func(name string) bool {
		return slices.ContainsFunc(n.Fields, func(f avro.SchemaField) bool { return f.Name == name })
	}
	for i := range o.Fields {
		of := &o.Fields[i]
		if matched[of.Name] || inNew(of.Name) {
			continue
		}
		if slices.Contains(nf.Aliases, of.Name) || slices.Contains(of.Aliases, nf.Name) {
			return of
		}
	}
	return nil
}

// renamed is the change of a field renamed from of to nf. Aliases count on
// the reader's side only: the new schema reads old data through the new
// field's aliases, the old schema reads new data through the old field's.
func renamed(path string, of, nf *avro.SchemaField) Change {
	c := Change{Path: path, Kind: ChangeRenamed, Old: of.Name, New: nf.Name}
	switch {
	case slices.Contains(nf.Aliases, of.Name):
		c.Backward = Effect{OK: true, Why: fmt.Sprintf("the new field's alias %q matches the old name", of.Name)}
	case nf.HasDefault:
		c.Backward = Effect{OK: true, Why: fmt.Sprintf("reading old data, the new schema misses %s and fills its default", nf.Name)}
	default:
		c.Backward = Effect{Why: fmt.Sprintf("the new schema looks for %s, which old data lacks, and it has no default or alias %q", nf.Name, of.Name)}
	}
	switch {
	case slices.Contains(of.Aliases, nf.Name):
		c.Forward = Effect{OK: true, Why: fmt.Sprintf("the old field's alias %q matches the new name", nf.Name)}
	case of.HasDefault:
		c.Forward = Effect{OK: true, Why: fmt.Sprintf("readers on the old schema miss %s and fill its default", of.Name)}
	default:
		c.Forward = Effect{Why: fmt.Sprintf("readers on the old schema look for %s, which new data lacks, and it has no default", of.Name)}
	}
	return c
}

func (d *differ) enum(path string, o, n *avro.SchemaNode) {
	p := pathOr(path)
	for _, s := range n.Symbols {
		if slices.Contains(o.Symbols, s) {
			continue
		}
		c := Change{Path: p, Kind: ChangeSymbolAdded, New: s, Backward: Effect{OK: true, Why: "the new schema knows every old symbol"}}
		if o.HasEnumDefault {
			c.Forward = Effect{OK: true, Why: fmt.Sprintf("readers on the old schema read it as their enum default %q", o.EnumDefault)}
		} else {
			c.Forward = Effect{Why: "readers on the old schema do not know it and their enum has no default"}
		}
		d.add(c)
	}
	for _, s := range o.Symbols {
		if slices.Contains(n.Symbols, s) {
			continue
		}
		c := Change{Path: p, Kind: ChangeSymbolRemoved, Old: s, Forward: Effect{OK: true, Why: "readers on the old schema know every new symbol"}}
		if n.HasEnumDefault {
			c.Backward = Effect{OK: true, Why: fmt.Sprintf("old data with it reads as the new enum default %q", n.EnumDefault)}
		} else {
			c.Backward = Effect{Why: "old data may hold it and the new enum has no default"}
		}
		d.add(c)
	}
	if o.HasEnumDefault != n.HasEnumDefault || o.EnumDefault != n.EnumDefault {
		c := Change{Path: p, Kind: ChangeEnumDefault}
		if o.HasEnumDefault {
			c.Old = o.EnumDefault
		}
		if n.HasEnumDefault {
			c.New = n.EnumDefault
		}
		c.Backward, c.Forward = d.check(o, n)
		d.add(c)
	}
}

func (d *differ) union(path string, o, n *avro.SchemaNode) {
	p := pathOr(path)
	key := func(b *avro.SchemaNode, names map[string]*avro.SchemaNode) string {
		r := resolve(b, names)
		switch kindOf(r) {
		case "record", "enum", "fixed":
			return kindOf(r) + " " + fullName(r)
		}
		return typeString(r, names)
	}
	oldKeys := map[string]*avro.SchemaNode{}
	for i := range o.Branches {
		oldKeys[key(&o.Branches[i], d.oldNames)] = &o.Branches[i]
	}
	newKeys := map[string]bool{}
	for i := range n.Branches {
		b := &n.Branches[i]
		k := key(b, d.newNames)
		newKeys[k] = true
		if ob, ok := oldKeys[k]; ok {
			d.node(path, ob, b) // same branch: look inside (a nested record's fields)
			continue
		}
		c := Change{Path: p, Kind: ChangeBranchAdded, New: k, Backward: Effect{OK: true, Why: "the new union still has every old branch"}}
		c.Forward = Effect{Why: "readers on the old schema have no branch for " + k}
		if _, fwd := d.check(o, n); fwd.OK {
			c.Forward = Effect{OK: true, Why: "readers on the old schema promote it to one of their branches"}
		}
		d.add(c)
	}
	for i := range o.Branches {
		k := key(&o.Branches[i], d.oldNames)
		if newKeys[k] {
			continue
		}
		c := Change{Path: p, Kind: ChangeBranchRemoved, Old: k, Forward: Effect{OK: true, Why: "readers on the old schema have every new branch"}}
		c.Backward = Effect{Why: "old data may hold " + k + " and the new union has no branch for it"}
		if bwd, _ := d.check(o, n); bwd.OK {
			c.Backward = Effect{OK: true, Why: "the new union reads it through a promotion"}
		}
		d.add(c)
	}
}

func (d *differ) retyped(path string, o, n *avro.SchemaNode) {
	c := Change{Path: pathOr(path), Kind: ChangeRetyped, Old: typeString(o, d.oldNames), New: typeString(n, d.newNames)}
	c.Backward, c.Forward = d.check(o, n)
	d.add(c)
}

// check runs the full compatibility check on two sub-schemas, both ways.
func (d *differ) check(o, n *avro.SchemaNode) (backward, forward Effect) {
	os, err1 := o.Schema()
	ns, err2 := n.Schema()
	if err := errors.Join(err1, err2); err != nil {
		e := Effect{Why: "cannot compare: " + err.Error()}
		return e, e
	}
	effect := func(err error, ok string) Effect {
		if err == nil {
			return Effect{OK: true, Why: ok}
		}
		var ce *avro.CompatibilityError
		if errors.As(err, &ce) {
			return Effect{Why: ruleOf(ce)}
		}
		return Effect{Why: err.Error()}
	}
	backward = effect(avro.CheckCompatibility(os, ns), fmt.Sprintf("the new schema reads old %s", typeString(o, d.oldNames)))
	forward = effect(avro.CheckCompatibility(ns, os), fmt.Sprintf("readers on the old schema read new %s", typeString(n, d.newNames)))
	return backward, forward
}

// ruleOf renders a compatibility error's rule and types, without its path.
func ruleOf(ce *avro.CompatibilityError) string {
	switch {
	case ce.ReaderType != "" && ce.WriterType != "":
		return fmt.Sprintf("%s (reader %s, writer %s)", ce.Detail, ce.ReaderType, ce.WriterType)
	case ce.ReaderType != "":
		return fmt.Sprintf("%s (reader %s)", ce.Detail, ce.ReaderType)
	}
	return ce.Detail
}

// typeString renders a type in one short line: string,
// long(timestamp-micros), array<double>, map<string>, [null, string],
// record matriz.Consent, enum matriz.Lane [a, b], fixed md5(16).
func typeString(n *avro.SchemaNode, names map[string]*avro.SchemaNode) string {
	if n == nil {
		return "?"
	}
	r := resolve(n, names)
	switch kindOf(r) {
	case "record":
		return "record " + fullName(r)
	case "enum":
		return fmt.Sprintf("enum %s [%s]", fullName(r), strings.Join(r.Symbols, ", "))
	case "fixed":
		return fmt.Sprintf("fixed %s(%d)", fullName(r), r.Size)
	case "array":
		return "array<" + typeString(r.Items, names) + ">"
	case "map":
		return "map<" + typeString(r.Values, names) + ">"
	case "union":
		parts := make([]string, len(r.Branches))
		for i := range r.Branches {
			parts[i] = typeString(&r.Branches[i], names)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if r.LogicalType != "" {
		return r.Type + "(" + r.LogicalType + ")"
	}
	return r.Type
}

// defaultString renders a field's default as ", default X", or "".
func defaultString(f *avro.SchemaField) string {
	if !f.HasDefault {
		return ""
	}
	b, err := json.Marshal(f.Default)
	if err != nil {
		return fmt.Sprintf(", default %v", f.Default)
	}
	return ", default " + string(b)
}
