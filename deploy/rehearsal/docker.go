package rehearsal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// engine is the Docker side of one rehearsal: the image, the network, the
// broker's volume and every container made, removed by close unless kept.
type engine struct {
	run      string // id of this rehearsal, in every name it makes
	provider *testcontainers.DockerProvider
	api      client.APIClient
	image    string
	net      *testcontainers.DockerNetwork
	subnet   netip.Prefix
	volume   string
	made     []testcontainers.Container
	log      func(format string, args ...any)
}

// disableReaper turns the reaper off where nobody chose: its image cannot
// be pulled here, and the rehearsal removes what it makes itself.
func disableReaper() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

func newEngine(log func(string, ...any)) (*engine, error) {
	disableReaper()
	// The rehearsal logs its own steps; the library's line per container
	// started and stopped would bury them.
	tclog.SetDefault(tclog.NewNoopLogger())
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	return &engine{run: "matriz-rehearsal-" + hex.EncodeToString(b), provider: p, api: p.Client(), log: log}, nil
}

// buildImage compiles a static matriz from the module at root into a build
// context with deploy/Dockerfile and builds the image from it.
func (e *engine) buildImage(ctx context.Context, root string) error {
	dir, err := os.MkdirTemp("", "matriz-rehearsal-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "bin", "matriz"), "./cmd/matriz")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("static build of matriz: %w\n%s", err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "deploy", "Dockerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return err
	}
	tag, err := e.provider.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Dockerfile: "Dockerfile", Repo: "matriz-rehearsal", Tag: strings.TrimPrefix(e.run, "matriz-rehearsal-"), KeepImage: true,
	}})
	if err != nil {
		return fmt.Errorf("building the image: %w", err)
	}
	e.image = tag
	return nil
}

// newNetwork makes the rehearsal's network on a subnet of its own (a
// fixed broker address needs one), trying a few private /24s until one is
// free.
func (e *engine) newNetwork(ctx context.Context) error {
	var last error
	seed := make([]byte, 1)
	rand.Read(seed)
	for i := range 16 {
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 30, seed[0] + byte(i*17), 0}), 24)
		gateway := subnet.Addr().Next()
		n, err := tcnetwork.New(ctx, tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gateway}}}))
		if err == nil {
			e.net, e.subnet = n, subnet
			return nil
		}
		last = err
	}
	return fmt.Errorf("no free subnet for the rehearsal network: %w", last)
}

// addr returns host n of the rehearsal's subnet.
func (e *engine) addr(n byte) netip.Addr {
	a := e.subnet.Addr().As4()
	a[3] = n
	return netip.AddrFrom4(a)
}

// spec is one container to start.
type spec struct {
	name string // suffix of the container's name
	cmd  []string
	env  map[string]string
	ip   netip.Addr // fixed address on the network (zero: any)
	user string
	wait wait.Strategy
	data bool // mount the broker's volume at /data
}

func (e *engine) start(ctx context.Context, s spec) (testcontainers.Container, error) {
	req := testcontainers.ContainerRequest{
		Image: e.image, Name: e.run + "-" + s.name, Cmd: s.cmd, Env: s.env,
		Networks: []string{e.net.Name}, NetworkAliases: map[string][]string{e.net.Name: {s.name}},
		WaitingFor: s.wait,
	}
	if s.user != "" {
		req.ConfigModifier = func(c *container.Config) { c.User = s.user }
	}
	if s.ip.IsValid() {
		req.EndpointSettingsModifier = func(m map[string]*network.EndpointSettings) {
			if es := m[e.net.Name]; es != nil {
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: s.ip}
			}
		}
	}
	if s.data {
		e.volume = e.run + "-data"
		req.Mounts = testcontainers.ContainerMounts{testcontainers.VolumeMount(e.volume, "/data")}
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if c != nil {
		e.made = append(e.made, c)
	}
	if err != nil {
		return c, fmt.Errorf("container %s: %w", s.name, err)
	}
	return c, nil
}

// oneShot runs a container to its end and returns its output and exit
// code; the container is removed at close.
func (e *engine) oneShot(ctx context.Context, s spec, within time.Duration) (string, int, error) {
	s.wait = wait.ForExit().WithExitTimeout(within)
	c, err := e.start(ctx, s)
	if err != nil {
		return "", -1, err
	}
	out, _ := e.logs(ctx, c, false)
	st, err := c.State(ctx)
	if err != nil {
		return out, -1, err
	}
	if st.Running {
		return out, -1, fmt.Errorf("%s still running after %v", s.name, within)
	}
	return out, st.ExitCode, nil
}

// logs returns everything the container wrote, stdout and stderr, each
// line prefixed by its time when stamped.
func (e *engine) logs(ctx context.Context, c testcontainers.Container, stamped bool) (string, error) {
	rc, err := e.api.ContainerLogs(ctx, c.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: stamped})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil && !errors.Is(err, io.EOF) {
		return out.String(), err
	}
	return out.String(), nil
}

func (e *engine) kill(ctx context.Context, c testcontainers.Container) error {
	_, err := e.api.ContainerKill(ctx, c.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"})
	return err
}

// startAgain starts a stopped container as it was (same name, address,
// volume and command).
func (e *engine) startAgain(ctx context.Context, c testcontainers.Container) error {
	_, err := e.api.ContainerStart(ctx, c.GetContainerID(), client.ContainerStartOptions{})
	return err
}

// running reports whether the container runs.
func (e *engine) running(ctx context.Context, c testcontainers.Container) bool {
	st, err := c.State(ctx)
	return err == nil && st.Running
}

func (e *engine) restart(ctx context.Context, c testcontainers.Container, grace time.Duration) error {
	secs := int(grace.Seconds())
	_, err := e.api.ContainerRestart(ctx, c.GetContainerID(), client.ContainerRestartOptions{Timeout: &secs})
	return err
}

func (e *engine) disconnect(ctx context.Context, c testcontainers.Container) error {
	_, err := e.api.NetworkDisconnect(ctx, e.net.ID, client.NetworkDisconnectOptions{Container: c.GetContainerID()})
	return err
}

func (e *engine) connect(ctx context.Context, c testcontainers.Container, alias string) error {
	_, err := e.api.NetworkConnect(ctx, e.net.ID, client.NetworkConnectOptions{Container: c.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{alias}}})
	return err
}

// ip returns the container's address on the rehearsal network.
func (e *engine) ip(ctx context.Context, c testcontainers.Container) (string, error) {
	in, err := c.Inspect(ctx)
	if err != nil {
		return "", err
	}
	if es := in.NetworkSettings.Networks[e.net.Name]; es != nil && es.IPAddress.IsValid() {
		return es.IPAddress.String(), nil
	}
	return "", fmt.Errorf("container %s has no address on %s", in.Name, e.net.Name)
}

// close removes every container, the network, the volume and the image.
func (e *engine) close(ctx context.Context) error {
	var errs []error
	for i := len(e.made) - 1; i >= 0; i-- {
		if err := e.made[i].Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
			errs = append(errs, err)
		}
	}
	if e.net != nil {
		if err := e.net.Remove(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if e.volume != "" {
		if _, err := e.api.VolumeRemove(ctx, e.volume, client.VolumeRemoveOptions{Force: true}); err != nil {
			errs = append(errs, err)
		}
	}
	if e.image != "" {
		if _, err := e.api.ImageRemove(ctx, e.image, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, e.leftovers(ctx))...)
}

// leftovers names what close should have removed and is still there.
func (e *engine) leftovers(ctx context.Context) error {
	var left []string
	if cs, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", e.run)}); err != nil {
		left = append(left, "containers: "+err.Error())
	} else {
		for _, c := range cs.Items {
			left = append(left, "container "+strings.Join(c.Names, ","))
		}
	}
	if e.net != nil {
		if _, err := e.api.NetworkInspect(ctx, e.net.ID, client.NetworkInspectOptions{}); err == nil {
			left = append(left, "network "+e.net.Name)
		}
	}
	if e.volume != "" {
		if _, err := e.api.VolumeInspect(ctx, e.volume, client.VolumeInspectOptions{}); err == nil {
			left = append(left, "volume "+e.volume)
		}
	}
	if e.image != "" {
		if _, err := e.api.ImageInspect(ctx, e.image); err == nil {
			left = append(left, "image "+e.image)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	return nil
}
