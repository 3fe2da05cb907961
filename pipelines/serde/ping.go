package serde

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Ping asks the schema registry at rawURL for its global compatibility
// level (GET /config): the cheapest request every Confluent-compatible
// registry answers, and one that needs its storage read. It returns nil on
// a 200; the network error when the registry does not answer (the URL
// itself left out, the caller names it); an error with the status and the
// first line of the body for any other answer.
func Ping(ctx context.Context, client *http.Client, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(rawURL, "/")+"/config", nil)
	if err != nil {
		return err
	}
	authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return fmt.Errorf("GET /config answered %s: %s", resp.Status, line)
}

// Redacted is rawURL without a password, for logs and readiness reasons.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Redacted()
}
