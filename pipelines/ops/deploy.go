package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// DeployConfig says where to deploy and what.
type DeployConfig struct {
	Brokers     []string
	RegistryURL string
	Lanes       []schemas.Lane
	DryRun      bool
	// Partitions per lane; lanes not listed take the spec's (default 6).
	Partitions map[schemas.Lane]int
	// Namespaces are output namespaces a lane writes besides its own
	// topics (matriz.<lane>.<ns>.{results,events,traces,actions,dlq}):
	// "canary" for a lane with a canary, a blue/green side's name.
	Namespaces map[schemas.Lane][]string
	// Sides are blue/green sides deployed for every lane deployed: each
	// an output namespace with its own state and checkpoints
	// (topics.SideSpecs).
	Sides []string
	// ACLs, when set, also makes the lanes' ACL bindings exist
	// (LaneACLs): the cluster must enforce ACLs, and the deploy run as a
	// superuser.
	ACLs bool
	// ReplicationFactor and MinInsyncReplicas every topic is created with
	// and checked against (0: automatic, see ResolveDurability).
	ReplicationFactor, MinInsyncReplicas int
}

// DeployLine is one thing deploy ensured: a topic or a subject.
type DeployLine struct {
	What   string // "topic" or "subject"
	Name   string
	Status string // created | exists | differs | would create | failed
	Detail string
}

func (l DeployLine) String() string {
	s := fmt.Sprintf("%-7s %-42s %s", l.What, l.Name, l.Status)
	if l.Detail != "" {
		s += " (" + l.Detail + ")"
	}
	return s
}

// DeployReport is everything one deploy did, in order.
type DeployReport struct {
	Durability Durability
	Lines      []DeployLine
}

// Changed reports whether the deploy created anything (or would have).
func (r DeployReport) Changed() bool {
	for _, l := range r.Lines {
		if l.Status != string(topics.StatusExists) {
			return true
		}
	}
	return false
}

// Failed counts lines that failed or differ from the spec.
func (r DeployReport) Failed() int {
	n := 0
	for _, l := range r.Lines {
		if l.Status == string(topics.StatusFailed) || l.Status == string(topics.StatusDiffers) {
			n++
		}
	}
	return n
}

// Deploy ensures every lane topic on the brokers and registers every schema
// in the registry. It is idempotent: a second run reports everything as
// "exists" and changes nothing. It never deletes or alters a topic.
func Deploy(ctx context.Context, cfg DeployConfig) (DeployReport, error) {
	var rep DeployReport
	if len(cfg.Lanes) == 0 {
		cfg.Lanes = schemas.Lanes
	}
	client, err := serde.NewRegistryClient(cfg.RegistryURL)
	if err != nil {
		return rep, err
	}
	admin, err := topics.NewAdmin(cfg.Brokers)
	if err != nil {
		return rep, err
	}

	specs := topics.SharedSpecs()
	for _, l := range cfg.Lanes {
		p := cfg.Partitions[l]
		if p == 0 {
			p = 6
		}
		ls, err := topics.LaneSpecs(string(l), p)
		if err != nil {
			return rep, err
		}
		specs = append(specs, ls...)
		for _, ns := range cfg.Namespaces[l] {
			nss, err := topics.NamespaceSpecs(string(l), ns, p)
			if err != nil {
				return rep, err
			}
			specs = append(specs, nss...)
		}
		for _, side := range cfg.Sides {
			ss, err := topics.SideSpecs(string(l), side, p)
			if err != nil {
				return rep, err
			}
			specs = append(specs, ss...)
		}
	}
	if rep.Durability, err = resolveDurability(ctx, admin, cfg); err != nil {
		return rep, err
	}
	rep.Durability.apply(specs)
	outs, err := admin.Ensure(ctx, specs, cfg.DryRun)
	if err != nil {
		return rep, err
	}
	for _, o := range outs {
		rep.Lines = append(rep.Lines, DeployLine{What: "topic", Name: o.Topic, Status: string(o.Status), Detail: o.Detail})
	}
	if cfg.ACLs {
		outs, err := admin.EnsureACLs(ctx, LaneACLs(cfg.Lanes, cfg.Namespaces, cfg.Sides), cfg.DryRun)
		for _, o := range outs {
			rep.Lines = append(rep.Lines, DeployLine{What: "acl", Name: strings.TrimPrefix(o.Topic, "acl "), Status: string(o.Status), Detail: o.Detail})
		}
		if err != nil && len(outs) == 0 {
			return rep, err
		}
	}

	for _, sub := range serde.Subjects(cfg.Lanes) {
		line, err := ensureSubject(ctx, client, sub, cfg.DryRun, cfg.RegistryURL)
		if err != nil {
			return rep, err
		}
		rep.Lines = append(rep.Lines, line)
	}
	return rep, nil
}

// ensureSubject registers every version of sub's schema the binary holds,
// oldest first, unless the registry already has it under sub, so the
// subject's history shows each version (GLYPH and MatrizMessage: v1 then
// v2). One line reports the subject: created when any version was
// registered now. Only an unreachable registry is an error; a refusal (for
// example 409 incompatible) is reported on the line.
func ensureSubject(ctx context.Context, cl *sr.Client, sub serde.Subject, dryRun bool, regURL string) (DeployLine, error) {
	line := DeployLine{What: "subject", Name: sub.Name, Status: string(topics.StatusExists)}
	var details []string
	for _, v := range schemas.Versions(sub.Schema) {
		st, detail, err := ensureVersion(ctx, cl, sub, v, dryRun, regURL)
		if err != nil {
			return line, err
		}
		details = append(details, v.String()+" "+detail)
		if statusRank[st] > statusRank[line.Status] {
			line.Status = st
		}
	}
	line.Detail = strings.Join(details, "; ")
	return line, nil
}

// statusRank orders the statuses of one subject's versions: the line shows
// the most notable.
var statusRank = map[string]int{
	string(topics.StatusExists): 0, string(topics.StatusWouldCreate): 1, string(topics.StatusCreated): 1,
	string(topics.StatusDiffers): 2, string(topics.StatusFailed): 3,
}

// ensureVersion registers version v of sub's schema unless sub has it.
func ensureVersion(ctx context.Context, cl *sr.Client, sub serde.Subject, v schemas.Version, dryRun bool, regURL string) (status, detail string, err error) {
	text, err := schemas.TextOf(sub.Schema, v)
	if err != nil {
		return "", "", err
	}
	schema := sr.Schema{Schema: text, Type: sr.TypeAvro}
	got, err := cl.LookupSchema(ctx, sub.Name, schema)
	switch {
	case err == nil:
		return string(topics.StatusExists), fmt.Sprintf("id %d, version %d", got.ID, got.Version), nil
	case serde.Unreachable(err):
		return "", "", &serde.RegistryUnreachableError{URL: regURL, Err: err}
	case !serde.NotFound(err):
		return string(topics.StatusFailed), err.Error(), nil
	}
	if dryRun {
		return string(topics.StatusWouldCreate), "", nil
	}
	created, err := register(ctx, cl, sub.Name, schema)
	if err != nil {
		if serde.Unreachable(err) {
			return "", "", &serde.RegistryUnreachableError{URL: regURL, Err: err}
		}
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == 409 {
			return string(topics.StatusDiffers), "incompatible with the registered versions: " + re.Message, nil
		}
		return string(topics.StatusFailed), err.Error(), nil
	}
	return string(topics.StatusCreated), fmt.Sprintf("id %d, version %d", created.ID, created.Version), nil
}

// register adds schema to subject and returns its id and version with two
// sequential requests. The client's CreateSchema would do the same but
// fetch every subject using the id at once; those parallel requests leave
// connections that never carried a request, and a registry's graceful
// shutdown waits up to five seconds on such connections.
func register(ctx context.Context, cl *sr.Client, subject string, schema sr.Schema) (sr.SubjectSchema, error) {
	if _, err := cl.RegisterSchema(ctx, subject, schema, -1, -1); err != nil {
		return sr.SubjectSchema{}, err
	}
	return cl.LookupSchema(ctx, subject, schema)
}
