// Limits: how much one registry holds, so unlimited registrations cannot
// grow its memory and its topic without bound.

package registry

import "fmt"

// Limits bound what a registry accepts. A zero field takes its default.
// Records another instance wrote are applied whatever their number: the
// limits refuse new writes, they never drop what the topic holds.
type Limits struct {
	// VersionsPerSubject bounds the versions of one subject, soft-deleted
	// ones included (they are still on the topic and in memory). Default
	// 1,000.
	VersionsPerSubject int
	// Schemas bounds the schema versions over all subjects, soft-deleted
	// ones included: each is one record on the topic and one entry in
	// memory, and every distinct schema is one of them. Default 10,000.
	Schemas int
	// SchemaBytes bounds one schema's text, checked before it is parsed.
	// Default and maximum 1 MiB.
	SchemaBytes int
}

// DefaultLimits are the limits a registry has unless WithLimits says
// otherwise.
var DefaultLimits = Limits{VersionsPerSubject: 1000, Schemas: 10_000, SchemaBytes: maxSchemaBytes}

// WithLimits sets the registry's limits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(c *config) {
		if l.VersionsPerSubject != 0 {
			c.limits.VersionsPerSubject = l.VersionsPerSubject
		}
		if l.Schemas != 0 {
			c.limits.Schemas = l.Schemas
		}
		if l.SchemaBytes != 0 {
			c.limits.SchemaBytes = l.SchemaBytes
		}
	}
}

func (l Limits) validate() error {
	if l.VersionsPerSubject < 1 {
		return fmt.Errorf("%w: versions per subject %d, want at least 1", ErrConfig, l.VersionsPerSubject)
	}
	if l.Schemas < 1 {
		return fmt.Errorf("%w: schemas %d, want at least 1", ErrConfig, l.Schemas)
	}
	if l.SchemaBytes < 1 || l.SchemaBytes > maxSchemaBytes {
		return fmt.Errorf("%w: schema bytes %d, want 1..%d", ErrConfig, l.SchemaBytes, maxSchemaBytes)
	}
	return nil
}

// checkSize refuses a schema text over the size limit, before parsing.
func (r *Registry) checkSize(text string) *Error {
	if n := len(text); n > r.cfg.limits.SchemaBytes {
		return apiErr(ErrInvalidSchema, "the schema is %d bytes, more than the %d bytes this registry accepts: split it or raise the registry's schema size limit",
			n, r.cfg.limits.SchemaBytes)
	}
	return nil
}

// checkRoom refuses a new version of subject when the subject or the
// registry is full. Called with writeMu and mu held.
func (r *Registry) checkRoom(subject string) *Error {
	lim := r.cfg.limits
	if n := len(r.st.versionsOf(subject, true)); n >= lim.VersionsPerSubject {
		return apiErr(ErrLimitExceeded, "subject %q has %d versions, the most this registry keeps per subject: delete old versions permanently (DELETE /subjects/%s/versions/N, then again with ?permanent=true) or raise the limit",
			subject, n, subject)
	}
	if n := r.st.nVersions; n >= lim.Schemas {
		return apiErr(ErrLimitExceeded, "the registry holds %d schema versions, the most it keeps: delete unused subjects permanently or raise the limit",
			n)
	}
	return nil
}
