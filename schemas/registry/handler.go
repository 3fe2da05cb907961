package registry

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// ContentType is the media type of every response, as Confluent's.
const ContentType = "application/vnd.schemaregistry.v1+json"

// requestTypes are the request media types Confluent accepts; a request
// without one is read as JSON too.
var requestTypes = map[string]bool{
	"application/vnd.schemaregistry.v1+json": true,
	"application/vnd.schemaregistry+json":    true,
	"application/json":                       true,
	"application/octet-stream":               true,
}

// endpoint answers one request with a value to send as JSON, or an error.
type endpoint func(r *http.Request) (any, *Error)

// Handler returns the REST API. It is safe for concurrent use.
func (reg *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		path    string
		methods map[string]endpoint
	}{
		{"/{$}", map[string]endpoint{"GET": reg.getRoot}},
		{"/schemas/types", map[string]endpoint{"GET": reg.getTypes}},
		{"/subjects", map[string]endpoint{"GET": reg.getSubjects}},
		{"/subjects/{subject}", map[string]endpoint{"POST": reg.postLookup, "DELETE": reg.deleteSubjectEP}},
		{"/subjects/{subject}/versions", map[string]endpoint{"GET": reg.getVersions, "POST": reg.postVersion}},
		{"/subjects/{subject}/versions/{version}", map[string]endpoint{"GET": reg.getVersion, "DELETE": reg.deleteVersionEP}},
		{"/subjects/{subject}/versions/{version}/schema", map[string]endpoint{"GET": reg.getVersionSchema}},
		{"/schemas/ids/{id}", map[string]endpoint{"GET": reg.getSchemaByID}},
		{"/schemas/ids/{id}/schema", map[string]endpoint{"GET": reg.getSchemaTextByID}},
		{"/schemas/ids/{id}/subjects", map[string]endpoint{"GET": reg.getIDSubjects}},
		{"/schemas/ids/{id}/versions", map[string]endpoint{"GET": reg.getIDVersions}},
		{"/compatibility/subjects/{subject}/versions", map[string]endpoint{"POST": reg.postCompatibility}},
		{"/compatibility/subjects/{subject}/versions/{version}", map[string]endpoint{"POST": reg.postCompatibility}},
		{"/config", map[string]endpoint{"GET": reg.getConfig, "PUT": reg.putConfig, "DELETE": reg.deleteConfig}},
		{"/config/{subject}", map[string]endpoint{"GET": reg.getConfig, "PUT": reg.putConfig, "DELETE": reg.deleteConfig}},
	}
	for _, rt := range routes {
		for m, ep := range rt.methods {
			mux.Handle(m+" "+rt.path, reg.serve(ep))
		}
		// The method-less pattern catches the other methods, so a wrong
		// method gets a JSON 405 rather than the mux's plain text.
		mux.Handle(rt.path, reg.serve(func(*http.Request) (any, *Error) {
			return nil, apiErr(ErrMethodNotAllowed, "method not allowed on this path")
		}))
	}
	mux.Handle("/", reg.serve(func(r *http.Request) (any, *Error) {
		return nil, apiErr(ErrNotFound, "no endpoint %s %s", r.Method, r.URL.Path)
	}))
	// The mux answers a path that is not in canonical form ("/a/../b",
	// "//subjects") with an HTML redirect; a registry client expects JSON,
	// and a redirect would let "/subjects/x/.." reach another endpoint than
	// the one the client named.
	notFound := reg.serve(func(r *http.Request) (any, *Error) {
		return nil, apiErr(ErrNotFound, "no endpoint %s %q: the path is not in canonical form (no empty, . or .. segments)", r.Method, r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; cleanPath(p) != p {
			notFound.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cleanPath is the path net/http's ServeMux would redirect p to: rooted,
// with no empty, . or .. segments, its trailing slash kept.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// serve adapts an endpoint to http: content negotiation on the way in, JSON
// and the Confluent error shape on the way out.
func (reg *Registry) serve(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && r.ContentLength != 0 {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !requestTypes[mt] {
				writeError(w, apiErr(ErrUnsupportedMediaType,
					"content type %q is not accepted: send %s or application/json", ct, ContentType))
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, reg.cfg.maxRequestBytes)
		v, aerr := ep(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.HTTPStatus(), errorBody{ErrorCode: e.Code, Message: e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	// A write error means the client went away; nothing is left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) *Error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apiErr(ErrBadRequest, "request body is larger than the %d bytes allowed", tooBig.Limit)
		}
		return apiErr(ErrBadRequest, "reading the request body: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return apiErr(ErrBadRequest, "request body is not the expected JSON object: %v", err)
	}
	return nil
}

// boolParam reads a true/false query parameter; absent is false.
func boolParam(r *http.Request, name string) (bool, *Error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, apiErr(ErrBadRequest, "query parameter %s=%q is neither true nor false", name, s)
	}
	return b, nil
}

// boolParams reads several query booleans at once.
func boolParams(r *http.Request, names ...string) ([]bool, *Error) {
	out := make([]bool, len(names))
	for i, n := range names {
		b, aerr := boolParam(r, n)
		if aerr != nil {
			return nil, aerr
		}
		out[i] = b
	}
	return out, nil
}
