package serde

import "github.com/matriz/pipelines/schemas"

// SchemaVersions is one record schema and the versions of it the binary
// holds, oldest first ("v1", "v2").
type SchemaVersions struct {
	Name     string
	Versions []string
}

// AllSchemaVersions lists every record schema in dependency order with its
// versions (what `matriz version` prints).
func AllSchemaVersions() []SchemaVersions {
	out := make([]SchemaVersions, 0, len(schemas.Names))
	for _, n := range schemas.Names {
		sv := SchemaVersions{Name: string(n)}
		for _, v := range schemas.Versions(n) {
			sv.Versions = append(sv.Versions, v.String())
		}
		out = append(out, sv)
	}
	return out
}
