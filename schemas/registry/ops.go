package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
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

// subjectSchema is one version of a subject, as the API shows it.
type subjectSchema struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// versionRef is a parsed {version} path segment.
type versionRef struct {
	n      int
	latest bool
}

// parseVersion reads "latest", -1 (Confluent's spelling of latest) or a
// version in [1, 2^31-1].
func parseVersion(s string) (versionRef, *Error) {
	if s == "latest" || s == "-1" {
		return versionRef{latest: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return versionRef{}, apiErr(ErrInvalidVersion,
			"the specified version %q is not a valid version id: allowed values are between [1, 2^31-1] and the string \"latest\"", s)
	}
	return versionRef{n: n}, nil
}

func subjectNotFound(subject string) *Error {
	return apiErr(ErrSubjectNotFound, "subject %q not found", subject)
}

func versionNotFound(subject string, ref versionRef) *Error {
	if ref.latest {
		return apiErr(ErrVersionNotFound, "subject %q has no latest version", subject)
	}
	return apiErr(ErrVersionNotFound, "version %d not found in subject %q", ref.n, subject)
}

// find picks ref out of versions (ascending).
func find(versions []*versionState, ref versionRef) *versionState {
	if len(versions) == 0 {
		return nil
	}
	if ref.latest {
		return versions[len(versions)-1]
	}
	for _, v := range versions {
		if v.version == ref.n {
			return v
		}
	}
	return nil
}

// register adds the request's schema to subject, or returns the id it
// already has there.
func (r *Registry) register(ctx context.Context, subject string, q schemaRequest) (int, *Error) {
	c, aerr := q.candidate()
	if aerr != nil {
		return 0, aerr
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()

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

// subjects lists subject names; deletedOnly lists those whose every
// version is soft-deleted.
func (r *Registry) subjects(withDeleted, deletedOnly bool, prefix string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := r.st.subjectNames(withDeleted || deletedOnly)
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if deletedOnly && len(r.st.versionsOf(n, false)) > 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// versions lists subject's version numbers.
func (r *Registry) versions(subject string, withDeleted, deletedOnly bool) ([]int, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versionsOf(subject, withDeleted || deletedOnly)
	if len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		if deletedOnly && !v.deleted {
			continue
		}
		out = append(out, v.version)
	}
	return out, nil
}

// version returns one version of subject.
func (r *Registry) version(subject, ver string, withDeleted bool) (subjectSchema, *Error) {
	ref, aerr := parseVersion(ver)
	if aerr != nil {
		return subjectSchema{}, aerr
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versionsOf(subject, withDeleted)
	if len(vs) == 0 {
		return subjectSchema{}, subjectNotFound(subject)
	}
	v := find(vs, ref)
	if v == nil {
		return subjectSchema{}, versionNotFound(subject, ref)
	}
	return subjectSchema{Subject: subject, Version: v.version, ID: v.id, Schema: r.st.schemas[v.id].text}, nil
}

// schemaByID returns the text of schema id.
func (r *Registry) schemaByID(id string) (string, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, aerr := r.entry(id)
	if aerr != nil {
		return "", aerr
	}
	return e.text, nil
}

// entry finds a schema by its id path segment. Called with mu held.
func (r *Registry) entry(id string) (*schemaEntry, *Error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return nil, apiErr(ErrSchemaNotFound, "schema %q not found: a schema id is a positive integer", id)
	}
	e, ok := r.st.schemas[n]
	if !ok {
		return nil, apiErr(ErrSchemaNotFound, "schema %d not found", n)
	}
	return e, nil
}

// uses lists the subject versions that use schema id.
func (r *Registry) uses(id string, withDeleted bool) ([]subjectVersion, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, aerr := r.entry(id)
	if aerr != nil {
		return nil, aerr
	}
	out := r.st.usesOf(e.id, withDeleted)
	if out == nil {
		out = []subjectVersion{}
	}
	return out, nil
}

// compatibility checks the request's schema against one version of subject
// (ver), or, for ver "", against what registration would check.
func (r *Registry) compatibility(subject, ver string, q schemaRequest) (bool, []string, *Error) {
	var ref versionRef
	if ver != "" {
		var aerr *Error
		if ref, aerr = parseVersion(ver); aerr != nil {
			return false, nil, aerr
		}
	}
	c, aerr := q.candidate()
	if aerr != nil {
		return false, nil, aerr
	}
	r.mu.RLock()
	live := r.st.versionsOf(subject, false)
	level := r.st.level(subject, r.cfg.defaultLevel)
	var against []*versionState
	switch {
	case ver == "":
		against = live
	case len(live) == 0:
		r.mu.RUnlock()
		return false, nil, subjectNotFound(subject)
	default:
		v := find(live, ref)
		if v == nil {
			r.mu.RUnlock()
			return false, nil, versionNotFound(subject, ref)
		}
		against = []*versionState{v}
	}
	priors := make([]prior, len(against))
	for i, v := range against {
		priors[i] = prior{label: fmt.Sprintf("version %d", v.version), schema: r.st.schemas[v.id].schema}
	}
	r.mu.RUnlock()
	reasons := checkParsed(level, c.schema, priors)
	return len(reasons) == 0, reasons, nil
}

// globalLevel returns the global compatibility level.
func (r *Registry) globalLevel() Level {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.globalLevel(r.cfg.defaultLevel)
}

// subjectLevel returns subject's own level, or with defaultToGlobal the
// level that governs it.
func (r *Registry) subjectLevel(subject string, defaultToGlobal bool) (Level, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if sub, ok := r.st.subjects[subject]; ok && sub.level != "" {
		return sub.level, nil
	}
	if defaultToGlobal {
		return r.st.globalLevel(r.cfg.defaultLevel), nil
	}
	return "", apiErr(ErrSubjectLevelNotSet,
		"subject %q does not have subject-level compatibility configured; ask with ?defaultToGlobal=true for the level that applies", subject)
}

// setLevel sets subject's level, or the global one for subject "".
func (r *Registry) setLevel(ctx context.Context, subject, name string) (Level, *Error) {
	l, aerr := parseLevel(name)
	if aerr != nil {
		return "", aerr
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if aerr = r.commit(ctx, configRecord(subject, l)); aerr != nil {
		return "", aerr
	}
	return l, nil
}

// deleteLevel removes subject's own level (or the global one for subject
// "") and returns the level it had.
func (r *Registry) deleteLevel(ctx context.Context, subject string) (Level, *Error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.RLock()
	var old Level
	if subject == "" {
		old = r.st.globalLevel(r.cfg.defaultLevel)
	} else {
		sub, ok := r.st.subjects[subject]
		switch {
		case !ok:
			r.mu.RUnlock()
			return "", subjectNotFound(subject)
		case sub.level == "":
			r.mu.RUnlock()
			return "", apiErr(ErrSubjectLevelNotSet, "subject %q does not have subject-level compatibility configured", subject)
		}
		old = sub.level
	}
	r.mu.RUnlock()
	if aerr := r.commit(ctx, configRecord(subject, "")); aerr != nil {
		return "", aerr
	}
	return old, nil
}

// deleteSubject soft-deletes every live version of subject, or with
// permanent removes a soft-deleted subject for good. It returns the
// versions it deleted.
func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *Error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.RLock()
	all := r.st.versionsOf(subject, true)
	live := r.st.versionsOf(subject, false)
	level := Level("")
	if sub, ok := r.st.subjects[subject]; ok {
		level = sub.level
	}
	maxID := max(r.st.maxID, r.reservedID)
	r.mu.RUnlock()

	if len(all) == 0 {
		return nil, subjectNotFound(subject)
	}
	var recs []Record
	var deleted []int
	if !permanent {
		if len(live) == 0 {
			return nil, apiErr(ErrSubjectSoftDeleted, "subject %q was soft deleted; set permanent=true to delete it permanently", subject)
		}
		for _, v := range live {
			recs = append(recs, r.softDeleted(subject, v))
			deleted = append(deleted, v.version)
		}
	} else {
		if len(live) > 0 {
			return nil, apiErr(ErrSubjectNotSoftDeleted, "subject %q was not deleted first before being permanently deleted: delete it without permanent=true first", subject)
		}
		recs = append(recs, maxIDRecord(maxID))
		for _, v := range all {
			recs = append(recs, schemaTombstone(subject, v.version))
			deleted = append(deleted, v.version)
		}
		if level != "" {
			recs = append(recs, configRecord(subject, ""))
		}
	}
	if aerr := r.commit(ctx, recs...); aerr != nil {
		return nil, aerr
	}
	return deleted, nil
}

// deleteVersion soft-deletes one version, or with permanent removes a
// soft-deleted version for good.
func (r *Registry) deleteVersion(ctx context.Context, subject, ver string, permanent bool) (int, *Error) {
	ref, aerr := parseVersion(ver)
	if aerr != nil {
		return 0, aerr
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.RLock()
	all := r.st.versionsOf(subject, true)
	live := r.st.versionsOf(subject, false)
	maxID := max(r.st.maxID, r.reservedID)
	r.mu.RUnlock()

	if len(all) == 0 {
		return 0, subjectNotFound(subject)
	}
	var v *versionState
	if ref.latest && !permanent {
		v = find(live, ref)
	} else {
		v = find(all, ref)
	}
	if v == nil {
		return 0, versionNotFound(subject, ref)
	}
	var recs []Record
	switch {
	case !permanent && v.deleted:
		return 0, apiErr(ErrVersionSoftDeleted, "version %d of subject %q was soft deleted; set permanent=true to delete it permanently", v.version, subject)
	case !permanent:
		recs = append(recs, r.softDeleted(subject, v))
	case !v.deleted:
		return 0, apiErr(ErrVersionNotSoftDeleted, "version %d of subject %q was not deleted first before being permanently deleted: delete it without permanent=true first", v.version, subject)
	default:
		recs = append(recs, maxIDRecord(maxID), schemaTombstone(subject, v.version))
	}
	if aerr := r.commit(ctx, recs...); aerr != nil {
		return 0, aerr
	}
	return v.version, nil
}

// softDeleted is the record that marks v deleted. Called with writeMu
// held, so the schema text read here cannot change.
func (r *Registry) softDeleted(subject string, v *versionState) Record {
	r.mu.RLock()
	text := r.st.schemas[v.id].text
	r.mu.RUnlock()
	return schemaRecord(schemaRecordValue{Subject: subject, Version: v.version, ID: v.id, Schema: text, Deleted: true})
}
