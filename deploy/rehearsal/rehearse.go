package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// rehearsal is one run's state.
type rehearsal struct {
	cfg      Config
	e        *engine
	r        reader
	codec    *serde.Serde
	brokers  string
	registry string
	broker   testcontainers.Container
	lanes    map[schemas.Lane]testcontainers.Container
	sent     map[schemas.Lane]int64 // records the producers had acknowledged
	mu       sync.Mutex
	oneShots int
	rep      *Report
	faults   map[schemas.Lane][]string
}

// Run rehearses cfg's lanes in containers and returns the report; err is
// set when the rehearsal could not be carried out at all (no Docker, an
// image that does not build, a container that does not start). Checks
// that fail are in the report's Failures. Everything made is removed
// before Run returns, unless cfg.Keep.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	start := time.Now()
	rep := &Report{}
	defer func() { rep.Wall = time.Since(start) }()
	h := &rehearsal{cfg: cfg, rep: rep, lanes: map[schemas.Lane]testcontainers.Container{}, sent: map[schemas.Lane]int64{}, faults: map[schemas.Lane][]string{}}
	e, err := newEngine(h.logf)
	if err != nil {
		return rep, err
	}
	h.e = e
	defer func() {
		if cfg.Keep {
			rep.Cleanup = fmt.Sprintf("kept %d containers, the network, the volume and the image, named %s*", len(e.made), e.run)
			return
		}
		if err := e.close(context.Background()); err != nil {
			rep.failf("cleaning up: %v", err)
			return
		}
		rep.Cleanup = fmt.Sprintf("removed %d containers, the network, the volume and the image", len(e.made))
	}()
	if err := h.setUp(ctx); err != nil {
		h.dumpLogs(ctx)
		return rep, err
	}
	if err := h.script(ctx); err != nil {
		h.dumpLogs(ctx)
		return rep, err
	}
	if !rep.OK() {
		h.dumpLogs(ctx)
	}
	return rep, nil
}

func (h *rehearsal) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "rehearsal %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// setUp builds the image and starts the broker, the deploy and the lanes.
func (h *rehearsal) setUp(ctx context.Context) error {
	h.logf("building the image from %s", h.cfg.Root)
	if err := h.e.buildImage(ctx, h.cfg.Root); err != nil {
		return err
	}
	if err := h.e.newNetwork(ctx); err != nil {
		return err
	}
	ip := h.e.addr(200)
	h.brokers, h.registry = ip.String()+":9092", "http://"+ip.String()+":8081"
	h.r = reader{brokers: []string{h.brokers}}
	h.logf("image %s, network %s (%v), broker at %s", h.e.image, h.e.net.Name, h.e.subnet, ip)
	var err error
	// The broker runs as root: a fresh named volume is root's.
	h.broker, err = h.e.start(ctx, spec{name: "broker", ip: ip, user: "0:0", data: true,
		cmd:  []string{"broker", "--listen", h.brokers, "--registry-listen", ip.String() + ":8081", "--data-dir", "/data"},
		wait: wait.ForLog("matriz broker ready").WithStartupTimeout(time.Minute)})
	if err != nil {
		return err
	}
	out, code, err := h.e.oneShot(ctx, spec{name: "deploy", cmd: []string{"deploy", "--brokers", h.brokers, "--registry", h.registry}}, 2*time.Minute)
	if err != nil || code != 0 {
		return fmt.Errorf("matriz deploy in its container: exit %d, %v\n%s", code, err, out)
	}
	if h.codec, err = serde.Open(ctx, h.registry, nil); err != nil {
		return err
	}
	for _, l := range h.cfg.Lanes {
		c, err := h.e.start(ctx, spec{name: "run-" + string(l), env: map[string]string{stages.FlagExtActions: "true"},
			cmd: []string{"run", "--lane", string(l), "--brokers", h.brokers, "--registry", h.registry, "--debug", "--status-every", "0",
				"--session-timeout", h.cfg.SessionTimeout.String(), "--commit-interval", "200ms", "--http-addr", "0.0.0.0:9464"}})
		if err != nil {
			return err
		}
		h.lanes[l] = c
	}
	for _, l := range h.cfg.Lanes {
		if err := h.waitReady(ctx, l, time.Minute); err != nil {
			return err
		}
	}
	h.logf("lanes ready: %v", h.cfg.Lanes)
	return nil
}

// waitReady polls the lane's /readyz from the host.
func (h *rehearsal) waitReady(ctx context.Context, l schemas.Lane, within time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	last := "no answer"
	for time.Now().Before(deadline) {
		if ip, err := h.e.ip(ctx, h.lanes[l]); err == nil {
			if resp, err := hc.Get("http://" + ip + ":9464/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				last = resp.Status
			} else {
				last = err.Error()
			}
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("lane %s not ready within %v: %s", l, within, last)
}

// name returns a fresh container name suffix for a one-shot command.
func (h *rehearsal) name(what string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.oneShots++
	return fmt.Sprintf("%s-%d", what, h.oneShots)
}

var sentLine = regexp.MustCompile(`sent (\d+), refused (\d+)`)

// produce runs one producer container per lane, each sending steps of the
// dev scenario, and counts what the broker acknowledged.
func (h *rehearsal) produce(ctx context.Context, lanes []schemas.Lane, steps int) error {
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, l := range lanes {
		wg.Go(func() {
			within := time.Duration(float64(steps)/h.cfg.Rate*float64(time.Second)) + time.Minute
			out, code, err := h.e.oneShot(ctx, spec{name: h.name("produce-" + string(l)), cmd: []string{"produce", "--lane", string(l), "--scenario",
				"--count", strconv.Itoa(steps), "--rate", strconv.FormatFloat(h.cfg.Rate, 'f', -1, 64), "--brokers", h.brokers, "--registry", h.registry}}, within)
			m := sentLine.FindStringSubmatch(out)
			if err != nil || code != 0 || m == nil {
				errs[i] = fmt.Errorf("producer for %s: exit %d, %v\n%s", l, code, err, out)
				return
			}
			n, _ := strconv.ParseInt(m[1], 10, 64)
			h.mu.Lock()
			h.sent[l] += n
			h.mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func group(l schemas.Lane) string { return "matriz-" + string(l) }

// caughtUp waits until every lane in lanes committed every input, and
// returns the time each did.
func (h *rehearsal) caughtUp(ctx context.Context, lanes []schemas.Lane, within time.Duration) (map[schemas.Lane]time.Time, error) {
	at := map[schemas.Lane]time.Time{}
	for _, l := range lanes {
		t, err := h.r.waitCaughtUp(ctx, topics.Name(string(l), topics.KindMessages), group(l), within)
		if err != nil {
			return nil, fmt.Errorf("lane %s: %w", l, err)
		}
		at[l] = t
	}
	return at, nil
}

// check reads every lane's topics and records what fails the invariants
// that hold after any fault: each acknowledged input is on the topic and
// has a result, a DLQ record or a decimation drop; no action executes
// twice; the dry lanes execute none.
func (h *rehearsal) check(ctx context.Context, after string) (map[schemas.Lane]*ledger, error) {
	out := map[schemas.Lane]*ledger{}
	for _, l := range h.cfg.Lanes {
		lg, err := readLedger(ctx, h.r, h.codec, string(l))
		if err != nil {
			return nil, err
		}
		out[l] = lg
		if lg.inputs != h.sent[l] {
			h.rep.failf("after %s: %s holds %d inputs, the producers had %d acknowledged", after, topics.Name(string(l), topics.KindMessages), lg.inputs, h.sent[l])
		}
		if n := len(lg.missing); n > 0 {
			h.rep.failf("after %s: lane %s: %d inputs have no result, DLQ record or drop, e.g. %v", after, l, n, lg.missing[:min(5, n)])
		}
		if tw := lg.twice(); len(tw) > 0 {
			h.rep.failf("after %s: lane %s executed actions twice: %s", after, l, strings.Join(tw, "; "))
		}
		if l != schemas.LaneProd && lg.called() > 0 {
			h.rep.failf("after %s: lane %s runs dry but executed (or began executing) %d actions", after, l, lg.called())
		}
		h.logf("after %s: %s inputs %d, results %d, DLQ %d, dropped %d, executed %d", after, l, lg.inputs, lg.results, lg.dlq, lg.dropped, lg.executions())
	}
	return out, nil
}

// script is the rehearsal proper, once everything runs.
func (h *rehearsal) script(ctx context.Context) error {
	h.logf("producing %d scenario steps per lane at %v/s", h.cfg.Steps, h.cfg.Rate)
	if err := h.produce(ctx, h.cfg.Lanes, h.cfg.Steps); err != nil {
		return err
	}
	if _, err := h.caughtUp(ctx, h.cfg.Lanes, 2*time.Minute); err != nil {
		return err
	}
	ledgers, err := h.check(ctx, "the scenario")
	if err != nil {
		return err
	}
	h.laneGates(ledgers)
	if slices.Contains(h.cfg.Lanes, schemas.LaneProd) {
		if err := h.approveP0(ctx, ledgers[schemas.LaneProd]); err != nil {
			return err
		}
	}
	for _, fault := range []func(context.Context) error{h.killLane, h.restartBroker, h.cutLane} {
		if err := fault(ctx); err != nil {
			return err
		}
	}
	ledgers, err = h.check(ctx, "every fault")
	if err != nil {
		return err
	}
	for _, l := range h.cfg.Lanes {
		lg := ledgers[l]
		h.rep.Lanes = append(h.rep.Lanes, LaneReport{Lane: string(l), Inputs: lg.inputs, Results: lg.results, DLQ: lg.dlq, Dropped: lg.dropped,
			Missing: len(lg.missing), DLQReasons: lg.dlqReasons, Decisions: lg.decisions, Actions: len(lg.actions), Executions: lg.executions(),
			Twice: lg.twice(), Faults: h.faults[l]})
	}
	return nil
}

// laneGates checks what each lane must have done with the scenario:
// experimental previews its actions dry, candidate's guardian denies the
// consentless and the risky requests, previews the rest dry and
// dead-letters the corrupt records, prod holds its P0 action for a human.
func (h *rehearsal) laneGates(ledgers map[schemas.Lane]*ledger) {
	for l, lg := range ledgers {
		dry := 0
		for _, a := range lg.actions {
			if a.dryRun {
				dry++
			}
		}
		switch l {
		case schemas.LaneExperimental:
			if dry == 0 || dry != len(lg.actions) {
				h.rep.failf("experimental: %d of %d actions previewed dry, want all and at least one", dry, len(lg.actions))
			}
		case schemas.LaneCandidate:
			if lg.decisions[string(stages.OutcomeDeny)] < 2 {
				h.rep.failf("candidate gates: %d deny decisions, want the consentless and the risky request denied (decisions %s)", lg.decisions[string(stages.OutcomeDeny)], counts(lg.decisions))
			}
			if dry == 0 || dry != len(lg.actions) {
				h.rep.failf("candidate gates: %d of %d actions previewed dry, want all and at least one", dry, len(lg.actions))
			}
			if lg.dlq < 4 {
				h.rep.failf("candidate gates: %d DLQ records, want the scenario's 4 corrupt ones (reasons %s)", lg.dlq, counts(lg.dlqReasons))
			}
		case schemas.LaneProd:
			p0 := 0
			for _, a := range lg.actions {
				if a.priority == string(stages.P0) && a.status[stages.ActionExecuted] == 0 {
					p0++
				}
			}
			if p0 == 0 {
				h.rep.failf("prod: no P0 action waits unexecuted after the scenario")
			}
		}
	}
}

var waitingLine = regexp.MustCompile(`(?m)^(\S+)\s+waiting for approval\s+P0\s`)

// approveP0 lists prod's waiting actions and approves its P0 action, each
// from a container of its own, and waits until it executed once.
func (h *rehearsal) approveP0(ctx context.Context, before *ledger) error {
	out, code, err := h.e.oneShot(ctx, spec{name: h.name("actions"), cmd: []string{"actions", "--lane", "prod", "--brokers", h.brokers, "--registry", h.registry}}, time.Minute)
	if err != nil || code != 0 {
		return fmt.Errorf("matriz actions: exit %d, %v\n%s", code, err, out)
	}
	m := waitingLine.FindStringSubmatch(out)
	if m == nil {
		h.rep.failf("prod: `matriz actions` lists no P0 action waiting for approval:\n%s", out)
		return nil
	}
	id := m[1]
	if a := before.actions[id]; a == nil || a.status[stages.ActionExecuted] > 0 || a.status[stages.ActionExecuting] > 0 {
		h.rep.failf("prod: P0 action %s executed before its approval (%v)", id, a)
	}
	h.logf("approving P0 action %s as %s", id, h.cfg.Approver)
	out, code, err = h.e.oneShot(ctx, spec{name: h.name("approve"), env: map[string]string{"USER": h.cfg.Approver},
		cmd: []string{"approve", id, "--lane", "prod", "--brokers", h.brokers, "--registry", h.registry, "--note", "rehearsal"}}, time.Minute)
	if err != nil || code != 0 {
		return fmt.Errorf("matriz approve: exit %d, %v\n%s", code, err, out)
	}
	// The lane executes it at its next frame: a frame needs a record, so
	// a short batch follows the approval.
	if err := h.produce(ctx, []schemas.Lane{schemas.LaneProd}, int(h.cfg.Rate)); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		lg, err := readLedger(ctx, h.r, h.codec, "prod")
		if err != nil {
			return err
		}
		if a := lg.actions[id]; a != nil && a.status[stages.ActionExecuted] > 0 {
			if n := a.status[stages.ActionExecuted]; n != 1 {
				h.rep.failf("prod: approved P0 action %s executed %d times", id, n)
			}
			if by := lg.approvals[id]; by != h.cfg.Approver {
				h.rep.failf("prod: approval of %s names %q, want %q", id, by, h.cfg.Approver)
			}
			h.logf("P0 action %s executed once after its approval by %s", id, lg.approvals[id])
			return nil
		}
		if time.Now().After(deadline) {
			h.rep.failf("prod: approved P0 action %s not executed within a minute", id)
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}
