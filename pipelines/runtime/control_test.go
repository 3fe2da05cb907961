package runtime

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestControlRecordsReportedAtDefaultLevel: a flag change from
// matriz.control, and a record with a value that is not a boolean, are
// both logged at warning level — what `matriz run` prints without --debug.
func TestControlRecordsReportedAtDefaultLevel(t *testing.T) {
	var buf bytes.Buffer
	lr := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})),
		flags: NewLiveFlags(schemas.LaneProd, stages.Flags{})}
	lr.applyControl(topics.Message{Key: []byte(FlagExtActions), Value: []byte("true"), Offset: 7})
	if got := buf.String(); !strings.Contains(got, `msg="flag changed"`) || !strings.Contains(got, "flag="+FlagExtActions) || !strings.Contains(got, "to=true") || !strings.Contains(got, "control_offset=7") {
		t.Fatalf("flag change at the default level: %q", got)
	}
	buf.Reset()
	lr.applyControl(topics.Message{Key: []byte(FlagExtActions), Value: []byte("maybe"), Offset: 8})
	if got := buf.String(); !strings.Contains(got, "control record ignored") || !strings.Contains(got, "value=maybe") || !strings.Contains(got, `not a boolean`) {
		t.Fatalf("invalid value at the default level: %q", got)
	}
	if !lr.flags.Get().ExtActions {
		t.Fatal("the invalid record changed the flag in force")
	}
}
