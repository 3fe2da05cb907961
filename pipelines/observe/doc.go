// Package observe is what an operator sees of a running lane: the
// Prometheus metrics (names listed on Metrics), the per-stage wrapper that
// times and counts every stage, the status line and the HTTP server for
// /metrics, /healthz and /readyz. Stages expose plain values; this package exports
// them.
package observe
