package ops

// Feature flags and kill switches on matriz.control, the compacted topic
// every running lane follows: SetFlag and ClearFlag write one record and
// wait for Kafka's acknowledgement; ReadFlags reads the topic to its end
// and says what is in force, per lane, under the off-wins rule. A running
// lane applies a record from its next frame, logging "flag changed" and a
// flag_change event.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// ControlTopic is the compacted topic the flags live on.
const ControlTopic = topics.ControlTopic

// FlagKey returns the matriz.control key of flag name for lane, or for
// every lane when lane is empty.
func FlagKey(lane schemas.Lane, name string) string { return stages.ControlKey(lane, name) }

// UnknownFlagError is a flag name that is none of the feature flags and
// kill switches; its message lists them.
type UnknownFlagError = stages.UnknownFlagError

// CheckFlagName returns nil for DISPATCH_ENABLED, LEARNING_ENABLED or
// EXT_ACTIONS_ENABLED and an *UnknownFlagError otherwise.
func CheckFlagName(name string) error { return stages.CheckFlagName(name) }

// SetFlag writes name=value to matriz.control for lane, or for every lane
// when lane is empty, and returns once every in-sync replica has it.
func SetFlag(ctx context.Context, brokers []string, lane schemas.Lane, name string, value bool) error {
	return writeFlag(ctx, brokers, lane, name, []byte(strconv.FormatBool(value)))
}

// ClearFlag writes the tombstone that removes lane's override of name (the
// global one when lane is empty), and returns once every in-sync replica
// has it. The flag then follows the other scope's record, or each
// process's start value when none is in force.
func ClearFlag(ctx context.Context, brokers []string, lane schemas.Lane, name string) error {
	return writeFlag(ctx, brokers, lane, name, nil)
}

func writeFlag(ctx context.Context, brokers []string, lane schemas.Lane, name string, value []byte) error {
	if err := CheckFlagName(name); err != nil {
		return err
	}
	if lane != "" && !lane.Valid() {
		return fmt.Errorf("%w %q: want %s, or none for every lane", schemas.ErrUnknownLane, lane, schemas.LaneNames)
	}
	if err := controlTopicReady(ctx, brokers); err != nil {
		return err
	}
	sink, err := topics.NewSink(ctx, brokers)
	if err != nil {
		return err
	}
	key := stages.ControlKey(lane, name)
	ack := topics.NewAck()
	sink.In() <- topics.Message{Topic: topics.ControlTopic, Key: []byte(key), Value: value, Ack: ack}
	close(sink.In())
	sink.AwaitCompletion()
	if err := ack.Err(); err != nil {
		return fmt.Errorf("write %s to %s: %w", key, topics.ControlTopic, err)
	}
	if !ack.Resolved() {
		return fmt.Errorf("write %s to %s: not acknowledged", key, topics.ControlTopic)
	}
	return nil
}

// controlTopicReady checks a broker answers and matriz.control exists
// before it is read or written: a broker that auto-creates topics would
// otherwise make it with its defaults (not compacted, several partitions),
// and a write to a missing topic is retried until the sink gives up.
func controlTopicReady(ctx context.Context, brokers []string) error {
	if err := topics.Reachable(ctx, brokers); err != nil {
		return err
	}
	err := topics.CheckTopics(ctx, brokers, []string{topics.ControlTopic})
	if missing := (*topics.MissingTopicsError)(nil); errors.As(err, &missing) {
		return &controlMissingError{err}
	}
	return err
}

// controlMissingError says matriz.control is missing and what to do; it
// unwraps to the *topics.MissingTopicsError.
type controlMissingError struct{ err error }

func (e *controlMissingError) Error() string {
	return topics.ControlTopic + " does not exist on the brokers: run `matriz deploy` to create it (compacted, one partition)"
}

func (e *controlMissingError) Unwrap() error { return e.err }

// FlagRecord is a record of matriz.control in force: the latest the
// runtime applies for its key.
type FlagRecord struct {
	Key    string
	Lane   schemas.Lane // empty: every lane
	Name   string
	On     bool
	Offset int64
	Time   time.Time // the record's timestamp
}

// IgnoredFlagRecord is the latest record of a key that the runtime cannot
// apply (a key naming no flag or lane, a value that is not a boolean): it
// logs "control record ignored" and keeps what was in force before it.
type IgnoredFlagRecord struct {
	Key, Value string
	Offset     int64
	Time       time.Time
	Err        error
}

// FlagState is a flag's value for one lane as matriz.control decides it.
type FlagState int

// The values of a flag on the log.
const (
	// FlagNotSet: no record in force sets the flag for the lane, so each
	// process keeps its start value (spec, then environment), which is
	// not on the log.
	FlagNotSet FlagState = iota
	FlagOn
	FlagOff
)

func (s FlagState) String() string {
	switch s {
	case FlagOn:
		return "on"
	case FlagOff:
		return "off"
	}
	return "not set"
}

// FlagRecords is what matriz.control holds at one point.
type FlagRecords struct {
	Records []FlagRecord        // in force, in log order
	Ignored []IgnoredFlagRecord // latest of their key, in log order
	Ends    map[int]int64       // per partition, the end read up to
}

// Effective returns flag name's value for lane under the off-wins rule: on
// only when no record in force sets it off for every lane or for lane.
func (r FlagRecords) Effective(lane schemas.Lane, name string) FlagState {
	var global, own stages.FlagOverride
	for _, rec := range r.Records {
		if rec.Name != name {
			continue
		}
		switch rec.Lane {
		case "":
			global = stages.FlagOverride{On: rec.On, Set: true}
		case lane:
			own = stages.FlagOverride{On: rec.On, Set: true}
		}
	}
	switch f := stages.CombineFlag(global, own); {
	case !f.Set:
		return FlagNotSet
	case f.On:
		return FlagOn
	}
	return FlagOff
}

// readFlagsTimeout bounds reading matriz.control to its end: a compacted
// topic of a few keys is read in milliseconds, so a read still going
// after this is stuck on a broker.
const readFlagsTimeout = 30 * time.Second

// ReadFlags reads matriz.control from its start up to its end at the time
// of the call and returns the records in force as a lane that read the
// same records would apply them: the latest per key, a tombstone removing
// it, a record it cannot apply leaving the previous one in force.
func ReadFlags(ctx context.Context, brokers []string) (FlagRecords, error) {
	if err := controlTopicReady(ctx, brokers); err != nil {
		return FlagRecords{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, readFlagsTimeout)
	defer cancel()
	ends, err := topics.PartitionEnds(ctx, brokers, topics.ControlTopic)
	if err != nil {
		return FlagRecords{}, err
	}
	var mu sync.Mutex
	var read []topics.Message
	// The tail keeps following after its start: records past the ends
	// taken above are left out, so the answer is the log at the call.
	tail, err := topics.StartTail(ctx, brokers, topics.ControlTopic, func(m topics.Message) {
		if m.Offset < ends[int(m.Partition)] {
			mu.Lock()
			read = append(read, m)
			mu.Unlock()
		}
	}, nil)
	if err != nil {
		return FlagRecords{}, err
	}
	select {
	case <-tail.CaughtUp():
	case <-ctx.Done():
		tail.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return FlagRecords{}, fmt.Errorf("reading %s did not reach its end within %v: check the brokers and the topic's ACLs", topics.ControlTopic, readFlagsTimeout)
		}
		return FlagRecords{}, ctx.Err()
	}
	if err := tail.Close(); err != nil {
		return FlagRecords{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	return inForce(read, ends), nil
}

// inForce replays records in log order the way the runtime applies them.
func inForce(read []topics.Message, ends map[int]int64) FlagRecords {
	slices.SortFunc(read, func(a, b topics.Message) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	applied := map[string]FlagRecord{}
	ignored := map[string]IgnoredFlagRecord{}
	for _, m := range read {
		key := string(m.Key)
		delete(ignored, key)
		lane, name, err := stages.ParseControlKey(key)
		if err == nil && len(m.Value) == 0 {
			delete(applied, key)
			continue
		}
		var on bool
		if err == nil {
			on, err = stages.ParseFlagValue(string(m.Value))
		}
		if err != nil {
			if len(m.Value) > 0 {
				ignored[key] = IgnoredFlagRecord{Key: key, Value: string(m.Value), Offset: m.Offset, Time: m.Time, Err: err}
			}
			continue
		}
		applied[key] = FlagRecord{Key: key, Lane: lane, Name: name, On: on, Offset: m.Offset, Time: m.Time}
	}
	out := FlagRecords{Ends: ends}
	for _, r := range applied {
		out.Records = append(out.Records, r)
	}
	for _, r := range ignored {
		out.Ignored = append(out.Ignored, r)
	}
	slices.SortFunc(out.Records, func(a, b FlagRecord) int { return cmp.Compare(a.Offset, b.Offset) })
	slices.SortFunc(out.Ignored, func(a, b IgnoredFlagRecord) int { return cmp.Compare(a.Offset, b.Offset) })
	return out
}
