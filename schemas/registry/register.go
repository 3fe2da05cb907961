// Registration and lookup: the writes that add schemas, and the read
// that finds one by its text.

package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twmb/avro"
)

// schemaRequest is the body of registration, lookup and compatibility
// requests. Fields Confluent added later (metadata, ruleSet) are ignored.
type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
	ID         int               `json:"id"`
	Version    int               `json:"version"`
}

// candidate is a schema from a request, checked and ready to compare.
type candidate struct {
	text   string
	key    string
	schema *avro.Schema
}

// candidate checks the request's schema type, references and text.
func (q *schemaRequest) candidate() (*candidate, *Error) {
	if t := strings.ToUpper(q.SchemaType); t != "" && t != "AVRO" {
		return nil, apiErr(ErrInvalidSchema, "schemaType %q is not supported: this registry stores AVRO schemas only", q.SchemaType)
	}
	if len(q.References) > 0 {
		return nil, apiErr(ErrInvalidSchema, "schema references are not supported by this registry: inline the referenced named types into the schema")
	}
	s, err := parseSchema(q.Schema)
	if err != nil {
		return nil, apiErr(ErrInvalidSchema, "invalid Avro schema: %v", err)
	}
	key, err := schemaKey(q.Schema)
	if err != nil {
		return nil, apiErr(ErrInvalidSchema, "invalid Avro schema: %v", err)
	}
	return &candidate{text: compactSchema(q.Schema), key: key, schema: s}, nil
}

// register adds the request's schema to subject, or returns the id it
// already has there.
func (r *Registry) register(ctx context.Context, subject string, q schemaRequest) (int, *Error) {
	if aerr := r.checkSize(q.Schema); aerr != nil {
		return 0, aerr
	}
	c, aerr := q.candidate()
	if aerr != nil {
		return 0, aerr
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if aerr := r.writable(ctx); aerr != nil {
		return 0, aerr
	}

	r.mu.RLock()
	live := r.st.versionsOf(subject, false)
	for _, v := range live {
		if r.st.schemas[v.id].key == c.key {
			r.mu.RUnlock()
			if q.ID > 0 && q.ID != v.id {
				return 0, apiErr(ErrOperationNotPermitted, "subject %q already has this schema under id %d, not %d", subject, v.id, q.ID)
			}
			return v.id, nil
		}
	}
	if aerr := r.checkRoom(subject); aerr != nil {
		r.mu.RUnlock()
		return 0, aerr
	}
	level := r.st.level(subject, r.cfg.defaultLevel)
	priors := make([]prior, len(live))
	for i, v := range live {
		priors[i] = prior{label: fmt.Sprintf("version %d", v.version), schema: r.st.schemas[v.id].schema}
	}
	id, known := r.st.byKey[c.key]
	if !known {
		id = max(r.st.maxID, r.reservedID) + 1
	}
	next := 1
	if all := r.st.versionsOf(subject, true); len(all) > 0 {
		next = all[len(all)-1].version + 1
	}
	r.mu.RUnlock()

	if q.ID > 0 && q.ID != id {
		return 0, apiErr(ErrOperationNotPermitted, "choosing the id (%d) needs IMPORT mode, which this registry does not have; register without an id and it gets %d", q.ID, id)
	}
	if q.Version > 0 && q.Version != next {
		return 0, apiErr(ErrOperationNotPermitted, "choosing the version (%d) needs IMPORT mode, which this registry does not have; the next version of %q is %d", q.Version, subject, next)
	}
	if reasons := checkParsed(level, c.schema, priors); len(reasons) > 0 {
		return 0, apiErr(ErrIncompatible, "schema being registered is incompatible with an earlier schema for subject %q under %s compatibility: %s",
			subject, level, strings.Join(reasons, "; "))
	}
	r.reservedID = max(r.reservedID, id)
	rec := schemaRecord(schemaRecordValue{Subject: subject, Version: next, ID: id, Schema: c.text})
	if aerr := r.commit(ctx, rec); aerr != nil {
		return 0, aerr
	}
	return id, nil
}

// lookup finds the version of subject that has the request's schema.
func (r *Registry) lookup(subject string, q schemaRequest, withDeleted bool) (subjectSchema, *Error) {
	if aerr := r.checkSize(q.Schema); aerr != nil {
		return subjectSchema{}, aerr
	}
	c, aerr := q.candidate()
	if aerr != nil {
		return subjectSchema{}, aerr
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	versions := r.st.versionsOf(subject, withDeleted)
	if len(versions) == 0 {
		return subjectSchema{}, subjectNotFound(subject)
	}
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if e := r.st.schemas[v.id]; e.key == c.key {
			return subjectSchema{Subject: subject, Version: v.version, ID: v.id, Schema: e.text}, nil
		}
	}
	return subjectSchema{}, apiErr(ErrSchemaNotFound, "schema not found in subject %q", subject)
}
