package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/pipelines/ops"
)

// schemaSub is one `matriz schema` subcommand.
type schemaSub struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

func schemaSubs() []schemaSub {
	return []schemaSub{
		{"list", "list subjects with their versions and latest schema id", schemaList},
		{"show", "print one version of a subject's schema", schemaShow},
		{"register", "register an Avro schema file under a subject", schemaRegister},
		{"check", "check a schema file's compatibility with a subject (exit 1 if incompatible)", schemaCheck},
		{"diff", "compare two schema files, offline, with what each change means", schemaDiff},
		{"config", "read or set a compatibility level", schemaConfig},
	}
}

func runSchema(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: one of %s (run 'matriz schema --help')", subNames())
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		schemaUsage(e.stdout)
		return errHelp
	}
	for _, s := range schemaSubs() {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	return usagef("unknown subcommand %q: one of %s (run 'matriz schema --help')", args[0], subNames())
}

func subNames() string {
	var names []string
	for _, s := range schemaSubs() {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func schemaUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: matriz schema <subcommand> [arguments] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Reads and changes a Confluent-compatible schema registry (the embedded one of `matriz broker`")
	fmt.Fprintln(w, "and `matriz dev`, Confluent Schema Registry, Karapace, Redpanda), and compares schemas offline.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subcommands:")
	for _, s := range schemaSubs() {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintf(w, "  --registry URL\n      schema registry URL, on every subcommand but diff (default %s)\n", defaultRegistry)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'matriz schema <subcommand> --help' for its arguments and flags.")
}

// schemaCmd is a schema subcommand's flag set with --registry.
type schemaCmd struct {
	*flagSet
	conn *connFlags
}

func schemaFlags(e *env, sub, synopsis, about string) *schemaCmd {
	fs := newFlagSet(e, "schema "+sub, synopsis, about)
	return &schemaCmd{flagSet: fs, conn: fs.registryOnly()}
}

// subjectSchema parses a command line of one FILE and a required
// --subject (its value once parsed, passed by the caller) and returns the
// schema in FILE.
func (c *schemaCmd) subjectSchema(args []string, subject *string) (string, error) {
	pos, err := c.args(args, "FILE")
	if err != nil {
		return "", err
	}
	if *subject == "" {
		return "", usagef("--subject is required (usage: matriz %s %s)", c.name, c.synopsis)
	}
	return readSchemaFile(pos[0])
}

// tool returns the schema tool for --registry.
func (c *schemaCmd) tool() (*ops.SchemaTool, error) {
	tool, err := ops.NewSchemaTool(c.conn.Registry())
	if err != nil {
		return nil, usagef("--registry: %v", err)
	}
	return tool, nil
}

// readSchemaFile reads an .avsc file named on the command line. Named
// types it takes from the project's other schema files (matriz.StringList,
// matriz.Glyph, …) are inlined, so the repository's own files can be
// checked, diffed and registered; a text that does not resolve is returned
// as it is, for the parser or the registry to say what is wrong.
func readSchemaFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("cannot read schema file: %v", err)
	}
	if s, err := ops.StandaloneSchema(string(b)); err == nil {
		return s, nil
	}
	return string(b), nil
}

func parseLevelFlag(s string) (ops.Level, error) {
	l, err := ops.ParseLevel(s)
	if err != nil {
		return "", usagef("--level %q: want one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE", s)
	}
	return l, nil
}

func schemaList(ctx context.Context, e *env, args []string) error {
	fs := schemaFlags(e, "list", "[--registry URL]", "Lists every subject with its versions and the id of its latest schema.")
	if _, err := fs.args(args); err != nil {
		return err
	}
	tool, err := fs.tool()
	if err != nil {
		return err
	}
	subs, err := tool.List(ctx)
	if err != nil {
		return err
	}
	writeSubjects(e.stdout, subs)
	return nil
}

func schemaShow(ctx context.Context, e *env, args []string) error {
	fs := schemaFlags(e, "show", "SUBJECT [--version N|latest] [--registry URL]",
		"Prints one version of a subject: its version, id and schema (indented JSON).")
	version := fs.String("version", "latest", "`version` number, or latest")
	pos, err := fs.args(args, "SUBJECT")
	if err != nil {
		return err
	}
	v := -1
	if *version != "latest" {
		if v, err = strconv.Atoi(*version); err != nil || v < 1 {
			return usagef("--version %q: want a version number (1, 2, …) or latest", *version)
		}
	}
	tool, err := fs.tool()
	if err != nil {
		return err
	}
	s, err := tool.Show(ctx, pos[0], v)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "subject %s version %d id %d\n", s.Subject, s.Version, s.ID)
	fmt.Fprintln(e.stdout, indentSchema(s.Schema.Schema))
	return nil
}

func schemaRegister(ctx context.Context, e *env, args []string) error {
	fs := schemaFlags(e, "register", "FILE --subject SUBJECT [--registry URL]",
		"Registers the Avro schema in FILE under SUBJECT. The registry checks it against the\n"+
			"subject's compatibility level first and refuses it (exit 1) with the field and rule\n"+
			"it breaks. Registering a schema the subject already has changes nothing.")
	subject := fs.String("subject", "", "`subject` to register under (required)")
	text, err := fs.subjectSchema(args, subject)
	if err != nil {
		return err
	}
	tool, err := fs.tool()
	if err != nil {
		return err
	}
	res, err := tool.Register(ctx, *subject, text)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res)
	return nil
}

// errIncompatible is check's verdict as an exit code: 1, with the reasons
// on stdout.
var errIncompatible = errors.New("incompatible")

func schemaCheck(ctx context.Context, e *env, args []string) error {
	fs := schemaFlags(e, "check", "FILE --subject SUBJECT [--new] [--level LEVEL] [--registry URL]",
		"Checks whether the schema in FILE may follow SUBJECT's versions and prints compatible or\n"+
			"incompatible, with the field path and the Avro rule of every incompatibility. Exit 0\n"+
			"when compatible, 1 when not. Without --level the registry decides, under the subject's\n"+
			"configured level; with --level the check runs here, on the versions fetched from the\n"+
			"registry. Nothing is registered. A subject the registry does not have is an error naming\n"+
			"the closest one it has, unless --new says the subject is meant to be new.")
	subject := fs.String("subject", "", "`subject` to check against (required)")
	isNew := fs.Bool("new", false, "the subject is new: check against no versions instead of refusing a subject the registry does not have")
	level := fs.String("level", "", "compatibility `level` to check under here, instead of asking the registry")
	text, err := fs.subjectSchema(args, subject)
	if err != nil {
		return err
	}
	var lvl ops.Level
	if *level != "" {
		if lvl, err = parseLevelFlag(*level); err != nil {
			return err
		}
	}
	tool, err := fs.tool()
	if err != nil {
		return err
	}
	rep, err := tool.Check(ctx, *subject, text, lvl, *isNew)
	if err != nil {
		return err
	}
	writeCheck(e.stdout, rep)
	if !rep.Compatible {
		return fmt.Errorf("%w with %s under %s: %d rule(s) broken, listed above", errIncompatible, rep.Subject, rep.Level, len(rep.Reasons))
	}
	return nil
}

func schemaDiff(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "schema diff", "OLD.avsc NEW.avsc",
		"Compares two schema files offline: fields added, removed, renamed and retyped, defaults,\n"+
			"enum symbols and union branches (nested records by field path), and what each change\n"+
			"means for BACKWARD (the new schema reads old data) and FORWARD (the old schema reads\n"+
			"new data).")
	pos, err := fs.args(args, "OLD.avsc", "NEW.avsc")
	if err != nil {
		return err
	}
	oldText, err := readSchemaFile(pos[0])
	if err != nil {
		return err
	}
	newText, err := readSchemaFile(pos[1])
	if err != nil {
		return err
	}
	rep, err := ops.Diff(oldText, newText)
	if err != nil {
		return err
	}
	writeDiff(e.stdout, rep)
	return nil
}

func schemaConfig(ctx context.Context, e *env, args []string) error {
	fs := schemaFlags(e, "config", "[--subject SUBJECT] [--level LEVEL] [--registry URL]",
		"Prints the compatibility level of SUBJECT (or the global one), or sets it with --level.")
	subject := fs.String("subject", "", "`subject` (default: the global level)")
	level := fs.String("level", "", "compatibility `level` to set: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE")
	if _, err := fs.args(args); err != nil {
		return err
	}
	var lvl ops.Level
	if *level != "" {
		var err error
		if lvl, err = parseLevelFlag(*level); err != nil {
			return err
		}
	}
	tool, err := fs.tool()
	if err != nil {
		return err
	}
	who := *subject
	if who == "" {
		who = "global"
	}
	if lvl == "" {
		l, own, err := tool.Level(ctx, *subject)
		if err != nil {
			return err
		}
		note := ""
		if *subject != "" && !own {
			note = " (the global level; the subject has none of its own)"
		}
		fmt.Fprintf(e.stdout, "%s: %s%s\n", who, l, note)
		return nil
	}
	before, err := tool.SetLevel(ctx, *subject, lvl)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s (was %s)\n", who, lvl, before)
	return nil
}
