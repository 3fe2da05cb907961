// Package replay runs a lane's chain over a range of its log into an isolated namespace, compares outputs, and queries the event log.
package replay
