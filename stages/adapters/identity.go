package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// SIDScheme names the Symbolic Identity Hash derivation Identity uses; it
// is part of the hashed bytes, so a future scheme cannot collide with it.
const SIDScheme = "matriz-sid/1"

// Identity derives a subject's Symbolic Identity Hash (subject_sid) from
// stable identity fields and checks a supplied one, so a message that
// claims an identity it cannot have is caught before it is acted on.
//
// The derivation (SubjectSID):
//
//	subject   = glyph.tags subject, or "glyph:" + glyph.id when there is none
//	namespace = glyph.tags namespace, or "" when there is none
//	sid       = lower-case hex of SHA-256(enc(SIDScheme) ‖ enc(namespace) ‖ enc(subject))
//	enc(s)    = 4-byte big-endian length of s ‖ the UTF-8 bytes of s
//
// Length prefixes make the encoding unambiguous (namespace "a" with
// subject "bc" differs from "ab" with "c"). The bytes are hashed as given:
// no case folding or Unicode normalisation, which would merge identities
// the sender keeps apart. glyph.kind and glyph.version are left out on
// purpose: one subject emits intents, memories and attention glyphs, and
// its identity must not change with what it emits.
//
// A supplied sid (glyph.tags subject_sid, or payload.subject_sid) is
// compared case-insensitively; a mismatch makes the result not OK with a
// reason, and the payload still carries the derived sid.
//
// Payload out: subject_sid, subject, namespace, scheme, sid_supplied
// (bool), sid_match (bool; true when none was supplied).
type Identity struct{}

// Name returns "identity".
func (Identity) Name() string { return NameIdentity }

// Version returns the node's version.
func (Identity) Version() string { return "1.0.0" }

// SubjectSID is the Symbolic Identity Hash of subject in namespace (see
// Identity for the encoding). Other components that need a sid must call
// it rather than re-implement it.
func SubjectSID(namespace, subject string) string {
	h := sha256.New()
	var n [4]byte
	for _, s := range [...]string{SIDScheme, namespace, subject} {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Handle derives and checks msg's subject_sid.
func (id Identity) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameIdentity); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameIdentity, id.Version()), nil
	}
	in := newInput(NameIdentity, msg)
	subject := msg.Glyph.Tags["subject"]
	if subject == "" {
		if msg.Glyph.ID == "" {
			in.problem("no identity: glyph.tags subject and glyph.id are both empty; want a subject tag or a glyph id")
		}
		subject = "glyph:" + msg.Glyph.ID
	}
	namespace := msg.Glyph.Tags["namespace"]
	supplied, hasSupplied := msg.Glyph.Tags["subject_sid"]
	if p, ok := in.text("subject_sid", false); ok {
		if hasSupplied && !strings.EqualFold(p, supplied) {
			in.problem("glyph.tags subject_sid %q and payload.subject_sid %q differ; supply one", supplied, p)
		}
		supplied, hasSupplied = p, true
	}
	if !in.ok() {
		return refuse(msg, NameIdentity, id.Version(), in.reasons), nil
	}
	sid := SubjectSID(namespace, subject)
	match := !hasSupplied || strings.EqualFold(supplied, sid)
	var reasons []string
	if !match {
		reasons = append(reasons, NameIdentity+": supplied subject_sid "+supplied+" does not match "+sid+", derived from namespace "+
			quoteOrEmpty(namespace)+" and subject "+quoteOrEmpty(subject)+"; the message claims an identity it does not have")
	}
	out := schemas.Payload{
		"subject_sid":  sid,
		"subject":      subject,
		"namespace":    namespace,
		"scheme":       SIDScheme,
		"sid_supplied": hasSupplied,
		"sid_match":    match,
	}
	data := schemas.Payload{"subject_sid": sid, "sid_supplied": hasSupplied, "sid_match": match}
	return answer(msg, NameIdentity, id.Version(), reasons, out, data), nil
}

func quoteOrEmpty(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}
