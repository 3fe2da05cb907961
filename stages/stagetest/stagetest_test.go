package stagetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestDeepCopyMessageKeepsEmptySlices guards the "inputs not mutated"
// check against false alarms: a copy of a message must be deep-equal to it,
// empty and nil slices included, and share no slice with it.
func TestDeepCopyMessageKeepsEmptySlices(t *testing.T) {
	m := schemas.MatrizMessage{
		MsgID: "m1",
		Glyph: schemas.Glyph{ID: "g", Tags: map[string]string{}},
		Payload: schemas.Payload{
			"empty_vec": []float64{}, "nil_vec": []float64(nil), "vec": []float64{1, 2},
			"empty_strs": []string{}, "strs": []string{"a"}, "n": int64(3),
		},
	}
	c := deepCopyMessage(m)
	if !reflect.DeepEqual(c, m) {
		t.Fatalf("copy differs from the original:\n%#v\n%#v", c, m)
	}
	c.Payload["vec"].([]float64)[0] = 9
	c.Payload["strs"].([]string)[0] = "z"
	c.Glyph.Tags["k"] = "v"
	if m.Payload["vec"].([]float64)[0] != 1 || m.Payload["strs"].([]string)[0] != "a" || len(m.Glyph.Tags) != 0 {
		t.Fatalf("copy shares memory with the original: %#v", m)
	}
	if deepCopyMessage(schemas.MatrizMessage{}).Payload != nil {
		t.Fatal("nil payload cloned to non-nil")
	}
}

// topicCrumbs is a stage that crumbs the results of records on one topic.
type topicCrumbs struct{ topic string }

func (topicCrumbs) Name() string { return "topic-crumbs" }

func (s topicCrumbs) Process(_ context.Context, f *stages.Frame) error {
	for i := range f.Records {
		if r := &f.Records[i]; s.topic == "" || r.Msg.Topic == s.topic {
			r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: s.Name()})
		}
	}
	return nil
}

// TestCrumbsOnlyChecksBothWays: with CrumbsOnly the crumb check fails a
// stage that leaves out a record it names, one that crumbs a record it
// does not, and frames that give it nothing to crumb.
func TestCrumbsOnlyChecksBothWays(t *testing.T) {
	frames := func() []*stages.Frame {
		f := &stages.Frame{Lane: schemas.LaneProd}
		for i, topic := range []string{"idea", "trend", "idea"} {
			m := &schemas.MatrizMessage{MsgID: fmt.Sprint(i), Topic: topic}
			f.Records = append(f.Records, stages.Record{Msg: m, Result: &schemas.MatrizResult{MsgID: m.MsgID}})
		}
		return []*stages.Frame{f}
	}
	onIdeas := func(r *stages.Record) bool { return r.Msg.Topic == "idea" }
	for _, tc := range []struct {
		name    string
		st      topicCrumbs
		crumbed func(*stages.Record) bool
		err     string // "" = passes
	}{
		{"every record, no option", topicCrumbs{}, nil, ""},
		{"the records it names", topicCrumbs{"idea"}, onIdeas, ""},
		{"a record left out", topicCrumbs{"idea"}, nil, "record 1: result has no crumb"},
		{"a record it does not name", topicCrumbs{}, onIdeas, "record 1: result has a crumb from a stage that says it did nothing"},
		{"nothing to crumb", topicCrumbs{"none"}, func(*stages.Record) bool { return false }, "nothing was checked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			if tc.crumbed != nil {
				CrumbsOnly(tc.crumbed)(&o)
			}
			_, err := checkCrumbs(tc.st, frames(), o)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("checkCrumbs = %v, want %q", err, tc.err)
			}
		})
	}
}
