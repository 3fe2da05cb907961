// The compatibility endpoint's operation: what registration would decide,
// without registering.

package registry

import "fmt"

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
	if aerr := r.checkSize(q.Schema); aerr != nil {
		return false, nil, aerr
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
