package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/pipelines/inspect"
	"github.com/matriz/pipelines/pipelines/replay"
)

func runTail(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "tail", "--lane L [--topic results|events|traces|actions|dlq|messages] [--from start|end|TIME|P:OFFSET] [--glyph G] [--msg M] [--follow] [--json] [--brokers HOST:PORT,…] [--registry URL]",
		"Prints the records of one of a lane's topics, decoded through the schema registry, one per\n"+
			"line: partition/offset and a compact form of the value (--json: one JSON object per line\n"+
			"with topic, partition, offset, key, headers and the value with the Avro field names). DLQ\n"+
			"records show the reason, stage and source offset from their headers and the original\n"+
			"bytes in base64. Partitions are read at once; each one's records come in order.\n\n"+
			"--from is start, end, an RFC 3339 time (per partition, the first record at or after it) or\n"+
			"P:OFFSET[,P:OFFSET…] (only those partitions). Without --follow the command stops at the\n"+
			"end offsets as of its start; with --follow it waits for new records until interrupted.")
	lane := fs.lane(e, " whose topic to read")
	conn := fs.connection()
	topic := fs.String("topic", "results", "the lane `topic` to read: results, events, traces, actions, dlq or messages")
	from := fs.String("from", "start", "where to start: `start`, end, TIME or P:OFFSET[,…]")
	glyph := fs.String("glyph", "", "only records keyed by this glyph `id`")
	msg := fs.String("msg", "", "only records about this message `id`")
	follow := fs.Bool("follow", false, "keep reading new records until interrupted")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if _, err := fs.args(args); err != nil {
		return err
	}
	l, err := lane.resolve()
	if err != nil {
		return err
	}
	kind, err := inspect.ParseTailKind(*topic)
	if err != nil {
		return usagef("--topic: %v", err)
	}
	pos, err := replay.ParsePosition(*from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	if pos.Kind == replay.PositionCheckpoint {
		return usagef("--from %s: a checkpoint id is a replay position; give P:OFFSET", *from)
	}
	out := bufio.NewWriter(e.stdout)
	w := &flushWriter{w: out, flush: *follow}
	st, err := inspect.Tail(ctx, inspect.TailConfig{Brokers: conn.Brokers(), RegistryURL: conn.Registry(), Lane: l, Kind: kind, From: pos,
		Glyph: *glyph, Msg: *msg, Follow: *follow, JSON: *asJSON, Out: w})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, replay.ErrBadPosition) || errors.Is(err, replay.ErrNoPartition) || errors.Is(err, replay.ErrOffsetOutOfRange) {
		return usagef("--from: %v", err)
	}
	if err != nil {
		return err
	}
	if st.Undecodable > 0 {
		fmt.Fprintf(e.stderr, "matriz tail: %d records did not decode (printed with their error)\n", st.Undecodable)
	}
	return nil
}

// flushWriter flushes after every record when following, so each record
// shows as it comes.
type flushWriter struct {
	w     *bufio.Writer
	flush bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil && f.flush {
		err = f.w.Flush()
	}
	return n, err
}
