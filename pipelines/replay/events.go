package replay

// Event queries: read a lane's event log, matriz.<lane>.events, between two
// record timestamps, for one glyph or some kinds, without a consumer group
// and without waiting for new records. `matriz events` is this with flags;
// the Kafka side (offsets by timestamp, concurrent partition reads, the
// decode pool and the merge) is in events_scan.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// EventQuery selects events from a lane's event log.
type EventQuery struct {
	Brokers     []string
	RegistryURL string       // the schema registry; unused when Serde is set
	Serde       *serde.Serde // a registry client already open, shared with the caller
	Lane        schemas.Lane
	// Replay names a replay namespace: read matriz.<lane>.replay.<Replay>.events
	// instead of the live log.
	Replay string
	// Glyph keeps one glyph's events. Events are keyed by glyph id, so only
	// the partition that key hashes to is read, and records with another
	// key are skipped without decoding.
	Glyph string
	// Kinds keeps events of these kinds; empty keeps every kind. A decision
	// event's kind is in its matriz-decision header, so one of another kind
	// is skipped without decoding.
	Kinds []schemas.EventKind
	// Since and Until bound the Kafka record timestamps; zero is unbounded.
	// Each partition starts at the first offset whose timestamp is at or
	// after Since (Kafka's ListOffsets by timestamp) and stops at the first
	// record whose timestamp is after Until, or at its end as of the start:
	// a query never waits for new records.
	Since, Until time.Time
	// Limit stops the scan after this many matches; 0 is no limit.
	Limit int
	// Clock times the scan (EventScanStats.Elapsed); default the wall clock.
	Clock clock.Clock
}

// Topic is the topic the query reads.
func (q EventQuery) Topic() string {
	if q.Replay != "" {
		return topics.ReplayName(string(q.Lane), q.Replay, topics.KindEvents)
	}
	return topics.Name(string(q.Lane), topics.KindEvents)
}

// ErrBadQuery is wrapped by every *QueryError.
var ErrBadQuery = errors.New("bad event query")

// QueryError names the field of an EventQuery that cannot run and why.
type QueryError struct {
	Field  string // lane, kinds, since, until, limit, brokers, registry
	Reason string
}

func (e *QueryError) Error() string { return fmt.Sprintf("event query: %s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrBadQuery) hold.
func (e *QueryError) Unwrap() error { return ErrBadQuery }

func (q EventQuery) validate() error {
	bad := func(field, format string, args ...any) error {
		return &QueryError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !q.Lane.Valid():
		return bad("lane", "%q, want experimental, candidate or prod", q.Lane)
	case len(q.Brokers) == 0:
		return bad("brokers", "none given")
	case q.Serde == nil && q.RegistryURL == "":
		return bad("registry", "no registry URL and no Serde")
	case q.Limit < 0:
		return bad("limit", "%d, want 0 (no limit) or more", q.Limit)
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since):
		return bad("until", "%s is before since %s", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))
	case strings.ContainsAny(q.Replay, " ./"):
		return bad("replay", "%q is not a replay name", q.Replay)
	}
	for _, k := range q.Kinds {
		if !slices.Contains(schemas.EventKinds, k) {
			return bad("kinds", "%q is not an event kind (%s)", k, kindList())
		}
	}
	return nil
}

// EventRecord is one event of the log and where it is.
type EventRecord struct {
	Partition int32
	Offset    int64
	Time      time.Time // the Kafka record timestamp
	Key       []byte
	Headers   []topics.Header
	Event     schemas.Event
}

// Header returns the value of the first header named key, or nil.
func (r EventRecord) Header(key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// EventScanStats is what a scan read.
type EventScanStats struct {
	Topic      string
	Partitions int   // partitions read
	Scanned    int64 // records read within the bounds
	Decoded    int64 // records decoded; the rest were decided by key or header
	Matched    int64 // records handed to fn
	// Undecodable counts records skipped because they could not be decoded
	// (not Avro, an unknown or unreadable schema id); FirstUndecodable says
	// where the first was and why.
	Undecodable      int64
	FirstUndecodable error
	Elapsed          time.Duration
}

// Rate is records scanned per second.
func (s EventScanStats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Scanned) / s.Elapsed.Seconds()
}

func (s EventScanStats) String() string {
	return fmt.Sprintf("%d of %d records matched on %d partitions of %s in %v (%.0f records/s, %d decoded, %d undecodable)",
		s.Matched, s.Scanned, s.Partitions, s.Topic, s.Elapsed.Round(time.Millisecond), s.Rate(), s.Decoded, s.Undecodable)
}

// ErrStopScan may be returned by a ScanEvents callback to end the scan
// early without an error.
var ErrStopScan = errors.New("stop the event scan")

// ScanEvents calls fn for every event q selects, from the caller's
// goroutine, one call at a time. Partitions are read concurrently and
// decoded on a pool of GOMAXPROCS workers; the records reach fn merged by
// Kafka timestamp (ties in partition order), each partition in offset
// order, so the same log and query always give the same sequence. An error
// from fn ends the scan and is returned (ErrStopScan ends it with nil).
// A record that cannot be decoded is counted in the stats and skipped; a
// registry or broker that fails is an error.
func ScanEvents(ctx context.Context, q EventQuery, fn func(EventRecord) error) (EventScanStats, error) {
	stats := EventScanStats{Topic: q.Topic()}
	if err := q.validate(); err != nil {
		return stats, err
	}
	if q.Clock == nil {
		q.Clock = clock.Real{}
	}
	start := q.Clock.Now()
	codec := q.Serde
	if codec == nil {
		var err error
		if codec, err = serde.Open(ctx, q.RegistryURL, nil); err != nil {
			return stats, err
		}
	}
	err := scan(ctx, q, codec.Lookup(), &stats, fn)
	stats.Elapsed = q.Clock.Now().Sub(start)
	if errors.Is(err, ErrStopScan) {
		err = nil
	}
	return stats, err
}

// ParseEventKinds reads a comma-separated list of event kinds.
func ParseEventKinds(list string) ([]schemas.EventKind, error) {
	var out []schemas.EventKind
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k := schemas.EventKind(s)
		if !slices.Contains(schemas.EventKinds, k) {
			return nil, fmt.Errorf("%q is not an event kind (%s)", s, kindList())
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func kindList() string {
	names := make([]string, len(schemas.EventKinds))
	for i, k := range schemas.EventKinds {
		names[i] = string(k)
	}
	return "one of " + strings.Join(names, ", ")
}

// ParseTimeBound reads a --since or --until value: an RFC 3339 time, or a
// Go duration meaning that long before now (15m, 2h30m).
func ParseTimeBound(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration means that long ago, so it must not be negative", s)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2006-01-02T15:04:05Z, 2006-01-02T15:04:05.5+02:00) nor a duration ago (15m, 2h30m)", s)
}
