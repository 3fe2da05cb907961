package serde

import (
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// Subject is one registry subject the pipeline writes with, and the record
// schema registered under it.
type Subject struct {
	Name   string
	Schema schemas.Name
}

// GlyphSubject is the subject GLYPH itself evolves under, independent of
// any topic (record name strategy).
const GlyphSubject = "matriz.Glyph"

// ValueSubject is the topic name strategy subject of a topic's values.
func ValueSubject(topic string) string { return topic + "-value" }

// laneSubjects maps each lane topic kind with Avro values to its schema.
// The DLQ carries the original bytes and the state topic stage snapshots,
// so neither has a subject.
var laneSubjects = []struct {
	kind   topics.Kind
	schema schemas.Name
}{
	{topics.KindMessages, schemas.NameMessage},
	{topics.KindResults, schemas.NameResult},
	{topics.KindEvents, schemas.NameEvent},
	{topics.KindTraces, schemas.NameTrace},
	{topics.KindActions, schemas.NameEvent},
	{topics.KindApprovals, schemas.NameEvent},
}

// Subjects returns the subjects of the given lanes, GLYPH's first.
func Subjects(lanes []schemas.Lane) []Subject {
	out := []Subject{{Name: GlyphSubject, Schema: schemas.NameGlyph}}
	for _, l := range lanes {
		for _, ls := range laneSubjects {
			out = append(out, Subject{Name: ValueSubject(topics.Name(string(l), ls.kind)), Schema: ls.schema})
		}
	}
	return out
}
