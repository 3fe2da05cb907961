package serde

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"time"
)

// RegistryAuth is how this process authenticates to the schema registry
// and encrypts its requests: HTTP basic auth and TLS. Like
// topics.Security it is set once per process (UseRegistryAuth), before the
// first client, and every registry client and ping picks it up.
type RegistryAuth struct {
	User     string
	Password string // never printed
	TLS      *tls.Config
}

var registryAuth atomic.Pointer[RegistryAuth]

// UseRegistryAuth makes a what every registry request of this process
// carries from now on.
func UseRegistryAuth(a RegistryAuth) { registryAuth.Store(&a) }

func currentRegistryAuth() RegistryAuth {
	if a := registryAuth.Load(); a != nil {
		return *a
	}
	return RegistryAuth{}
}

// HTTPClient returns an HTTP client for the registry with the process's
// TLS settings and timeout.
func HTTPClient(timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if a := currentRegistryAuth(); a.TLS != nil {
		c.Transport = &http.Transport{TLSClientConfig: a.TLS, Proxy: http.ProxyFromEnvironment}
	}
	return c
}

// authorize adds the process's basic auth to req.
func authorize(req *http.Request) {
	if a := currentRegistryAuth(); a.User != "" {
		req.SetBasicAuth(a.User, a.Password)
	}
}
