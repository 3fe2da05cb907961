package stages

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// marshalSnapshot encodes a partition's state as JSON: readable in the
// changelog when someone debugs a restore, and stable (map keys sorted, and
// float64 values round-trip exactly), so the same state gives the same bytes.
func marshalSnapshot(stage string, partition int32, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: snapshot of partition %d: %w", stage, partition, err)
	}
	return b, nil
}

// unmarshalSnapshot decodes state into v, refusing unknown fields: bytes
// from another stage or a newer version must not restore half a state.
func unmarshalSnapshot(stage string, partition int32, state []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return snapshotError(stage, partition, err.Error())
	}
	return nil
}

// snapshotError says why a snapshot was refused; it wraps ErrSnapshot.
func snapshotError(stage string, partition int32, why string) error {
	return fmt.Errorf("%s: restore partition %d: %s: %w", stage, partition, why, ErrSnapshot)
}
