package ops

import (
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// The principals `matriz deploy --acls` grants to: one per lane, the
// approver, the operator. Each is a SASL user of the same name.
const (
	ApproverPrincipal = "User:approver"
	OperatorPrincipal = "User:operator"
)

// LanePrincipal is the principal lane L's `matriz run` authenticates as.
func LanePrincipal(lane schemas.Lane) string { return "User:matriz-" + string(lane) }

// laneOutputs are the topics a lane's run writes (and reads back: its
// decisions, state, checkpoints and action records).
var laneOutputs = []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions,
	topics.KindDLQ, topics.KindState, topics.KindCheckpoints}

// LaneACLs is the plan `deploy --acls` makes exist, lane isolation as
// data:
//   - lane L's principal reads its own topics (matriz.L.*: messages,
//     approvals, and the outputs it reads back) and matriz.control,
//     writes only its outputs and its namespaces' (a canary, blue/green
//     sides), and uses only its own groups (matriz-L…); nothing of another
//     lane, and it cannot write approvals or matriz.control;
//   - the approver alone writes matriz.L.approvals, and reads the actions
//     it approves;
//   - the operator alone writes matriz.control.
//
// A lane's canary abort writes CANARY_ENABLED to matriz.control; under
// these ACLs that write is refused and logged, and the aborting process
// still stops its own canary.
func LaneACLs(lanes []schemas.Lane, namespaces map[schemas.Lane][]string, sides []string) []topics.ACL {
	var out []topics.ACL
	add := func(principal, resource, name string, prefixed bool, ops ...string) {
		for _, op := range ops {
			out = append(out, topics.ACL{Principal: principal, Resource: resource, Name: name, Prefixed: prefixed, Operation: op})
		}
	}
	for _, l := range lanes {
		p, lane := LanePrincipal(l), string(l)
		add(p, topics.ResourceTopic, "matriz."+lane+".", true, topics.OpRead, topics.OpDescribe)
		add(p, topics.ResourceTopic, topics.ControlTopic, false, topics.OpRead, topics.OpDescribe)
		for _, k := range laneOutputs {
			add(p, topics.ResourceTopic, topics.Name(lane, k), false, topics.OpWrite)
		}
		for _, ns := range append(append([]string(nil), namespaces[l]...), sides...) {
			add(p, topics.ResourceTopic, "matriz."+lane+"."+ns+".", true, topics.OpWrite)
		}
		add(p, topics.ResourceGroup, "matriz-"+lane, true, topics.OpRead, topics.OpDescribe)

		add(ApproverPrincipal, topics.ResourceTopic, topics.Name(lane, topics.KindApprovals), false, topics.OpWrite, topics.OpRead, topics.OpDescribe)
		add(ApproverPrincipal, topics.ResourceTopic, topics.Name(lane, topics.KindActions), false, topics.OpRead, topics.OpDescribe)
	}
	add(OperatorPrincipal, topics.ResourceTopic, topics.ControlTopic, false, topics.OpWrite, topics.OpRead, topics.OpDescribe)
	return out
}
