package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// ErrContract is wrapped by every *ContractError, so the runtime can send a
// decodable message that breaks the Node Contract to the DLQ with errors.Is.
var ErrContract = errors.New("schemas: node contract violation")

// ContractError names the first field of a record that breaks the Node
// Contract v1, with the offending value (shortened) and the rule.
type ContractError struct {
	Field  string // dotted path: "msg_id", "glyph.id", "payload.intent"
	Value  string // the value as found, quoted and cut to 64 bytes
	Reason string // the rule broken, e.g. "not a UUID"
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("schemas: contract: field %s = %s: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrContract.
func (e *ContractError) Unwrap() error { return ErrContract }

func contractErr(field string, value any, reason string) *ContractError {
	s := fmt.Sprintf("%q", fmt.Sprint(value))
	if _, isString := value.(string); !isString {
		s = fmt.Sprintf("%v (%T)", value, value)
	}
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return &ContractError{Field: field, Value: s, Reason: reason}
}

// Validate checks m against the Node Contract v1: msg_id and glyph.id are
// UUIDs in the canonical 8-4-4-4-12 form, ts is set, lane is one of the
// three lanes, topic is not empty, and every payload value has a type of
// the payload union. It returns nil or the first violation as a
// *ContractError. Decoding checks only the Avro shape; the runtime calls
// Validate on every decoded message before any stage sees it.
func (m *MatrizMessage) Validate() error {
	if !isUUID(m.MsgID) {
		return contractErr("msg_id", m.MsgID, uuidRule)
	}
	if m.TS.IsZero() {
		return contractErr("ts", m.TS, "not set: event time is required for windowing and replay")
	}
	if !m.Lane.Valid() {
		return contractErr("lane", string(m.Lane), "not a lane (want experimental, candidate or prod)")
	}
	if err := m.Glyph.validate("glyph."); err != nil {
		return err
	}
	if strings.TrimSpace(m.Topic) == "" {
		return contractErr("topic", m.Topic, "empty: the router needs a topic")
	}
	return m.Payload.validate("payload.")
}

// Validate checks g against GLYPH v1: id is a UUID.
func (g *Glyph) Validate() error { return g.validate("") }

func (g *Glyph) validate(prefix string) error {
	if !isUUID(g.ID) {
		return contractErr(prefix+"id", g.ID, uuidRule)
	}
	return nil
}

// validate reports the first value (in key order) outside the payload union.
func (p Payload) validate(prefix string) error {
	var bad []string
	for k, v := range p {
		switch v.(type) {
		case nil, bool, int, int64, float64, string, []float64, []string:
		default:
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	k := bad[0]
	for _, b := range bad[1:] {
		k = min(k, b)
	}
	return contractErr(prefix+k, p[k], "type outside the payload union (nil, bool, int64, float64, string, []float64, []string)")
}

const uuidRule = "not a UUID in canonical form (want 8-4-4-4-12 lower-case hex digits)"

// isUUID reports whether s is a UUID in canonical textual form: 36 bytes,
// hyphens at 8, 13, 18 and 23, lower-case hex digits elsewhere (RFC 9562's
// output form). Other spellings that parsers accept (upper case, braces,
// urn:uuid:, no hyphens) are refused: glyph.id is the Kafka key, and one
// glyph must have one key, so one partition and one order.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
