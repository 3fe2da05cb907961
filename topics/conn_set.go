package topics

import (
	"context"
	"net"
	"sync"
	"time"
)

// connSet dials and remembers the connections a component's kafka-go
// readers use, so stopping the component can cut them: kafka-go's
// Reader.Close waits for a request in flight, and a request to a broker
// that stopped answering waits for its own deadline (10 s for an offsets
// lookup) or, where kafka-go sets none, forever. Closing the connection
// ends the wait at once.
type connSet struct {
	timeout time.Duration

	mu     sync.Mutex
	closed bool
	conns  map[*setConn]struct{}
}

func newConnSet(dialTimeout time.Duration) *connSet {
	return &connSet{timeout: dialTimeout, conns: map[*setConn]struct{}{}}
}

// dial is a kafka.Dialer's DialFunc; after closeAll it refuses.
func (s *connSet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.isClosed() {
		return nil, net.ErrClosed
	}
	c, err := (&net.Dialer{Timeout: s.timeout}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	sc := &setConn{Conn: c, set: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	s.conns[sc] = struct{}{}
	return sc, nil
}

func (s *connSet) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeAll closes every open connection and refuses new ones.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*setConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// setConn leaves its set when closed.
type setConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *setConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}
