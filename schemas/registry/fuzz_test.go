package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzRegistryHandler drives the REST API with a script of arbitrary
// requests, one per line: "METHOD PATH-AND-QUERY BODY", and "@takeover"
// (another instance on the same store takes writing over) or "@N" (send
// to instance N). After every request: no panic, a JSON answer with the
// registry's content type, a success or Confluent's error shape whose code
// matches the HTTP status; the index keeps its invariants. At the end every
// instance, caught up, has the index a fresh replay of the store gives. Run it longer
// with
//
//	go test ./schemas/registry/ -run '^$' -fuzz FuzzRegistryHandler -fuzztime 60s
func FuzzRegistryHandler(f *testing.F) {
	for _, s := range []string{
		"POST /subjects/s/versions {\"schema\":\"\\\"int\\\"\"}\nGET /subjects/s/versions/latest \nGET /schemas/ids/1 ",
		"POST /subjects/s/versions {\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"R\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"int\\\"}]}\"}\n" +
			"POST /subjects/s/versions {\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"R\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"string\\\"}]}\"}\n" +
			"POST /compatibility/subjects/s/versions/latest?verbose=true {\"schema\":\"\\\"long\\\"\"}",
		"PUT /config {\"compatibility\":\"NONE\"}\nPUT /config/s {\"compatibility\":\"FULL_TRANSITIVE\"}\nDELETE /config/s \nGET /config/s?defaultToGlobal=true ",
		"POST /subjects/a/versions {\"schema\":\"\\\"int\\\"\"}\nDELETE /subjects/a/versions/1 \nDELETE /subjects/a/versions/1?permanent=true \nPOST /subjects/a/versions {\"schema\":\"\\\"int\\\"\"}",
		"POST /subjects/a/versions {\"schema\":\"\\\"int\\\"\"}\nDELETE /subjects/a \nDELETE /subjects/a?permanent=true \nGET /subjects?deleted=true ",
		"POST /subjects/a/versions {\"schema\":\"\\\"int\\\"\",\"id\":7,\"version\":3}\nPOST /subjects/a {\"schema\":\"\\\"int\\\"\"}\nGET /schemas/ids/1/versions ",
		"GET /subjects/%2F..%2F/versions/-1 \nGET /schemas/ids/99999999999999999999 \nPATCH /subjects x\nGET / ",
		"POST /subjects/s/versions {\"schema\":\"{\\\"type\\\":\\\"enum\\\",\\\"name\\\":\\\"E\\\",\\\"symbols\\\":[\\\"A\\\"]}\",\"schemaType\":\"PROTOBUF\"}",
		"GET /subjects/a/../b \nGET //subjects \nPOST /subjects/s/versions [1,2]",
	} {
		f.Add(s)
	}
	f.Add("POST /subjects/s/versions {\"schema\":\"\\\"int\\\"\"}\n@takeover\nPOST /subjects/s/versions {\"schema\":\"\\\"long\\\"\"}\n@0\nPOST /subjects/t/versions {\"schema\":\"\\\"bytes\\\"\"}\n@1\nGET /schemas/ids/2 ")
	f.Fuzz(func(t *testing.T, script string) {
		store := NewMemoryStore()
		opts := []Option{WithFollowInterval(0), WithLimits(Limits{VersionsPerSubject: 4, Schemas: 12, SchemaBytes: 2048}), WithMaxRequestBytes(4096)}
		start := func() *Registry {
			reg, err := New(sharedStore{store}, append(opts, WithInstance(fmt.Sprintf("fuzz%d", store.len())))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = reg.Close() })
			return reg
		}
		// "@takeover" starts another instance on the store, which takes
		// writing over; "@N" sends the next requests to instance N.
		insts := []*Registry{start()}
		reg := insts[0]
		sc := bufio.NewScanner(strings.NewReader(script))
		sc.Buffer(nil, 1<<16)
		for n := 0; sc.Scan() && n < 32; n++ {
			line := sc.Text()
			switch {
			case line == "@takeover" && len(insts) < 4:
				reg = start()
				insts = append(insts, reg)
				continue
			case strings.HasPrefix(line, "@") && len(line) == 2 && line[1] >= '0' && line[1] <= '9':
				reg = insts[int(line[1]-'0')%len(insts)]
				continue
			}
			method, target, body := splitRequestLine(line)
			req, ok := fuzzRequest(method, target, body)
			if !ok {
				continue
			}
			w := httptest.NewRecorder()
			reg.Handler().ServeHTTP(w, req)
			checkResponse(t, method, target, w)
			if err := reg.st.check(); err != nil {
				t.Fatalf("after %s %s: index invariant broken: %v", method, target, err)
			}
		}
		again, err := New(sharedStore{store}, WithReadOnly(), WithFollowInterval(0))
		if err != nil {
			t.Fatalf("replaying the store: %v", err)
		}
		defer again.Close()
		want := again.st.dump()
		for i, reg := range insts {
			if err := reg.Sync(context.Background()); err != nil {
				t.Fatalf("instance %d: Sync: %v", i, err)
			}
			if got := reg.st.dump(); got != want {
				t.Fatalf("instance %d differs from a replay of the store:\nlive   %s\nreplay %s", i, got, want)
			}
		}
	})
}

func splitRequestLine(line string) (method, target, body string) {
	method, rest, _ := strings.Cut(line, " ")
	target, body, _ = strings.Cut(rest, " ")
	return method, target, body
}

// fuzzRequest builds a request the way net/http's server would hand it
// over, or reports that no server would (a method or target it refuses
// to parse).
func fuzzRequest(method, target, body string) (*http.Request, bool) {
	if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return nil, false
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://registry"+u.RequestURI(), strings.NewReader(body))
	if err != nil {
		return nil, false
	}
	req.URL = u
	req.RequestURI = target
	if body != "" {
		req.Header.Set("Content-Type", ContentType)
	}
	return req, true
}

// checkResponse fails t unless w is JSON with the registry's content type
// and, for an error, Confluent's error shape with a code matching the
// status.
func checkResponse(t *testing.T, method, target string, w *httptest.ResponseRecorder) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != ContentType {
		t.Fatalf("%s %s: status %d, content type %q, body %q", method, target, w.Code, ct, w.Body)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s %s: status %d, body is not JSON: %q", method, target, w.Code, w.Body)
	}
	if w.Code == http.StatusOK {
		return
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Message == "" || (&Error{Code: e.ErrorCode}).HTTPStatus() != w.Code {
		t.Fatalf("%s %s: status %d, error body %q (%v)", method, target, w.Code, w.Body, err)
	}
	if w.Code >= 500 && e.ErrorCode != CodeNotWriter {
		t.Fatalf("%s %s: server error %d on a memory store: %s", method, target, w.Code, e.Message)
	}
}

// check verifies the index's invariants: every version's schema exists
// and counts it, the counters agree, byKey names live schemas, no id is
// above maxID.
func (s *state) check() error {
	refs := map[int]int{}
	n := 0
	for name, sub := range s.subjects {
		if len(sub.versions) == 0 && sub.level == "" {
			return fmt.Errorf("subject %q is empty but kept", name)
		}
		for ver, v := range sub.versions {
			if v.version != ver || ver < 1 {
				return fmt.Errorf("subject %q version %d keyed %d", name, v.version, ver)
			}
			if _, ok := s.schemas[v.id]; !ok {
				return fmt.Errorf("subject %q version %d uses id %d, which has no schema", name, ver, v.id)
			}
			refs[v.id]++
			n++
		}
	}
	if n != s.nVersions {
		return fmt.Errorf("%d versions, counter says %d", n, s.nVersions)
	}
	for id, e := range s.schemas {
		if e.refs != refs[id] || e.refs < 1 {
			return fmt.Errorf("id %d counts %d uses, has %d", id, e.refs, refs[id])
		}
		if id > s.maxID {
			return fmt.Errorf("id %d above max id %d", id, s.maxID)
		}
		if s.byKey[e.key] == 0 {
			return fmt.Errorf("id %d's schema is not indexed by key", id)
		}
	}
	for key, id := range s.byKey {
		if e, ok := s.schemas[id]; !ok || e.key != key {
			return fmt.Errorf("key index points at id %d, which does not hold it", id)
		}
	}
	return nil
}

// dump renders the index for comparison.
func (s *state) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "max %d global %q versions %d\n", s.maxID, s.global, s.nVersions)
	for _, name := range s.subjectNames(true) {
		fmt.Fprintf(&b, "%q level %q:", name, s.subjects[name].level)
		for _, v := range s.versionsOf(name, true) {
			fmt.Fprintf(&b, " %d=%d/%v/%s", v.version, v.id, v.deleted, s.schemas[v.id].text)
		}
		b.WriteByte('\n')
	}
	var levelOnly []string
	for name, sub := range s.subjects {
		if len(sub.versions) == 0 {
			levelOnly = append(levelOnly, fmt.Sprintf("%q level %q only\n", name, sub.level))
		}
	}
	slices.Sort(levelOnly)
	return b.String() + strings.Join(levelOnly, "")
}

// len is the number of records stored, for naming fuzz instances.
func (m *MemoryStore) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}
