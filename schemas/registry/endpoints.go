package registry

import (
	"encoding/json"
	"net/http"
)

// The endpoints, one per method and path; each reads its parameters and
// calls the registry operation of the same name.

func (reg *Registry) getRoot(*http.Request) (any, *Error) { return struct{}{}, nil }

func (reg *Registry) getTypes(*http.Request) (any, *Error) { return []string{"AVRO"}, nil }

func (reg *Registry) getSubjects(r *http.Request) (any, *Error) {
	f, aerr := boolParams(r, "deleted", "deletedOnly")
	if aerr != nil {
		return nil, aerr
	}
	return reg.subjects(f[0], f[1], r.URL.Query().Get("subjectPrefix")), nil
}

func (reg *Registry) postVersion(r *http.Request) (any, *Error) {
	var q schemaRequest
	if aerr := decodeBody(r, &q); aerr != nil {
		return nil, aerr
	}
	id, aerr := reg.register(r.Context(), r.PathValue("subject"), q)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		ID int `json:"id"`
	}{id}, nil
}

func (reg *Registry) postLookup(r *http.Request) (any, *Error) {
	deleted, aerr := boolParam(r, "deleted")
	if aerr != nil {
		return nil, aerr
	}
	var q schemaRequest
	if aerr := decodeBody(r, &q); aerr != nil {
		return nil, aerr
	}
	return reg.lookup(r.PathValue("subject"), q, deleted)
}

func (reg *Registry) getVersions(r *http.Request) (any, *Error) {
	f, aerr := boolParams(r, "deleted", "deletedOnly")
	if aerr != nil {
		return nil, aerr
	}
	return reg.versions(r.PathValue("subject"), f[0], f[1])
}

func (reg *Registry) getVersion(r *http.Request) (any, *Error) {
	deleted, aerr := boolParam(r, "deleted")
	if aerr != nil {
		return nil, aerr
	}
	return reg.version(r.PathValue("subject"), r.PathValue("version"), deleted)
}

func (reg *Registry) getVersionSchema(r *http.Request) (any, *Error) {
	deleted, aerr := boolParam(r, "deleted")
	if aerr != nil {
		return nil, aerr
	}
	s, aerr := reg.version(r.PathValue("subject"), r.PathValue("version"), deleted)
	if aerr != nil {
		return nil, aerr
	}
	return json.RawMessage(s.Schema), nil
}

func (reg *Registry) getSchemaByID(r *http.Request) (any, *Error) {
	text, aerr := reg.schemaByID(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Schema string `json:"schema"`
	}{text}, nil
}

func (reg *Registry) getSchemaTextByID(r *http.Request) (any, *Error) {
	text, aerr := reg.schemaByID(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return json.RawMessage(text), nil
}

func (reg *Registry) getIDSubjects(r *http.Request) (any, *Error) {
	deleted, aerr := boolParam(r, "deleted")
	if aerr != nil {
		return nil, aerr
	}
	uses, aerr := reg.uses(r.PathValue("id"), deleted)
	if aerr != nil {
		return nil, aerr
	}
	subjects := []string{}
	for _, u := range uses {
		if len(subjects) == 0 || subjects[len(subjects)-1] != u.Subject {
			subjects = append(subjects, u.Subject)
		}
	}
	return subjects, nil
}

func (reg *Registry) getIDVersions(r *http.Request) (any, *Error) {
	deleted, aerr := boolParam(r, "deleted")
	if aerr != nil {
		return nil, aerr
	}
	return reg.uses(r.PathValue("id"), deleted)
}

func (reg *Registry) postCompatibility(r *http.Request) (any, *Error) {
	verbose, aerr := boolParam(r, "verbose")
	if aerr != nil {
		return nil, aerr
	}
	var q schemaRequest
	if aerr := decodeBody(r, &q); aerr != nil {
		return nil, aerr
	}
	ok, reasons, aerr := reg.compatibility(r.PathValue("subject"), r.PathValue("version"), q)
	if aerr != nil {
		return nil, aerr
	}
	type result struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages,omitempty"`
	}
	if !verbose {
		return result{IsCompatible: ok}, nil
	}
	if reasons == nil {
		reasons = []string{}
	}
	return struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}{ok, reasons}, nil
}

type levelBody struct {
	Level Level `json:"compatibilityLevel"`
}

func (reg *Registry) getConfig(r *http.Request) (any, *Error) {
	subject := r.PathValue("subject")
	if subject == "" {
		return levelBody{reg.globalLevel()}, nil
	}
	dtg, aerr := boolParam(r, "defaultToGlobal")
	if aerr != nil {
		return nil, aerr
	}
	l, aerr := reg.subjectLevel(subject, dtg)
	if aerr != nil {
		return nil, aerr
	}
	return levelBody{l}, nil
}

func (reg *Registry) putConfig(r *http.Request) (any, *Error) {
	var q struct {
		Compatibility string `json:"compatibility"`
	}
	if aerr := decodeBody(r, &q); aerr != nil {
		return nil, aerr
	}
	l, aerr := reg.setLevel(r.Context(), r.PathValue("subject"), q.Compatibility)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Compatibility Level `json:"compatibility"`
	}{l}, nil
}

func (reg *Registry) deleteConfig(r *http.Request) (any, *Error) {
	l, aerr := reg.deleteLevel(r.Context(), r.PathValue("subject"))
	if aerr != nil {
		return nil, aerr
	}
	return levelBody{l}, nil
}

func (reg *Registry) deleteSubjectEP(r *http.Request) (any, *Error) {
	permanent, aerr := boolParam(r, "permanent")
	if aerr != nil {
		return nil, aerr
	}
	return reg.deleteSubject(r.Context(), r.PathValue("subject"), permanent)
}

func (reg *Registry) deleteVersionEP(r *http.Request) (any, *Error) {
	permanent, aerr := boolParam(r, "permanent")
	if aerr != nil {
		return nil, aerr
	}
	return reg.deleteVersion(r.Context(), r.PathValue("subject"), r.PathValue("version"), permanent)
}
