package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// An approval names the action it approves by more than its id: the id is
// derived from the message, so anyone who knows a message can compute it
// before the message is sent. The guardian's preview carries the action's
// kind and a hash of its parameters (ParamsHash); `matriz approve` copies
// both from the preview it read; the runtime counts an approval only when
// CheckApproval finds nothing wrong with it, and records its verdict.

// Payload keys of a preview and of an approval.
const (
	ParamsHashKey = "params_hash"
	ActionKindKey = "action_kind"
	ApproverKey   = "approver"
)

// ParamsHash is the hash of an action's parameters an approval names it
// by: SHA-256 over the payload's canonical JSON (sorted keys, typed
// values), so a parameter changed by one bit is another action.
func ParamsHash(p schemas.Payload) (string, error) {
	b, err := jsonPayload(p).MarshalJSON()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// PreviewFacts is what the actions topic says of one action: its preview
// and whether it was decided since.
type PreviewFacts struct {
	Kind       string
	ParamsHash string
	Required   bool      // the preview waits for a human approval
	Producer   string    // who produced the message that asked for it, when known
	At         time.Time // when the preview was written
	Final      string    // executed or failed, "" while undecided
	FinalAt    time.Time
}

// PreviewFactsOf returns what an action's preview record says an approval
// must match, written by producer's message at at; ok is false for a
// preview that waits for no approval. The runtime's action index and
// `matriz actions` read previews through it, so both see the same facts.
func PreviewFactsOf(ev *schemas.Event, producer string, at time.Time) (facts PreviewFacts, ok bool) {
	if required, _ := ev.Payload["approval_required"].(bool); !required {
		return PreviewFacts{}, false
	}
	kind, _ := ev.Payload.String(ActionKindKey)
	hash, _ := ev.Payload.String(ParamsHashKey)
	return PreviewFacts{Kind: kind, ParamsHash: hash, Required: true, Producer: producer, At: at}, true
}

// ApprovalClaim is one approval record: what it names and who wrote it
// when.
type ApprovalClaim struct {
	ActionID   string
	Kind       string
	ParamsHash string
	Approver   string
	At         time.Time // when the approval was written
}

// Approval refusal reasons, the first word of CheckApproval's answer.
const (
	RefusedUnknown    = "unknown_action"
	RefusedInAdvance  = "before_preview"
	RefusedDecided    = "already_decided"
	RefusedNotWaiting = "not_waiting"
	RefusedKind       = "kind_mismatch"
	RefusedParams     = "params_mismatch"
	RefusedSelf       = "self_approval"
)

// ApprovalRefusal says why an approval does not count.
type ApprovalRefusal struct {
	Reason string // one of the Refused* constants
	Detail string // a line a person can act on
}

func (r *ApprovalRefusal) Error() string { return r.Reason + ": " + r.Detail }

// CheckApproval returns why claim does not approve the action preview
// describes (preview nil: the lane never previewed it), or nil when it
// does.
func CheckApproval(preview *PreviewFacts, claim ApprovalClaim) *ApprovalRefusal {
	refuse := func(reason, format string, args ...any) *ApprovalRefusal {
		return &ApprovalRefusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case preview == nil:
		return refuse(RefusedUnknown, "no action %s was previewed on the lane; list the waiting ones with `matriz actions`", claim.ActionID)
	case claim.At.Before(preview.At):
		return refuse(RefusedInAdvance, "the approval was written at %s, before action %s was previewed at %s: an action is approved after a person saw it",
			claim.At.UTC().Format(time.RFC3339Nano), claim.ActionID, preview.At.UTC().Format(time.RFC3339Nano))
	case preview.Final != "" && preview.FinalAt.Before(claim.At):
		return refuse(RefusedDecided, "action %s was already %s", claim.ActionID, preview.Final)
	case !preview.Required:
		return refuse(RefusedNotWaiting, "action %s waits for no approval (its lane runs dry or external actions were off)", claim.ActionID)
	case claim.Kind != preview.Kind:
		return refuse(RefusedKind, "the approval names kind %q, action %s is %q", claim.Kind, claim.ActionID, preview.Kind)
	case claim.ParamsHash != preview.ParamsHash:
		return refuse(RefusedParams, "the approval names parameters %q, action %s has %q: approve what the preview shows with `matriz approve`",
			claim.ParamsHash, claim.ActionID, preview.ParamsHash)
	case preview.Producer != "" && claim.Approver == preview.Producer:
		return refuse(RefusedSelf, "%s produced the message that asked for action %s and cannot approve it", claim.Approver, claim.ActionID)
	}
	return nil
}
