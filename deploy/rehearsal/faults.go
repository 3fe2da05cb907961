package rehearsal

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// recovered records how long each lane took from at to having committed
// every input again.
func (h *rehearsal) recovered(f *Fault, at time.Time, done map[schemas.Lane]time.Time) {
	f.Recover = map[string]time.Duration{}
	for l, t := range done {
		f.Recover[string(l)] = t.Sub(at)
		h.faults[l] = append(h.faults[l], fmt.Sprintf("%s (%v)", f.What, t.Sub(at).Round(100*time.Millisecond)))
	}
	h.rep.Faults = append(h.rep.Faults, *f)
	h.logf("%s: %s; recovered %v", f.What, f.Detail, f.Recover)
}

// inBackground runs a producer batch for lanes while a fault happens.
func (h *rehearsal) inBackground(ctx context.Context, lanes []schemas.Lane) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.produce(ctx, lanes, h.cfg.FaultSteps) }()
	return done
}

// killLane SIGKILLs the fault lane's container while its producer sends,
// and starts it again at once: its partitions stay with the dead member
// until the session timeout, then the restarted one takes them over.
func (h *rehearsal) killLane(ctx context.Context) error {
	l := h.cfg.faultLane()
	lanes := []schemas.Lane{l}
	batch := h.inBackground(ctx, lanes)
	time.Sleep(time.Second)
	at := time.Now()
	if err := h.e.kill(ctx, h.lanes[l]); err != nil {
		return fmt.Errorf("killing %s: %w", l, err)
	}
	if err := h.e.startAgain(ctx, h.lanes[l]); err != nil {
		return fmt.Errorf("starting %s again: %w", l, err)
	}
	if err := <-batch; err != nil {
		return err
	}
	done, err := h.caughtUp(ctx, lanes, 2*time.Minute)
	if err != nil {
		return err
	}
	h.recovered(&Fault{What: "SIGKILL", Lanes: []string{string(l)}, Detail: "killed mid-batch and started again at once"}, at, done)
	_, err = h.check(ctx, "the SIGKILL of "+string(l))
	return err
}

// restartBroker restarts the broker container (SIGTERM, then start: its
// data is on the volume); the lanes ride the outage out. A batch for every
// lane follows once the broker answers.
func (h *rehearsal) restartBroker(ctx context.Context) error {
	at := time.Now()
	if err := h.e.restart(ctx, h.broker, 10*time.Second); err != nil {
		return fmt.Errorf("restarting the broker: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for topics.Reachable(ctx, h.r.brokers) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("broker not reachable a minute after its restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	back := time.Since(at)
	if err := h.produce(ctx, h.cfg.Lanes, h.cfg.FaultSteps); err != nil {
		return err
	}
	done, err := h.caughtUp(ctx, h.cfg.Lanes, 2*time.Minute)
	if err != nil {
		return err
	}
	var lanes []string
	for _, l := range h.cfg.Lanes {
		lanes = append(lanes, string(l))
		if !h.e.running(ctx, h.lanes[l]) {
			h.rep.failf("lane %s's container stopped during the broker restart", l)
		}
	}
	h.recovered(&Fault{What: "broker restart", Lanes: lanes, Detail: fmt.Sprintf("broker answered again after %v; a batch per lane followed", back.Round(100*time.Millisecond))}, at, done)
	_, err = h.check(ctx, "the broker restart")
	return err
}

// logLine is one line of a lane container's log (the runtime's slog text
// lines with --debug), with the time Docker stamped on it.
type logLine struct {
	at    time.Time
	msg   string
	attrs string
}

// attr returns the value of key in the line, unquoted.
func (l logLine) attr(key string) string {
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S+)`).FindStringSubmatch(l.attrs)
	if m == nil {
		return ""
	}
	if v, err := strconv.Unquote(m[1]); err == nil {
		return v
	}
	return m[1]
}

var msgAttr = regexp.MustCompile(` msg=("(?:[^"\\]|\\.)*"|\S+)`)

// laneLog returns the lane container's log lines that carry a msg.
func (h *rehearsal) laneLog(ctx context.Context, l schemas.Lane) ([]logLine, error) {
	out, err := h.e.logs(ctx, h.lanes[l], true)
	if err != nil {
		return nil, err
	}
	var lines []logLine
	for _, raw := range strings.Split(out, "\n") {
		stamp, rest, ok := strings.Cut(raw, " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		m := msgAttr.FindStringSubmatchIndex(rest)
		if !ok || err != nil || m == nil {
			continue
		}
		msg := rest[m[2]:m[3]]
		if v, err := strconv.Unquote(msg); err == nil {
			msg = v
		}
		lines = append(lines, logLine{at: at, msg: msg, attrs: rest})
	}
	return lines, nil
}

// lastGeneration returns the generation and member the lane's container
// last logged joining.
func (h *rehearsal) lastGeneration(ctx context.Context, l schemas.Lane) (string, string, error) {
	lines, err := h.laneLog(ctx, l)
	if err != nil {
		return "", "", err
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].msg == "generation" {
			return lines[i].attr("generation"), lines[i].attr("member"), nil
		}
	}
	return "", "", fmt.Errorf("lane %s logged no generation (is --debug on?)", l)
}

// released returns how many partitions the lane's container logged
// releasing in generation gen, and when it logged the first.
func (h *rehearsal) released(ctx context.Context, l schemas.Lane, gen string) (int, time.Time, error) {
	lines, err := h.laneLog(ctx, l)
	if err != nil {
		return 0, time.Time{}, err
	}
	n, first := 0, time.Time{}
	for _, ln := range lines {
		if ln.msg == "partition released" && ln.attr("generation") == gen {
			if n == 0 {
				first = ln.at
			}
			n++
		}
	}
	return n, first, nil
}

// cutLane disconnects the fault lane's container from the network for
// longer than its session timeout, while its producer sends, then
// reconnects it. The broker evicts the worker one session timeout after
// the cut at the latest, and its own lease lapses no later; the output
// topics' ends are taken while it is cut off, and no record past them
// may carry its old claim with a time after that (see writtenAfter).
func (h *rehearsal) cutLane(ctx context.Context) error {
	l := h.cfg.faultLane()
	lanes := []schemas.Lane{l}
	gen, member, err := h.lastGeneration(ctx, l)
	if err != nil {
		return err
	}
	batch := h.inBackground(ctx, lanes)
	time.Sleep(time.Second)
	at := time.Now()
	if err := h.e.disconnect(ctx, h.lanes[l]); err != nil {
		return fmt.Errorf("disconnecting %s: %w", l, err)
	}
	time.Sleep(h.cfg.Cut)
	evicted, err := outputEnds(ctx, h.r, string(l))
	if err != nil {
		return err
	}
	if err := h.e.connect(ctx, h.lanes[l], "run-"+string(l)); err != nil {
		return fmt.Errorf("reconnecting %s: %w", l, err)
	}
	if err := <-batch; err != nil {
		return err
	}
	if !h.e.running(ctx, h.lanes[l]) {
		h.rep.failf("lane %s's container stopped while cut off", l)
		if err := h.e.startAgain(ctx, h.lanes[l]); err != nil {
			return err
		}
	}
	done, err := h.caughtUp(ctx, lanes, 2*time.Minute)
	if err != nil {
		return err
	}
	newGen, newMember, err := h.lastGeneration(ctx, l)
	if err != nil {
		return err
	}
	if newMember == member {
		h.rep.failf("lane %s: still member %s (generation %s → %s) after %v cut off: not evicted", l, member, gen, newGen, h.cfg.Cut)
	}
	lostBy := at.Add(h.cfg.SessionTimeout)
	bad, late, lastLate, after, err := writtenAfter(ctx, h.r, string(l), evicted, member, lostBy)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		h.rep.failf("lane %s: the evicted worker (member %s, generation %s) wrote %d records after it lost its partitions at %s: %s",
			l, member, gen, len(bad), lostBy.UTC().Format("15:04:05.000"), strings.Join(bad[:min(5, len(bad))], "; "))
	}
	if after == 0 {
		h.rep.failf("lane %s wrote nothing after the cut: the check of the evicted worker's writes saw no records", l)
	}
	released, lost, err := h.released(ctx, l, gen)
	if err != nil {
		return err
	}
	if released == 0 {
		h.rep.failf("lane %s: the evicted worker logged releasing no partition of generation %s", l, gen)
	}
	lateNote := "none under the old claim"
	if late > 0 {
		lateNote = fmt.Sprintf("%d under the old claim, admitted by its fence at most %v after the cut (its claim held until %v after at the latest) and delivered late, none admitted after",
			late, lastLate.Sub(at).Round(10*time.Millisecond), h.cfg.SessionTimeout)
	}
	h.recovered(&Fault{What: "network cut", Lanes: []string{string(l)}, Detail: fmt.Sprintf(
		"cut off %v (session timeout %v); member %s of generation %s logged releasing %d partitions %v after the cut and rejoined as generation %s; %d records landed on its outputs after the reconnect, %s",
		h.cfg.Cut, h.cfg.SessionTimeout, short(member), gen, released, lost.Sub(at).Round(100*time.Millisecond), newGen, after, lateNote)}, at, done)
	_, err = h.check(ctx, "the network cut of "+string(l))
	return err
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// dumpLogs writes the end of every lane's and the broker's log, for a
// rehearsal that failed.
func (h *rehearsal) dumpLogs(ctx context.Context) {
	for l, c := range h.lanes {
		h.tail(ctx, "run-"+string(l), c)
	}
	if h.broker != nil {
		h.tail(ctx, "broker", h.broker)
	}
}

func (h *rehearsal) tail(ctx context.Context, name string, c interface{ GetContainerID() string }) {
	for _, made := range h.e.made {
		if made.GetContainerID() != c.GetContainerID() {
			continue
		}
		out, err := h.e.logs(ctx, made, true)
		if err != nil {
			h.logf("%s logs: %v", name, err)
			return
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		h.logf("last lines of %s:\n  %s", name, strings.Join(lines[max(0, len(lines)-30):], "\n  "))
	}
}
