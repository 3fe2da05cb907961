package stages

import (
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// TestParamsHashNamesTheParameters: the hash does not depend on the order
// a payload was built in, and changes with any value or its type.
func TestParamsHashNamesTheParameters(t *testing.T) {
	a, err := ParamsHash(schemas.Payload{"amount": 10.5, "to": "acct-1", "n": int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParamsHash(schemas.Payload{"n": int64(3), "to": "acct-1", "amount": 10.5})
	if a != b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+64 {
		t.Fatalf("hashes %q and %q of one payload, want one sha256", a, b)
	}
	for _, p := range []schemas.Payload{
		{"amount": 10.51, "to": "acct-1", "n": int64(3)},
		{"amount": 10.5, "to": "acct-2", "n": int64(3)},
		{"amount": 10.5, "to": "acct-1", "n": 3.0},
		{"amount": 10.5, "to": "acct-1"},
	} {
		if h, _ := ParamsHash(p); h == a {
			t.Errorf("payload %v hashes as the original", p)
		}
	}
	if _, err := ParamsHash(schemas.Payload{"x": struct{}{}}); err == nil {
		t.Error("a value no payload can hold was hashed")
	}
}

// TestCheckApprovalRefusesWhatNoPersonApproved: an approval counts only
// for an action previewed before it was written, still undecided and
// waiting, of the kind and parameters it names, by someone other than
// the producer of the message that asked for it.
func TestCheckApprovalRefusesWhatNoPersonApproved(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	preview := func() *PreviewFacts {
		return &PreviewFacts{Kind: "wire", ParamsHash: "sha256:aa", Required: true, Producer: "User:alice", At: t0}
	}
	claim := ApprovalClaim{ActionID: "a1", Kind: "wire", ParamsHash: "sha256:aa", Approver: "User:bob", At: t0.Add(time.Minute)}
	if r := CheckApproval(preview(), claim); r != nil {
		t.Fatalf("a valid approval refused: %v", r)
	}
	executedAfter := preview()
	executedAfter.Final, executedAfter.FinalAt = ActionExecuted, t0.Add(2*time.Minute)
	if r := CheckApproval(executedAfter, claim); r != nil {
		t.Fatalf("the approval that led to the execution refused on a restart: %v", r)
	}
	for _, c := range []struct {
		name   string
		p      func() *PreviewFacts
		claim  func(ApprovalClaim) ApprovalClaim
		reason string
	}{
		{"unknown", func() *PreviewFacts { return nil }, nil, RefusedUnknown},
		{"in advance", preview, func(c ApprovalClaim) ApprovalClaim { c.At = t0.Add(-time.Second); return c }, RefusedInAdvance},
		{"decided", func() *PreviewFacts {
			p := preview()
			p.Final, p.FinalAt = ActionFailed, t0.Add(30*time.Second)
			return p
		}, nil, RefusedDecided},
		{"not waiting", func() *PreviewFacts { p := preview(); p.Required = false; return p }, nil, RefusedNotWaiting},
		{"kind", preview, func(c ApprovalClaim) ApprovalClaim { c.Kind = "notify"; return c }, RefusedKind},
		{"params", preview, func(c ApprovalClaim) ApprovalClaim { c.ParamsHash = "sha256:bb"; return c }, RefusedParams},
		{"no params", preview, func(c ApprovalClaim) ApprovalClaim { c.ParamsHash = ""; return c }, RefusedParams},
		{"self", preview, func(c ApprovalClaim) ApprovalClaim { c.Approver = "User:alice"; return c }, RefusedSelf},
	} {
		cl := claim
		if c.claim != nil {
			cl = c.claim(cl)
		}
		r := CheckApproval(c.p(), cl)
		if r == nil || r.Reason != c.reason || !strings.Contains(r.Error(), "a1") {
			t.Errorf("%s: CheckApproval = %v, want %s naming the action", c.name, r, c.reason)
		}
	}
}

// TestPreviewFactsOfReadsWhatAnApprovalMustMatch: a preview that waits
// for a human gives its kind, parameters hash, producer and time; one
// that waits for none gives nothing to approve.
func TestPreviewFactsOfReadsWhatAnApprovalMustMatch(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := schemas.Event{Kind: schemas.EventAction, Payload: schemas.Payload{
		"approval_required": true, ActionKindKey: "refund", ParamsHashKey: "h1"}}
	got, ok := PreviewFactsOf(&ev, "alice", at)
	want := PreviewFacts{Kind: "refund", ParamsHash: "h1", Required: true, Producer: "alice", At: at}
	if !ok || got != want {
		t.Fatalf("PreviewFactsOf = %+v, %v; want %+v, true", got, ok, want)
	}
	ev.Payload["approval_required"] = false
	if got, ok := PreviewFactsOf(&ev, "alice", at); ok || got != (PreviewFacts{}) {
		t.Fatalf("a preview waiting for no approval gave %+v, %v", got, ok)
	}
}
