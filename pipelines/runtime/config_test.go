package runtime

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// TestRunRefusesBadConfigBeforeConnecting: Run checks its settings before
// it dials anything — a reader version the binary does not hold would
// otherwise join the group, take partitions and fail on every record.
func TestRunRefusesBadConfigBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dials atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	for _, tc := range []struct {
		name string
		cfg  Config
		is   error
		want string
	}{
		{"reader version v3", Config{ReaderVersion: 3}, schemas.ErrUnknownVersion, "reader version: "},
		{"negative session timeout", Config{SessionTimeout: -time.Second}, nil, "session timeout -1s: "},
		{"negative max future skew", Config{MaxFutureSkew: -time.Minute}, nil, "max future skew -1m0s: "},
	} {
		tc.cfg.Lane, tc.cfg.Brokers, tc.cfg.RegistryURL = schemas.LaneProd, []string{addr}, "http://"+addr
		err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: Run = %v, want an error starting %q", tc.name, err, tc.want)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("%d connections before the config was refused", n)
	}
}
