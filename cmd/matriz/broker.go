package main

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
)

func runBroker(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "broker", "[--listen HOST:PORT] [--registry-listen HOST:PORT] [--data-dir DIR] [--users FILE] [--tls-cert FILE --tls-key FILE]",
		"Runs the embedded Kafka broker and the Confluent-compatible schema registry in one\n"+
			"process until SIGINT or SIGTERM. Point `matriz deploy`, `matriz run` or any Kafka\n"+
			"client at the printed addresses. With --data-dir, topics, records, committed offsets\n"+
			"and schemas survive a restart. Every --clean-every the broker compacts compacted topics\n"+
			"and deletes the records the topics' retention.ms and retention.bytes expire.")
	listen := fs.String("listen", "127.0.0.1:9092", "Kafka listen `address`")
	regListen := fs.String("registry-listen", "127.0.0.1:8081", "schema registry listen `address`")
	dataDir := fs.String("data-dir", "", "`directory` for persistent data (empty: in memory)")
	partitions := fs.Int("partitions", 6, "default `partitions` of auto-created topics")
	cleanEvery := fs.Duration("clean-every", time.Minute, "`period` of compaction and retention")
	usersFile := fs.String("users", "", "users `file` (lines: MECHANISM NAME PASSWORD [super]): turns on SASL and ACLs on the broker and basic auth on the registry's changes")
	tlsCert := fs.String("tls-cert", "", "PEM certificate `file` to serve TLS with (broker and registry), with --tls-key")
	tlsKey := fs.String("tls-key", "", "PEM private key `file` of --tls-cert")
	tlsCA := fs.String("tls-ca", "", "PEM `file` of the CA that signed --tls-cert, for the broker's own clients (default: the certificate itself, when self-signed)")
	if _, err := fs.args(args); err != nil {
		return err
	}
	sec, err := devstack.LoadSecurity(*usersFile, *tlsCert, *tlsKey, *tlsCA)
	if err != nil {
		return usagef("%v", err)
	}
	if *cleanEvery < time.Second {
		return usagef("--clean-every %v: want at least 1s", *cleanEvery)
	}
	stack, err := devstack.Start(ctx, devstack.Config{
		BrokerListen: *listen, RegistryListen: *regListen, DataDir: *dataDir, Partitions: *partitions,
		CleanEvery: *cleanEvery, Users: sec.Users, TLS: sec.TLS, ClientTLS: sec.ClientTLS,
	})
	if err != nil {
		return err
	}
	data := *dataDir
	if data == "" {
		data = "in memory"
	}
	fmt.Fprintf(e.stdout, "matriz broker ready: kafka %s, schema registry %s, data %s%s\n",
		stack.BrokerAddrs()[0], stack.RegistryURL, data, sec.Describe())
	<-ctx.Done()
	if err := stack.Close(); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	fmt.Fprintln(e.stdout, "matriz broker stopped")
	return nil
}
