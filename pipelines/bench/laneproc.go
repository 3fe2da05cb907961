package bench

// A lane run as its own `matriz run` process, so what it holds is
// measured apart from the embedded broker and the bench's producers and
// tails: the overload phase samples its resident memory, the scale-out
// phase starts one or two on a group. Its counts come from its /metrics.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
)

// laneStartWithin bounds a lane process's start: schema fetch, topic
// checks, the group join.
const laneStartWithin = 2 * time.Minute

// laneStopWithin bounds a lane process's SIGTERM: close the open frames,
// flush, commit, leave the group.
const laneStopWithin = time.Minute

// laneProc is a `matriz run` process a phase started.
type laneProc struct {
	*child
	metricsURL string
	pprofURL   string // "" unless the phase env asks for lane heap profiles
	http       *http.Client
}

// laneCounts is what a lane process counted so far.
type laneCounts struct{ In, Out, DLQ int64 }

// Answered is results and DLQ records acknowledged.
func (c laneCounts) Answered() int64 { return c.Out + c.DLQ }

// errNoExecutable: lane processes need the matriz binary.
var errNoExecutable = errors.New("no matriz executable to start lane processes with (bench.Config.Executable)")

// moveGroupToEnd moves group to the end of lane's messages topic, so a
// phase's lanes read its own messages, not a backlog an earlier one left.
func moveGroupToEnd(ctx context.Context, env PhaseEnv, lane schemas.Lane, group string) error {
	if _, err := replay.ResetOffsets(ctx, replay.ResetConfig{OffsetsConfig: replay.OffsetsConfig{Lane: lane, Group: group, Brokers: env.Brokers},
		To: replay.Position{Kind: replay.PositionEnd}}); err != nil {
		return fmt.Errorf("move group %s to the end: %w", group, err)
	}
	return nil
}

// startLaneProc starts `matriz run` for lane on group where the group's
// offsets are; it returns once the lane joined its group. name is what
// errors call the process.
func startLaneProc(ctx context.Context, env PhaseEnv, lane schemas.Lane, group, name string) (*laneProc, error) {
	if env.Executable == "" {
		return nil, errNoExecutable
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--lane", string(lane), "--group", group, "--brokers", strings.Join(env.Brokers, ","),
		"--registry", env.RegistryURL, "--http-addr", addr, "--status-every", "0"}
	pprofURL := ""
	if env.LaneMemProfile != "" {
		pa, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof", pa)
		pprofURL = "http://" + pa + "/debug/pprof/heap"
	}
	c, err := startChild(ctx, env.Clock, name, env.Executable, args, laneEnv(os.Environ()), "matriz run: lane "+string(lane)+" joined group", laneStartWithin)
	if err != nil {
		return nil, err
	}
	return &laneProc{child: c, metricsURL: "http://" + addr + "/metrics", pprofURL: pprofURL, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// laneEnv is the environment a lane process runs with: the bench's,
// without the lane feature flags and tracing, so the process runs the
// lane as the in-process phases did (runtime.Config.Getenv unset).
func laneEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == runtime.FlagDispatch || strings.HasPrefix(k, "OTEL_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// freeAddr is a loopback address no one listens on now, for a lane's
// /metrics; another process could take it before the lane does, which
// the lane reports as an early exit naming the address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// counts scrapes the lane's /metrics; a lane that exited is an error
// naming it.
func (p *laneProc) counts(ctx context.Context) (laneCounts, error) {
	if err := p.err(); err != nil {
		return laneCounts{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return laneCounts{}, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if e := p.err(); e != nil {
			return laneCounts{}, e
		}
		return laneCounts{}, fmt.Errorf("%s: %w", p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return laneCounts{}, fmt.Errorf("%s: GET /metrics: %s", p, resp.Status)
	}
	c, err := parseLaneCounts(resp.Body)
	if err != nil {
		return c, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// heapProfile writes the lane's heap profile (what it holds now, and
// what it allocated since it started) to file; without a profile address
// it does nothing.
func (p *laneProc) heapProfile(ctx context.Context, file string) error {
	if p.pprofURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.pprofURL, nil)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: heap profile: %w", p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: heap profile: %s", p, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("%s: heap profile: %w", p, err)
	}
	return f.Close()
}

// parseLaneCounts sums the lane counters of a Prometheus text exposition
// over their labels (one process runs one lane; DLQ is by reason).
func parseLaneCounts(r io.Reader) (laneCounts, error) {
	var c laneCounts
	names := map[string]*int64{
		observe.Namespace + "_messages_in_total":  &c.In,
		observe.Namespace + "_messages_out_total": &c.Out,
		observe.Namespace + "_dlq_total":          &c.DLQ,
	}
	seen := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			if j := strings.LastIndexByte(line, '}'); j > i {
				rest = line[j+1:]
			}
		}
		dst := names[name]
		if dst == nil {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return c, fmt.Errorf("metric line %q: no value", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return c, fmt.Errorf("metric line %q: %w", line, err)
		}
		*dst += int64(v)
		seen++
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if seen == 0 {
		return c, fmt.Errorf("no %s_messages_in_total, _messages_out_total or _dlq_total in /metrics", observe.Namespace)
	}
	return c, nil
}

// laneProcs is the lane processes a phase runs on one lane.
type laneProcs []*laneProc

// counts sums every process's counts.
func (ps laneProcs) counts(ctx context.Context) (laneCounts, error) {
	var sum laneCounts
	for _, p := range ps {
		c, err := p.counts(ctx)
		if err != nil {
			return sum, err
		}
		sum.In, sum.Out, sum.DLQ = sum.In+c.In, sum.Out+c.Out, sum.DLQ+c.DLQ
	}
	return sum, nil
}

// waitFor polls until what(counts) reaches n, within; a lane process that
// exits meanwhile ends the wait with its error.
func (ps laneProcs) waitFor(ctx context.Context, env PhaseEnv, what string, pick func(laneCounts) int64, n int64, within time.Duration) error {
	var scrapeErr error
	err := pollUntil(ctx, env.Clock, 20*time.Millisecond, within, func() (bool, string) {
		c, err := ps.counts(ctx)
		if err != nil {
			scrapeErr = err
			return true, ""
		}
		got := pick(c)
		return got >= n, fmt.Sprintf("the lane %s %d of %d messages", what, got, n)
	})
	if scrapeErr != nil {
		return scrapeErr
	}
	return err
}

// waitProgress polls until what(counts) reaches n; it gives up only when
// the count has not moved for stall (a lane behind a busy machine may
// take minutes to read a 10× overload, and still be reading), or a lane
// process exits.
func (ps laneProcs) waitProgress(ctx context.Context, env PhaseEnv, what string, pick func(laneCounts) int64, n int64, stall time.Duration) error {
	last, lastAt := int64(-1), env.Clock.Now()
	var failed error
	err := pollUntil(ctx, env.Clock, 20*time.Millisecond, 24*time.Hour, func() (bool, string) {
		c, err := ps.counts(ctx)
		if err != nil {
			failed = err
			return true, ""
		}
		got, now := pick(c), env.Clock.Now()
		if got != last {
			last, lastAt = got, now
		} else if now.Sub(lastAt) >= stall {
			failed = fmt.Errorf("the lane %s %d of %d messages, none more in %v", what, got, n, stall)
			return true, ""
		}
		return got >= n, ""
	})
	if failed != nil {
		return failed
	}
	return err
}

// stop stops every process (SIGTERM, then waits) and joins their errors.
func (ps laneProcs) stop(env PhaseEnv) error {
	errs := make([]error, len(ps))
	done := make(chan struct{})
	for i, p := range ps {
		go func() {
			errs[i] = p.stop(env.Clock, laneStopWithin)
			done <- struct{}{}
		}()
	}
	for range ps {
		<-done
	}
	return errors.Join(errs...)
}

// kill kills every process still running: the deferred clean-up of a
// phase that failed before it stopped them.
func (ps laneProcs) kill() {
	for _, p := range ps {
		p.kill()
	}
}
