// Package adapters holds the 11 MATRIZ nodes behind the Node Contract v1
// (stages.Node): bio, bridge, compliance, consciousness, contradiction,
// creative, emotion, governance, identity, memory and orchestration.
//
// Every node is a deterministic pure function of the message it is given:
//
//   - no wall clock: crumb and result times are the message's event time
//     (msg.TS), so a replay gives byte-identical results;
//   - no randomness except creative's, which is seeded from the msg_id;
//   - no global mutable state: a node value holds only its validated
//     configuration, so one value can serve every partition concurrently;
//   - the input message is never modified and the result never aliases it.
//
// Every result answers its message (msg_id, lane, ts), names the node and
// its version, carries a deterministic ID (ResultID) so a result written
// twice after a crash is recognisable, and has one crumb named after the
// node with the figures it decided on. The figures a node computes are
// rounded to 9 decimal places so results are identical across CPU
// architectures (math.Exp and fused multiply-add may differ in the last
// bit); values a node passes through are left as they came.
//
// Nodes without options are plain struct values (Bio{}); the others have a
// constructor taking functional options (NewGovernance(GovernanceRules(...)))
// that returns an error wrapping ErrInvalidOption for a bad option. Their
// zero values are usable too and mean the defaults.
//
// A message a node cannot work with (a key missing, the wrong type, NaN or
// Inf, out of range) gives a result with OK false and one reason per
// problem, each naming the key, what was found and what is expected, for
// example
//
//	bio: payload.load: got string "high"; want a number in [0, 1]
//
// A node never panics and returns an error only when its context is done
// (the error wraps ctx.Err()). A domain verdict is not a failure:
// governance's deny and compliance's unacceptable class are OK results
// whose payload says so; identity's sid mismatch and orchestration's
// invalid status transition are OK false because the message must not be
// acted on.
//
// A node whose answer is a MATRIZ event names the kind under
// stages.NodeEventKey ("event_kind") in its payload: memory's write plan
// is a memory_write, orchestration's evaluation a reward. The adapter
// stage writes one event of that kind for each such OK result.
//
// The router finds nodes with All and maps message topics to node names
// with DefaultRoutes. Each node's file documents its payload keys and its
// transform.
package adapters
