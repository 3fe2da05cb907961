package schemas

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// The direct codec (append.go, read.go) is held to two oracles: twmb/avro's
// reflective codec, which it replaced on the hot path and which stays for
// other versions, and goavro, an independent implementation. Where every
// map holds at most one entry the bytes must be identical to both; with
// larger maps the oracles' bytes follow Go's map order, so the value with
// each map cut to one entry is compared byte for byte, and the full value
// by decoding each side's bytes with the other.

// oracleCase is one value to encode, with the schema version it is
// written with.
type oracleCase struct {
	name    string
	schema  Name
	version Version
	value   any
}

// oracleCorpus returns every fixture and n generated values of every
// record and version.
func oracleCorpus(n int) []oracleCase {
	var out []oracleCase
	for _, f := range fixtures() {
		out = append(out, oracleCase{f.name, f.schema, f.version, f.value})
	}
	rng := rand.New(rand.NewPCG(15, 2026))
	for i := range n {
		for _, name := range Names {
			for _, v := range Versions(name) {
				rec := genRecord(rng, name)
				if v == V1 {
					clearGlyphV2(rec)
				}
				out = append(out, oracleCase{fmt.Sprintf("gen-%s-%s-%d", name, v, i), name, v, rec})
			}
		}
	}
	return out
}

func TestDirectEncodeMatchesOracles(t *testing.T) {
	codecs := map[string]*goavro.Codec{}
	for _, c := range oracleCorpus(300) {
		key := fmt.Sprint(c.schema, c.version)
		if codecs[key] == nil {
			codecs[key] = goavroCodec(t, c.schema, c.version)
		}
		checkAgainstOracles(t, c, codecs[key])
	}
}

func checkAgainstOracles(t *testing.T, c oracleCase, gc *goavro.Codec) {
	t.Helper()
	ours := directEncode(t, c)
	for _, v := range []any{singleKeyed(c.value), c.value} {
		if maxMapLen(reflect.ValueOf(v)) > 1 {
			continue
		}
		mine := directEncode(t, oracleCase{c.name, c.schema, c.version, v})
		twmb := reflectiveEncode(t, c.schema, c.version, v)
		theirs, err := gc.BinaryFromNative(nil, toNative(v))
		if err != nil {
			t.Fatalf("%s: goavro encode: %v", c.name, err)
		}
		if !bytes.Equal(mine, twmb) || !bytes.Equal(mine, theirs) {
			t.Fatalf("%s: bytes differ:\ndirect %x\ntwmb   %x\ngoavro %x", c.name, mine, twmb, theirs)
		}
	}
	// Decoded equality both ways: the oracles read the direct bytes, and
	// Decode reads the oracles' bytes, each to the value encoded.
	native, rest, err := gc.NativeFromBinary(ours)
	if err != nil || len(rest) != 0 {
		t.Fatalf("%s: goavro cannot read the direct bytes: %v (%d left)", c.name, err, len(rest))
	}
	viaGoavro, err := fromNative(c.schema, native)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(c.value, viaGoavro) {
		t.Errorf("%s: goavro read of direct bytes: %s", c.name, d)
	}
	viaTwmb := newRecord(c.schema)
	if err := reflectiveDecodeAny(c.schema, c.version, ours, viaTwmb); err != nil {
		t.Fatalf("%s: twmb/avro cannot read the direct bytes: %v", c.name, err)
	}
	for _, d := range diffValues(c.value, viaTwmb) {
		t.Errorf("%s: twmb/avro read of direct bytes: %s", c.name, d)
	}
	theirs, err := gc.BinaryFromNative(nil, toNative(c.value))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{theirs, reflectiveEncode(t, c.schema, c.version, c.value)} {
		got, err := decodeAny(c.schema, c.version, b)
		if err != nil {
			t.Fatalf("%s: Decode of oracle bytes: %v", c.name, err)
		}
		for _, d := range diffValues(c.value, got) {
			t.Errorf("%s: Decode of oracle bytes: %s", c.name, d)
		}
	}
}

// directEncode encodes c through appendDirect, failing when the direct
// encoder does not take the value: the hot path must not fall back.
func directEncode(t *testing.T, c oracleCase) []byte {
	t.Helper()
	var b []byte
	var ok bool
	switch x := c.value.(type) {
	case *Glyph:
		b, ok = appendDirect(nil, x, c.version)
	case *MatrizMessage:
		b, ok = appendDirect(nil, x, c.version)
	case *MatrizResult:
		b, ok = appendDirect(nil, x, c.version)
	case *Event:
		b, ok = appendDirect(nil, x, c.version)
	case *Trace:
		b, ok = appendDirect(nil, x, c.version)
	}
	if !ok {
		t.Fatalf("%s: the direct encoder refused %s %s", c.name, c.schema, c.version)
	}
	via, err := encodeAny(nil, c.value, c.version)
	if err != nil || !bytes.Equal(via, b) {
		t.Fatalf("%s: AppendEncodeAs did not take the direct path: %v\n%x\n%x", c.name, err, via, b)
	}
	return b
}

func reflectiveEncode(t *testing.T, name Name, ver Version, v any) []byte {
	t.Helper()
	s, err := SchemaOf(name, ver)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	switch x := v.(type) {
	case *Glyph:
		b, err = appendReflective(nil, s, name, x)
	case *MatrizMessage:
		b, err = appendReflective(nil, s, name, x)
	case *MatrizResult:
		b, err = appendReflective(nil, s, name, x)
	case *Event:
		b, err = appendReflective(nil, s, name, x)
	case *Trace:
		b, err = appendReflective(nil, s, name, x)
	}
	if err != nil {
		t.Fatalf("reflective encode %s: %v", name, err)
	}
	return b
}

// reflectiveDecodeAny decodes src into v (a record pointer) through
// twmb/avro's reflective decoder.
func reflectiveDecodeAny(name Name, ver Version, src []byte, v any) error {
	s, err := SchemaOf(name, ver)
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case *Glyph:
		return decodeReflective(s, name, src, x)
	case *MatrizMessage:
		return decodeReflective(s, name, src, x)
	case *MatrizResult:
		return decodeReflective(s, name, src, x)
	case *Event:
		return decodeReflective(s, name, src, x)
	case *Trace:
		return decodeReflective(s, name, src, x)
	}
	return fmt.Errorf("%T is not a record", v)
}

// TestDirectEncodeSortsKeys: the same value gives the same bytes however
// its maps were built, keys in ascending order.
func TestDirectEncodeSortsKeys(t *testing.T) {
	r := benchResult()
	want, err := AppendEncode(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		c := benchResult()
		c.Payload = c.Payload.Clone()
		got, err := AppendEncode(nil, &c)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodings differ: %v\n%x\n%x", err, got, want)
		}
	}
	p := Payload{"b": nil, "a": nil, "c": nil}
	b, ok := appendPayload(nil, p)
	if want := []byte{6, 2, 'a', 0, 2, 'b', 0, 2, 'c', 0, 0}; !ok || !bytes.Equal(b, want) {
		t.Fatalf("got %x, want %x", b, want)
	}
	// Past the insertion sort's few entries, and past the 16 sorted on the stack.
	for _, n := range []int{13, 40} {
		p, want := Payload{}, long(int64(n))
		for i := range n {
			p[fmt.Sprintf("k%03d", n-i)] = nil
		}
		for i := range n {
			want = cat(want, str(fmt.Sprintf("k%03d", i+1)), long(branchNull))
		}
		want = append(want, 0)
		if b, ok := appendPayload(nil, p); !ok || !bytes.Equal(b, want) {
			t.Fatalf("%d entries: got %x, want %x", n, b, want)
		}
	}
}

// TestDirectDecodeMatchesReflective decodes every golden file of the
// records the direct decoder reads, and every prefix of it, with both
// decoders: same value, and the same empty-or-absent shape of every
// slice, map and pointer, or an error from both.
func TestDirectDecodeMatchesReflective(t *testing.T) {
	n := 0
	for _, g := range goldenFiles(t) {
		if g.schema != NameMessage && g.schema != NameGlyph {
			continue
		}
		n++
		checkDirectDecode(t, g.name, g.body)
		for i := range len(g.body) { // every cut: lengths that run past the end
			checkDirectDecode(t, fmt.Sprintf("%s[:%d]", g.name, i), g.body[:i])
		}
	}
	if n == 0 {
		t.Fatal("no golden message or glyph")
	}
}

// checkDirectDecode decodes body as a MatrizMessage and as a Glyph with
// every version, directly and reflectively: both fail, or both give the
// same value. A direct failure is a *DecodeError wrapping ErrDecode.
func checkDirectDecode(t *testing.T, name string, body []byte) {
	t.Helper()
	for _, schema := range []Name{NameMessage, NameGlyph} {
		for _, ver := range Versions(schema) {
			direct, reflective := newRecord(schema), newRecord(schema)
			errD := directDecodeAny(t, schema, ver, body, direct)
			errR := reflectiveDecodeAny(schema, ver, body, reflective)
			if (errD == nil) != (errR == nil) {
				t.Fatalf("%s as %s %s: direct %v, reflective %v", name, schema, ver, errD, errR)
			}
			if errD != nil {
				checkDecodeErr(t, errD, schema)
				continue
			}
			for _, d := range diffValues(reflective, direct) {
				t.Errorf("%s as %s %s: %s", name, schema, ver, d)
			}
			if a, b := emptyShape(reflect.ValueOf(reflective), ""), emptyShape(reflect.ValueOf(direct), ""); a != b {
				t.Errorf("%s as %s %s: nil/empty shape differs:\nreflective %s\ndirect     %s", name, schema, ver, a, b)
			}
		}
	}
}

// directDecodeAny decodes through DecodeAs, after checking that the
// direct decoder handles the schema and version.
func directDecodeAny(t *testing.T, name Name, ver Version, src []byte, v any) error {
	t.Helper()
	var handled bool
	switch x := v.(type) {
	case *Glyph:
		_, handled, _ = decodeDirect(src, x, ver)
		*x = Glyph{}
		if handled {
			return DecodeAs(src, x, ver)
		}
	case *MatrizMessage:
		_, handled, _ = decodeDirect(src, x, ver)
		*x = MatrizMessage{}
		if handled {
			return DecodeAs(src, x, ver)
		}
	}
	t.Fatalf("the direct decoder does not read %s %s", name, ver)
	return nil
}

// emptyShape lists the nil slices, maps and pointers in v, so two decoded
// values that diffValues finds equal can still be told apart by whether a
// container is nil or empty.
func emptyShape(v reflect.Value, path string) string {
	if !v.IsValid() || v.Type() == timeType {
		return ""
	}
	var b strings.Builder
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return path + "=nil "
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		b.WriteString(emptyShape(v.Elem(), path))
	case reflect.Struct:
		for i := range v.NumField() {
			b.WriteString(emptyShape(v.Field(i), path+"."+v.Type().Field(i).Name))
		}
	case reflect.Slice:
		for i := range v.Len() {
			b.WriteString(emptyShape(v.Index(i), fmt.Sprintf("%s[%d]", path, i)))
		}
	case reflect.Map:
		for _, k := range sortedMapKeys(v) {
			b.WriteString(emptyShape(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), fmt.Sprintf("%s[%q]", path, k)))
		}
	}
	return b.String()
}

// FuzzDirectDecode holds the direct decoder to the reflective one on
// arbitrary bodies, read as a MatrizMessage and as a Glyph with every
// version: never a panic, and the same value or an error from both.
func FuzzDirectDecode(f *testing.F) {
	for _, g := range goldenFiles(f) {
		if g.schema == NameMessage || g.schema == NameGlyph {
			f.Add(g.body)
		}
	}
	head := messageHead(f)
	const huge = 1 << 62
	for _, b := range [][]byte{
		{},
		cat(head, long(-2), long(20), str("a"), str("b"), str("c"), str("d"), long(0), long(0), str("t")),
		cat(head, long(0), long(1), str("v"), long(branchDoubles), long(-1), long(8), make([]byte, 8), long(0), long(0), str("t")),
		cat(head, long(0), long(2), str("k"), long(branchNull), str("k"), long(branchLong), long(1), long(0), str("t")),
		cat(head, long(0), long(2), str("k"), long(branchStrings), long(1), str("x"), long(0), str("k"), long(branchDoubles), long(0), long(0), str("t")),
		cat(head, long(0), long(1), str("k"), long(branchBoolean), []byte{7}, long(0), str("t")),
		cat(head, long(huge)),
		cat(head, long(0), long(1), str("k"), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, long(0), str("t")),
		cat(head, long(0), long(1), str("k"), []byte{0x8a, 0x80, 0x80, 0x80, 0}, long(0), str("t")),
		cat(str(uuidMsg), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}),
		cat(str(uuidMsg), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, long(4)),
	} {
		f.Add(b)
	}
	// Bodies with many payload entries fill more than one box slab.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		m := genRecord(rng, NameMessage).(*MatrizMessage)
		m.Payload = Payload{}
		for i := range 40 {
			m.Payload[fmt.Sprint("k", i)] = genValue(rng)
		}
		for _, v := range Versions(NameMessage) {
			b, err := AppendEncodeAs(nil, m, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDirectDecode(t, "body", body)
	})
}

// TestDecodeWireOwnSchemaIsDirect: a value written with the binary's own
// latest schema resolves to that schema, so DecodeWire takes the direct
// decoder; an older writer's resolved schema is none of the binary's own.
func TestDecodeWireOwnSchemaIsDirect(t *testing.T) {
	l, err := NewSchemaLookup(StaticFetcher(ownTexts(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	latest := LatestVersion(NameMessage)
	own, err := ResolveID[MatrizMessage](ctx, l, ownID(NameMessage, latest))
	if err != nil {
		t.Fatal(err)
	}
	if v := ownVersion(NameMessage, own); v != latest {
		t.Fatalf("own writer resolves to version %s, want %s", v, latest)
	}
	old, err := ResolveID[MatrizMessage](ctx, l, ownID(NameMessage, V1))
	if err != nil {
		t.Fatal(err)
	}
	if v := ownVersion(NameMessage, old); v != 0 {
		t.Fatalf("v1 writer read as v2 resolves to own version %s, want none", v)
	}
	m := benchSyntheticMessage()
	wire, err := AppendWire(nil, ownID(NameMessage, latest), &m)
	if err != nil {
		t.Fatal(err)
	}
	var got MatrizMessage
	if _, err := DecodeWire(ctx, l, wire, &got); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffValues(&m, &got) {
		t.Error(d)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := DecodeWire(ctx, l, wire, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 12 { // the reflective decoder takes about 40
		t.Fatalf("DecodeWire of an own-schema message: %v allocations, want the direct decoder's few", allocs)
	}
}

// genRecord returns a random value of the Go type for name, with every
// field set the way the schema's latest version can hold it.
func genRecord(rng *rand.Rand, name Name) any {
	switch name {
	case NameGlyph:
		g := genGlyph(rng)
		return &g
	case NameMessage:
		return &MatrizMessage{MsgID: genString(rng), TS: genTime(rng), Lane: Lanes[rng.IntN(3)],
			Glyph: genGlyph(rng), Payload: genPayload(rng), Topic: genString(rng)}
	case NameResult:
		return &MatrizResult{ID: genString(rng), MsgID: genString(rng), TS: genTime(rng), Lane: Lanes[rng.IntN(3)],
			Node: genString(rng), NodeVersion: genString(rng), OK: rng.IntN(2) == 0, Reasons: genStrings(rng),
			Payload: genPayload(rng), Trace: genCrumbs(rng)}
	case NameEvent:
		return &Event{ID: genString(rng), TS: genTime(rng), Kind: EventKinds[rng.IntN(len(EventKinds))],
			Lane: Lanes[rng.IntN(3)], GlyphID: genString(rng), MsgID: genString(rng), Stage: genString(rng),
			Payload: genPayload(rng)}
	case NameTrace:
		return &Trace{ID: genString(rng), TS: genTime(rng), MsgID: genString(rng), Lane: Lanes[rng.IntN(3)],
			Stage: genString(rng), Decision: genString(rng), Crumbs: genCrumbs(rng), Inputs: genPayload(rng),
			Outputs: genPayload(rng), Constraints: genStrings(rng), RiskClass: RiskClasses[rng.IntN(len(RiskClasses))],
			DataOrigin: genString(rng), ExplanationLink: genString(rng)}
	}
	panic("genRecord: unknown schema " + string(name))
}

// genGlyph sets the v2 fields too; a case written with v1 clears them
// (clearGlyphV2), since v1 bytes cannot carry them.
func genGlyph(rng *rand.Rand) Glyph {
	g := Glyph{ID: genString(rng), Kind: genString(rng), Version: genString(rng)}
	if n := rng.IntN(4); n > 0 {
		g.Tags = map[string]string{}
		for range n {
			g.Tags[genString(rng)] = genString(rng)
		}
	}
	if rng.IntN(2) == 0 {
		s := genString(rng)
		g.SubjectSID = &s
	}
	if rng.IntN(2) == 0 {
		g.Consent = &Consent{Granted: rng.IntN(2) == 0, Purpose: genString(rng)}
	}
	g.Provenance = genStrings(rng)
	return g
}

func clearGlyphV2(rec any) {
	var g *Glyph
	switch x := rec.(type) {
	case *Glyph:
		g = x
	case *MatrizMessage:
		g = &x.Glyph
	default:
		return
	}
	g.SubjectSID, g.Consent, g.Provenance = nil, nil, nil
}

// TestDirectEncodeGoInt: a Go int in a payload is written as the long it
// would be as an int64, as the reflective codec writes it.
func TestDirectEncodeGoInt(t *testing.T) {
	for _, n := range []int{0, -1, 300, math.MaxInt, math.MinInt} {
		e := Event{ID: "e", TS: tsFixture, Kind: EventAction, Lane: LaneProd, Payload: Payload{"n": n}}
		ours := directEncode(t, oracleCase{"int", NameEvent, V1, &e})
		if twmb := reflectiveEncode(t, NameEvent, V1, &e); !bytes.Equal(ours, twmb) {
			t.Fatalf("%d: direct %x, reflective %x", n, ours, twmb)
		}
	}
}

func genCrumbs(rng *rand.Rand) []Crumb {
	var cs []Crumb
	for range rng.IntN(4) {
		cs = append(cs, Crumb{Stage: genString(rng), T: genTime(rng), Data: genPayload(rng)})
	}
	return cs
}

func genPayload(rng *rand.Rand) Payload {
	n := rng.IntN(6)
	if n == 0 {
		return nil
	}
	p := Payload{}
	for range n {
		p[genString(rng)] = genValue(rng)
	}
	return p
}

// genValue returns a value of every branch of the payload union, a Go int
// and the awkward doubles among them.
func genValue(rng *rand.Rand) any {
	switch rng.IntN(12) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return int64(rng.Uint64())
	case 3:
		return int64(rng.IntN(300) - 150)
	case 4:
		return []float64{math.NaN(), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64}[rng.IntN(4)]
	case 5:
		return rng.NormFloat64() * 1e6
	case 6:
		return genString(rng)
	case 7:
		v := make([]float64, rng.IntN(10))
		for i := range v {
			v[i] = rng.Float64()*2 - 1
		}
		return v
	case 8:
		return []string(nil)
	case 9:
		return genStrings(rng)
	case 10:
		return []float64{}
	}
	return rng.Float64()
}

func genStrings(rng *rand.Rand) []string {
	var ss []string
	for range rng.IntN(4) {
		ss = append(ss, genString(rng))
	}
	return ss
}

func genString(rng *rand.Rand) string {
	const alphabet = "ab-_:/0 ü世🌍"
	r := []rune(alphabet)
	var b strings.Builder
	n := rng.IntN(12)
	if rng.IntN(20) == 0 {
		n = 200 // a length whose varint takes two bytes
	}
	for range n {
		b.WriteRune(r[rng.IntN(len(r))])
	}
	return b.String()
}

// genTime returns an instant with microsecond precision, before and after
// 1970, near and far.
func genTime(rng *rand.Rand) time.Time {
	us := rng.Int64N(1<<50) - 1<<49
	if rng.IntN(10) == 0 {
		us = rng.Int64N(2000) - 1000
	}
	return time.UnixMicro(us).UTC()
}

// TestHostileBodiesV2 is TestHostileBodies for the latest MatrizMessage,
// the version the runtime decodes directly: lengths and counts that lie
// are a *DecodeError, with allocation bounded.
func TestHostileBodiesV2(t *testing.T) {
	m := MatrizMessage{MsgID: uuidMsg, TS: tsFixture, Lane: LaneProd, Glyph: Glyph{ID: uuidGlyph, Kind: "k", Version: "2"}}
	b, err := AppendEncodeAs(nil, &m, V2)
	if err != nil {
		t.Fatal(err)
	}
	// The glyph ends with tags, subject_sid, consent and provenance; then
	// come payload and topic: one zero byte each here.
	if !bytes.HasSuffix(b, make([]byte, 6)) {
		t.Fatalf("unexpected tail %x", b[len(b)-6:])
	}
	head := b[:len(b)-2] // up to the payload
	const huge = 1 << 62
	cases := map[string][]byte{
		"tags count 2^62":         cat(b[:len(b)-6], long(huge), str("k"), str("v")),
		"subject_sid length 2^62": cat(b[:len(b)-5], long(1), long(huge), []byte("s")),
		"provenance count 2^62":   cat(b[:len(b)-3], long(huge), str("a")),
		"payload count 2^62":      cat(head, long(huge), str("k"), long(branchNull)),
		"payload block MinInt64":  cat(head, long(math.MinInt64), long(3), str("k"), long(branchNull)),
		"payload key length 2^62": cat(head, long(1), long(huge), []byte("k")),
		"payload string 2^62":     cat(head, long(1), str("k"), long(branchString), long(huge), []byte("x")),
		"payload union index 7":   cat(head, long(1), str("k"), long(7), long(0), long(0)),
		"vector count 2^62":       cat(head, long(1), str("k"), long(branchDoubles), long(huge), make([]byte, 16)),
		"vector block -2^62":      cat(head, long(1), str("k"), long(branchDoubles), long(-huge), long(16), make([]byte, 16)),
		"string list count 2^62":  cat(head, long(1), str("k"), long(branchStrings), long(huge), str("a")),
		"double cut short":        cat(head, long(1), str("k"), long(branchDouble), []byte{1, 2, 3}),
		"topic length 2^62":       cat(head, long(0), long(huge), []byte("t")),
		"trailing byte":           cat(b, []byte{0}),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var got MatrizMessage
			var err error
			n := allocBytes(func() { err = Decode(body, &got) })
			checkDecodeErr(t, err, NameMessage)
			if n > maxHostileAlloc {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
}
