package rehearsal

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// Config is one rehearsal.
type Config struct {
	// Root is the module's directory, where the image is built from.
	Root string
	// Lanes are the lanes rehearsed (default all three). The lane faults
	// (kill, network cut) hit prod when it is rehearsed, else the first.
	Lanes []schemas.Lane
	// Keep leaves every container, the network, the volume and the image
	// in place for a look afterwards (docker ps -a --filter name=…).
	Keep bool
	// Steps is how many scenario steps each lane gets before the faults
	// (one cycle's script, with its P0 action, needs about 8s of them);
	// FaultSteps how many each fault's batch sends; Rate steps a second.
	Steps, FaultSteps int
	Rate              float64
	// SessionTimeout is the lanes' group session timeout: how long a cut
	// off worker keeps its partitions. The cut lasts Cut, longer than it.
	SessionTimeout, Cut time.Duration
	// Approver is the identity `matriz approve` runs under (its $USER).
	Approver string
	// Log receives progress lines.
	Log io.Writer
}

// Environment variables a rehearsal reads (make rehearse passes them on).
const (
	EnvLanes = "MATRIZ_REHEARSAL_LANES" // comma-separated lanes, e.g. prod,candidate
	EnvKeep  = "MATRIZ_REHEARSAL_KEEP"  // 1 keeps what the rehearsal made
)

// FromEnv fills Lanes and Keep from the environment.
func (c *Config) FromEnv(getenv func(string) string) error {
	if v := strings.TrimSpace(getenv(EnvLanes)); v != "" {
		c.Lanes = nil
		for _, s := range strings.Split(v, ",") {
			l := schemas.Lane(strings.TrimSpace(s))
			if !l.Valid() {
				return fmt.Errorf("%s=%q: lane %q is not experimental, candidate or prod", EnvLanes, v, l)
			}
			c.Lanes = append(c.Lanes, l)
		}
	}
	c.Keep = getenv(EnvKeep) == "1"
	return nil
}

func (c *Config) defaults() {
	if len(c.Lanes) == 0 {
		c.Lanes = []schemas.Lane{schemas.LaneExperimental, schemas.LaneCandidate, schemas.LaneProd}
	}
	if c.Steps <= 0 {
		c.Steps = 400
	}
	if c.FaultSteps <= 0 {
		c.FaultSteps = 150
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 6 * time.Second // the embedded broker's least
	}
	if c.Cut <= c.SessionTimeout {
		c.Cut = c.SessionTimeout + 6*time.Second
	}
	if c.Approver == "" {
		c.Approver = "rehearsal-approver"
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
}

// faultLane is the lane the kill and the network cut hit.
func (c *Config) faultLane() schemas.Lane {
	for _, l := range c.Lanes {
		if l == schemas.LaneProd {
			return l
		}
	}
	return c.Lanes[0]
}
