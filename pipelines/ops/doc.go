// Package ops holds the operations a person runs against a cluster: deploy
// (topics and schemas, idempotently), listing and approving external
// actions, setting and reading the flags and kill switches on
// matriz.control, and the schema tool behind `matriz schema`.
package ops
