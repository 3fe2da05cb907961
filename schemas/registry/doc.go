// Package registry is an embedded schema registry that speaks the Confluent
// Schema Registry REST API, so the project's own code (and kcat, Kafka
// Connect or any Confluent serde) talks to it exactly as it would talk to
// Confluent Schema Registry, Karapace or Redpanda.
//
// A Registry keeps its whole index in memory and answers every read from
// it. Writes (registrations, deletes, compatibility settings) go first to a
// Store and change the index only when read back from it, so a failed
// write leaves no trace beyond what the store kept, and the index is
// always what a replay of the store gives. A LogStore keeps
// the records in a Log, an interface this package owns so that it imports
// no Kafka client; in production that is a topics.CompactedLog on the
// compacted topic "_schemas", records in the same format Confluent uses,
// and a registry started over the same broker data comes back with the
// same subjects, versions and ids.
//
// Use:
//
//	log, err := topics.NewCompactedLog(ctx, []string{"127.0.0.1:9092"}, topics.SchemasTopic)
//	...
//	store, err := registry.NewLogStore(log)
//	...
//	reg, err := registry.New(store)
//	...
//	defer reg.Close()
//	http.ListenAndServe("127.0.0.1:8081", reg.Handler())
//
// Compatibility is decided by the Avro specification's schema resolution
// rules (github.com/twmb/avro CheckCompatibility); [Check] and
// [CheckVersions] expose the same decision offline, for `matriz schema
// check --level`, and [Diff] lists what changed between two schemas, field
// by field, with what each change means for BACKWARD and FORWARD, for
// `matriz schema diff`.
//
// Several registries may run over one topic. Each follows the topic, so
// each serves what any of them registered (follow.go); one writes at a
// time: the instance whose writer claim on the topic is the newest, and
// the others refuse writes with 503 naming it (fence.go). A registry
// refuses new versions past its Limits (limits.go).
package registry
