package pipelines

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/reugn/go-streams/flow"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// PassThroughConfig configures the spine's pass-through lane pipeline.
type PassThroughConfig struct {
	Lane     schemas.Lane
	Brokers  []string
	Group    string
	Serde    *Serde
	Counters *LaneCounters
	Metrics  *Metrics
	Logger   *slog.Logger
}

// PassThrough is the smallest lane pipeline: messages → decode → a
// MatrizResult that acknowledges the message → results, committing input
// offsets only after Kafka acknowledged each result (acks=all). Bad input
// goes to the lane's DLQ with the reason in headers. It proves the spine
// end to end; the stage chain replaces the middle step.
type PassThrough struct {
	cfg    PassThroughConfig
	source *topics.Source
	sink   *topics.Sink
	done   chan struct{}
	once   sync.Once
	err    error
}

// StartPassThrough joins the lane's consumer group and starts streaming.
func StartPassThrough(ctx context.Context, cfg PassThroughConfig) (*PassThrough, error) {
	lane := string(cfg.Lane)
	resultSubject := ValueSubject(topics.Name(lane, topics.KindResults))
	resultID, err := cfg.Serde.ID(resultSubject)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	onErr := func(err error) { logger.Warn("kafka", "lane", lane, "err", err) }
	src, err := topics.NewSource(ctx, cfg.Brokers, cfg.Group, []string{topics.Name(lane, topics.KindMessages)}, topics.SourceOnError(onErr))
	if err != nil {
		return nil, err
	}
	sink, err := topics.NewSink(ctx, cfg.Brokers, topics.SinkOnError(onErr), topics.SinkOnWritten(countWritten(lane, cfg.Counters, cfg.Metrics)))
	if err != nil {
		src.Close()
		return nil, err
	}
	p := &PassThrough{cfg: cfg, source: src, sink: sink, done: make(chan struct{})}
	lookup := cfg.Serde.Lookup()
	answer := flow.NewMap(func(in topics.Message) topics.Message {
		cfg.Counters.In.Add(1)
		cfg.Metrics.MessagesIn.WithLabelValues(lane).Inc()
		var msg schemas.MatrizMessage
		if _, err := schemas.DecodeWire(ctx, lookup, in.Value, &msg); err != nil {
			reason := decodeReason(err)
			return dlqMessage(lane, in, "decode", reason, err.Error())
		}
		if err := msg.Validate(); err != nil {
			return dlqMessage(lane, in, "decode", ReasonContract, err.Error())
		}
		res := schemas.MatrizResult{
			ID:          stages.ResultID(msg.MsgID, "passthrough"),
			MsgID:       msg.MsgID,
			TS:          msg.TS,
			Lane:        msg.Lane,
			Node:        "passthrough",
			NodeVersion: "1",
			OK:          true,
			Reasons:     []string{},
			Payload:     schemas.Payload{"topic": msg.Topic},
			Trace:       []schemas.Crumb{{Stage: "passthrough", T: msg.TS, Data: schemas.Payload{}}},
		}
		val, err := schemas.AppendWire(nil, resultID, &res)
		if err != nil {
			return dlqMessage(lane, in, "encode", ReasonStage, err.Error())
		}
		return topics.Message{
			Topic:   topics.Name(lane, topics.KindResults),
			Key:     in.Key,
			Value:   val,
			Headers: append(srcHeaders(in), topics.Header{Key: HeaderMsgID, Value: []byte(msg.MsgID)}, topics.Header{Key: HeaderOutputID, Value: []byte(res.ID)}),
			Ack:     in.Ack,
		}
	}, 1)
	go func() {
		defer close(p.done)
		src.Via(answer).To(sink)
	}()
	return p, nil
}

// Close stops fetching, lets in-flight results reach Kafka, commits, and
// leaves the group.
func (p *PassThrough) Close() error {
	p.once.Do(func() {
		srcErr := p.source.Close()
		<-p.done
		p.err = errors.Join(srcErr, p.sink.Err())
	})
	return p.err
}

// decodeReason classifies a decode failure for the DLQ.
func decodeReason(err error) string {
	if errors.Is(err, schemas.ErrUnknownSchemaID) {
		return ReasonUnknownSchemaID
	}
	var ce *schemas.ContractError
	if errors.As(err, &ce) {
		return ReasonContract
	}
	return ReasonUndecodable
}

// countWritten counts each record Kafka acknowledged by its topic kind:
// results are the lane's output, DLQ records are counted by reason.
func countWritten(lane string, counters *LaneCounters, metrics *Metrics) func(topics.Message) {
	results, dlq := topics.Name(lane, topics.KindResults), topics.Name(lane, topics.KindDLQ)
	return func(m topics.Message) {
		switch m.Topic {
		case results:
			counters.Out.Add(1)
			metrics.MessagesOut.WithLabelValues(lane).Inc()
		case dlq:
			counters.DLQ.Add(1)
			metrics.DLQ.WithLabelValues(lane, string(m.Header(HeaderDLQReason))).Inc()
		}
	}
}
