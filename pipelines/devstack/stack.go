package devstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/schemas/registry"
	"github.com/matriz/pipelines/topics"
)

// Config configures the embedded broker and schema registry.
type Config struct {
	BrokerListen   string // host:port; empty picks a free port on 127.0.0.1
	RegistryListen string // host:port; empty picks a free port on 127.0.0.1
	DataDir        string // empty keeps everything in memory
	Partitions     int    // default partitions of auto-created topics
	// CleanEvery runs the broker's compaction and the topics' retention on
	// this period (0: kfake's hourly cleaner); RetentionCap, with it, keeps
	// at most that window of every delete-policy topic; SegmentBytes sets
	// the segment size disk is freed by (0: 100 MiB). See topics.Broker.
	CleanEvery   time.Duration
	RetentionCap time.Duration
	SegmentBytes int
	Logger       *slog.Logger
	// Users turn on SASL and ACLs on the broker and basic auth on the
	// registry's mutating endpoints (see topics.BrokerUsers). The stack's
	// own clients (the registry's storage, the broker's cleaner) connect
	// as the first superuser: Start makes that the process's Kafka
	// security, and Close puts back what was there.
	Users []topics.BrokerUser
	// TLS, when set, is served by the broker and the registry; ClientTLS
	// is what the stack's own clients trust (the server's certificate
	// when it is self-signed, or its CA).
	TLS, ClientTLS *tls.Config
}

// Stack is the embedded Kafka broker (kfake) and the Confluent-compatible
// schema registry storing its schemas on that broker's _schemas topic: all
// `matriz dev` and the integration tests need, in process.
type Stack struct {
	Broker      *topics.Broker
	Registry    *registry.Registry
	RegistryURL string

	server *http.Server
	served chan error
	// prevSecurity is the process's Kafka security before Start changed
	// it, which Close restores.
	prevSecurity *topics.Security
}

// Start starts the broker, then the registry on it. Close stops both.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bopts := []topics.BrokerOption{}
	if cfg.BrokerListen != "" {
		bopts = append(bopts, topics.BrokerListen(cfg.BrokerListen))
	}
	if cfg.DataDir != "" {
		bopts = append(bopts, topics.BrokerDataDir(cfg.DataDir))
	}
	if cfg.Partitions > 0 {
		bopts = append(bopts, topics.BrokerPartitions(cfg.Partitions))
	}
	if cfg.CleanEvery > 0 {
		bopts = append(bopts, topics.BrokerCleanEvery(cfg.CleanEvery))
	}
	if cfg.RetentionCap > 0 {
		bopts = append(bopts, topics.BrokerRetentionCap(cfg.RetentionCap))
	}
	if cfg.SegmentBytes > 0 {
		bopts = append(bopts, topics.BrokerSegmentBytes(cfg.SegmentBytes))
	}
	prev, err := secureStack(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Users) > 0 {
		bopts = append(bopts, topics.BrokerUsers(cfg.Users))
	}
	if cfg.TLS != nil {
		bopts = append(bopts, topics.BrokerTLS(cfg.TLS))
	}
	broker, err := topics.StartBroker(bopts...)
	if err != nil {
		restoreSecurity(prev)
		return nil, err
	}
	listen := cfg.RegistryListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		restoreSecurity(prev)
		broker.Close()
		return nil, fmt.Errorf("schema registry cannot listen on %s: %w (pick another --registry-listen)", listen, err)
	}
	schemaLog, err := topics.NewCompactedLog(ctx, broker.Addrs(), topics.SchemasTopic, topics.CompactedLogReplication(1))
	if err != nil {
		ln.Close()
		broker.Close()
		return nil, fmt.Errorf("schema registry storage on the embedded broker: %w", err)
	}
	store, err := registry.NewLogStore(schemaLog)
	if err != nil {
		schemaLog.Close()
		ln.Close()
		broker.Close()
		return nil, fmt.Errorf("schema registry storage: %w", err)
	}
	reg, err := registry.New(store, registry.WithLogger(logger))
	if err != nil {
		store.Close()
		ln.Close()
		broker.Close()
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
		ln = tls.NewListener(ln, cfg.TLS)
	}
	s := &Stack{
		Broker:       broker,
		Registry:     reg,
		RegistryURL:  scheme + ln.Addr().String(),
		server:       registryServer(reg.Handler(), cfg.Users),
		served:       make(chan error, 1),
		prevSecurity: prev,
	}
	go func() { s.served <- s.server.Serve(ln) }()
	return s, nil
}

// BrokerAddrs returns the broker's bootstrap addresses.
func (s *Stack) BrokerAddrs() []string { return s.Broker.Addrs() }

// Close stops the registry, then the broker, so the registry's last writes
// land before the broker saves its data dir.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Shutdown waits for idle keep-alive connections to close; a client
	// that never closes them would hold it to the deadline, so past it the
	// server closes them itself.
	errs := []error{}
	if err := s.server.Shutdown(ctx); err != nil {
		errs = append(errs, s.server.Close())
	}
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	errs = append(errs, s.Registry.Close(), s.Broker.Close())
	restoreSecurity(s.prevSecurity)
	return errors.Join(errs...)
}

// Deployed is a running stack with lanes deployed on it, and the Serde of
// their subjects.
type Deployed struct {
	*Stack
	Report ops.DeployReport
	Serde  *serde.Serde
}

// StartDeployed starts the stack, deploys lanes on it (topics with the
// given partitions, 6 for a lane not listed; every schema) and resolves
// their schema ids. On error nothing is left running.
func StartDeployed(ctx context.Context, cfg Config, partitions map[schemas.Lane]int, lanes ...schemas.Lane) (*Deployed, error) {
	stack, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &Deployed{Stack: stack}
	d.Report, err = ops.Deploy(ctx, ops.DeployConfig{Brokers: stack.BrokerAddrs(), RegistryURL: stack.RegistryURL, Lanes: lanes, Partitions: partitions})
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if d.Serde, err = serde.Open(ctx, stack.RegistryURL, serde.Subjects(lanes)); err != nil {
		stack.Close()
		return nil, err
	}
	return d, nil
}
