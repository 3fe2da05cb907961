// Package devstack is everything `matriz dev` and the tests run in one
// process instead of a cluster: the embedded Kafka broker and schema
// registry, the synthetic producer, and the dev scenario that makes every
// stage of the chain act.
package devstack
