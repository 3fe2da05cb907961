package schemas

import (
	"embed"
	"fmt"
	"sync"

	"github.com/twmb/avro"
)

//go:embed avro/*.avsc
var avscFS embed.FS

// Name identifies one of the project's record schemas.
type Name string

// The record schemas the pipeline reads and writes.
const (
	NameGlyph   Name = "Glyph"
	NameMessage Name = "MatrizMessage"
	NameResult  Name = "MatrizResult"
	NameEvent   Name = "Event"
	NameTrace   Name = "Trace"
)

// Names lists the record schemas in dependency order.
var Names = []Name{NameGlyph, NameMessage, NameResult, NameEvent, NameTrace}

// parseOrder is the dependency order of the .avsc files: a named type is
// parsed before the files that reference it.
var parseOrder = []struct {
	file string
	name Name // empty for shared named types that are not top-level records
}{
	{"lane.avsc", ""},
	{"strings.avsc", ""},
	{"glyph.avsc", NameGlyph},
	{"crumb.avsc", ""},
	{"message.avsc", NameMessage},
	{"result.avsc", NameResult},
	{"event.avsc", NameEvent},
	{"trace.avsc", NameTrace},
}

var (
	loadOnce sync.Once
	loaded   map[Name]*avro.Schema
	loadErr  error
)

func load() {
	var cache avro.SchemaCache
	loaded = make(map[Name]*avro.Schema, len(Names))
	for _, f := range parseOrder {
		text, err := avscFS.ReadFile("avro/" + f.file)
		if err != nil {
			loadErr = fmt.Errorf("schemas: read %s: %w", f.file, err)
			return
		}
		s, err := cache.Parse(string(text))
		if err != nil {
			loadErr = fmt.Errorf("schemas: parse %s: %w", f.file, err)
			return
		}
		if f.name != "" {
			loaded[f.name] = s
		}
	}
}

// Schema returns the parsed schema for name. The embedded .avsc files are
// parsed once; an error here means the binary was built with a broken
// schema file, which the package tests catch.
func Schema(name Name) (*avro.Schema, error) {
	loadOnce.Do(load)
	if loadErr != nil {
		return nil, loadErr
	}
	s, ok := loaded[name]
	if !ok {
		return nil, fmt.Errorf("schemas: unknown schema %q", name)
	}
	return s, nil
}

// Text returns the self-contained JSON text of the schema for name, with
// every referenced named type inlined: the form registered in a schema
// registry.
func Text(name Name) (string, error) {
	s, err := Schema(name)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}
