package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Webhook performs external actions by POSTing each one as JSON to a URL:
// the hand-off to whatever system carries them out. A 2xx answer is done;
// anything else, or no answer within the timeout, fails the action (the
// guardian records it as failed, and the at-most-once guard never calls
// again for it). The body carries the action id, and the Idempotency-Key
// header too, so the receiver recognises a call it has seen: the receiver
// must perform a key once (see IdempotentByActionID).
type Webhook struct {
	URL    string
	Client *http.Client
}

// IdempotentByActionID is true: every call carries the action id as its
// Idempotency-Key, so a receiver performs a repeated call once, and the
// lane calls again for an action whose first call left no outcome (the
// process died during it) instead of leaving it uncertain.
func (w *Webhook) IdempotentByActionID() bool { return true }

// NewWebhook checks rawURL and returns a Webhook with a bounded client.
func NewWebhook(rawURL string, timeout time.Duration) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("actions webhook %q: want an http:// or https:// URL", rawURL)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Webhook{URL: u.String(), Client: &http.Client{Timeout: timeout}}, nil
}

// WebhookCall is the JSON body of one call.
type WebhookCall struct {
	ActionID string          `json:"action_id"`
	Kind     string          `json:"kind"`
	Priority string          `json:"priority"`
	Lane     string          `json:"lane"`
	MsgID    string          `json:"msg_id"`
	GlyphID  string          `json:"glyph_id"`
	TS       time.Time       `json:"ts"`
	Approved bool            `json:"approved"`
	Params   schemas.Payload `json:"params"`
}

// Execute posts a.
func (w *Webhook) Execute(ctx context.Context, lane schemas.Lane, a stages.Action) error {
	body, err := json.Marshal(WebhookCall{ActionID: a.ID, Kind: a.Kind, Priority: string(a.Priority), Lane: string(lane),
		MsgID: a.MsgID, GlyphID: a.GlyphID, TS: a.TS, Approved: a.Approved, Params: a.Params})
	if err != nil {
		return fmt.Errorf("action %s: %w", a.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", a.ID)
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("action %s: webhook: %w", a.ID, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("action %s: webhook answered %s", a.ID, resp.Status)
	}
	return nil
}
