package devstack

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matriz/pipelines/topics"
)

func TestRegistryAsksAUserToChangeAndNoOneToRead(t *testing.T) {
	users := []topics.BrokerUser{{Mechanism: topics.SASLPlain, Name: "admin", Password: "pw-admin", Super: true}}
	served := 0
	h := requireAuthToChange(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }), users)
	for _, c := range []struct {
		method, path string
		user, pass   string
		want         int
	}{
		{"GET", "/subjects", "", "", 200},
		{"POST", "/subjects/s-value", "", "", 200}, // is this schema registered? a question
		{"POST", "/compatibility/subjects/s-value/versions/latest", "", "", 200},
		{"POST", "/subjects/s-value/versions", "", "", 401},
		{"POST", "/subjects/s-value/versions/", "admin", "wrong", 401},
		{"POST", "/subjects/s-value/versions", "admin", "pw-admin", 200},
		{"PUT", "/config", "", "", 401},
		{"DELETE", "/subjects/s-value", "", "", 401},
		{"DELETE", "/subjects/s-value", "admin", "pw-admin", 200},
	} {
		before := served
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Code
		if got != c.want || (c.want == 200) != (served > before) {
			t.Errorf("%s %s as %q: %d (served %v), want %d", c.method, c.path, c.user, got, served > before, c.want)
		}
		if got == 401 && (!strings.Contains(rec.Body.String(), "40101") || strings.Contains(rec.Body.String(), "pw-admin")) {
			t.Errorf("%s %s: body %q", c.method, c.path, rec.Body.String())
		}
	}
	srv := registryServer(http.NotFoundHandler(), users)
	if srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Fatalf("registry server timeouts %v/%v/%v: want all set", srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

func TestLoadSecurity(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("SCRAM-SHA-512 ops pw super\nPLAIN matriz-prod pw2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSecurity(users, "", "", "")
	if err != nil || len(s.Users) != 2 || s.TLS != nil {
		t.Fatalf("%+v, %v", s, err)
	}
	if d := s.Describe(); d != ", SASL and ACLs for 2 users (superuser ops)" {
		t.Fatalf("Describe() = %q", d)
	}
	for _, c := range []struct{ users, cert, key, want string }{
		{filepath.Join(dir, "none"), "", "", "--users"},
		{"", users, "", "go together"},
		{"", users, users, "--tls-cert"},
	} {
		if _, err := LoadSecurity(c.users, c.cert, c.key, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadSecurity(%q, %q, %q): %v, want …%s…", c.users, c.cert, c.key, err, c.want)
		}
	}
}
