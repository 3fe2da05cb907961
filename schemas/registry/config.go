// Compatibility levels, global and per subject.

package registry

import "context"

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
	if aerr := r.writable(ctx); aerr != nil {
		return "", aerr
	}
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
	if aerr := r.writable(ctx); aerr != nil {
		return "", aerr
	}
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
