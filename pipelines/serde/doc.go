// Package serde reads and writes lane records in the Confluent wire format
// through a schema registry: the registry client, the subjects each lane
// topic's values are registered under, and the ids the binary's own
// schemas have there.
package serde
