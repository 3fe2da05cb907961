// Package interop holds no code: its tests run MATRIZ against independent
// implementations of the protocols it speaks, so that "Confluent
// compatible" is shown rather than claimed:
//
//   - kcat (librdkafka, C) lists the lane topics of a running `matriz dev`,
//     consumes a lane's results in a consumer group with committed offsets,
//     and produces wire-format input the pipeline answers;
//   - python3-confluent-kafka's SchemaRegistryClient registers, looks up,
//     lists versions and tests compatibility against the embedded registry,
//     agreeing with `matriz schema check`, and its confluent_kafka.avro
//     AvroConsumer decodes the pipeline's results through the registry;
//   - python3-avro (Apache Avro) decodes the golden message bytes and
//     encodes bytes the Go decoder reads back.
//
// The tools come from Debian packages (.ci/run installs them):
//
//	apt-get install -y --no-install-recommends kcat python3-confluent-kafka python3-avro python3-requests
//
// The Python scripts live in testdata/ and run under Debian's Python,
// /usr/bin/python3, which is where those packages install. A test whose
// tool is missing skips, naming the package to install; with
// MATRIZ_REQUIRE_INTEROP=1 (as in CI) it fails instead.
package interop
