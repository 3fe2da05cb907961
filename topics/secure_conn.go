package topics

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// dialSecure opens a connection to one broker for the requests this
// package speaks itself (the lease's heartbeat, the preflight's metadata):
// TCP, then TLS and SASL as the process's Security says, so those requests
// pass where kafka-go's clients pass.
func dialSecure(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	a := active.Load()
	if a == nil {
		return conn, nil
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if a.sec.TLS != nil {
		c := a.sec.TLS.Clone()
		if c.ServerName == "" {
			c.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(conn, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	if a.mech != nil {
		if err := saslAuthenticate(ctx, conn, a); err != nil {
			conn.Close()
			return nil, fmt.Errorf("SASL %s with %s: %w", a.mech.Name(), addr, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// saslAuthenticate runs the SaslHandshake v1 and SaslAuthenticate
// exchange with the process's mechanism.
func saslAuthenticate(ctx context.Context, conn net.Conn, a *activeSecurity) error {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = a.mech.Name()
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := roundTrip(conn, hs, hsResp, 1); err != nil {
		return err
	}
	if hsResp.ErrorCode != 0 {
		return fmt.Errorf("the broker refused the mechanism (error %d; it offers %v)", hsResp.ErrorCode, hsResp.SupportedMechanisms)
	}
	sess, msg, err := a.mech.Start(ctx)
	if err != nil {
		return err
	}
	for corr := int32(2); ; corr++ {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = msg
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = 1
		if err := roundTrip(conn, req, resp, corr); err != nil {
			return err
		}
		if resp.ErrorCode != 0 {
			why := ""
			if resp.ErrorMessage != nil {
				why = ": " + *resp.ErrorMessage
			}
			return fmt.Errorf("authentication failed (error %d%s)", resp.ErrorCode, why)
		}
		done, next, err := sess.Next(ctx, resp.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		msg = next
	}
}

// roundTrip writes req with the correlation id and reads its response
// into resp, whose Version must be set.
func roundTrip(conn net.Conn, req kmsg.Request, resp kmsg.Response, correlation int32) error {
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("matriz")).AppendRequest(nil, req, correlation)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != correlation {
		return fmt.Errorf("response to request %d, want %d", got, correlation)
	}
	return resp.ReadFrom(body[4:])
}
