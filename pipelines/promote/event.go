package promote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// StagePromote names the promotion event's stage.
const StagePromote = "promote"

// PromotionEvent is the event a passed promotion writes to the target
// lane's events topic: who, from and to, the spec version, and each
// gate's figure under its name (spaces as underscores).
func PromotionEvent(rep *Report, who string, ts time.Time) schemas.Event {
	ts = ts.UTC().Truncate(time.Microsecond)
	p := schemas.Payload{"who": who, "from": string(rep.From), "to": string(rep.To), "spec_version": rep.SpecVersion}
	if !rep.Since.IsZero() {
		p["since"] = rep.Since.UTC().Format(time.RFC3339Nano)
	}
	for _, g := range rep.Gates {
		p[gateKey(g.Name)] = g.Value
	}
	return schemas.Event{
		ID:      uuid.NewSHA1(stages.IDNamespace, fmt.Appendf(nil, "promotion/%s/%s/%s/%d", rep.From, rep.To, rep.SpecVersion, ts.UnixMicro())).String(),
		TS:      ts,
		Kind:    schemas.EventPromotion,
		Lane:    rep.To,
		Stage:   StagePromote,
		Payload: p,
	}
}

func gateKey(name string) string { return "gate_" + strings.ReplaceAll(name, " ", "_") }

// writePromotion writes the promotion event and returns its id once every
// in-sync replica has it.
func writePromotion(ctx context.Context, cfg Config, rep *Report) (string, error) {
	topic := topics.Name(string(cfg.To), topics.KindEvents)
	codec, err := serde.Open(ctx, cfg.RegistryURL, []serde.Subject{{Name: serde.ValueSubject(topic), Schema: schemas.NameEvent}})
	if err != nil {
		return "", err
	}
	id, err := codec.ID(serde.ValueSubject(topic))
	if err != nil {
		return "", err
	}
	ev := PromotionEvent(rep, cfg.Who, cfg.Clock.Now())
	val, err := schemas.AppendWire(nil, id, &ev)
	if err != nil {
		return "", err
	}
	sink, err := topics.NewSink(ctx, cfg.Brokers)
	if err != nil {
		return "", err
	}
	ack := topics.NewAck()
	sink.In() <- topics.Message{Topic: topic, Key: []byte(rep.SpecVersion), Value: val, Ack: ack,
		Headers: []topics.Header{{Key: runtime.HeaderOutputID, Value: []byte(ev.ID)}, {Key: runtime.HeaderLaneEvent, Value: []byte(ev.Kind)}}}
	close(sink.In())
	sink.AwaitCompletion()
	if err := ack.Err(); err != nil {
		return "", fmt.Errorf("write the promotion event to %s: %w", topic, err)
	}
	if !ack.Resolved() {
		return "", fmt.Errorf("write the promotion event to %s: not acknowledged", topic)
	}
	return ev.ID, nil
}
