package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPServer serves /metrics (Prometheus exposition of the given gatherer),
// /healthz (200 while health returns nil, 503 with the reason after) and
// /readyz (200 "ready" while ready returns nil, 503 "not ready: " and the
// reasons otherwise: a lane that has not read matriz.control or joined its
// group yet, a partition whose restore keeps failing, decode waiting for
// the schema registry or the lane's periodic probe of it failing, a lane
// stopped by a fatal error); with WithPage, the live page at / and its
// figures at /api/lanes.
type HTTPServer struct {
	Addr     string
	server   *http.Server
	done     chan error
	stopPage context.CancelFunc
	pageDone chan struct{}
}

// HTTPOption adds to what StartHTTP serves.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	page *Page
}

// WithPage serves p at / and /api/lanes, sampling it once a period while
// the server runs.
func WithPage(p *Page) HTTPOption {
	return func(o *httpOptions) { o.page = p }
}

// StartHTTP listens on addr and serves until Close. A nil ready is always
// ready.
func StartHTTP(addr string, g prometheus.Gatherer, health, ready func() error, opts ...HTTPOption) (*HTTPServer, error) {
	var o httpOptions
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics server cannot listen on %s: %w (pick another --http-addr)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := health(); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	s := &HTTPServer{Addr: ln.Addr().String(), server: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, done: make(chan error, 1)}
	if o.page != nil {
		o.page.Routes(mux)
		var ctx context.Context
		ctx, s.stopPage = context.WithCancel(context.Background())
		s.pageDone = make(chan struct{})
		go func() {
			defer close(s.pageDone)
			o.page.Run(ctx)
		}()
	}
	go func() { s.done <- s.server.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *HTTPServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if s.stopPage != nil {
		s.stopPage()
		<-s.pageDone
	}
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
