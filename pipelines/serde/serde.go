package serde

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/matriz/pipelines/schemas"
)

// Serde reads and writes lane records in the Confluent wire format through
// a schema registry: it writes with the ids of the binary's own schemas
// under the lane's subjects, and reads any registered writer schema,
// resolved against the binary's schema and cached per id.
type Serde struct {
	client *sr.Client
	lookup *schemas.SchemaLookup

	mu  sync.RWMutex
	ids map[subjectVersion]uint32 // id of each version of the binary's schema under a subject
}

// subjectVersion keys Serde's ids; version Latest stands for the newest.
type subjectVersion struct {
	subject string
	version schemas.Version
}

// New returns a Serde over the registry client. opts configure its schema
// lookup (the negative cache of unknown ids: schemas.WithUnknownIDTTL).
func New(client *sr.Client, opts ...schemas.LookupOption) (*Serde, error) {
	lookup, err := schemas.NewSchemaLookup(registryFetcher(client), opts...)
	if err != nil {
		return nil, err
	}
	return &Serde{client: client, lookup: lookup, ids: map[subjectVersion]uint32{}}, nil
}

// Lookup is the id → writer schema cache, for decoders.
func (s *Serde) Lookup() *schemas.SchemaLookup { return s.lookup }

// registryFetcher adapts the registry client to schemas.FetchFunc: a 40403
// becomes ErrUnknownSchemaID (permanent); anything else is transient.
func registryFetcher(client *sr.Client) schemas.FetchFunc {
	return func(ctx context.Context, id uint32) (string, error) {
		text, err := client.SchemaTextByID(ctx, int(id))
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == 40403 {
			return "", fmt.Errorf("%w: the registry has no schema %d", schemas.ErrUnknownSchemaID, id)
		}
		return text, err
	}
}

// Resolve looks up, once, the ids every version of the binary's schemas
// has under subs (GLYPH and MatrizMessage have two). Deploy registers
// them; a subject without one of our versions is an error naming the
// subject, the version and what to do.
func (s *Serde) Resolve(ctx context.Context, subs []Subject) error {
	for _, sub := range subs {
		for _, v := range schemas.Versions(sub.Schema) {
			text, err := schemas.TextOf(sub.Schema, v)
			if err != nil {
				return err
			}
			got, err := s.client.LookupSchema(ctx, sub.Name, sr.Schema{Schema: text, Type: sr.TypeAvro})
			if err != nil {
				if Unreachable(err) {
					return fmt.Errorf("schema registry: %w", err)
				}
				return fmt.Errorf("subject %s does not hold this binary's %s %s schema (%v): run `matriz deploy` first", sub.Name, sub.Schema, v, err)
			}
			s.mu.Lock()
			s.ids[subjectVersion{sub.Name, v}] = uint32(got.ID)
			if v == schemas.LatestVersion(sub.Schema) {
				s.ids[subjectVersion{sub.Name, schemas.Latest}] = uint32(got.ID)
			}
			s.mu.Unlock()
		}
	}
	return nil
}

// ID returns the id to write subject's records with: that of the latest
// version, which schemas.AppendWire writes.
func (s *Serde) ID(subject string) (uint32, error) { return s.IDAs(subject, schemas.Latest) }

// IDAs returns the id of version v of the binary's schema under subject,
// for a producer pinned to v (schemas.AppendWireAs with the same v).
func (s *Serde) IDAs(subject string, v schemas.Version) (uint32, error) {
	s.mu.RLock()
	id, ok := s.ids[subjectVersion{subject, v}]
	s.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("no schema id resolved for subject %s %s", subject, v)
	}
	return id, nil
}

// Open returns a Serde over the registry at registryURL with the ids of
// subs resolved (none when subs is empty: a Serde that only reads).
func Open(ctx context.Context, registryURL string, subs []Subject) (*Serde, error) {
	client, err := NewRegistryClient(registryURL)
	if err != nil {
		return nil, err
	}
	s, err := New(client)
	if err != nil {
		return nil, err
	}
	if err := s.Resolve(ctx, subs); err != nil {
		return nil, err
	}
	return s, nil
}
