package schemas

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsFixtures(t *testing.T) {
	m := messageFixture()
	if err := m.Validate(); err != nil {
		t.Fatalf("valid message refused: %v", err)
	}
	m.Payload = Payload{"n": 3} // a Go int is accepted: the encoder writes it as a long
	if err := m.Validate(); err != nil {
		t.Fatalf("int payload refused: %v", err)
	}
	g := glyphFixture()
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidateNamesTheField breaks one rule at a time and expects a
// *ContractError naming that field.
func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(m *MatrizMessage)
		field  string
	}{
		{"msg_id empty", func(m *MatrizMessage) { m.MsgID = "" }, "msg_id"},
		{"msg_id not hex", func(m *MatrizMessage) { m.MsgID = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4g" }, "msg_id"},
		{"msg_id upper case", func(m *MatrizMessage) { m.MsgID = strings.ToUpper(uuidMsg) }, "msg_id"},
		{"msg_id no hyphens", func(m *MatrizMessage) { m.MsgID = strings.ReplaceAll(uuidMsg, "-", "") + "abcd" }, "msg_id"},
		{"msg_id hyphen moved", func(m *MatrizMessage) { m.MsgID = "6f1c2d3e4-a5b-4c6d-8e7f-9a0b1c2d3e4f" }, "msg_id"},
		{"msg_id braces", func(m *MatrizMessage) { m.MsgID = "{" + uuidMsg + "}" }, "msg_id"},
		{"ts zero", func(m *MatrizMessage) { m.TS = time.Time{} }, "ts"},
		{"lane empty", func(m *MatrizMessage) { m.Lane = "" }, "lane"},
		{"lane unknown", func(m *MatrizMessage) { m.Lane = "staging" }, "lane"},
		{"glyph id", func(m *MatrizMessage) { m.Glyph.ID = "glyph-1" }, "glyph.id"},
		{"topic empty", func(m *MatrizMessage) { m.Topic = "" }, "topic"},
		{"topic blank", func(m *MatrizMessage) { m.Topic = " \t" }, "topic"},
		{"payload float32", func(m *MatrizMessage) { m.Payload["risk"] = float32(0.2) }, "payload.risk"},
		{"payload map", func(m *MatrizMessage) { m.Payload["nested"] = map[string]any{"a": 1} }, "payload.nested"},
		{"payload lowest key", func(m *MatrizMessage) {
			m.Payload["zz"] = []int{1}
			m.Payload["aa"] = []int{2}
		}, "payload.aa"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := messageFixture()
			c.mutate(&m)
			err := m.Validate()
			if !errors.Is(err, ErrContract) {
				t.Fatalf("got %v, want ErrContract", err)
			}
			var ce *ContractError
			if !errors.As(err, &ce) || ce.Field != c.field {
				t.Fatalf("got %#v, want field %s", err, c.field)
			}
			if !strings.Contains(err.Error(), c.field) || ce.Reason == "" || ce.Value == "" {
				t.Fatalf("message %q does not name field, value and rule", err)
			}
		})
	}
}

func TestContractErrorValueIsShort(t *testing.T) {
	m := messageFixture()
	m.MsgID = strings.Repeat("x", 10_000)
	var ce *ContractError
	if !errors.As(m.Validate(), &ce) {
		t.Fatal("no ContractError")
	}
	if len(ce.Value) > 64 || !strings.HasSuffix(ce.Value, "...") {
		t.Fatalf("value not shortened: %d bytes %q", len(ce.Value), ce.Value)
	}
	g := Glyph{ID: "x"}
	if err := g.Validate(); !errors.As(err, &ce) || ce.Field != "id" {
		t.Fatalf("glyph: got %v, want field id", err)
	}
}
