package registry

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// TestFranzGoSRClient drives the registry through github.com/twmb/franz-go/pkg/sr,
// the client the project's own code uses, over real HTTP.
func TestFranzGoSRClient(t *testing.T) {
	reg, err := New(NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	types, err := cl.SupportedTypes(ctx)
	if err != nil || !reflect.DeepEqual(types, []sr.SchemaType{sr.TypeAvro}) {
		t.Fatalf("SupportedTypes = %v, %v", types, err)
	}

	v1, err := cl.CreateSchema(ctx, "matriz.glyph-value", sr.Schema{Schema: schemaV1})
	if err != nil {
		t.Fatalf("CreateSchema: %v", err)
	}
	if v1.Subject != "matriz.glyph-value" || v1.Version != 1 || v1.ID != 1 || v1.Schema.Schema != schemaV1 {
		t.Fatalf("CreateSchema = %+v", v1)
	}
	v2, err := cl.CreateSchema(ctx, "matriz.glyph-value", sr.Schema{Schema: schemaV2, Type: sr.TypeAvro})
	if err != nil || v2.Version != 2 || v2.ID != 2 {
		t.Fatalf("CreateSchema v2 = %+v, %v", v2, err)
	}
	again, err := cl.CreateSchema(ctx, "matriz.glyph-value", sr.Schema{Schema: schemaV2})
	if err != nil || again.ID != v2.ID || again.Version != 2 {
		t.Fatalf("CreateSchema again = %+v, %v; want id %d version 2", again, err, v2.ID)
	}

	got, err := cl.SchemaByVersion(ctx, "matriz.glyph-value", 1)
	if err != nil || got.ID != v1.ID || got.Schema.Schema != schemaV1 {
		t.Fatalf("SchemaByVersion(1) = %+v, %v", got, err)
	}
	latest, err := cl.SchemaByVersion(ctx, "matriz.glyph-value", -1)
	if err != nil || latest.Version != 2 {
		t.Fatalf("SchemaByVersion(latest) = %+v, %v", latest, err)
	}
	text, err := cl.SchemaTextByVersion(ctx, "matriz.glyph-value", 1)
	if err != nil || strings.TrimSpace(text) != schemaV1 {
		t.Fatalf("SchemaTextByVersion = %q, %v", text, err)
	}
	byID, err := cl.SchemaByID(ctx, v2.ID)
	if err != nil || byID.Schema != schemaV2 {
		t.Fatalf("SchemaByID = %+v, %v", byID, err)
	}

	found, err := cl.LookupSchema(ctx, "matriz.glyph-value", sr.Schema{Schema: schemaV1})
	if err != nil || found.ID != v1.ID || found.Version != 1 {
		t.Fatalf("LookupSchema = %+v, %v", found, err)
	}
	_, err = cl.LookupSchema(ctx, "matriz.glyph-value", sr.Schema{Schema: `"bytes"`})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != CodeSchemaNotFound {
		t.Fatalf("LookupSchema of an unknown schema: err = %v, want error_code 40403", err)
	}

	subjects, err := cl.Subjects(ctx)
	if err != nil || !reflect.DeepEqual(subjects, []string{"matriz.glyph-value"}) {
		t.Fatalf("Subjects = %v, %v", subjects, err)
	}

	// kind without a default: fine against v2, not against v1.
	incompatible := sr.Schema{Schema: rec(fID, fKind)}
	res, err := cl.CheckCompatibility(ctx, "matriz.glyph-value", 2, incompatible)
	if err != nil || !res.Is {
		t.Fatalf("CheckCompatibility(v2) = %+v, %v", res, err)
	}
	res, err = cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), "matriz.glyph-value", 1, incompatible)
	if err != nil || res.Is || len(res.Messages) != 1 || !strings.Contains(res.Messages[0], "field kind") {
		t.Fatalf("CheckCompatibility(v1, verbose) = %+v, %v", res, err)
	}

	set := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackwardTransitive}, "matriz.glyph-value")
	if len(set) != 1 || set[0].Err != nil || set[0].Level != sr.CompatBackwardTransitive {
		t.Fatalf("SetCompatibility = %+v", set)
	}
	levels := cl.Compatibility(ctx, "matriz.glyph-value")
	if len(levels) != 1 || levels[0].Err != nil || levels[0].Level != sr.CompatBackwardTransitive {
		t.Fatalf("Compatibility = %+v", levels)
	}
	res, err = cl.CheckCompatibility(ctx, "matriz.glyph-value", -2, incompatible) // what registration checks
	if err != nil || res.Is {
		t.Fatalf("CheckCompatibility(all) under BACKWARD_TRANSITIVE = %+v, %v", res, err)
	}
	_, err = cl.CreateSchema(ctx, "matriz.glyph-value", incompatible)
	if !errors.As(err, &re) || re.ErrorCode != CodeIncompatible || !strings.Contains(re.Message, "field kind") {
		t.Fatalf("CreateSchema of an incompatible schema: err = %v, want 409 naming field kind", err)
	}

	usages, err := cl.SchemaUsagesByID(ctx, v1.ID)
	if err != nil || len(usages) != 1 || usages[0].Subject != "matriz.glyph-value" {
		t.Fatalf("SchemaUsagesByID = %+v, %v", usages, err)
	}

	deleted, err := cl.DeleteSubject(ctx, "matriz.glyph-value", sr.SoftDelete)
	if err != nil || !reflect.DeepEqual(deleted, []int{1, 2}) {
		t.Fatalf("DeleteSubject(soft) = %v, %v", deleted, err)
	}
	_, err = cl.DeleteSubject(ctx, "matriz.glyph-value", sr.SoftDelete)
	if !errors.As(err, &re) || re.ErrorCode != CodeSubjectSoftDeleted {
		t.Fatalf("second soft delete: err = %v, want 40404", err)
	}
	deleted, err = cl.DeleteSubject(ctx, "matriz.glyph-value", sr.HardDelete)
	if err != nil || !reflect.DeepEqual(deleted, []int{1, 2}) {
		t.Fatalf("DeleteSubject(hard) = %v, %v", deleted, err)
	}
	subjects, err = cl.Subjects(sr.WithParams(ctx, sr.ShowDeleted))
	if err != nil || len(subjects) != 0 {
		t.Fatalf("Subjects after hard delete = %v, %v", subjects, err)
	}

	// Per-version deletes and the global level.
	s3, err := cl.CreateSchema(ctx, "other", sr.Schema{Schema: `"string"`})
	if err != nil || s3.ID != 3 {
		t.Fatalf("CreateSchema after deletes = %+v, %v; want id 3 (ids are never reused)", s3, err)
	}
	if err := cl.DeleteSchema(ctx, "other", 1, sr.SoftDelete); err != nil {
		t.Fatalf("DeleteSchema(soft): %v", err)
	}
	if err := cl.DeleteSchema(ctx, "other", 1, sr.HardDelete); err != nil {
		t.Fatalf("DeleteSchema(hard): %v", err)
	}
	global := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull})
	if global[0].Err != nil || global[0].Level != sr.CompatFull {
		t.Fatalf("SetCompatibility(global) = %+v", global)
	}
	reset := cl.ResetCompatibility(ctx)
	if reset[0].Err != nil {
		t.Fatalf("ResetCompatibility: %v", reset[0].Err)
	}
	if g := cl.Compatibility(ctx); g[0].Err != nil || g[0].Level != sr.CompatBackward {
		t.Fatalf("global level after reset = %+v", g)
	}
	// A subject without its own level: 40408 unless defaultToGlobal.
	if c := cl.Compatibility(ctx, "unset"); !errors.As(c[0].Err, &re) || re.ErrorCode != CodeSubjectLevelNotSet {
		t.Fatalf("Compatibility(unset) err = %v, want 40408", c[0].Err)
	}
	if c := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), "unset"); c[0].Err != nil || c[0].Level != sr.CompatBackward {
		t.Fatalf("Compatibility(unset, defaultToGlobal) = %+v", c[0])
	}
}
