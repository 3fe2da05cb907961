package schemas

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/twmb/avro"
)

// Errors of a schema id that the registry knows but the binary cannot use.
// Both are permanent for that id (registry ids are immutable), so
// SchemaLookup caches them and the runtime sends such messages to the DLQ.
var (
	// ErrSchemaText: the registry's text for the id does not parse as Avro.
	ErrSchemaText = errors.New("schemas: writer schema does not parse")
	// ErrIncompatible: data written with the id's schema cannot be read as
	// the Go type asked for (Avro schema resolution rules).
	ErrIncompatible = errors.New("schemas: writer schema cannot be read as the wanted type")
)

// SchemaIDError says which schema id a lookup or decode failed on.
type SchemaIDError struct {
	ID  uint32
	Err error
}

func (e *SchemaIDError) Error() string { return fmt.Sprintf("schemas: schema id %d: %v", e.ID, e.Err) }

// Unwrap returns the cause: ErrUnknownSchemaID, ErrSchemaText,
// ErrIncompatible, a context error or the fetcher's own error.
func (e *SchemaIDError) Unwrap() error { return e.Err }

// FetchFunc returns the schema text a registry holds for id. It must return
// an error wrapping ErrUnknownSchemaID when the registry says the id does
// not exist, which the lookup remembers for a TTL (negcache.go); any other
// error is taken as transient (a network failure) and is not cached, so
// the next lookup fetches again. The package knows no
// HTTP: schemas/registry supplies a FetchFunc over its client.
type FetchFunc func(ctx context.Context, id uint32) (string, error)

// StaticFetcher returns a FetchFunc over a fixed id → schema text table, for
// tests and for running without a registry. It copies texts.
func StaticFetcher(texts map[uint32]string) FetchFunc {
	texts = maps.Clone(texts)
	return func(ctx context.Context, id uint32) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		text, ok := texts[id]
		if !ok {
			return "", ErrUnknownSchemaID
		}
		return text, nil
	}
}

// SchemaLookup turns the schema id of a wire-format value into the writer
// schema and into the schema that reads that writer's data as one of the
// package's Go types. It caches both per id, including the permanent
// failures, so a consumer parses and resolves each writer schema once. It is
// safe for concurrent use. Goroutines that miss the cache for the same id at
// once share one fetch: the lanes of a pipeline meet a new writer id at the
// same moment, and a burst of identical registry requests would open
// connections the registry's graceful shutdown then waits on.
type SchemaLookup struct {
	fetch FetchFunc
	cfg   lookupConfig

	mu       sync.RWMutex
	writers  map[uint32]cached
	resolved map[resolvedKey]cached
	inflight map[uint32]*flight // fetches under way, by id
	unknown  negCache           // ids the registry said it does not know
}

// flight is one fetch that other callers for the same id wait on.
type flight struct {
	done chan struct{}
	c    cached
}

type cached struct {
	schema *avro.Schema
	err    error
}

type resolvedKey struct {
	id      uint32
	name    Name
	version Version // concrete: Latest is looked up first
}

// ErrNoFetcher is returned by NewSchemaLookup without a FetchFunc.
var ErrNoFetcher = errors.New("schemas: NewSchemaLookup needs a FetchFunc")

// NewSchemaLookup returns a lookup that fetches ids it has not seen with
// fetch. An id the registry does not know is remembered for a TTL (see
// WithUnknownIDTTL); a bad option gives an error wrapping ErrLookupConfig.
func NewSchemaLookup(fetch FetchFunc, opts ...LookupOption) (*SchemaLookup, error) {
	if fetch == nil {
		return nil, ErrNoFetcher
	}
	cfg := defaultLookupConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &SchemaLookup{
		fetch:    fetch,
		cfg:      cfg,
		writers:  make(map[uint32]cached),
		resolved: make(map[resolvedKey]cached),
		inflight: make(map[uint32]*flight),
	}, nil
}

// Writer returns the parsed writer schema for id. Errors are
// *SchemaIDError values wrapping ErrUnknownSchemaID, ErrSchemaText, the
// context's error or the fetcher's error.
func (l *SchemaLookup) Writer(ctx context.Context, id uint32) (*avro.Schema, error) {
	now := l.cfg.clock.Now()
	l.mu.RLock()
	c, ok := l.writers[id]
	negErr, negOK := l.unknown.get(id, now)
	l.mu.RUnlock()
	if ok {
		return c.schema, c.err
	}
	if negOK { // a flood of one bad id takes no write lock
		return nil, negErr
	}
	l.mu.Lock()
	if c, ok := l.writers[id]; ok {
		l.mu.Unlock()
		return c.schema, c.err
	}
	if err, ok := l.unknown.get(id, now); ok {
		l.mu.Unlock()
		return nil, err
	}
	if f, ok := l.inflight[id]; ok {
		l.mu.Unlock()
		select {
		case <-f.done:
			return f.c.schema, f.c.err
		case <-ctx.Done():
			return nil, &SchemaIDError{ID: id, Err: ctx.Err()}
		}
	}
	f := &flight{done: make(chan struct{})}
	l.inflight[id] = f
	l.mu.Unlock()

	f.c = l.fetchWriter(ctx, id)
	l.mu.Lock()
	delete(l.inflight, id)
	switch {
	case f.c.err == nil || !isTransient(f.c.err):
		l.writers[id] = f.c
		l.unknown.forget(id)
	case errors.Is(f.c.err, ErrUnknownSchemaID) && ctx.Err() == nil:
		l.unknown.put(id, f.c.err, l.cfg.clock.Now(), l.cfg.unknownTTL, l.cfg.unknownLimit)
	}
	l.mu.Unlock()
	close(f.done)
	return f.c.schema, f.c.err
}

// fetchWriter fetches and parses the writer schema for id. A fetch failure
// is not cached, as before (the registry may come back, or learn the id); a
// text that does not parse is permanent.
func (l *SchemaLookup) fetchWriter(ctx context.Context, id uint32) cached {
	text, err := l.fetch(ctx, id)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (fetch: %w)", ctxErr, err)
		}
		return cached{err: &SchemaIDError{ID: id, Err: &fetchError{err}}}
	}
	s, err := parseWriter(text)
	if err != nil {
		return cached{err: &SchemaIDError{ID: id, Err: fmt.Errorf("%w: %w", ErrSchemaText, err)}}
	}
	return cached{schema: s}
}

// fetchError marks a FetchFunc's failure, which is not cached (see
// FetchFunc); it is transparent to errors.Is and errors.As.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// isTransient reports whether err came from the fetcher, so it must not be
// cached.
func isTransient(err error) bool {
	var fe *fetchError
	return errors.As(err, &fe)
}

// parseWriter parses a writer schema on its own: a fresh parse per id,
// since two ids may define the same named type differently.
func parseWriter(text string) (*avro.Schema, error) {
	return avro.Parse(text)
}

// ResolveID returns the schema that reads data written with schema id as
// the latest version of T, resolved once per (id, T, version) and cached.
// When the writer schema is the binary's own, that is T's schema itself and
// decoding costs no more than Decode. Errors are *SchemaIDError values;
// ErrIncompatible when the writer cannot be read as T.
func ResolveID[T Record](ctx context.Context, l *SchemaLookup, id uint32) (*avro.Schema, error) {
	return ResolveIDAs[T](ctx, l, id, Latest)
}

// ResolveIDAs is ResolveID for a chosen reader version: the version of T's
// schema the consumer was built with. A V1 consumer reads v2 data (the v2
// fields skipped) and a V2 consumer reads v1 data (defaults filled). A
// version T does not have is an error wrapping ErrUnknownVersion.
func ResolveIDAs[T Record](ctx context.Context, l *SchemaLookup, id uint32, readerVersion Version) (*avro.Schema, error) {
	name := NameOf[T]()
	reader, ver, err := schemaOf(name, readerVersion)
	if err != nil {
		return nil, err
	}
	key := resolvedKey{id: id, name: name, version: ver}
	l.mu.RLock()
	c, ok := l.resolved[key]
	l.mu.RUnlock()
	if ok {
		return c.schema, c.err
	}
	writer, err := l.Writer(ctx, id)
	if err != nil {
		return nil, err
	}
	c = cached{}
	if c.schema, err = avro.Resolve(writer, reader); err != nil {
		c = cached{err: &SchemaIDError{ID: id, Err: fmt.Errorf("%w %s %s: %w", ErrIncompatible, name, ver, err)}}
	}
	l.mu.Lock()
	if prev, ok := l.resolved[key]; ok {
		c = prev
	} else {
		l.resolved[key] = c
	}
	l.mu.Unlock()
	return c.schema, c.err
}

// DecodeWire decodes a Confluent wire-format value into v: it parses the
// header, looks the schema id up in l, and decodes the body through the
// writer schema resolved against the latest version of T. It returns the
// schema id. Errors are a *WireError (bad header), a *SchemaIDError (id
// unknown, unusable or not fetchable) or a *DecodeError (bad body).
func DecodeWire[T Record](ctx context.Context, l *SchemaLookup, b []byte, v *T) (uint32, error) {
	return DecodeWireAs(ctx, l, b, v, Latest)
}

// DecodeWireAs is DecodeWire reading into version readerVersion of T's
// schema (see ResolveIDAs).
func DecodeWireAs[T Record](ctx context.Context, l *SchemaLookup, b []byte, v *T, readerVersion Version) (uint32, error) {
	id, body, err := ParseWire(b)
	if err != nil {
		return 0, err
	}
	resolved, err := ResolveIDAs[T](ctx, l, id, readerVersion)
	if err != nil {
		return id, err
	}
	return id, DecodeResolved(resolved, body, v)
}

// AppendWire appends v in the Confluent wire format, the header for schema
// id then the Avro body written with the latest version of T's schema, to
// dst. id must be the registry's id for that version. On error dst is
// returned unextended.
func AppendWire[T Record](dst []byte, id uint32, v *T) ([]byte, error) {
	return AppendWireAs(dst, id, v, Latest)
}

// AppendWireMemo is AppendWire writing the crumbs of a result or trace
// through memo: one it wrote before in the same batch is copied, not
// encoded again (crumbmemo.go). The bytes are AppendWire's.
func AppendWireMemo[T Record](dst []byte, id uint32, v *T, memo *CrumbMemo) ([]byte, error) {
	n, mark := len(dst), memo.mark()
	out, err := appendEncodeMemo(AppendWireHeader(dst, id), v, Latest, memo)
	if err != nil {
		memo.rollback(mark)
		return dst[:n], err
	}
	return out, nil
}

// AppendWireAs is AppendWire writing with version ver of T's schema; id
// must be the registry's id for that version.
func AppendWireAs[T Record](dst []byte, id uint32, v *T, ver Version) ([]byte, error) {
	n := len(dst)
	out, err := AppendEncodeAs(AppendWireHeader(dst, id), v, ver)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}
