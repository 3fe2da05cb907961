package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/avro"
)

// state is the registry's in-memory index, built by applying stored
// records in order. Live writes apply the very records they stored, so a
// restarted registry replays to the same state.
type state struct {
	subjects map[string]*subjectState
	schemas  map[int]*schemaEntry
	byKey    map[string]int // schemaKey → id
	maxID    int
	global   Level // "" when no global level was set

	nVersions int // versions over all subjects, soft-deleted included

	writer writerRecordValue // the claim in force; epoch 0 before any
}

type subjectState struct {
	versions map[int]*versionState
	level    Level // "" when the subject has no level of its own
}

type versionState struct {
	version int
	id      int
	deleted bool
}

type schemaEntry struct {
	id     int
	text   string
	key    string
	schema *avro.Schema
	refs   int // versions (soft-deleted included) that use this id
}

func newState() *state {
	return &state{
		subjects: map[string]*subjectState{},
		schemas:  map[int]*schemaEntry{},
		byKey:    map[string]int{},
	}
}

// apply changes the state by one record and reports whether the record
// counted. An empty value is a tombstone: Kafka clients differ on whether
// a null value reads back as nil or empty. Records of key types this
// registry does not write (Confluent's NOOP, MODE, …) are ignored.
//
// The fencing rule (fence.go): a WRITER claim counts when its epoch is
// higher than the claim in force; any other value counts only when its
// writer_epoch is the epoch in force (0, absent, before any claim). A
// record that does not count changes nothing, on every instance and on
// every replay alike, since all read the same log in the same order.
func (s *state) apply(r Record) (bool, error) {
	var k anyRecordKey
	if err := json.Unmarshal(r.Key, &k); err != nil {
		return false, fmt.Errorf("key is not JSON: %w", err)
	}
	switch k.KeyType {
	case keyTypeWriter:
		return s.applyClaim(r)
	case keyTypeSchema, keyTypeConfig, keyTypeMaxID:
	default:
		return false, nil
	}
	if len(r.Value) > 0 {
		var st stampField
		if err := json.Unmarshal(r.Value, &st); err != nil {
			return false, fmt.Errorf("%s value is not JSON: %w", k.KeyType, err)
		}
		if st.WriterEpoch != s.writer.Epoch {
			return false, nil
		}
	}
	return true, s.applyKey(k, r)
}

// applyClaim applies a WRITER record.
func (s *state) applyClaim(r Record) (bool, error) {
	if len(r.Value) == 0 {
		return false, nil
	}
	var v writerRecordValue
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return false, fmt.Errorf("WRITER value is not JSON: %w", err)
	}
	if v.Epoch <= s.writer.Epoch || v.Instance == "" {
		return false, nil
	}
	s.writer = v
	return true, nil
}

func (s *state) applyKey(k anyRecordKey, r Record) error {
	switch k.KeyType {
	case keyTypeSchema:
		if k.Subject == nil || k.Version < 1 {
			return errors.New("SCHEMA key without subject or version")
		}
		if len(r.Value) == 0 {
			s.dropVersion(*k.Subject, k.Version)
			return nil
		}
		var v schemaRecordValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return fmt.Errorf("SCHEMA value is not JSON: %w", err)
		}
		if v.ID < 1 {
			return fmt.Errorf("SCHEMA value has id %d", v.ID)
		}
		return s.putVersion(*k.Subject, k.Version, v)
	case keyTypeConfig:
		var level Level
		if len(r.Value) > 0 {
			var v configRecordValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				return fmt.Errorf("CONFIG value is not JSON: %w", err)
			}
			if !v.Level.valid() {
				return fmt.Errorf("CONFIG value has level %q", v.Level)
			}
			level = v.Level
		}
		if k.Subject == nil {
			s.global = level
			return nil
		}
		sub := s.subject(*k.Subject)
		sub.level = level
		s.forgetIfEmpty(*k.Subject)
		return nil
	case keyTypeMaxID:
		if len(r.Value) == 0 {
			return nil
		}
		var v maxIDRecordValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return fmt.Errorf("MAX_ID value is not JSON: %w", err)
		}
		s.maxID = max(s.maxID, v.MaxID)
		return nil
	default:
		return nil
	}
}

func (s *state) putVersion(subject string, version int, v schemaRecordValue) error {
	if e, ok := s.schemas[v.ID]; ok && e.text != v.Schema {
		if key, err := schemaKey(v.Schema); err != nil || key != e.key {
			// Two writers gave one id to two schemas (before fencing);
			// taking the first silently would point this version at
			// the wrong schema.
			return fmt.Errorf("schema id %d already holds another schema, so version %d of %q cannot use it", v.ID, version, subject)
		}
	}
	sub := s.subject(subject)
	if old, ok := sub.versions[version]; ok {
		// Released last: a soft delete rewrites a version with its own
		// id, and that schema must not vanish in between.
		delete(sub.versions, version)
		s.nVersions--
		defer s.release(old.id)
	}
	e, ok := s.schemas[v.ID]
	if !ok {
		parsed, err := parseSchema(v.Schema)
		if err != nil {
			return fmt.Errorf("schema id %d does not parse: %w", v.ID, err)
		}
		key, err := schemaKey(v.Schema)
		if err != nil {
			return fmt.Errorf("schema id %d is not JSON: %w", v.ID, err)
		}
		e = &schemaEntry{id: v.ID, text: v.Schema, key: key, schema: parsed}
		s.schemas[v.ID] = e
		if _, taken := s.byKey[key]; !taken {
			s.byKey[key] = v.ID
		}
	}
	sub.versions[version] = &versionState{version: version, id: v.ID, deleted: v.Deleted}
	s.nVersions++
	e.refs++
	s.maxID = max(s.maxID, v.ID)
	return nil
}

func (s *state) dropVersion(subject string, version int) {
	sub, ok := s.subjects[subject]
	if !ok {
		return
	}
	if old, ok := sub.versions[version]; ok {
		delete(sub.versions, version)
		s.nVersions--
		s.release(old.id)
	}
	s.forgetIfEmpty(subject)
}

// release drops one use of id, and the schema with its last use. Its id is
// still counted in maxID, so it is never given out again.
func (s *state) release(id int) {
	e, ok := s.schemas[id]
	if !ok {
		return
	}
	e.refs--
	if e.refs > 0 {
		return
	}
	delete(s.schemas, id)
	if s.byKey[e.key] == id {
		delete(s.byKey, e.key)
		// Another id may carry the same schema (records from elsewhere);
		// it takes over.
		for _, o := range s.schemas {
			if o.key == e.key && (s.byKey[e.key] == 0 || o.id < s.byKey[e.key]) {
				s.byKey[e.key] = o.id
			}
		}
	}
}

func (s *state) subject(name string) *subjectState {
	sub, ok := s.subjects[name]
	if !ok {
		sub = &subjectState{versions: map[int]*versionState{}}
		s.subjects[name] = sub
	}
	return sub
}

func (s *state) forgetIfEmpty(name string) {
	if sub, ok := s.subjects[name]; ok && len(sub.versions) == 0 && sub.level == "" {
		delete(s.subjects, name)
	}
}

// versionsOf returns subject's versions in ascending order; soft-deleted
// ones only when withDeleted.
func (s *state) versionsOf(subject string, withDeleted bool) []*versionState {
	sub, ok := s.subjects[subject]
	if !ok {
		return nil
	}
	out := make([]*versionState, 0, len(sub.versions))
	for _, v := range sub.versions {
		if withDeleted || !v.deleted {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

// subjectNames returns the subjects with at least one live version (or any
// version, withDeleted), sorted.
func (s *state) subjectNames(withDeleted bool) []string {
	var out []string
	for name := range s.subjects {
		if len(s.versionsOf(name, withDeleted)) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// level is the level that governs subject: its own, else the global one,
// else def.
func (s *state) level(subject string, def Level) Level {
	if sub, ok := s.subjects[subject]; ok && sub.level != "" {
		return sub.level
	}
	return s.globalLevel(def)
}

func (s *state) globalLevel(def Level) Level {
	if s.global != "" {
		return s.global
	}
	return def
}

// usesOf lists the subject versions that use schema id, sorted by subject
// then version.
func (s *state) usesOf(id int, withDeleted bool) []subjectVersion {
	var out []subjectVersion
	for name := range s.subjects {
		for _, v := range s.versionsOf(name, withDeleted) {
			if v.id == id {
				out = append(out, subjectVersion{Subject: name, Version: v.version})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}
