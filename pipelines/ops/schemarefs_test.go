package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
)

// TestCheckInlinesSchemaReferences: a registered version that declares
// Confluent schema references (matriz.StringList under its own subject)
// is checked here with the referenced types fetched and inlined.
func TestCheckInlinesSchemaReferences(t *testing.T) {
	list := `{"type":"record","name":"StringList","namespace":"matriz","fields":[{"name":"items","type":{"type":"array","items":"string"}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subjects/matriz.StringList/versions/1" {
			http.Error(w, `{"error_code":40401,"message":"not found"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"subject": "matriz.StringList", "version": 1, "id": 7, "schema": list})
	}))
	defer srv.Close()
	tool, err := NewSchemaTool(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := sr.Schema{
		Schema:     `{"type":"record","name":"M","namespace":"matriz","fields":[{"name":"tags","type":"matriz.StringList"}]}`,
		References: []sr.SchemaReference{{Name: "matriz.StringList", Subject: "matriz.StringList", Version: 1}},
	}
	text, err := tool.withReferences(context.Background(), s, 0)
	if err != nil {
		t.Fatal(err)
	}
	var c avro.SchemaCache
	if _, err := c.Parse(text); err != nil || !strings.Contains(text, `"items"`) {
		t.Fatalf("inlined text %s does not stand alone: %v", text, err)
	}
	s.References[0].Version = 2
	if _, err := tool.withReferences(context.Background(), s, 0); err == nil || !strings.Contains(err.Error(), "reference matriz.StringList (subject matriz.StringList version 2)") {
		t.Fatalf("a missing reference: %v", err)
	}
}
