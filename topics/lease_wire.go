package topics

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Why the lease speaks the Heartbeat request itself: kafka-go v0.4.51's
// Client.Heartbeat declares the v1+ response fields in the wrong order
// (the error code before the throttle time), so it reads every refusal —
// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID — as success with a throttle of
// the error code in milliseconds. Version 0 has the error code alone.

// sendHeartbeat sends one Heartbeat v0 for the lease's member to the
// group's coordinator and returns the coordinator's answer as an error
// (nil for none).
func (l *lease) sendHeartbeat(ctx context.Context) error {
	addr, err := l.coordinatorAddr(ctx)
	if err != nil {
		return err
	}
	conn, err := dialSecure(ctx, addr, l.client.Timeout)
	if err != nil {
		l.coordinator = "" // find it again next time
		return fmt.Errorf("heartbeat: %w", err)
	}
	defer conn.Close()
	deadline := time.Now().Add(l.client.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 0
	req.Group, req.Generation, req.MemberID = l.group, l.gen, l.member
	const correlation = 1
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("matriz-lease")).AppendRequest(nil, req, correlation)); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("heartbeat: response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != correlation {
		return fmt.Errorf("heartbeat: response to request %d, want %d", got, correlation)
	}
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body[4:]); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if resp.ErrorCode != 0 {
		if code := kafka.Error(resp.ErrorCode); code == kafka.NotCoordinatorForGroup || code == kafka.GroupCoordinatorNotAvailable {
			l.coordinator = ""
		}
		return kafka.Error(resp.ErrorCode)
	}
	return nil
}

// coordinatorAddr returns the group coordinator's address, found once.
func (l *lease) coordinatorAddr(ctx context.Context) (string, error) {
	if l.coordinator != "" {
		return l.coordinator, nil
	}
	resp, err := l.client.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: l.group, KeyType: kafka.CoordinatorKeyTypeConsumer})
	// The lookup is rare (once per generation, again only when the
	// coordinator moves): let its connection pool go now. A pool left
	// open keeps a goroutine and a connection asking for metadata for as
	// long as the process runs, one per generation the process has seen.
	if tr, ok := l.client.Transport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	if err == nil {
		err = resp.Error
	}
	if err == nil && resp.Coordinator == nil {
		err = fmt.Errorf("no coordinator in the answer")
	}
	if err != nil {
		return "", fmt.Errorf("find the coordinator of group %s: %w", l.group, err)
	}
	l.coordinator = net.JoinHostPort(resp.Coordinator.Host, strconv.Itoa(resp.Coordinator.Port))
	return l.coordinator, nil
}
