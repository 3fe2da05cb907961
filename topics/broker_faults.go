package topics

import (
	"sync/atomic"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RefuseWrites makes the broker answer every produce request to topic with
// INVALID_RECORD, an error no writer retries for long, until lift is
// called; refused counts the requests it refused. It is a fault over the
// real protocol, for tests and rehearsals of what a lane does when one of
// its topics stops taking writes.
func (b *Broker) RefuseWrites(topic string) (refused *atomic.Int64, lift func()) {
	refused = new(atomic.Int64)
	var lifted atomic.Bool
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if lifted.Load() {
			b.cluster.DropControl()
			return nil, nil, false
		}
		b.cluster.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		hit := false
		for _, rt := range req.Topics {
			hit = hit || rt.Topic == topic
		}
		if !hit {
			return nil, nil, false
		}
		refused.Add(1)
		resp, _ := produceRefusal(req, kafka.InvalidRecord)
		return resp, nil, true
	})
	return refused, func() { lifted.Store(true) }
}

// produceRefusal answers req with code on every partition it writes to,
// and says how many partitions that is.
func produceRefusal(req *kmsg.ProduceRequest, code kafka.Error) (*kmsg.ProduceResponse, int) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	n := 0
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = int16(code)
			st.Partitions = append(st.Partitions, sp)
			n++
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, n
}
