package observe

// This file serves the live page: the embedded HTML at / and the latest
// snapshot as JSON at /api/lanes. The page has no outside assets (no CDN,
// no build step): one HTML file with its CSS and JS inline.

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

//go:embed page/index.html
var pageHTML []byte

// Handler serves GET / (the page) and GET /api/lanes (the snapshot) on a
// mux of its own; mount it with Routes to share one.
func (p *Page) Handler() http.Handler {
	mux := http.NewServeMux()
	p.Routes(mux)
	return mux
}

// Routes adds the page's routes to mux.
func (p *Page) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(pageHTML)
	})
	mux.HandleFunc("GET /api/lanes", func(w http.ResponseWriter, r *http.Request) {
		snap := p.Snapshot()
		if snap.At.IsZero() {
			// Asked before the first period ended: sample now.
			p.Sample(p.cfg.Clock.Now())
			snap = p.Snapshot()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(snap)
	})
}
