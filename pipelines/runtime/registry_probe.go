package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/pipelines/serde"
)

// DefaultRegistryProbeEvery is how often a running lane asks the schema
// registry whether it answers (Config.RegistryProbeEvery).
const DefaultRegistryProbeEvery = 3 * time.Second

// maxRegistryProbeTimeout bounds one probe: a registry slower than this to
// answer GET /config is as good as down for a lane decoding live input.
const maxRegistryProbeTimeout = 2 * time.Second

// probeRegistry asks the schema registry whether it answers, every
// RegistryProbeEvery until ctx ends, and keeps the lane not ready while it
// does not: decode notices an unreachable registry only when it must look
// up a schema id it has not cached, so without the probe a lane whose
// registry is down would look ready until its input brought a new id. The
// warning log says when the registry goes away and when it is back.
func (lr *laneRuntime) probeRegistry(ctx context.Context) {
	every := lr.cfg.RegistryProbeEvery
	if every <= 0 {
		every = DefaultRegistryProbeEvery
	}
	client := serde.HTTPClient(min(every, maxRegistryProbeTimeout))
	defer client.CloseIdleConnections()
	url := serde.Redacted(lr.cfg.RegistryURL)
	t := lr.clock.NewTicker(every)
	defer t.Stop()
	var downSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		err := serde.Ping(ctx, client, lr.cfg.RegistryURL)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			lr.ready.set(reasonRegistryProbe, fmt.Sprintf("schema registry %s unreachable: %v", url, err))
			if downSince.IsZero() {
				downSince = lr.clock.Now()
				lr.log.Warn("schema registry unreachable; the lane is not ready until it answers", "lane", lr.lane, "registry", url, "err", err)
			}
		case !downSince.IsZero():
			lr.ready.set(reasonRegistryProbe, "")
			lr.log.Warn("schema registry answers again", "lane", lr.lane, "registry", url, "down_for", lr.clock.Now().Sub(downSince).Round(time.Millisecond))
			downSince = time.Time{}
		}
	}
}
