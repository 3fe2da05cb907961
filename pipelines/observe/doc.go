// Package observe is what an operator sees of a running lane: the
// Prometheus metrics (names listed on Metrics), the per-stage wrapper that
// times, counts and traces every stage, the OpenTelemetry tracer and frame
// spans (trace.go, trace_frame.go), the status line and the HTTP server for
// /metrics, /healthz and /readyz. Stages expose plain values; this package exports
// them.
package observe
