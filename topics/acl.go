package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"
)

// ACL is one allow binding: a principal may do an operation on a topic or
// group, named literally or by prefix. Deploy writes a lane's as data
// (ops.LaneACLs) and EnsureACLs makes them exist, like topics.
type ACL struct {
	Principal string // "User:matriz-prod"
	Resource  string // ResourceTopic or ResourceGroup
	Name      string
	Prefixed  bool
	Operation string // OpRead, OpWrite or OpDescribe
}

// Resource kinds and operations an ACL names, as Kafka spells them.
const (
	ResourceTopic = "topic"
	ResourceGroup = "group"
	OpRead        = "Read"
	OpWrite       = "Write"
	OpDescribe    = "Describe"
)

func (a ACL) String() string {
	pattern := "literal"
	if a.Prefixed {
		pattern = "prefixed"
	}
	return fmt.Sprintf("%s %s %s %s:%s", a.Principal, a.Operation, a.Resource, pattern, a.Name)
}

func (a ACL) entry() (kafka.ACLEntry, error) {
	e := kafka.ACLEntry{ResourceName: a.Name, Principal: a.Principal, Host: "*", PermissionType: kafka.ACLPermissionTypeAllow,
		ResourcePatternType: kafka.PatternTypeLiteral}
	if a.Prefixed {
		e.ResourcePatternType = kafka.PatternTypePrefixed
	}
	switch a.Resource {
	case ResourceTopic:
		e.ResourceType = kafka.ResourceTypeTopic
	case ResourceGroup:
		e.ResourceType = kafka.ResourceTypeGroup
	default:
		return e, fmt.Errorf("ACL %s: resource %q, want topic or group", a, a.Resource)
	}
	switch a.Operation {
	case OpRead:
		e.Operation = kafka.ACLOperationTypeRead
	case OpWrite:
		e.Operation = kafka.ACLOperationTypeWrite
	case OpDescribe:
		e.Operation = kafka.ACLOperationTypeDescribe
	default:
		return e, fmt.Errorf("ACL %s: operation %q, want Read, Write or Describe", a, a.Operation)
	}
	if !strings.HasPrefix(a.Principal, "User:") {
		return e, fmt.Errorf("ACL %s: principal %q, want User:NAME", a, a.Principal)
	}
	return e, nil
}

// aclOf is the ACL an existing allow binding is, when it is one of the
// kinds this package writes.
func aclOf(r kafka.ACLResource, d kafka.ACLDescription) (ACL, bool) {
	a := ACL{Principal: d.Principal, Name: r.ResourceName, Prefixed: r.PatternType == kafka.PatternTypePrefixed}
	switch r.ResourceType {
	case kafka.ResourceTypeTopic:
		a.Resource = ResourceTopic
	case kafka.ResourceTypeGroup:
		a.Resource = ResourceGroup
	default:
		return a, false
	}
	switch d.Operation {
	case kafka.ACLOperationTypeRead:
		a.Operation = OpRead
	case kafka.ACLOperationTypeWrite:
		a.Operation = OpWrite
	case kafka.ACLOperationTypeDescribe:
		a.Operation = OpDescribe
	case kafka.ACLOperationTypeAll:
		a.Operation = "All"
	default:
		a.Operation = d.Operation.String()
	}
	return a, d.PermissionType == kafka.ACLPermissionTypeAllow
}

// EnsureACLs makes every binding exist, or with dryRun says what it
// would create. A binding present is StatusExists, one made
// StatusCreated. Then, for every principal the bindings name, an allow
// binding the cluster has that is not among them is reported as
// StatusDiffers: it grants that principal more than the plan (deploy
// never deletes; a person removes it). It returns one Outcome per
// binding, then one per extra grant.
func (a *Admin) EnsureACLs(ctx context.Context, want []ACL, dryRun bool) ([]Outcome, error) {
	entries := make([]kafka.ACLEntry, len(want))
	for i, w := range want {
		e, err := w.entry()
		if err != nil {
			return nil, err
		}
		entries[i] = e
	}
	if err := reachable(ctx, a.addrs, a.cfg.dialTimeout); err != nil {
		return nil, err
	}
	tr := SecureTransport(&kafka.Transport{DialTimeout: a.cfg.dialTimeout})
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(a.addrs...), Timeout: a.cfg.requestTimeout, Transport: tr}
	res, err := cl.DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
		ResourceTypeFilter: kafka.ResourceTypeAny, ResourcePatternTypeFilter: kafka.PatternTypeAny,
		Operation: kafka.ACLOperationTypeAny, PermissionType: kafka.ACLPermissionTypeAny}})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		return nil, SecurityHint(fmt.Errorf("describe ACLs (deploy --acls needs a superuser, or Describe on the cluster): %w", err))
	}
	have := map[ACL]bool{}
	for _, r := range res.Resources {
		for _, d := range r.ACLs {
			if acl, ok := aclOf(r, d); ok {
				have[acl] = true
			}
		}
	}
	out := make([]Outcome, len(want))
	var create []kafka.ACLEntry
	var createAt []int
	for i, w := range want {
		out[i].Topic = "acl " + w.String()
		switch {
		case have[w]:
			out[i].Status = StatusExists
		case dryRun:
			out[i].Status = StatusWouldCreate
		default:
			create = append(create, entries[i])
			createAt = append(createAt, i)
		}
	}
	var errs []error
	if len(create) > 0 {
		cr, err := cl.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: create})
		if err != nil {
			return nil, fmt.Errorf("create ACLs: %w", err)
		}
		for k, i := range createAt {
			var cerr error
			if k < len(cr.Errors) {
				cerr = cr.Errors[k]
			}
			if cerr != nil {
				out[i].Status, out[i].Detail = StatusFailed, cerr.Error()
				errs = append(errs, fmt.Errorf("ACL %s: %w", want[i], cerr))
				continue
			}
			out[i].Status = StatusCreated
		}
	}
	return append(out, extraGrants(want, have)...), errors.Join(errs...)
}

// extraGrants are the allow bindings of the planned principals that the
// plan does not hold, sorted.
func extraGrants(want []ACL, have map[ACL]bool) []Outcome {
	planned, principals := map[ACL]bool{}, map[string]bool{}
	for _, w := range want {
		planned[w], principals[w.Principal] = true, true
	}
	var extra []string
	for h := range have {
		if principals[h.Principal] && !planned[h] {
			extra = append(extra, h.String())
		}
	}
	slices.Sort(extra)
	out := make([]Outcome, len(extra))
	for i, e := range extra {
		out[i] = Outcome{Topic: "acl " + e, Status: StatusDiffers, Detail: "not in the plan: it grants more than deploy --acls does; remove it if it is not meant"}
	}
	return out
}
