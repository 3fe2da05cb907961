package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/matriz/pipelines/pipelines"
)

// errHelp means the user asked for --help; usage was printed, exit 0.
var errHelp = errors.New("help requested")

// usageError is a command line the command cannot run: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSet is a flag.FlagSet that prints full help on --help and one line
// on a bad flag.
type flagSet struct {
	*flag.FlagSet
	name     string
	synopsis string
	about    string
	stdout   io.Writer
	getenv   func(string) string
	security *securityFlags // set when the command talks to Kafka or the registry
}

func newFlagSet(e *env, name, synopsis, about string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	getenv := e.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return &flagSet{FlagSet: fs, name: name, synopsis: synopsis, about: about, stdout: e.stdout, getenv: getenv}
}

// parse parses args. It prints help and returns errHelp for -h/--help, and
// returns a one-line usage error for anything it cannot parse.
func (f *flagSet) parse(args []string) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.printHelp(f.stdout)
		return errHelp
	}
	if err != nil {
		return usagef("%v (usage: matriz %s %s)", err, f.name, f.synopsis)
	}
	return f.security.apply()
}

// args parses the command line and checks it holds the named positional
// arguments (none when no names are given), which it returns.
func (f *flagSet) args(args []string, names ...string) ([]string, error) {
	pos, err := f.parseInterleaved(args)
	if err != nil {
		return nil, err
	}
	return pos, f.positional(pos, names...)
}

func (f *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: matriz %s %s\n\n%s\n\nFlags:\n", f.name, f.synopsis, f.about)
	f.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if fl.DefValue != "" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// Connection defaults: the addresses `matriz broker` and `matriz dev`
// listen on.
const (
	defaultBrokers  = "127.0.0.1:9092"
	defaultRegistry = "http://127.0.0.1:8081"
)

// connFlags are the connection flags every command that talks to a
// cluster shares; they are defined here once so they mean the same in
// every command.
type connFlags struct {
	brokers  *string
	registry *string
}

// connection defines --brokers and --registry.
func (f *flagSet) connection() *connFlags {
	c := f.registryOnly()
	c.brokers = f.brokersOnly().brokers
	return c
}

// brokersOnly defines --brokers, for commands that talk to Kafka alone.
func (f *flagSet) brokersOnly() *connFlags {
	c := &connFlags{brokers: f.String("brokers", defaultBrokers, "Kafka bootstrap `addresses`, comma-separated")}
	f.kafkaSecurity()
	return c
}

// registryOnly defines --registry, for commands that talk to the schema
// registry alone.
func (f *flagSet) registryOnly() *connFlags {
	c := &connFlags{registry: f.String("registry", defaultRegistry, "schema registry `URL`")}
	f.registrySecurity()
	return c
}

// Brokers returns the --brokers addresses.
func (c *connFlags) Brokers() []string { return splitList(*c.brokers) }

// Registry returns the --registry URL.
func (c *connFlags) Registry() string { return *c.registry }

// laneFlag defines --lane; resolve reads it, falling back to LUKHAS_LANE
// and then to the experimental lane.
type laneFlag struct {
	value   *string
	getenv  func(string) string
	stderr  io.Writer
	command string
}

func (f *flagSet) lane(e *env, what string) *laneFlag {
	return &laneFlag{
		value:   f.String("lane", "", "`lane`"+what+": experimental, candidate or prod (default $LUKHAS_LANE, else experimental)"),
		getenv:  e.getenv,
		stderr:  e.stderr,
		command: f.name,
	}
}

// resolve returns the lane, or a usage error naming the bad value. A lane
// nobody chose is said on stderr: whoever meant prod sees at once that
// this process works the experimental lane's topics instead.
func (l *laneFlag) resolve() (pipelines.Lane, error) {
	lane, source, err := pipelines.ResolveLaneSource(*l.value, l.getenv)
	if err != nil {
		return "", usagef("%v", err)
	}
	if source == pipelines.LaneFromDefault {
		fmt.Fprintf(l.stderr, "matriz %s: no --lane given and LUKHAS_LANE is unset: using lane %s (dry-run, log-only unless its flags say otherwise)\n", l.command, lane)
	}
	return lane, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments (`check FILE --subject S`), which flag.FlagSet
// alone stops at, and returns the positional arguments.
func (f *flagSet) parseInterleaved(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.parse(args); err != nil {
			return nil, err
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// positional checks the number of positional arguments.
func (f *flagSet) positional(got []string, names ...string) error {
	if len(got) == len(names) {
		return nil
	}
	if len(got) < len(names) {
		return usagef("missing %s (usage: matriz %s %s)", names[len(got)], f.name, f.synopsis)
	}
	return usagef("unexpected argument %q (usage: matriz %s %s)", got[len(names)], f.name, f.synopsis)
}
