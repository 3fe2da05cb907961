// Package schemas holds the MATRIZ record schemas (Avro .avsc files embedded
// with go:embed), their Go types, the codec and the Confluent wire format.
// Every Kafka value the pipeline reads or writes goes through it.
//
// # Schemas
//
// Field names follow the Node Contract v1. The records, in namespace matriz:
//
//   - Glyph: GLYPH v1 is id (uuid), kind, version, tags map<string,string>,
//     with identity and consent (subject_sid, consent, purpose) in tags.
//     GLYPH v2 adds first-class optional fields, each with a default:
//     subject_sid ["null","string"] (null), consent ["null", Consent
//     {granted, purpose}] (null) and provenance array<string> ([]).
//   - MatrizMessage: msg_id (uuid), ts (timestamp-micros), lane (enum Lane),
//     glyph, payload, topic. Its Kafka key is glyph.id. Version 1 holds
//     GLYPH v1, version 2 GLYPH v2; nothing else differs.
//   - MatrizResult: a node's answer: id, msg_id, ts, lane, node,
//     node_version, ok, reasons, payload, trace (array of Crumb).
//   - Event: one decision on a lane's event log: id, ts, kind (enum
//     EventKind), lane, glyph_id, msg_id, stage, payload.
//   - Trace: the explanation of one decision: crumbs, inputs, outputs,
//     constraints and the EU AI Act markers risk_class (enum RiskClass),
//     data_origin, explanation_link.
//
// The shared named types Lane, StringList and Crumb have files of their own;
// Text returns each record's schema self-contained (named types inlined),
// the form registered in a schema registry.
//
// # Payloads and StringList
//
// A Payload is map<union> with the union [null, boolean, long, double,
// string, array<double>, matriz.StringList]. In Go its values are nil, bool,
// int64, float64, string, []float64 and []string (a Go int is accepted when
// encoding and comes back as int64). Avro forbids two array branches in one
// union, because a reader could not tell which one a value was written
// with, so array<string> cannot sit beside array<double>: a []string travels
// wrapped in the record matriz.StringList {items: array<string>}. The codec
// wraps and unwraps it; Go code never sees the record, but goavro, kcat and
// other readers of a topic do. An empty or nil list decodes as an empty,
// non-nil slice.
//
// # Codec
//
// AppendEncode writes the Avro binary body of a record into a reused buffer.
// The records' own schema versions are written by hand-written appenders
// (append.go) without reflection, allocating only to sort a map of more
// than 16 entries; any other version, and any value that does not fit
// (whose error names the field), goes through github.com/twmb/avro's
// reflective codec on the parsed schema, after payloads are put into wire
// shape (a []string becomes a StringList record). Decode reads a MatrizMessage or Glyph written with one of the
// binary's own versions through a hand-written decoder (read.go), and
// every other record or resolved writer through twmb/avro; both bound
// every length and count against the bytes present before allocating,
// and normalise payload values to the Go types above. The reflective codec
// stays the oracle: tests hold the direct one byte for byte to it and to
// goavro, and a fuzz target holds the decoders to each other.
//
// The direct encoders write map entries (glyph tags, payloads) sorted by
// key, so one value has one encoding. Avro lets a map's entries come in any
// order, though, and twmb/avro writes them in Go's randomised iteration
// order, so bytes from older writers, other versions or other producers can
// differ for equal values. Decoded values, not bytes, stay the unit of
// comparison for replay diffs, golden files and tests: a golden file must decode to its fixture (bytes written earlier still
// read back the same, which is what a replayed log needs), and bytes are
// compared with another encoder only where no map has more than one entry.
//
// Resolve and DecodeResolved read data written with another version of a
// schema (Avro schema resolution: reader defaults filled, writer-only fields
// skipped).
//
// # Versions
//
// Versions(name) lists the versions of a schema the binary holds (GLYPH and
// MatrizMessage: V1 and V2; the others: V1), SchemaOf and TextOf return
// one, and Latest stands for the newest. One Go type serves every version:
// Glyph carries the v2 fields, which a v1 writer leaves out and a v1 reader
// leaves empty. The functions without "As" (AppendEncode, Decode, Resolve,
// ResolveID, DecodeWire, AppendWire) use the latest version, for writing as
// for reading, so a binary writes the version it reads best; the "As"
// variants pin one: AppendEncodeAs / AppendWireAs for a producer that must
// keep writing v1 while consumers upgrade, DecodeWireAs / ResolveIDAs for
// a consumer built with an older reader schema. Both directions hold for
// GLYPH v1 and v2 (FULL compatibility): a v2 reader fills the defaults into
// v1 data, a v1 reader skips the v2 fields.
//
// # Wire format
//
// Kafka values use the Confluent wire format: the magic byte 0, the schema
// id as 4 bytes big-endian, then the Avro body. AppendWireHeader and
// ParseWire handle the header; AppendWire writes header and body in one
// call. DecodeWire reads a value through a SchemaLookup, which maps schema
// ids to writer schemas with a FetchFunc (the registry client supplies one over
// the registry's REST API; this package knows no HTTP) and caches the parsed
// and resolved schemas per id.
//
// # Errors
//
// Bad input is a typed error, never a panic, so the runtime can route it to
// the lane's DLQ with the reason: *WireError (ErrTruncated, ErrMagic),
// *SchemaIDError (ErrUnknownSchemaID, ErrSchemaText, ErrIncompatible, or a
// transient fetch error, which is not cached), *DecodeError (ErrDecode), and
// for values that decode but break the Node Contract, MatrizMessage.Validate's
// *ContractError (ErrContract). AppendEncode fails only on values outside
// their schema: *EncodeError (ErrEncode) naming the field.
//
// # Metrics
//
// The package emits no metrics and starts no goroutines: it is pure
// functions over bytes and values. The runtime counts decode failures and
// DLQ routing around it.
//
// # Test data
//
// Test fixtures live in schemas/testdata: golden/ holds one encoded body
// (.avro) per fixture, the pinned wire format, with its goavro JSON
// rendering (.json, keys sorted) for review. `go test ./schemas -run
// 'TestGolden|TestFuzzSeeds' -update` rewrites the golden files that no
// longer decode to their fixture (or, for fixtures without multi-entry
// maps, no longer match the encoding byte for byte) and the seeds made
// from them;
// golden files named *_v2* are written with version 2, the others with
// version 1 (the v1 wire format stays pinned, since logs written before v2
// must still read back); evolution/ holds the test-only GLYPH v3 and
// MatrizMessage v3, which break BACKWARD compatibility (kind retyped from
// string to int), as the negative case; fuzz/<FuzzName>/ holds the seed corpora where
// `go test -fuzz` finds them.
package schemas
