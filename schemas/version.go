package schemas

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a version of one record schema, as the binary knows it.
// GLYPH and MatrizMessage have two (v2 adds GLYPH's optional identity,
// consent and provenance fields; MatrizMessage v2 is v1 over GLYPH v2); the
// other records have one. A producer pins the version it writes
// (AppendEncodeAs); a consumer picks the version it reads into
// (DecodeWireAs), and Avro schema resolution bridges the two.
type Version int

// The versions. Latest stands for the newest version of whichever schema
// it is used with: the functions without "As" use it, for reading and for
// writing alike, so a binary writes what it reads best. A producer that
// must keep writing v1 while consumers upgrade pins V1 explicitly.
const (
	Latest Version = 0
	V1     Version = 1
	V2     Version = 2
)

// ErrUnknownVersion is wrapped by errors for a version a schema does not
// have.
var ErrUnknownVersion = errors.New("schemas: unknown schema version")

// String returns "v1", "v2", … or "latest".
func (v Version) String() string {
	if v == Latest {
		return "latest"
	}
	return "v" + strconv.Itoa(int(v))
}

// ParseVersion reads "v1", "1", "V2" or "latest".
func ParseVersion(s string) (Version, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "latest" {
		return Latest, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(t, "v"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: %q (want v1, v2, … or latest)", ErrUnknownVersion, s)
	}
	return Version(n), nil
}

// Versions returns the versions of name the binary holds, oldest first; nil
// for an unknown name.
func Versions(name Name) []Version {
	loadOnce.Do(load)
	return append([]Version(nil), loaded[name].versions...)
}

// LatestVersion returns the newest version of name, or Latest itself for an
// unknown name.
func LatestVersion(name Name) Version {
	loadOnce.Do(load)
	vs := loaded[name].versions
	if len(vs) == 0 {
		return Latest
	}
	return vs[len(vs)-1]
}
