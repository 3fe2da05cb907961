package topics

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
)

// HeaderProducer names who produced an input (`matriz produce` sets it to
// its SASL principal); the runtime copies it onto the actions the input
// asks for, so that principal cannot approve them. Kafka records no
// producer identity of its own: a producer that omits the header is not
// checked.
const HeaderProducer = "matriz-producer"

// Header is one Kafka record header. Headers carry what is not payload:
// the W3C traceparent, the DLQ reason, the schema subject.
type Header struct {
	Key   string
	Value []byte
}

// Message is the element a Source emits and a Sink consumes: a Kafka
// record as bytes and headers, plus the Ack that ties an output back to
// the input it came from.
//
// A stage that derives outputs from an input passes the input's Ack along
// (see Ack for fan-out); a Message without an Ack (nil) is fire-and-forget.
type Message struct {
	Topic     string
	Partition int32 // set by Source; ignored by Sink, which hashes Key
	Offset    int64 // set by Source; ignored by Sink
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time // record timestamp; zero lets the Sink's writer stamp it
	Ack       *Ack
	// Fence, when set, is asked just before the Sink writes the record: an
	// error refuses the write and resolves Ack with it (sink_fence.go).
	Fence func() error
	// Ahead marks a record that must be durable before any record handed
	// to the Sink after it is written (sink_ahead.go): a decision, which
	// the outputs that follow it depend on.
	Ahead bool
}

// Header returns the value of the first header named key, or nil.
func (m Message) Header(key string) []byte {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

func fromKafka(km kafka.Message, ack *Ack) Message {
	m := Message{
		Topic:     km.Topic,
		Partition: int32(km.Partition),
		Offset:    km.Offset,
		Key:       km.Key,
		Value:     km.Value,
		Time:      km.Time,
		Ack:       ack,
	}
	if len(km.Headers) > 0 {
		m.Headers = make([]Header, len(km.Headers))
		for i, h := range km.Headers {
			m.Headers[i] = Header(h)
		}
	}
	return m
}

// toKafka shares m's headers with the kafka-go record instead of copying
// them (one allocation per output saved): the writer only reads them.
func toKafka(m Message) kafka.Message {
	return kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Time: m.Time, Headers: kafkaHeaders(m.Headers)}
}

// kafkaHeaders views hs as kafka-go headers. The conversion
// kafka.Header(Header{}) below only compiles while both have the same
// fields in the same order, which is what makes the view sound.
func kafkaHeaders(hs []Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	_ = kafka.Header(Header{})
	return unsafe.Slice((*kafka.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
