package devstack

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/matriz/pipelines/topics"
)

// secureStack makes the stack's superuser and client TLS the process's
// Kafka security when the stack enforces any, and returns what it
// replaced (nil when it changed nothing).
func secureStack(cfg Config) (*topics.Security, error) {
	if len(cfg.Users) == 0 && cfg.TLS == nil {
		return nil, nil
	}
	sec := topics.Security{TLS: cfg.ClientTLS}
	if su, ok := topics.Superuser(cfg.Users); ok {
		sec.Mechanism, sec.User, sec.Password = su.Mechanism, su.Name, su.Password
	}
	prev := topics.CurrentSecurity()
	if err := topics.UseSecurity(sec); err != nil {
		return nil, err
	}
	return &prev, nil
}

func restoreSecurity(prev *topics.Security) {
	if prev != nil {
		_ = topics.UseSecurity(*prev) // it was in force, so it is valid
	}
}

// Registry server timeouts: a slow or stuck client cannot hold a
// connection (and its goroutine) open for long.
const (
	registryReadTimeout  = 30 * time.Second
	registryWriteTimeout = 30 * time.Second
	registryIdleTimeout  = 2 * time.Minute
)

// registryServer serves h with timeouts; with users, a request that
// changes the registry (changes reports) needs the basic auth of one of
// them.
func registryServer(h http.Handler, users []topics.BrokerUser) *http.Server {
	if len(users) > 0 {
		h = requireAuthToChange(h, users)
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: registryReadTimeout,
		WriteTimeout: registryWriteTimeout, IdleTimeout: registryIdleTimeout}
}

func requireAuthToChange(h http.Handler, users []topics.BrokerUser) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !changes(r) {
			h.ServeHTTP(w, r)
			return
		}
		name, pass, ok := r.BasicAuth()
		if ok && knownUser(users, name, pass) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="matriz schema registry"`)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":40101,"message":"changing the registry needs the basic auth of a broker user (--registry-user, MATRIZ_REGISTRY_PASSWORD)"}`))
	})
}

// changes reports whether r changes the registry: a PUT or DELETE, or a
// POST that registers a version. The other POSTs ask questions (is this
// schema registered under the subject, is it compatible) and stay open
// like the GETs, which every consumer makes.
func changes(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	case http.MethodPost:
		return strings.HasPrefix(r.URL.Path, "/subjects/") && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/versions")
	}
	return false
}

func knownUser(users []topics.BrokerUser, name, pass string) bool {
	for _, u := range users {
		if u.Name == name && subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) == 1 {
			return true
		}
	}
	return false
}

// Security is what `matriz broker` enforces: its users and TLS.
type Security struct {
	Users          []topics.BrokerUser
	TLS, ClientTLS *tls.Config
}

// Describe says what s enforces, for the ready line; never a password.
func (s Security) Describe() string {
	var out string
	if len(s.Users) > 0 {
		su, _ := topics.Superuser(s.Users)
		out += fmt.Sprintf(", SASL and ACLs for %d users (superuser %s)", len(s.Users), su.Name)
	}
	if s.TLS != nil {
		out += ", TLS"
	}
	return out
}

// LoadSecurity reads a users file and a TLS certificate and key (each
// optional). The stack's own clients trust caFile, or the certificate
// itself when caFile is empty.
func LoadSecurity(usersFile, certFile, keyFile, caFile string) (Security, error) {
	var s Security
	if usersFile != "" {
		b, err := os.ReadFile(usersFile)
		if err != nil {
			return s, fmt.Errorf("--users: %w", err)
		}
		if s.Users, err = topics.ParseBrokerUsers(usersFile, b); err != nil {
			return s, fmt.Errorf("--users: %w", err)
		}
	}
	switch {
	case certFile == "" && keyFile == "":
		return s, nil
	case certFile == "" || keyFile == "":
		return s, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return s, fmt.Errorf("--tls-cert: %w", err)
	}
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		caFile = certFile
	}
	if s.ClientTLS, err = topics.TLSConfig(caFile, "", ""); err != nil {
		return s, err
	}
	return s, nil
}
