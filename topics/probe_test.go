package topics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbeKafkaTellsAnotherServiceFromKafka: an HTTP port given as a
// broker is named as not answering the Kafka protocol; the embedded broker
// answers; a closed port is left to the reachability errors.
func TestProbeKafkaTellsAnotherServiceFromKafka(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	httpAddr := strings.TrimPrefix(srv.URL, "http://")
	err := ProbeKafka(context.Background(), []string{httpAddr}, 500*time.Millisecond)
	var nk *NotKafkaError
	if !errors.As(err, &nk) || !strings.Contains(err.Error(), httpAddr+" accepted a connection but did not answer the Kafka protocol") {
		t.Fatalf("HTTP port: %v", err)
	}
	b, err := StartBroker()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := ProbeKafka(context.Background(), append([]string{httpAddr}, b.Addrs()...), 500*time.Millisecond); err != nil {
		t.Fatalf("a Kafka broker among the addresses: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if err := ProbeKafka(context.Background(), []string{closed}, time.Second); err != nil {
		t.Fatalf("closed port: %v, want nil (reported by the reachability check)", err)
	}
}
