package interop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

func requireConfluent(t *testing.T, modules ...string) {
	t.Helper()
	need := map[string]string{"requests": "python3-requests"}
	for _, m := range modules {
		need[m] = "python3-confluent-kafka"
		if m == "avro" {
			need[m] = "python3-avro"
		}
	}
	requirePython(t, need)
}

var glyphV3 = filepath.Join("..", "schemas", "testdata", "evolution", "glyph_v3_breaking.avsc")

// matrizCheck runs the built `matriz schema check` and returns its exit
// code and stdout.
func matrizCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"schema", "check"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("matriz schema check: %v\n%s", err, stderr.String())
	return 0, ""
}

// TestConfluentSchemaRegistryClient: confluent-kafka's
// SchemaRegistryClient registers GLYPH v1 and v2 in the embedded registry,
// looks v2 up, lists the versions and tests compatibility; every answer
// matches what franz-go's client reads back and what `matriz schema check`
// decides: v2 after v1 compatible (exit 0), the v3 fixture after v2
// incompatible (exit 1, field kind), and registering v3 refused with 409.
func TestConfluentSchemaRegistryClient(t *testing.T) {
	requireConfluent(t, "confluent_kafka.schema_registry")
	d := startDev(t)
	prefix := "interop-" + uuid.NewString()[:8]
	var got struct {
		AVersion1ID int   `json:"a_v1_id"`
		BVersion1ID int   `json:"b_v1_id"`
		BVersion2ID int   `json:"b_v2_id"`
		BVersions   []int `json:"b_versions"`
		LookupV2    struct {
			ID      int    `json:"id"`
			Version int    `json:"version"`
			Subject string `json:"subject"`
		} `json:"lookup_v2"`
		Latest struct {
			ID      int `json:"id"`
			Version int `json:"version"`
		} `json:"latest"`
		SchemaByIDHasProvenance bool `json:"schema_by_id_has_provenance"`
		CompatibleV2AfterA      bool `json:"compatible_v2_after_a"`
		CompatibleV3AfterB      bool `json:"compatible_v3_after_b"`
		RegisterV3              struct {
			Refused    bool   `json:"refused"`
			HTTPStatus int    `json:"http_status"`
			ErrorCode  int    `json:"error_code"`
			Message    string `json:"message"`
		} `json:"register_v3"`
	}
	v1, v2 := writeSchema(t, schemas.NameGlyph, schemas.V1), writeSchema(t, schemas.NameGlyph, schemas.V2)
	runPython(t, &got, "sr_client.py", d.registry, prefix, v1, v2, glyphV3)
	a, b := prefix+"-a", prefix+"-b"

	// What the Python client learnt, against franz-go's client.
	cl, err := sr.NewClient(sr.URLs(d.registry))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v2Text, _ := schemas.TextOf(schemas.NameGlyph, schemas.V2)
	ours, err := cl.LookupSchema(ctx, b, sr.Schema{Schema: v2Text, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := cl.SubjectVersions(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.AVersion1ID != got.BVersion1ID || got.BVersion2ID == got.BVersion1ID || got.BVersion2ID != ours.ID {
		t.Errorf("ids: a v1 %d, b v1 %d, b v2 %d; franz-go sees v2 as %d", got.AVersion1ID, got.BVersion1ID, got.BVersion2ID, ours.ID)
	}
	if !slices.Equal(got.BVersions, []int{1, 2}) || !slices.Equal(versions, got.BVersions) {
		t.Errorf("versions: python %v, franz-go %v, want [1 2]", got.BVersions, versions)
	}
	if got.LookupV2.ID != ours.ID || got.LookupV2.Version != 2 || got.LookupV2.Subject != b || got.Latest.ID != ours.ID || got.Latest.Version != 2 {
		t.Errorf("lookup %+v, latest %+v; want id %d version 2", got.LookupV2, got.Latest, ours.ID)
	}
	if !got.SchemaByIDHasProvenance {
		t.Error("get_schema(v2 id) did not return GLYPH v2")
	}

	// Compatibility: the Python client and matriz schema check agree.
	if !got.CompatibleV2AfterA {
		t.Error("python: v2 after v1 reported incompatible")
	}
	code, out := matrizCheck(t, v2, "--subject", a, "--registry", d.registry)
	if code != 0 || !strings.HasPrefix(out, "compatible with "+a+" under BACKWARD") {
		t.Errorf("matriz schema check v2 → %s: exit %d\n%s", a, code, out)
	}
	if got.CompatibleV3AfterB {
		t.Error("python: v3 after v2 reported compatible")
	}
	for _, extra := range [][]string{nil, {"--level", "BACKWARD"}} {
		code, out := matrizCheck(t, append([]string{glyphV3, "--subject", b, "--registry", d.registry}, extra...)...)
		if code != 1 || !strings.HasPrefix(out, "incompatible with "+b) || !strings.Contains(out, "field kind: incompatible types (reader int, writer string)") {
			t.Errorf("matriz schema check v3 → %s %v: exit %d\n%s", b, extra, code, out)
		}
	}
	r := got.RegisterV3
	if !r.Refused || r.HTTPStatus != 409 || r.ErrorCode != 409 || !strings.Contains(r.Message, "field kind") {
		t.Errorf("python register v3: %+v, want refused with 409 naming field kind", r)
	}
	t.Logf("SchemaRegistryClient: ids v1 %d v2 %d, versions %v, compatible(v2)=%v compatible(v3)=%v, register v3 → %d; matriz schema check agrees",
		got.BVersion1ID, got.BVersion2ID, got.BVersions, got.CompatibleV2AfterA, got.CompatibleV3AfterB, r.HTTPStatus)
}

// TestConfluentAvroConsumerDecodesResults: confluent_kafka.avro's
// AvroConsumer reads a lane's results from the start, fetching the writer
// schema by the id in each record's header from the registry and decoding
// with Apache Avro; for every record, its id, msg_id, node, node_version,
// lane, ok, ts and payload equal what the Go codec decodes from the same
// offset.
func TestConfluentAvroConsumerDecodesResults(t *testing.T) {
	requireConfluent(t, "confluent_kafka.avro", "avro")
	d := startDev(t)
	const n = 40
	topic := topics.Name("candidate", topics.KindResults)
	var recs []struct {
		Partition   int            `json:"partition"`
		Offset      int64          `json:"offset"`
		Key         string         `json:"key"`
		ID          string         `json:"id"`
		MsgID       string         `json:"msg_id"`
		Node        string         `json:"node"`
		NodeVersion string         `json:"node_version"`
		Lane        string         `json:"lane"`
		OK          bool           `json:"ok"`
		TS          map[string]any `json:"ts"`
		Payload     map[string]any `json:"payload"`
		TraceLen    int            `json:"trace_len"`
	}
	runPython(t, &recs, "avro_consumer.py", d.broker, d.registry, topic, "interop-avro-"+uuid.NewString()[:8], "40")
	if len(recs) != n {
		t.Fatalf("AvroConsumer decoded %d records, want %d", len(recs), n)
	}
	s := devSerde(t, d)
	seen := map[string]bool{}
	for _, r := range recs {
		m := readAt(t, d.broker, topic, r.Partition, r.Offset)
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(context.Background(), s.Lookup(), m.Value, &res); err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("%s[%d]@%d", topic, r.Partition, r.Offset)
		if r.Lane != "candidate" || res.Lane != schemas.LaneCandidate {
			t.Errorf("%s: lane python %q, go %q", where, r.Lane, res.Lane)
		}
		if r.ID != res.ID || r.MsgID != res.MsgID || r.Node != res.Node || r.NodeVersion != res.NodeVersion || r.OK != res.OK || r.Key != string(m.Key) || r.TraceLen != len(res.Trace) {
			t.Errorf("%s: python %+v\ngo %+v", where, r, res)
		}
		if _, err := uuid.Parse(r.MsgID); err != nil || r.Node == "" {
			t.Errorf("%s: msg_id %q node %q", where, r.MsgID, r.Node)
		}
		if ts, _ := r.TS["$ts"].(string); ts != strconv.FormatInt(res.TS.UnixMicro(), 10) {
			t.Errorf("%s: ts python %v, go %d", where, r.TS, res.TS.UnixMicro())
		}
		theirs, err1 := canon(r.Payload)
		mine, err2 := canon(payloadNative(res.Payload))
		if err1 != nil || err2 != nil || theirs != mine {
			t.Errorf("%s: payload python %s, go %s (%v %v)", where, theirs, mine, err1, err2)
		}
		if seen[r.MsgID+r.Node] {
			t.Errorf("%s: result delivered twice", where)
		}
		seen[r.MsgID+r.Node] = true
	}
	t.Logf("AvroConsumer decoded %d results of %s, each equal to the Go decoding of the same offset", len(recs), topic)
}

// payloadNative is a decoded Payload as an Avro reader without our Go
// types sees it: a string list is the StringList record.
func payloadNative(p schemas.Payload) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch x := v.(type) {
		case []float64:
			items := make([]any, len(x))
			for i, f := range x {
				items[i] = f
			}
			out[k] = items
		case []string:
			items := make([]any, len(x))
			for i, s := range x {
				items[i] = s
			}
			out[k] = map[string]any{"items": items}
		default:
			out[k] = v
		}
	}
	return out
}
