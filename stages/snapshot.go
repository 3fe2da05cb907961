package stages

// The snapshot encoding every stateful stage writes to the changelog, and
// reads back on reassignment.
//
// A snapshot is one JSON object, the envelope:
//
//	{"format":2,"stage":"drift","state":{...}}
//
// format is the version of the encoding, stage the name of the stage that
// wrote it and state that stage's state, a JSON object whose fields the
// stage's file documents. JSON keeps a snapshot readable in the changelog
// when someone debugs a restore, and it is byte-stable: the same state gives
// the same bytes (struct fields in order, map keys sorted, and float64
// values round-trip exactly).
//
// Format 1 is the legacy form, written before there was an envelope: the
// bare state object with a "v":1 field beside the state's own fields, for
// example {"v":1,"lane":"prod","base":{...},"cusum":{...}}. Changelog
// topics still hold it, so decodeSnapshot reads it as the same state:
// format 2 only moved the version out into the envelope and added the
// stage's name.
//
// A snapshot is refused with an error wrapping ErrSnapshot, naming the
// stage, what was found and what was expected, when it is not JSON, is
// truncated, belongs to another stage, has a format this code does not know
// (a newer one included), or has a field the state does not. Stages decode
// into a fresh value, check it, and only then replace their state, so a
// refused snapshot leaves the state it found.
//
// A change to any stage's state that an older reader would misread is a new
// format: bump snapshotFormat and teach decodeSnapshot to read the previous
// one, as it reads format 1.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

const (
	// snapshotFormat is the format encodeSnapshot writes.
	snapshotFormat = 2
	// legacyFormat is the bare state object with "v":1 and no envelope.
	legacyFormat = 1
)

// snapshotWant says which formats decodeSnapshot reads, for its errors.
var snapshotWant = fmt.Sprintf("format %d (or the legacy format %d)", snapshotFormat, legacyFormat)

// envelope is a snapshot as encodeSnapshot writes it.
type envelope[T any] struct {
	Format int    `json:"format"`
	Stage  string `json:"stage"`
	State  T      `json:"state"`
}

// encodeSnapshot wraps state in the envelope of stage.
func encodeSnapshot[T any](stage string, state T) ([]byte, error) {
	b, err := json.Marshal(envelope[T]{Format: snapshotFormat, Stage: stage, State: state})
	if err != nil {
		return nil, fmt.Errorf("%s: snapshot: %w", stage, err)
	}
	return b, nil
}

// decodeSnapshot reads a snapshot of stage, in the current or the legacy
// format, into into, which should be a fresh value: on error it may hold
// part of the state.
func decodeSnapshot[T any](stage string, b []byte, into *T) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return restoreError(stage, fmt.Sprintf("%d bytes that are not a JSON object (%v)", len(b), err), "a snapshot in "+snapshotWant)
	}
	if top == nil {
		return restoreError(stage, "null", "a snapshot in "+snapshotWant)
	}
	_, enveloped := top["format"]
	_, legacy := top["v"]
	switch {
	case enveloped:
		return decodeEnvelope(stage, top, into)
	case legacy:
		return decodeLegacy(stage, top, into)
	}
	return restoreError(stage, fmt.Sprintf("an object with fields %s and neither format nor v", fieldList(top)), "a snapshot in "+snapshotWant)
}

func decodeEnvelope[T any](stage string, top map[string]json.RawMessage, into *T) error {
	var format int
	if err := json.Unmarshal(top["format"], &format); err != nil || format != snapshotFormat {
		return restoreError(stage, "format "+string(top["format"]), snapshotWant)
	}
	var from string
	if err := json.Unmarshal(top["stage"], &from); err != nil || from != stage {
		return restoreError(stage, "a snapshot of stage "+orMissing(top["stage"]), fmt.Sprintf("a snapshot of stage %q", stage))
	}
	for k := range top {
		if k != "format" && k != "stage" && k != "state" {
			return restoreError(stage, fmt.Sprintf("envelope field %q", k), "only format, stage and state")
		}
	}
	state, ok := top["state"]
	if !ok {
		return restoreError(stage, "an envelope without state", "format, stage and state")
	}
	if err := decodeState(state, into); err != nil {
		return restoreError(stage, fmt.Sprintf("a state that does not decode (%v)", err), "the "+stage+" state")
	}
	return nil
}

func decodeLegacy[T any](stage string, top map[string]json.RawMessage, into *T) error {
	var v int
	if err := json.Unmarshal(top["v"], &v); err != nil || v != legacyFormat {
		return restoreError(stage, "a bare state with v "+string(top["v"]), snapshotWant)
	}
	delete(top, "v")
	state, err := json.Marshal(top)
	if err == nil {
		err = decodeState(state, into)
	}
	if err != nil {
		return restoreError(stage, fmt.Sprintf("a format-%d state that does not decode (%v)", legacyFormat, err), "the "+stage+" state")
	}
	return nil
}

// decodeState decodes one JSON value into into, refusing fields into does
// not have: bytes from another stage or a newer format must not restore
// half a state.
func decodeState[T any](b []byte, into *T) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// restoreError is why a snapshot was refused: what was found and what was
// wanted. It wraps ErrSnapshot.
func restoreError(stage, found, want string) error {
	return fmt.Errorf("%s: restore: found %s, want %s: %w", stage, found, want, ErrSnapshot)
}

func orMissing(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	return string(raw)
}

func fieldList(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "(none)"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
