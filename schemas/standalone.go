package schemas

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/avro"
)

// Standalone returns the schema in text — the contents of one .avsc file —
// as a self-contained schema: the named types it references from the
// project's shared files (matriz.Lane, matriz.Glyph, matriz.StringList, …)
// inlined, the form a registry registers and a compatibility check reads.
// A text that parses on its own is returned unchanged.
//
// The shared types are the ones the binary's own schema sets define
// (versionFiles), parsed in their dependency order. A text identical to
// one of the shipped files resolves within that file's version set, so
// message.avsc gets GLYPH v1 and message_v2.avsc GLYPH v2; any other text
// resolves against the newest set that parses it.
func Standalone(text string) (string, error) {
	var alone avro.SchemaCache
	_, err := alone.Parse(text)
	if err == nil {
		return text, nil
	}
	own := fullName(text)
	var order []Version
	for _, v := range []Version{V2, V1} {
		if shipsText(v, text) {
			order = slices.Insert(order, 0, v)
		} else {
			order = append(order, v)
		}
	}
	for _, v := range order {
		if s, ok := parseWithSet(v, own, text); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w (the named types the project's schemas share do not resolve it either)", err)
}

// parseWithSet parses text after version v's shared files, up to the one
// that defines text's own name.
func parseWithSet(v Version, own, text string) (string, bool) {
	var cache avro.SchemaCache
	for _, f := range versionFiles[v] {
		b, err := avscFS.ReadFile("avro/" + f.file)
		if err != nil {
			return "", false
		}
		if own != "" && fullName(string(b)) == own {
			break
		}
		if _, err := cache.Parse(string(b)); err != nil {
			return "", false
		}
	}
	s, err := cache.Parse(text)
	if err != nil {
		return "", false
	}
	return s.String(), true
}

// shipsText reports whether version v's set holds a file with text.
func shipsText(v Version, text string) bool {
	for _, f := range versionFiles[v] {
		if b, err := avscFS.ReadFile("avro/" + f.file); err == nil && strings.TrimSpace(string(b)) == strings.TrimSpace(text) {
			return true
		}
	}
	return false
}

// fullName returns the full name of a named schema's top level, or "".
func fullName(text string) string {
	var top struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if json.Unmarshal([]byte(text), &top) != nil || top.Name == "" {
		return ""
	}
	if strings.Contains(top.Name, ".") || top.Namespace == "" {
		return top.Name
	}
	return top.Namespace + "." + top.Name
}
