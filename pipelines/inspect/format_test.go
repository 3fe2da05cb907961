package inspect

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func TestRecordFormats(t *testing.T) {
	orig := []byte{0, 0, 0, 0x7f, 0x7f, 1}
	dlq := Record{Kind: topics.KindDLQ, Topic: "matriz.prod.dlq", Partition: 2, Offset: 9, Key: "k",
		DLQ: &DLQRecord{Reason: "unknown_schema_id", Stage: "decode", SrcTopic: "matriz.prod.messages", SrcPartition: "4", SrcOffset: "17", Original: orig}}
	text := string(dlq.AppendText(nil))
	b64 := base64.StdEncoding.EncodeToString(orig)
	if text != "2/9 dlq reason=unknown_schema_id stage=decode src=matriz.prod.messages/4/17 original="+b64+"\n" {
		t.Errorf("dlq text: %q", text)
	}
	var j struct {
		Offset int64 `json:"offset"`
		Value  struct {
			Reason   string `json:"reason"`
			Original string `json:"original_base64"`
		} `json:"value"`
	}
	if err := json.Unmarshal(dlq.AppendJSON(nil), &j); err != nil || j.Offset != 9 || j.Value.Reason != "unknown_schema_id" || j.Value.Original != b64 {
		t.Errorf("dlq json: %+v %v", j, err)
	}

	ev := Record{Kind: topics.KindEvents, Key: "partition:1", Event: &schemas.Event{Kind: schemas.EventGuardianDecision, GlyphID: okGlyph, MsgID: okMsg,
		TS: time.Unix(0, 0), Payload: schemas.Payload{"x": math.NaN(), "reasons": []string{"a"}}}}
	line := ev.AppendJSON(nil)
	if !json.Valid(line) || !strings.Contains(string(line), `"x":"NaN"`) || !strings.Contains(string(line), `"kind":"guardian_decision"`) {
		t.Errorf("event json with a NaN: %s", line)
	}
	if !ev.aboutGlyph(okGlyph) || ev.aboutGlyph("partition:1") {
		t.Error("an event is about its decoded glyph, not its key")
	}
	res := Record{Kind: topics.KindResults, Key: okGlyph, Result: &schemas.MatrizResult{MsgID: okMsg}}
	if !res.aboutGlyph(okGlyph) || res.MsgID() != okMsg {
		t.Error("a result is about the glyph it is keyed by, and its msg id")
	}
	bad := Record{Kind: topics.KindDLQ, Headers: []topics.Header{{Key: "matriz-msg-id", Value: []byte(okMsg)}}, DLQ: &DLQRecord{}}
	if bad.MsgID() != okMsg {
		t.Error("a record without a decoded msg id takes the matriz-msg-id header")
	}
}
