package runtime

// A partition's writes are fenced by the claim they are made under, so a
// worker that lost its partition — evicted by the group while it drained,
// or paused past its session — writes nothing over the new owner's work:
//
//   - every record a live worker writes (results, events, traces, actions,
//     DLQ, state and checkpoints, the action guard's executing records)
//     carries the group, generation and member of its claim in headers, and
//     asks the fence just before the Sink sends it; a refused record
//     resolves its input's Ack with the refusal, so the input stays
//     uncommitted for the next owner;
//   - the fence refuses once the claim's lease lapses (topics.Claim.Current)
//     or once the drain that follows the end of the generation is over;
//   - the action guard asks the coordinator itself (topics.Claim.Check)
//     before it calls an executor;
//   - a restore ignores a state record from an older generation of the
//     group than one it already read for the key (changelog.go).
//
// Generation ids increase within a group, so they order the writers of one
// group; records of another group (a lane run under a different --group)
// are not compared.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/topics"
)

// Header keys naming the claim a record was written under.
const (
	HeaderGroup      = "matriz-group"
	HeaderGeneration = "matriz-generation"
	HeaderMember     = "matriz-member"
	// HeaderResume is a state record's cut's Resume offset (changelog.go).
	HeaderResume = "matriz-resume"
)

// ErrFenced is wrapped by every refusal of a fenced write.
var ErrFenced = topics.ErrFenced

// errDrainOver refuses what a worker writes after its drain ended.
var errDrainOver = errors.New("the partition's drain after the end of its generation is over")

// fence is one claim's: a live worker's writes go through it.
type fence struct {
	claim   *topics.Claim
	clock   clock.Clock
	headers []topics.Header
	drainBy atomic.Int64 // unix nanoseconds; 0 while the generation runs
	// checkFn is check as the func every stamped record carries, made
	// once: a method value built per record is an allocation per record.
	checkFn func() error
}

func newFence(group string, c *topics.Claim, cl clock.Clock) *fence {
	f := &fence{claim: c, clock: cl, headers: []topics.Header{
		{Key: HeaderGroup, Value: []byte(group)},
		{Key: HeaderGeneration, Value: strconv.AppendInt(nil, int64(c.Generation), 10)},
		{Key: HeaderMember, Value: []byte(c.MemberID)},
	}}
	f.checkFn = f.check
	return f
}

// check returns nil while the worker may write under its claim. A nil
// fence (a replay's worker) never refuses.
func (f *fence) check() error {
	if f == nil {
		return nil
	}
	if err := f.claim.Current(); err != nil {
		return fmt.Errorf("%w: partition %d: %w", ErrFenced, f.claim.Partition, err)
	}
	if by := f.drainBy.Load(); by != 0 && f.clock.Now().UnixNano() >= by {
		return fmt.Errorf("%w: partition %d, generation %d: %w", ErrFenced, f.claim.Partition, f.claim.Generation, errDrainOver)
	}
	return nil
}

// verify is check plus the coordinator's own word that the generation is
// current: the last step before an external action.
func (f *fence) verify(ctx context.Context) error {
	if err := f.check(); err != nil {
		return err
	}
	if f == nil {
		return nil
	}
	if err := f.claim.Check(ctx); err != nil {
		return fmt.Errorf("%w: partition %d: %w", ErrFenced, f.claim.Partition, err)
	}
	return f.check()
}

// endBy sets when the drain after the generation's end is over.
func (f *fence) endBy(deadline int64) {
	if f != nil {
		f.drainBy.Store(deadline)
	}
}

// stamp names the claim in m's headers and has the Sink ask the fence
// before it writes m.
func (f *fence) stamp(m *topics.Message) {
	if f == nil {
		return
	}
	m.Headers = append(m.Headers[:len(m.Headers):len(m.Headers)], f.headers...)
	m.Fence = f.checkFn
}

// stampAll stamps every message of ms not stamped yet, their new header
// slices carved from one array: a frame's outputs cost one allocation
// here, not one each. The results, events, traces and actions encode
// writes are stamped already, in the room it left for the claim's headers
// (stampCarved), so only the others (DLQ records, decimation events) are
// copied here.
func (f *fence) stampAll(ms []topics.Message) []topics.Message {
	if f == nil {
		return ms
	}
	n := 0
	for i := range ms {
		if ms[i].Fence == nil {
			n += len(ms[i].Headers) + len(f.headers)
		}
	}
	if n == 0 {
		return ms
	}
	all := make([]topics.Header, 0, n)
	for i := range ms {
		m := &ms[i]
		if m.Fence != nil {
			continue
		}
		start := len(all)
		all = append(append(all, m.Headers...), f.headers...)
		m.Headers = all[start:len(all):len(all)]
		m.Fence = f.checkFn
	}
	return ms
}

// width is how many headers stamping adds: the room a header slice needs
// for stampCarved. A nil fence adds none.
func (f *fence) width() int {
	if f == nil {
		return 0
	}
	return len(f.headers)
}

// stampCarved stamps m, whose header slice is its own with room for
// width() more (outputs carved it so): the claim's headers go in place.
func (f *fence) stampCarved(m *topics.Message) {
	if f == nil {
		return
	}
	m.Headers = append(m.Headers, f.headers...)
	m.Fence = f.checkFn
}

type fenceKey struct{}

// withFence carries f to what the chain calls (the action guard).
func withFence(ctx context.Context, f *fence) context.Context {
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, fenceKey{}, f)
}

// fenceFrom returns the fence ctx carries, or nil.
func fenceFrom(ctx context.Context) *fence {
	f, _ := ctx.Value(fenceKey{}).(*fence)
	return f
}

// claimOf reads the claim a record was written under from its headers; ok
// is false for a record written without them (an older binary).
func claimOf(m topics.Message) (group string, generation int32, member string, ok bool) {
	g, err := strconv.ParseInt(string(m.Header(HeaderGeneration)), 10, 32)
	if err != nil {
		return "", 0, "", false
	}
	return string(m.Header(HeaderGroup)), int32(g), string(m.Header(HeaderMember)), true
}
