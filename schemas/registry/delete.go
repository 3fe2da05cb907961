// Deletes: soft first, then permanent, as Confluent does. A permanent
// delete writes the MAX_ID record before its tombstones, so ids stay
// unique after compaction.

package registry

import "context"

// deleteSubject soft-deletes every live version of subject, or with
// permanent removes a soft-deleted subject for good. It returns the
// versions it deleted.
func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *Error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if aerr := r.writable(ctx); aerr != nil {
		return nil, aerr
	}
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
	if aerr := r.writable(ctx); aerr != nil {
		return 0, aerr
	}
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
