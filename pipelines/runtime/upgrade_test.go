package runtime

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestRollingUpgradeToGlyphV2 is issue 5's scenario: producers write v1;
// the lane pipeline is upgraded from a v1 reader to a v2 reader
// mid-stream; then producers move to v2. Nothing is lost, nothing reaches
// the DLQ, results for v1 input carry v2's defaults, and a breaking v3 is
// refused by the registry with 409 naming the field.
func TestRollingUpgradeToGlyphV2(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	e := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 31, 64)
	counters := &observe.LaneCounters{}
	want := int64(0)

	// 1. v1 producers, v1 pipeline.
	v1a := nowBatch(gen, 500)
	e.Produce(t, lane, nil, e.EncodeAs(t, lane, schemas.V1, v1a))
	want += int64(len(v1a))
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, ReaderVersion: schemas.V1})
	waitCounted(t, counters, want, time.Minute)

	// 2. Producers keep writing v1 while the pipeline is upgraded: the v1
	//    worker stops (commits, leaves) with these in flight, a v2 worker
	//    takes over from the committed offsets.
	v1b := nowBatch(gen, 500)
	e.Produce(t, lane, nil, e.EncodeAs(t, lane, schemas.V1, v1b[:250]))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.Produce(t, lane, nil, e.EncodeAs(t, lane, schemas.V1, v1b[250:])) // while no pipeline runs
	want += int64(len(v1b))
	stop = runLane(t, e, Config{Lane: lane, Counters: counters, ReaderVersion: schemas.V2})
	waitCounted(t, counters, want, time.Minute)

	// 3. Producers move to v2, with the new fields set.
	sid := "sid-upgrade"
	v2 := nowBatch(gen, 500)
	for i := range v2 {
		v2[i].Glyph.SubjectSID = &sid
		v2[i].Glyph.Consent = &schemas.Consent{Granted: true, Purpose: "research"}
		v2[i].Glyph.Provenance = []string{"upgrade-test"}
	}
	e.Produce(t, lane, nil, e.EncodeAs(t, lane, schemas.V2, v2))
	want += int64(len(v2))
	waitCounted(t, counters, want, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	if dlq := e.ReadAll(t, topics.Name(string(lane), topics.KindDLQ)); len(dlq) != 0 {
		t.Fatalf("%d records in the DLQ, first: %s", len(dlq), pipetest.Header(dlq[0], HeaderDLQDetail))
	}
	v1ID, _ := e.Serde.IDAs(serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)), schemas.V1)
	type seen struct {
		reader   int64
		schemaID int64
		crumb    schemas.Payload
	}
	got := map[string][]seen{}
	for _, r := range e.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(context.Background(), e.Serde.Lookup(), r.Value, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Trace) == 0 || res.Trace[0].Stage != StageDecode {
			t.Fatalf("result %s has no decode crumb first: %+v", res.ID, res.Trace)
		}
		c := res.Trace[0].Data
		rv, _ := c.Int("reader_version")
		id, _ := c.Int("schema_id")
		got[res.MsgID] = append(got[res.MsgID], seen{reader: rv, schemaID: id, crumb: c})
	}
	check := func(name string, msgs []schemas.MatrizMessage, fn func(s seen) string) {
		for _, m := range msgs {
			ss := got[m.MsgID]
			if len(ss) == 0 {
				t.Fatalf("%s: message %s lost: no result", name, m.MsgID)
			}
			for _, s := range ss {
				if problem := fn(s); problem != "" {
					t.Fatalf("%s: message %s: %s (crumb %v)", name, m.MsgID, problem, s.crumb)
				}
			}
		}
	}
	check("v1 input, v1 pipeline", v1a, func(s seen) string {
		if s.reader != 1 || s.schemaID != int64(v1ID) {
			return "want reader v1 on the v1 writer id"
		}
		return ""
	})
	byV2 := 0
	check("v1 input during the upgrade", v1b, func(s seen) string {
		if s.schemaID != int64(v1ID) {
			return "want the v1 writer id"
		}
		if s.reader == 1 {
			return "" // answered by the v1 pipeline before it stopped
		}
		byV2++
		if s.crumb["glyph_subject_sid"] != nil || s.crumb["glyph_consent"] != nil {
			return "want v2's null defaults for subject_sid and consent"
		}
		if p, ok := s.crumb.Strings("glyph_provenance"); !ok || len(p) != 0 {
			return "want v2's empty default provenance"
		}
		return ""
	})
	check("v2 input, v2 pipeline", v2, func(s seen) string {
		if s.reader != 2 || s.schemaID == int64(v1ID) {
			return "want reader v2 on the v2 writer id"
		}
		if s.crumb["glyph_subject_sid"] != sid || s.crumb["glyph_consent"] != true {
			return "want the v2 fields the producer set"
		}
		return ""
	})
	if byV2 < 250 {
		t.Fatalf("only %d v1 messages were read by the v2 pipeline, want at least the 250 written after the v1 one stopped", byV2)
	}
	dups := 0
	for _, ss := range got {
		dups += len(ss) - 1
	}

	// 4. A v3 that breaks BACKWARD compatibility is refused, naming the field.
	v3, err := os.ReadFile("../../schemas/testdata/evolution/message_v3_breaking.avsc")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := serde.NewRegistryClient(e.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateSchema(context.Background(), serde.ValueSubject(topics.Name(string(lane), topics.KindMessages)), sr.Schema{Schema: string(v3), Type: sr.TypeAvro})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != 409 || !strings.Contains(re.Message, "glyph.kind") {
		t.Fatalf("registering v3: %v, want 409 naming glyph.kind", err)
	}
	t.Logf("rolling upgrade: %d v1 messages on the v1 pipeline, %d more during the upgrade (%d read by the v2 pipeline with v2's defaults), %d v2; 0 lost, 0 in the DLQ, %d redelivered across the upgrade; v3 refused: %s",
		len(v1a), len(v1b), byV2, len(v2), dups, re.Message)
}
