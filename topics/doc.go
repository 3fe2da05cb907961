// Package topics is MATRIZ's Kafka I/O: lane topic names and specs as data,
// an Admin that applies them idempotently, a go-streams Source and Sink over
// github.com/segmentio/kafka-go, a CompactedLog (one compacted
// single-partition topic as an ordered log, where the schema registry keeps
// its records), and the embedded broker (franz-go's kfake) for `matriz dev`
// and tests.
//
// topics knows bytes and headers only: it never imports schemas, stages or
// pipelines. Encoding, routing and the choice of key belong to the callers.
// By convention the key of every lane record is the glyph id (glyph.id as
// its canonical UUID string), so one glyph's messages land on one partition
// and stay ordered; the Sink hashes keys with kafka-go's Murmur2Balancer,
// the partitioner of the Java client, so Java and Go producers agree on
// key → partition.
//
// Delivery is at-least-once. The Source hands each record out with an *Ack
// and commits a partition's offset only past a contiguous run of acked
// records; the Sink acks a record only after Kafka acknowledged its write
// with acks=all. Chaining Source → stages → Sink therefore commits input
// offsets only after every output is durable.
//
// The package emits no metrics; the runtime observes it from outside.
package topics
