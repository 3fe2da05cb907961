package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// harness drives a registry's handler in process.
type harness struct {
	t     *testing.T
	reg   *Registry
	store Store
	h     http.Handler
}

func newHarness(t *testing.T, store Store, opts ...Option) *harness {
	t.Helper()
	if store == nil {
		store = NewMemoryStore()
	}
	reg, err := New(store, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return &harness{t: t, reg: reg, store: store, h: reg.Handler()}
}

// do sends a request; body is marshalled unless it is a string.
func (h *harness) do(method, path string, body any) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = strings.NewReader(string(js))
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ContentType)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, req)
	return w
}

// ok sends a request that must succeed and decodes its JSON answer.
func (h *harness) ok(method, path string, body, into any) {
	h.t.Helper()
	w := h.do(method, path, body)
	if w.Code != http.StatusOK {
		h.t.Fatalf("%s %s: status %d, body %s", method, path, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != ContentType {
		h.t.Fatalf("%s %s: content type %q, want %q", method, path, ct, ContentType)
	}
	if into != nil {
		if err := json.Unmarshal(w.Body.Bytes(), into); err != nil {
			h.t.Fatalf("%s %s: decoding %s: %v", method, path, w.Body, err)
		}
	}
}

// fail sends a request that must fail with code and returns the message.
func (h *harness) fail(method, path string, body any, code int) string {
	h.t.Helper()
	w := h.do(method, path, body)
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		h.t.Fatalf("%s %s: error body %q is not JSON: %v", method, path, w.Body, err)
	}
	wantStatus := (&Error{Code: code}).HTTPStatus()
	if w.Code != wantStatus || e.ErrorCode != code {
		h.t.Fatalf("%s %s: status %d error_code %d (%s), want %d / %d", method, path, w.Code, e.ErrorCode, e.Message, wantStatus, code)
	}
	if ct := w.Header().Get("Content-Type"); ct != ContentType {
		h.t.Fatalf("%s %s: content type %q, want %q", method, path, ct, ContentType)
	}
	if e.Message == "" {
		h.t.Fatalf("%s %s: empty error message", method, path)
	}
	return e.Message
}

// register registers schema under subject and returns its id.
func (h *harness) register(subject, schema string) int {
	h.t.Helper()
	var out struct{ ID int }
	h.ok("POST", "/subjects/"+subject+"/versions", map[string]string{"schema": schema}, &out)
	if out.ID < 1 {
		h.t.Fatalf("register %s: id %d", subject, out.ID)
	}
	return out.ID
}

// flakyStore fails every Append while failing is set.
type flakyStore struct {
	Store
	mu      sync.Mutex
	failing bool
	appends int
}

var errInjected = errors.New("injected: broker unreachable")

func (f *flakyStore) Append(ctx context.Context, recs ...Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appends++
	if f.failing {
		return errInjected
	}
	return f.Store.Append(ctx, recs...)
}

func (f *flakyStore) setFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

func newRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}

func serve(h *harness, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, req)
	return w
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
