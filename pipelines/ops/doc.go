// Package ops holds the operations a person runs against a cluster: deploy
// (topics and schemas, idempotently), listing and approving external
// actions, and the schema tool behind `matriz schema`.
package ops
