package registry

import (
	"encoding/json"
	"fmt"
)

// The stored record format is Confluent's: JSON keys and values on the
// _schemas topic, so the topic reads the same in any Kafka tool and a
// Confluent registry recognises the SCHEMA and CONFIG records.
//
//	SCHEMA  key {"keytype":"SCHEMA","subject":"s","version":1,"magic":1}
//	        value {"subject":"s","version":1,"id":7,"schema":"…","deleted":false}
//	CONFIG  key {"keytype":"CONFIG","subject":"s"|null,"magic":0}
//	        value {"compatibilityLevel":"FULL"}
//	MAX_ID  key {"keytype":"MAX_ID","magic":0}
//	        value {"max_id":7}
//
//	WRITER  key {"keytype":"WRITER","magic":0,"epoch":3,"instance":"a"}
//	        value {"instance":"a","epoch":3,"host":"h","pid":42}
//
// MAX_ID is ours: it is written before permanent deletes, so the highest id
// ever given out survives the tombstones and compaction, and ids are never
// reused. WRITER is ours too: a writer claim (fence.go). Every value a
// writer stores carries its claim's epoch as "writer_epoch"; a Confluent
// registry ignores the field. A nil value is a tombstone.
const (
	keyTypeSchema = "SCHEMA"
	keyTypeConfig = "CONFIG"
	keyTypeMaxID  = "MAX_ID"
	keyTypeWriter = "WRITER"
)

type schemaRecordKey struct {
	KeyType string `json:"keytype"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	Magic   int    `json:"magic"`
}

type schemaRecordValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
	Deleted bool   `json:"deleted"`
}

type configRecordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Magic   int     `json:"magic"`
}

type configRecordValue struct {
	Level Level `json:"compatibilityLevel"`
}

type maxIDRecordKey struct {
	KeyType string `json:"keytype"`
	Magic   int    `json:"magic"`
}

type maxIDRecordValue struct {
	MaxID int `json:"max_id"`
}

// writerRecordKey is unique per claim (epoch and instance), so compaction
// keeps every claim: the order of claims decides which records count, and
// a later claim must not replace an earlier one.
type writerRecordKey struct {
	KeyType  string `json:"keytype"`
	Magic    int    `json:"magic"`
	Epoch    int    `json:"epoch"`
	Instance string `json:"instance"`
}

type writerRecordValue struct {
	Instance string `json:"instance"`
	Epoch    int    `json:"epoch"`
	Host     string `json:"host,omitempty"`
	PID      int    `json:"pid,omitempty"`
}

// stampField is the field of a stored value that names its writer's epoch.
type stampField struct {
	WriterEpoch int `json:"writer_epoch"`
}

// anyRecordKey reads the fields of every key type.
type anyRecordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Version int     `json:"version"`
}

func mustJSON(v any) []byte {
	// Only our own record structs come here; they always marshal.
	b, _ := json.Marshal(v)
	return b
}

func schemaRecord(v schemaRecordValue) Record {
	return Record{
		Key:   mustJSON(schemaRecordKey{KeyType: keyTypeSchema, Subject: v.Subject, Version: v.Version, Magic: 1}),
		Value: mustJSON(v),
	}
}

func schemaTombstone(subject string, version int) Record {
	return Record{Key: mustJSON(schemaRecordKey{KeyType: keyTypeSchema, Subject: subject, Version: version, Magic: 1})}
}

// configRecord sets subject's level, or the global one for subject "".
// Level "" makes a tombstone.
func configRecord(subject string, level Level) Record {
	k := configRecordKey{KeyType: keyTypeConfig}
	if subject != "" {
		k.Subject = &subject
	}
	r := Record{Key: mustJSON(k)}
	if level != "" {
		r.Value = mustJSON(configRecordValue{Level: level})
	}
	return r
}

func writerRecord(v writerRecordValue) Record {
	return Record{
		Key:   mustJSON(writerRecordKey{KeyType: keyTypeWriter, Epoch: v.Epoch, Instance: v.Instance}),
		Value: mustJSON(v),
	}
}

// stamped returns rec with its value marked as written under epoch; a
// tombstone has no value to mark and stays as it is. Our values are JSON
// objects, so the field goes in front of the others.
func stamped(rec Record, epoch int) Record {
	if len(rec.Value) < 2 || rec.Value[0] != '{' {
		return rec
	}
	v := fmt.Appendf(nil, `{"writer_epoch":%d`, epoch)
	if rec.Value[1] != '}' {
		v = append(v, ',')
	}
	v = append(v, rec.Value[1:]...)
	return Record{Key: rec.Key, Value: v}
}

func maxIDRecord(id int) Record {
	return Record{Key: mustJSON(maxIDRecordKey{KeyType: keyTypeMaxID}), Value: mustJSON(maxIDRecordValue{MaxID: id})}
}

// CorruptRecordError reports a stored record the registry cannot read:
// which one (by position in the store) and why.
type CorruptRecordError struct {
	Index int
	Key   string
	Err   error
}

func (e *CorruptRecordError) Error() string {
	return fmt.Sprintf("registry: stored record %d (key %.200q) is unreadable: %v", e.Index, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptRecordError) Unwrap() error { return e.Err }
