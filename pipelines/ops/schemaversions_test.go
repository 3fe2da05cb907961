package ops_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestDeployRegistersEveryVersion: deploy registers GLYPH v1 then v2 under
// matriz.Glyph and MatrizMessage v1 then v2 under every lane's messages
// subject, so the registry shows both versions in order; Serde resolves
// the id of each version, writes with the latest by default, and a v1 body
// written with v1's id reads back through the registry with v2's defaults.
func TestDeployRegistersEveryVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the embedded broker and registry (skipped with -short)")
	}
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	cfg := ops.DeployConfig{Brokers: stack.BrokerAddrs(), RegistryURL: stack.RegistryURL, Lanes: []schemas.Lane{schemas.LaneProd}}
	rep, err := ops.Deploy(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	subjectLines := 0
	for _, l := range rep.Lines {
		if l.What != "subject" {
			continue
		}
		subjectLines++
		if l.Status != "created" {
			t.Errorf("first deploy: %s", l)
		}
	}
	if subjectLines != len(serde.Subjects(cfg.Lanes)) {
		t.Fatalf("%d subject lines, want %d", subjectLines, len(serde.Subjects(cfg.Lanes)))
	}
	again, err := ops.Deploy(ctx, cfg)
	if err != nil || again.Changed() {
		t.Fatalf("second deploy changed something (%v):\n%v", err, again.Lines)
	}

	cl, err := serde.NewRegistryClient(stack.RegistryURL)
	if err != nil {
		t.Fatal(err)
	}
	messages := serde.ValueSubject(topics.Name("prod", topics.KindMessages))
	for _, sub := range serde.Subjects(cfg.Lanes) {
		vs, err := cl.SubjectVersions(ctx, sub.Name)
		if err != nil {
			t.Fatal(err)
		}
		want := []int{1}
		if sub.Schema == schemas.NameGlyph || sub.Schema == schemas.NameMessage {
			want = []int{1, 2}
		}
		if !slices.Equal(vs, want) {
			t.Errorf("%s: versions %v, want %v", sub.Name, vs, want)
		}
		for i, v := range schemas.Versions(sub.Schema) {
			text, err := cl.SchemaTextByVersion(ctx, sub.Name, i+1)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := schemas.TextOf(sub.Schema, v); !sameJSON(t, text, want) {
				t.Errorf("%s version %d does not hold %s %s: %.120s", sub.Name, i+1, sub.Schema, v, text)
			}
		}
	}

	codec, err := serde.New(cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := codec.Resolve(ctx, serde.Subjects(cfg.Lanes)); err != nil {
		t.Fatal(err)
	}
	id1, err1 := codec.IDAs(messages, schemas.V1)
	id2, err2 := codec.IDAs(messages, schemas.V2)
	latest, err3 := codec.ID(messages)
	if err1 != nil || err2 != nil || err3 != nil || id1 == id2 || latest != id2 {
		t.Fatalf("ids v1 %d (%v), v2 %d (%v), latest %d (%v)", id1, err1, id2, err2, latest, err3)
	}
	if _, err := codec.IDAs(serde.ValueSubject(topics.Name("prod", topics.KindResults)), schemas.V2); err == nil {
		t.Fatal("results subject has an id for v2, which MatrizResult does not have")
	}
	for id, v := range map[uint32]schemas.Version{id1: schemas.V1, id2: schemas.V2} {
		text, err := cl.SchemaTextByID(ctx, int(id))
		if err != nil {
			t.Fatal(err)
		}
		s, err := schemas.SchemaOf(schemas.NameMessage, v)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, text, s.String()) {
			t.Errorf("id %d is not message %s", id, v)
		}
	}

	// A producer pinned to v1 and a v2 consumer, through the registry.
	msg := devstack.NewSynthetic(schemas.LaneProd, 1, 1).Next(time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC))
	b, err := schemas.AppendWireAs(nil, id1, &msg, schemas.V1)
	if err != nil {
		t.Fatal(err)
	}
	var got schemas.MatrizMessage
	if id, err := schemas.DecodeWire(ctx, codec.Lookup(), b, &got); err != nil || id != id1 {
		t.Fatalf("decode v1 as v2: id %d, %v", id, err)
	}
	if got.MsgID != msg.MsgID || got.Glyph.ID != msg.Glyph.ID || got.Glyph.SubjectSID != nil || got.Glyph.Provenance != nil {
		t.Fatalf("v1 message read as v2: %+v", got.Glyph)
	}
}

// sameJSON compares two JSON texts as values: the registry keeps a
// schema's text as sent, and an HTTP client may escape < and > on the way.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}
