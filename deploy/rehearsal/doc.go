// Package rehearsal rehearses the three lanes in containers: it builds the
// matriz image from scratch (deploy/Dockerfile), starts the broker with its
// data on a volume, deploys, runs one `matriz run` container per lane and
// drives the dev scenario from producer containers; it approves prod's P0
// action from a container of its own, then kills a lane, restarts the
// broker and cuts a lane off the network past its session timeout, and
// after each checks from the outside, reading the lanes' topics, that
// every acknowledged input has a result or a DLQ record, that no action
// executes twice and that the evicted worker wrote nothing after it lost
// its partitions.
//
// It runs on a Docker Engine through testcontainers-go, with no image to
// pull: the reaper is off (TESTCONTAINERS_RYUK_DISABLED) and no helper
// container is started. The broker gets a fixed address on a network of
// its own subnet, which the lanes and the rehearsal itself (on the Docker
// host) both reach, since the embedded broker advertises the address it
// listens on.
//
// It is a test dependency only: `make rehearse` runs TestRehearsal, and
// the matriz binary does not link it.
package rehearsal
