// Repair after fencing: a record that did not count (fence.go) is still on
// the topic, and compaction keeps the latest record of each key. A fenced
// record stored after a valid one with the same key would, once compacted,
// be all that is left of that key, and a replay would lose the valid
// state. So the writer stores the live state of every such key again,
// after the fenced record, and compaction keeps the valid one.

package registry

import (
	"context"
	"encoding/json"
)

// noteShadow remembers the key of a record that did not count, when it is
// of a kind a valid record may share. Called by catchUp with followMu held.
func (r *Registry) noteShadow(rec Record) {
	if len(rec.Value) == 0 {
		return
	}
	var k anyRecordKey
	if json.Unmarshal(rec.Key, &k) != nil {
		return
	}
	switch k.KeyType {
	case keyTypeSchema, keyTypeConfig, keyTypeMaxID:
		if r.shadowed == nil {
			r.shadowed = map[string]struct{}{}
		}
		r.shadowed[string(rec.Key)] = struct{}{}
	}
}

// repair stores again the live state of every key a fenced record
// shadows. Only the writer repairs; the others forget the keys, since the
// writer sees the same records.
func (r *Registry) repair(ctx context.Context) *Error {
	r.followMu.Lock()
	keys := r.shadowed
	r.shadowed = nil
	r.followMu.Unlock()
	if len(keys) == 0 || !r.isWriter() {
		return nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if aerr := r.writable(ctx); aerr != nil {
		return aerr
	}
	recs := r.liveRecords(keys)
	if len(recs) == 0 {
		return nil
	}
	r.cfg.logger.Warn("registry: storing again the records a fenced writer shadowed", "records", len(recs))
	return r.commit(ctx, recs...)
}

// liveRecords returns, for each key, a record with the state the index
// holds for it, under the very key bytes stored (so compaction replaces
// the shadowing record); nothing for a key with no live state, whose
// fenced record alone is harmless.
func (r *Registry) liveRecords(keys map[string]struct{}) []Record {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Record
	for key := range keys {
		var k anyRecordKey
		if json.Unmarshal([]byte(key), &k) != nil {
			continue
		}
		var rec Record
		switch k.KeyType {
		case keyTypeSchema:
			if k.Subject == nil {
				continue
			}
			sub, ok := r.st.subjects[*k.Subject]
			if !ok {
				continue
			}
			v, ok := sub.versions[k.Version]
			if !ok {
				continue
			}
			rec = schemaRecord(schemaRecordValue{Subject: *k.Subject, Version: v.version, ID: v.id, Schema: r.st.schemas[v.id].text, Deleted: v.deleted})
		case keyTypeConfig:
			level := r.st.global
			if k.Subject != nil {
				level = ""
				if sub, ok := r.st.subjects[*k.Subject]; ok {
					level = sub.level
				}
			}
			if level == "" {
				continue
			}
			rec = configRecord("", level)
		case keyTypeMaxID:
			if r.st.maxID == 0 {
				continue
			}
			rec = maxIDRecord(r.st.maxID)
		default:
			continue
		}
		out = append(out, Record{Key: []byte(key), Value: rec.Value})
	}
	return out
}
