// The reads: subjects, versions and schemas by id, answered from the
// in-memory index alone.

package registry

import (
	"math"
	"strconv"
	"strings"
)

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
