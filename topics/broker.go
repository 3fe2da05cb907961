package topics

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/matriz/pipelines/clock"
)

// Broker is the embedded Kafka for `matriz dev`, `matriz broker` and
// tests: franz-go's kfake, a real Kafka wire-protocol broker in process,
// run as a single node so its listen address is the one address clients
// need.
//
// Durability with a data dir (BrokerDataDir): kfake writes record batches,
// topic metadata and group offset commits to the dir as they happen, into
// the OS page cache, and Close drains pending offset commits, saves the
// rest of its state and syncs. So:
//   - Close (what SIGINT/SIGTERM trigger in `matriz broker`) keeps
//     everything: topics, records and committed offsets survive a restart.
//   - A killed process (SIGKILL, panic) loses nothing the kernel already
//     has; the written log entries are CRC-framed and a torn tail is
//     dropped on load.
//   - Power loss or a kernel crash can lose recent batches and commits
//     unless BrokerSyncWrites is set, which fsyncs every write (slower;
//     real Kafka's default, log.flush.interval.messages=MAX, makes the same
//     trade).
//
// Retention: with BrokerCleanEvery the broker compacts compacted topics and
// deletes what the topics' retention.ms/retention.bytes expire on that
// period (see retention.go), and BrokerRetentionCap bounds every
// delete-policy topic to a window. A topic without retention.ms keeps its
// records (the broker-wide log.retention.ms is -1: kfake would otherwise
// expire compacted topics after Kafka's default week, which Kafka never
// does).
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
	unlock  func() error
	cleaner *cleaner
	once    sync.Once
	err     error
}

type brokerConfig struct {
	listen       string
	partitions   int
	dataDir      string
	syncWrites   bool
	cleanEvery   time.Duration
	retentionCap time.Duration
	segmentBytes int
	clock        clock.Clock
	users        []BrokerUser
	tls          *tls.Config
}

// BrokerOption configures StartBroker.
type BrokerOption func(*brokerConfig)

// BrokerListen sets the host:port to listen on and advertise, overriding
// 127.0.0.1:0 (a free port). The host must be one clients can dial: kfake
// advertises the address it is bound to, so a wildcard (0.0.0.0, ::) is
// refused.
func BrokerListen(hostport string) BrokerOption {
	return func(c *brokerConfig) { c.listen = hostport }
}

// BrokerPartitions sets the partition count of topics created without one
// (CreateTopics with -1, auto-created topics), overriding 6.
func BrokerPartitions(n int) BrokerOption {
	return func(c *brokerConfig) { c.partitions = n }
}

// BrokerDataDir persists topics, records and committed offsets in dir, so a
// broker restarted on the same dir comes back with them. Without it the
// broker keeps everything in memory. One broker at a time may use a dir.
func BrokerDataDir(dir string) BrokerOption {
	return func(c *brokerConfig) { c.dataDir = dir }
}

// BrokerSyncWrites fsyncs every batch and commit written to the data dir,
// trading produce throughput for durability across power loss.
func BrokerSyncWrites() BrokerOption {
	return func(c *brokerConfig) { c.syncWrites = true }
}

// BrokerCleanEvery runs compaction and the topics' retention
// (retention.ms, retention.bytes) every d; without it kfake runs them once
// an hour.
func BrokerCleanEvery(d time.Duration) BrokerOption {
	return func(c *brokerConfig) { c.cleanEvery = d }
}

// BrokerRetentionCap deletes, on every cleaning pass, the records of every
// topic whose cleanup.policy is delete once they have been on the broker
// for d, whatever the topic's retention.ms says: a bounded window for a
// dev stack. It needs BrokerCleanEvery.
func BrokerRetentionCap(d time.Duration) BrokerOption {
	return func(c *brokerConfig) { c.retentionCap = d }
}

// BrokerSegmentBytes sets the size at which a partition's log rolls to a
// new segment file (kfake's default is 100 MiB). Disk is freed a whole
// segment at a time, so a short retention wants small segments.
func BrokerSegmentBytes(n int) BrokerOption {
	return func(c *brokerConfig) { c.segmentBytes = n }
}

// brokerClock sets the clock of the cleaning passes (tests).
// BrokerUsers turns on SASL and ACLs: only these users may connect, a
// superuser bypasses ACLs (operations: deploy, the registry's storage),
// and every other user may do only what ACLs grant it (`matriz deploy
// --acls` writes the lanes' bindings). At least one must be a superuser.
func BrokerUsers(users []BrokerUser) BrokerOption {
	return func(c *brokerConfig) { c.users = append([]BrokerUser(nil), users...) }
}

// BrokerTLS serves TLS with the given server config.
func BrokerTLS(cfg *tls.Config) BrokerOption { return func(c *brokerConfig) { c.tls = cfg } }

func brokerClock(cl clock.Clock) BrokerOption {
	return func(c *brokerConfig) { c.clock = cl }
}

func (c brokerConfig) validate() error {
	bad := func(opt, format string, args ...any) error {
		return &ConfigError{Component: "broker", Option: opt, Reason: fmt.Sprintf(format, args...)}
	}
	host, port, err := net.SplitHostPort(c.listen)
	if err != nil {
		return bad("listen", "%q is not host:port", c.listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return bad("listen", "%q: port %q, want 0..65535 (0 picks a free one)", c.listen, port)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return bad("listen", "%q: the broker advertises its listen address, so give one clients can dial (e.g. 127.0.0.1:9092), not a wildcard", c.listen)
	}
	if c.partitions < 1 {
		return bad("partitions", "%d, want at least 1", c.partitions)
	}
	if c.cleanEvery < 0 {
		return bad("clean every", "%v, want a positive period (0: kfake's hourly cleaner)", c.cleanEvery)
	}
	if c.retentionCap < 0 || c.retentionCap > 0 && c.cleanEvery == 0 {
		return bad("retention cap", "%v needs a positive cleaning period", c.retentionCap)
	}
	if c.segmentBytes < 0 {
		return bad("segment bytes", "%d, want a positive size (0: kfake's default)", c.segmentBytes)
	}
	if len(c.users) > 0 {
		if err := checkBrokerUsers(c.users); err != nil {
			return bad("users", "%v", err)
		}
	}
	return nil
}

// StartBroker starts the embedded broker and returns once it accepts
// connections. A busy address gives a *ListenError; a data dir held by
// another broker gives ErrDataDirInUse.
func StartBroker(opts ...BrokerOption) (*Broker, error) {
	cfg := brokerConfig{listen: "127.0.0.1:0", partitions: 6, clock: clock.Real{}}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	unlock := func() error { return nil }
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(cfg.partitions),
	}
	bcfgs := map[string]string{"log.retention.ms": RetentionForever}
	if cfg.segmentBytes > 0 {
		bcfgs["log.segment.bytes"] = strconv.Itoa(cfg.segmentBytes)
	}
	kopts = append(kopts, kfake.BrokerConfigs(bcfgs))
	if len(cfg.users) > 0 {
		kopts = append(kopts, kfake.EnableSASL(), kfake.EnableACLs())
		for _, u := range cfg.users {
			if u.Super {
				kopts = append(kopts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
			} else {
				kopts = append(kopts, kfake.User(u.Mechanism, u.Name, u.Password))
			}
		}
	}
	if cfg.tls != nil {
		kopts = append(kopts, kfake.TLS(cfg.tls))
	}
	if cfg.dataDir != "" {
		if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker data dir: %w", err)
		}
		u, err := lockDir(cfg.dataDir)
		if err != nil {
			return nil, err
		}
		unlock = u
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}

	// kfake binds 127.0.0.1:<port>; ListenFn lets us bind the host asked
	// for. The bind error is kept so a busy port is reported as such.
	var bindErr error
	kopts = append(kopts, kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, cfg.listen)
		bindErr = err
		return ln, err
	}))

	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		_ = unlock()
		if bindErr != nil {
			return nil, &ListenError{Addr: cfg.listen, Err: bindErr}
		}
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	b := &Broker{cluster: c, addrs: c.ListenAddrs(), unlock: unlock}
	if cfg.cleanEvery > 0 {
		b.cleaner = newCleaner(b, cfg.cleanEvery, cfg.retentionCap, cfg.clock)
		b.cleaner.start()
	}
	return b, nil
}

// Addrs returns the host:port clients bootstrap from (one address).
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Close stops the broker; with a data dir it first saves its state (see
// Broker for what survives). Safe to call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		if b.cleaner != nil {
			b.cleaner.stopAndWait()
		}
		b.cluster.Close()
		b.err = b.unlock()
	})
	return b.err
}
