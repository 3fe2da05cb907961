package bench

// The fan-out baseline writes, per input, what the chain wrote per input
// in the same run: after the chain phase its output topics are read from
// start to end and counted by kind; the copy then writes that many
// records of those sizes, per kind, to topics of its own with the same
// partition counts.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// outputKinds are the topics the chain writes, in report order.
var outputKinds = []topics.Kind{topics.KindResults, topics.KindEvents, topics.KindTraces, topics.KindActions, topics.KindDLQ}

// KindWrites is what one output kind's topic held after a phase.
type KindWrites struct {
	Kind        string
	Partitions  int
	Records     int64
	KeyBytes    int64
	ValueBytes  int64
	HeaderBytes int64 // header keys and values
}

// Bytes is every byte of the records: keys, values, headers.
func (w KindWrites) Bytes() int64 { return w.KeyBytes + w.ValueBytes + w.HeaderBytes }

// scanWrites counts the records and bytes on lane's output topics, every
// partition from its start to its end now.
func scanWrites(ctx context.Context, brokers []string, lane schemas.Lane) ([]KindWrites, error) {
	out := make([]KindWrites, 0, len(outputKinds))
	for _, k := range outputKinds {
		w, err := scanTopic(ctx, brokers, topics.Name(string(lane), k))
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		w.Kind = string(k)
		out = append(out, w)
	}
	return out, nil
}

// scanTopic reads every partition of topic from its start to its end now,
// the partitions at once.
func scanTopic(ctx context.Context, brokers []string, topic string) (KindWrites, error) {
	starts, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionStart})
	if err != nil {
		return KindWrites{}, err
	}
	ends, err := replay.ResolvePositions(ctx, brokers, topic, replay.Position{Kind: replay.PositionEnd})
	if err != nil {
		return KindWrites{}, err
	}
	w := KindWrites{Partitions: len(ends)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(ends))
	for p, end := range ends {
		from := starts[p]
		if end <= from {
			continue
		}
		wg.Go(func() {
			pw, err := scanPartition(ctx, brokers, topic, p, from, end)
			if err != nil {
				errs <- fmt.Errorf("partition %d: %w", p, err)
				return
			}
			mu.Lock()
			w.Records += pw.Records
			w.KeyBytes += pw.KeyBytes
			w.ValueBytes += pw.ValueBytes
			w.HeaderBytes += pw.HeaderBytes
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return KindWrites{}, err
	}
	return w, nil
}

func scanPartition(ctx context.Context, brokers []string, topic string, p int32, from, end int64) (KindWrites, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: slices.Clone(brokers), Topic: topic, Partition: int(p), Dialer: topics.NewDialer(),
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return KindWrites{}, err
	}
	var w KindWrites
	quiet := 0 // reads in a row that timed out
	for {
		rctx, cancel := context.WithTimeout(ctx, scanReadWait)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// The end is where the reader's position reaches it: the last
			// offset below the end need not be a record this reader is
			// handed, and waiting for it would wait for ever.
			if r.Offset() >= end {
				return w, nil
			}
			if quiet++; quiet == scanQuietReads {
				return w, fmt.Errorf("reading %s partition %d stalled at offset %d of %d", topic, p, r.Offset(), end)
			}
			continue
		}
		if err != nil {
			return w, err
		}
		quiet = 0
		w.Records++
		w.KeyBytes += int64(len(m.Key))
		w.ValueBytes += int64(len(m.Value))
		for _, h := range m.Headers {
			w.HeaderBytes += int64(len(h.Key) + len(h.Value))
		}
		if m.Offset >= end-1 {
			return w, nil
		}
	}
}

// A scan's read waits scanReadWait for a record, and gives up after
// scanQuietReads such waits in a row without one.
const (
	scanReadWait   = 2 * time.Second
	scanQuietReads = 15
)

// fanoutTopic is the fan-out copy's topic for kind.
func fanoutTopic(k string) string { return "bench.fanout." + k }

// fanoutPlan turns the chain's writes over n inputs into the copy's
// outputs: per kind, the same records, each with a value as long as the
// chain's average value and headers (the copy writes the input's key,
// no headers). Kinds the chain did not write are left out.
func fanoutPlan(writes []KindWrites) (outs []copyOutput, partitions map[string]int) {
	partitions = map[string]int{}
	for _, w := range writes {
		if w.Records == 0 {
			continue
		}
		t := fanoutTopic(w.Kind)
		outs = append(outs, copyOutput{Topic: t, Records: w.Records, ValueSize: int((w.ValueBytes + w.HeaderBytes) / w.Records)})
		partitions[t] = max(w.Partitions, 1)
	}
	return outs, partitions
}

// fanoutPhase runs the fan-out copy over the lane's messages after the
// chain phase, from rep.Writes, and records what it wrote and how fast.
func fanoutPhase(ctx context.Context, brokers []string, admin *topics.Admin, src string, set CopySettings, cfg Config, rep *Report, say func(string, ...any)) error {
	outs, parts := fanoutPlan(rep.Writes)
	if len(outs) == 0 {
		return fmt.Errorf("the chain phase wrote nothing to copy")
	}
	say("fan-out copy: per input, the chain's records and bytes per input, by kind, to topics of their own")
	say("  settings: %v", set)
	if err := ensureCopyTopics(ctx, brokers, parts); err != nil {
		return err
	}
	cost := startCost(cfg.Clock, 100*time.Millisecond)
	st, err := runCopy(ctx, brokers, src, "bench-fanout", cfg.N, outs, set, cfg.Clock)
	mallocs, _ := cost.finish()
	if err != nil {
		return err
	}
	rep.FanoutRate = float64(cfg.N) / st.Took.Seconds()
	rep.FanoutRatio = rep.ChainRate / rep.FanoutRate
	rep.FanoutAllocsPerMsg = float64(mallocs) / float64(cfg.N)
	names := make([]string, 0, len(outs))
	for _, o := range outs {
		kind := strings.TrimPrefix(o.Topic, fanoutTopic(""))
		rep.FanoutWrites = append(rep.FanoutWrites, KindWrites{Kind: kind, Partitions: parts[o.Topic], Records: st.Records[o.Topic], ValueBytes: st.Bytes[o.Topic]})
		names = append(names, o.Topic)
	}
	say("  %d in %v: %.0f inputs/s (the chain is %.2f of it), %.1f allocs/msg", cfg.N, st.Took.Round(time.Millisecond), rep.FanoutRate, rep.FanoutRatio, rep.FanoutAllocsPerMsg)
	return admin.DeleteTopics(ctx, names)
}
