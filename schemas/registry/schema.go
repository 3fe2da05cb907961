package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/avro"
)

// maxSchemaBytes bounds one schema's text; larger requests are refused
// before parsing.
const maxSchemaBytes = 1 << 20

// parseSchema compiles an Avro schema, refusing empty and oversized text.
func parseSchema(text string) (*avro.Schema, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("empty schema")
	}
	if len(text) > maxSchemaBytes {
		return nil, fmt.Errorf("schema is %d bytes, more than the %d allowed", len(text), maxSchemaBytes)
	}
	return avro.Parse(text)
}

// compactSchema is the schema text the registry stores and returns: the
// text as given, without insignificant whitespace, key order kept.
func compactSchema(text string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil {
		return text
	}
	return b.String()
}

// schemaKey is a schema's identity for idempotent registration: the JSON
// with object keys sorted, no whitespace, and {"type":"int"} written as
// "int". Two texts with the same key are the same schema, so they get the
// same id.
//
// This is stricter than the Parsing Canonical Form on purpose: PCF strips
// defaults, aliases, logical types and enum defaults, and those change how
// data resolves. Under PCF, a v2 that only adds a default to a field would
// silently come back as v1's id and never be registered.
func schemaKey(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	b, err := json.Marshal(normalizeJSON(v))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// normalizeJSON unwraps primitive type objects that carry nothing but
// "type"; json.Marshal then sorts the keys of every object.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			if s, ok := t["type"].(string); ok && isPrimitive(s) {
				return s
			}
		}
		for k, e := range t {
			if k != "default" { // a default is data, not a schema
				t[k] = normalizeJSON(e)
			}
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeJSON(e)
		}
		return t
	default:
		return v
	}
}

func isPrimitive(s string) bool {
	switch s {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
		return true
	}
	return false
}
