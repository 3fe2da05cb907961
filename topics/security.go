package topics

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security is how this process authenticates to Kafka and encrypts its
// connections: a SASL mechanism with a user and password, and TLS.
//
// It is set once per process (UseSecurity), before the first client is
// made, and every dialer and transport this package and its callers make
// picks it up (SecureDialer, SecureTransport): a process talks to one
// cluster, and threading credentials through every constructor that takes
// a broker list would put secrets in a hundred signatures.
type Security struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or "" for none.
	Mechanism string
	User      string
	Password  string // never printed: String redacts it
	// TLS, when set, encrypts every connection (TLSConfig builds one).
	TLS *tls.Config
}

// SASL mechanism names, as Kafka spells them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLMechanisms lists the mechanisms Security takes.
var SASLMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// ErrSecurity is wrapped by every security setting that cannot work.
var ErrSecurity = errors.New("bad security setting")

// SecurityError is one security setting that cannot work: which, and why.
// It never carries a password.
type SecurityError struct{ Setting, Reason string }

func (e *SecurityError) Error() string { return e.Setting + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrSecurity) hold.
func (e *SecurityError) Unwrap() error { return ErrSecurity }

// String describes s without its password.
func (s Security) String() string {
	var parts []string
	if s.Mechanism != "" {
		parts = append(parts, "SASL "+s.Mechanism+" as "+s.User)
	}
	if s.TLS != nil {
		parts = append(parts, "TLS")
	}
	if len(parts) == 0 {
		return "plaintext, no authentication"
	}
	return strings.Join(parts, ", ")
}

// mechanism returns the kafka-go SASL mechanism, nil for none.
func (s Security) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.User != "" {
			return nil, &SecurityError{"--sasl-mechanism", "a user is given without a mechanism; want one of " + strings.Join(SASLMechanisms, ", ")}
		}
		return nil, nil
	case SASLPlain:
		if s.User == "" {
			return nil, &SecurityError{"--sasl-user", "SASL " + s.Mechanism + " needs a user"}
		}
		return plain.Mechanism{Username: s.User, Password: s.Password}, nil
	case SASLScramSHA256, SASLScramSHA512:
		if s.User == "" {
			return nil, &SecurityError{"--sasl-user", "SASL " + s.Mechanism + " needs a user"}
		}
		algo := scram.SHA256
		if strings.EqualFold(s.Mechanism, SASLScramSHA512) {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.User, s.Password)
		if err != nil {
			return nil, &SecurityError{"--sasl-user", "SCRAM refused the user or password: " + err.Error()}
		}
		return m, nil
	}
	return nil, &SecurityError{"--sasl-mechanism", fmt.Sprintf("%q, want one of %s", s.Mechanism, strings.Join(SASLMechanisms, ", "))}
}

// TLSConfig builds a client TLS config: caFile (PEM) replaces the
// system's roots when given, certFile and keyFile (both or neither) are
// the client's certificate for mutual TLS.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &SecurityError{"--tls-ca", err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &SecurityError{"--tls-ca", caFile + " holds no PEM certificate"}
		}
		c.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, &SecurityError{"--tls-cert", "load the certificate and key: " + err.Error()}
		}
		c.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, &SecurityError{"--tls-cert", "give --tls-cert and --tls-key together"}
	}
	return c, nil
}

// activeSecurity is what UseSecurity set: the mechanism built once, and
// the TLS config.
type activeSecurity struct {
	sec  Security
	mech sasl.Mechanism
}

var active atomic.Pointer[activeSecurity]

// UseSecurity makes s what every client of this process uses from now on;
// a setting that cannot work is refused and changes nothing. Call it
// before the first client is made (the CLI does, from its flags).
func UseSecurity(s Security) error {
	m, err := s.mechanism()
	if err != nil {
		return err
	}
	active.Store(&activeSecurity{sec: s, mech: m})
	return nil
}

// CurrentSecurity returns what UseSecurity set (the zero Security before).
func CurrentSecurity() Security {
	if a := active.Load(); a != nil {
		return a.sec
	}
	return Security{}
}

// SecureDialer sets the process's SASL mechanism and TLS on d and returns
// it; every kafka-go dialer is made through it.
func SecureDialer(d *kafka.Dialer) *kafka.Dialer {
	if a := active.Load(); a != nil {
		d.SASLMechanism, d.TLS = a.mech, a.sec.TLS
	}
	return d
}

// SecureTransport sets the process's SASL mechanism and TLS on t and
// returns it; every kafka-go transport is made through it.
func SecureTransport(t *kafka.Transport) *kafka.Transport {
	if a := active.Load(); a != nil {
		t.SASL, t.TLS = a.mech, a.sec.TLS
	}
	return t
}

// NewDialer is kafka-go's default dialer (10 s timeout, dual stack) with
// the process's security: for readers that set no dialer of their own.
func NewDialer() *kafka.Dialer {
	return SecureDialer(&kafka.Dialer{Timeout: 10 * time.Second, DualStack: true})
}

// SecurityHint adds to err, when it looks like a broker that closed the
// connection on this client (an EOF during a request, a TLS record on a
// plaintext read), what the broker may want and what this process uses.
func SecurityHint(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(msg, "EOF") &&
		!strings.Contains(msg, "tls:") && !strings.Contains(msg, "SASL") {
		return err
	}
	return fmt.Errorf("%w (the broker closed the connection: it may want TLS (--tls, --tls-ca) or SASL (--sasl-mechanism, --sasl-user, MATRIZ_SASL_PASSWORD), or refused the credentials; this client uses %s)", err, CurrentSecurity())
}
