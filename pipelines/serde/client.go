package serde

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// RegistryUnreachableError is returned when the schema registry does not
// answer.
type RegistryUnreachableError struct {
	URL string
	Err error
}

func (e *RegistryUnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the schema registry at %s (%v): start one with `matriz broker` or pass --registry", e.URL, e.Err)
}

func (e *RegistryUnreachableError) Unwrap() error { return e.Err }

// NewRegistryClient returns a franz-go schema registry client for url after
// checking the URL's form. The same client works against the embedded
// registry, Confluent Schema Registry, Karapace and Redpanda.
func NewRegistryClient(rawURL string) (*sr.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry URL %q is not http(s)://host:port", rawURL)
	}
	opts := []sr.ClientOpt{sr.URLs(rawURL), sr.HTTPClient(HTTPClient(10 * time.Second))}
	if a := currentRegistryAuth(); a.User != "" {
		opts = append(opts, sr.BasicAuth(a.User, a.Password))
	}
	return sr.NewClient(opts...)
}

// NotFound reports whether err is the registry saying the subject or
// schema does not exist.
func NotFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && (re.ErrorCode == 40401 || re.ErrorCode == 40403)
}

// Unreachable reports whether err means the registry did not answer (a
// network error), as opposed to an answer that refused the request.
func Unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return true
	}
	return errors.As(err, &ue)
}
