// Package operators holds the stream operators between a partition's
// Kafka records and its stage chain: the consciousness tick (event-time
// frames of 1/fps), the decimation ring (bounded backlog: drop the oldest
// or push back) and the idle watermark (keeps a quiet partition's frames
// closing). They own goroutines and read the clock, which is why they are
// not stages; each is a go-streams Flow the runtime wires per partition.
package operators
