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

// versionFiles lists, per version, the .avsc files of that version's
// schema set in dependency order: a named type is parsed before the files
// that reference it. Each version is parsed in a cache of its own, since
// GLYPH v1 and v2 are both named matriz.Glyph. A record absent from a
// version (MatrizResult in V2) simply has no such version.
var versionFiles = map[Version][]struct {
	file string
	name Name // empty for shared named types that are not top-level records
}{
	V1: {
		{"lane.avsc", ""},
		{"strings.avsc", ""},
		{"glyph.avsc", NameGlyph},
		{"crumb.avsc", ""},
		{"message.avsc", NameMessage},
		{"result.avsc", NameResult},
		{"event.avsc", NameEvent},
		{"trace.avsc", NameTrace},
	},
	V2: {
		{"lane.avsc", ""},
		{"strings.avsc", ""},
		{"glyph_v2.avsc", NameGlyph},
		{"message_v2.avsc", NameMessage},
	},
}

// versioned is every parsed version of one record schema.
type versioned struct {
	versions []Version // oldest first
	schemas  map[Version]*avro.Schema
}

var (
	loadOnce sync.Once
	loaded   map[Name]versioned
	loadErr  error
)

func load() {
	loaded = make(map[Name]versioned, len(Names))
	for _, v := range []Version{V1, V2} {
		var cache avro.SchemaCache
		for _, f := range versionFiles[v] {
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
			if f.name == "" {
				continue
			}
			e := loaded[f.name]
			if e.schemas == nil {
				e.schemas = map[Version]*avro.Schema{}
			}
			e.versions = append(e.versions, v)
			e.schemas[v] = s
			loaded[f.name] = e
		}
	}
}

// Schema returns the parsed schema for the latest version of name. The
// embedded .avsc files are parsed once; an error here means the binary was
// built with a broken schema file, which the package tests catch.
func Schema(name Name) (*avro.Schema, error) { return SchemaOf(name, Latest) }

// SchemaOf returns the parsed schema for version v of name (Latest: the
// newest). A version name does not have is an error wrapping
// ErrUnknownVersion that lists the versions it has.
func SchemaOf(name Name, v Version) (*avro.Schema, error) {
	s, _, err := schemaOf(name, v)
	return s, err
}

// schemaOf also returns the concrete version Latest stood for.
func schemaOf(name Name, v Version) (*avro.Schema, Version, error) {
	loadOnce.Do(load)
	if loadErr != nil {
		return nil, 0, loadErr
	}
	e, ok := loaded[name]
	if !ok {
		return nil, 0, fmt.Errorf("schemas: unknown schema %q", name)
	}
	if v == Latest {
		v = e.versions[len(e.versions)-1]
	}
	s, ok := e.schemas[v]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s has no %s (it has %v)", ErrUnknownVersion, name, v, e.versions)
	}
	return s, v, nil
}

// Text returns the self-contained JSON text of the latest version of name,
// with every referenced named type inlined: the form registered in a
// schema registry.
func Text(name Name) (string, error) { return TextOf(name, Latest) }

// TextOf returns the self-contained JSON text of version v of name.
func TextOf(name Name, v Version) (string, error) {
	s, err := SchemaOf(name, v)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}
