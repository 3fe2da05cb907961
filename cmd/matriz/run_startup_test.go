package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRunRefusesBadSettingsBeforeConnecting: a reader schema version the
// binary does not hold, and every other malformed startup setting, stops
// `matriz run` with exit 2 and one line naming the flag, before it dials
// the brokers or the registry — so it never joins the lane's group and
// takes partitions from the workers already running.
func TestRunRefusesBadSettingsBeforeConnecting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"schema version v3", []string{"--schema-version", "v3"}, "--schema-version v3: schemas: unknown schema version: MatrizMessage has no v3 (it has [v1 v2])"},
		{"schema version word", []string{"--schema-version", "newest"}, "--schema-version newest: "},
		{"negative session timeout", []string{"--session-timeout", "-1s"}, "--session-timeout -1s: want a positive duration"},
		{"negative max future skew", []string{"--max-future-skew", "-1m"}, "--max-future-skew -1m0s: want a positive duration"},
		{"negative commit interval", []string{"--commit-interval", "-5s"}, "--commit-interval -5s: "},
		{"http addr without port", []string{"--http-addr", "localhost"}, "--http-addr: \"localhost\": want HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers, dialsB := countingListener(t)
			registry, dialsR := countingListener(t)
			args := append([]string{"run", "--lane", "prod", "--brokers", brokers, "--registry", "http://" + registry}, tc.extra...)
			code, _, errOut := runCLI(args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errOut)
			}
			if want := "matriz run: " + tc.want; !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("stderr %q, want one line starting %q", errOut, want)
			}
			if n := dialsB() + dialsR(); n != 0 {
				t.Fatalf("%d connections to the brokers or registry before the setting was refused", n)
			}
		})
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--brokers", "127.0.0.1", "--brokers: \"127.0.0.1\": want HOST:PORT"},
		{"--registry", "127.0.0.1:8081", "--registry: \"127.0.0.1:8081\": want http://HOST:PORT"},
	} {
		code, _, errOut := runCLI("run", "--lane", "prod", tc.flag, tc.value)
		if code != 2 || !strings.HasPrefix(errOut, "matriz run: "+tc.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", tc.flag, tc.value, code, errOut, tc.want)
		}
	}
}

// TestRunBrokersNotKafka: --brokers naming a port that answers HTTP, not
// Kafka, is said to be exactly that, not a missing topic to deploy.
func TestRunBrokersNotKafka(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	code, _, errOut := runCLI("run", "--lane", "prod", "--brokers", addr, "--registry", srv.URL, "--status-every", "0")
	want := "matriz run: brokers " + addr + " accepted a connection but did not answer the Kafka protocol ("
	if code != 1 || !strings.HasPrefix(errOut, want) || strings.Contains(errOut, "deploy") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 and one line starting %q", code, errOut, want)
	}
}
