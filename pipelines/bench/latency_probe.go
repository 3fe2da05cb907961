package bench

// The probe: two tails, on a lane's messages and results topics, feeding
// a latencyBook (latency.go says what is measured).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// e2eProbe follows one lane's inputs and results from outside the chain.
type e2eProbe struct {
	clock   clock.Clock
	msgs    string
	mu      sync.Mutex
	book    *latencyBook
	errs    []error
	inputs  *topics.Tail
	results *topics.Tail
}

// startProbe follows lane's messages and results from the first record
// stamped at or after since.
func startProbe(ctx context.Context, brokers []string, lane schemas.Lane, since time.Time, cl clock.Clock) (*e2eProbe, error) {
	p := &e2eProbe{clock: cl, msgs: topics.Name(string(lane), topics.KindMessages), book: newLatencyBook()}
	onErr := func(err error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.errs) < 10 {
			p.errs = append(p.errs, err)
		}
	}
	var err error
	if p.inputs, err = topics.StartTailSince(ctx, brokers, p.msgs, since, p.onInput, onErr); err != nil {
		return nil, fmt.Errorf("latency probe: %w", err)
	}
	if p.results, err = topics.StartTailSince(ctx, brokers, topics.Name(string(lane), topics.KindResults), since, p.onResult, onErr); err != nil {
		p.inputs.Close()
		return nil, fmt.Errorf("latency probe: %w", err)
	}
	return p, nil
}

func (p *e2eProbe) onInput(m topics.Message) {
	seen := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.book.inputSeen(m.Partition, m.Offset, m.Time, seen)
}

func (p *e2eProbe) onResult(m topics.Message) {
	seen := p.clock.Now()
	if string(m.Header(runtime.HeaderSrcTopic)) != p.msgs {
		return
	}
	part, err1 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcPartition)), 10, 32)
	off, err2 := strconv.ParseInt(string(m.Header(runtime.HeaderSrcOffset)), 10, 64)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := errors.Join(err1, err2); err != nil {
		p.book.ignored++
		return
	}
	p.book.result(int32(part), off, m.Time, seen)
}

// counts returns how many inputs the probe saw and how many have a result.
func (p *e2eProbe) counts() (sent, answered int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.counts()
}

// summaries returns input → result stamped, and input → result read by
// the probe.
func (p *e2eProbe) summaries() (acked, seen LatencySummary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.book.summaries()
}

// waitAnswered polls until the probe has seen at least want inputs and a
// result for every one, or within passes; it reports which.
func (p *e2eProbe) waitAnswered(ctx context.Context, want int, within time.Duration) error {
	return pollUntil(ctx, p.clock, 20*time.Millisecond, within, func() (bool, string) {
		sent, answered := p.counts()
		return sent >= want && answered >= sent, fmt.Sprintf("latency probe: %d of %d inputs seen, %d answered", sent, want, answered)
	})
}

// close stops both tails; the errors they reported come back joined.
func (p *e2eProbe) close() error {
	err := errors.Join(p.inputs.Close(), p.results.Close())
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(append([]error{err}, p.errs...)...)
}
