package runtime

import "github.com/matriz/pipelines/topics"

// A partition's outputs reach the lane's Sink in chunks of a frame's
// records, one channel send per chunk on each channel after encode rather
// than one per record (and no boxing of each record into an interface).
// The Sink's queue is sized in chunks so the records it holds stay bounded
// as they were when it queued single records: laneSinkQueue × handoffChunk
// is the Sink's default batch size.
const (
	handoffChunk  = 250
	laneSinkQueue = topics.DefaultSinkBatchSize / handoffChunk
)

// chunks splits ms into slices of at most handoffChunk records, in order;
// none for no records.
func chunks(ms []topics.Message) [][]topics.Message {
	if len(ms) == 0 {
		return nil
	}
	out := make([][]topics.Message, 0, (len(ms)+handoffChunk-1)/handoffChunk)
	for len(ms) > handoffChunk {
		out = append(out, ms[:handoffChunk:handoffChunk])
		ms = ms[handoffChunk:]
	}
	return append(out, ms)
}
