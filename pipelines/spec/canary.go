package spec

// A lane's canary section: a candidate chain the lane runs in shadow on a
// share of its glyphs, and the floor of agreement below which it aborts.
//
//	canary:
//	  lane: candidate          # whose stage config the canary runs (default candidate)
//	  spec: other.yaml         # take that lane from another spec file (relative to this one), or
//	  spec: {guardian: {max_risk: 0.2}}   # change fields of it inline, as in a lane section
//	  fraction: 0.01           # share of the glyphs, by a hash of the Kafka key
//	  min_agreement: 0.9       # abort below this agreement rate ...
//	  min_samples: 200         # ... once a partition compared this many inputs

import (
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// Canary is a lane's canary, resolved: Lane is the stage config its shadow
// chain is built from.
type Canary struct {
	From         schemas.Lane // the lane whose stage config the canary starts from
	File         string       // the spec file From is read from; "" for this one
	Fraction     float64
	MinAgreement float64
	MinSamples   int
	Lane         Lane // From's config with the inline changes; its guardian runs dry as the lane's does

	inline *yaml.Node // the inline changes, applied once every lane is read
}

// Canary defaults.
const (
	DefaultCanaryFraction     = 0.01
	DefaultCanaryMinAgreement = 0.9
	DefaultCanaryMinSamples   = 200
)

// Namespaces returns, per lane with a canary, the output namespace its
// shadow writes to, for deploy.
func (s *Spec) Namespaces() map[schemas.Lane][]string {
	out := map[schemas.Lane][]string{}
	for l, ls := range s.Lanes {
		if ls.Canary != nil {
			out[l] = append(out[l], topics.CanaryNamespace)
		}
	}
	return out
}

// Floor is the agreement below which the canary aborts.
func (c *Canary) Floor() stages.CanaryFloor {
	return stages.CanaryFloor{MinAgreement: c.MinAgreement, MinSamples: int64(c.MinSamples)}
}

func (d *specDecoder) canary(n *yaml.Node, path string, lane schemas.Lane) *Canary {
	c := &Canary{From: schemas.LaneCandidate, Fraction: DefaultCanaryFraction, MinAgreement: DefaultCanaryMinAgreement, MinSamples: DefaultCanaryMinSamples}
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"lane": func(v *yaml.Node, f string) {
			lanes := make([]string, len(schemas.Lanes))
			for i, l := range schemas.Lanes {
				lanes[i] = string(l)
			}
			c.From = schemas.Lane(d.enum(v, f, lanes...))
		},
		"spec": func(v *yaml.Node, f string) {
			if v.Kind == yaml.ScalarNode {
				c.File = v.Value
				return
			}
			if v.Kind != yaml.MappingNode {
				d.fail(v, f, "want a spec file name or a mapping of lane fields, got %s", nodeKind(v))
				return
			}
			c.inline = v
		},
		"fraction":      func(v *yaml.Node, f string) { c.Fraction = d.number(v, f) },
		"min_agreement": func(v *yaml.Node, f string) { c.MinAgreement = d.number(v, f) },
		"min_samples":   func(v *yaml.Node, f string) { c.MinSamples = d.integer(v, f) },
	})
	return c
}

// resolveCanaries builds each canary's stage config once every lane is
// read: the lane it names (of this spec, or of its file), changed by its
// inline fields.
func (d *specDecoder) resolveCanaries(s *Spec) {
	for _, lane := range schemas.Lanes {
		l := s.Lanes[lane]
		if l == nil || l.Canary == nil {
			continue
		}
		c, path := l.Canary, "lanes."+string(lane)+".canary"
		from := s.Lanes[c.From]
		if c.File != "" {
			file := c.File
			if !filepath.IsAbs(file) && s.File != DefaultFile {
				file = filepath.Join(filepath.Dir(s.File), file)
			}
			other, err := Load(file)
			if err != nil {
				d.fail(nil, path+".spec", "the canary's spec file: %v", err)
				continue
			}
			from = other.Lanes[c.From]
		}
		if from == nil {
			d.fail(nil, path+".lane", "lane %s has no spec to run as a canary", c.From)
			continue
		}
		cl := *from
		cl.Stages = append([]string(nil), from.Stages...)
		cl.Canary = nil
		if c.inline != nil {
			d.decodeLane(c.inline, path+".spec", &cl, lane)
			if cl.Canary != nil {
				d.fail(nil, path+".spec.canary", "a canary cannot have a canary of its own")
			}
			cl.Canary = nil
		}
		// Whether actions run dry is the lane's posture, not the
		// candidate's logic; the shadow executes nothing either way, so it
		// decides as the lane would and the two compare.
		cl.Guardian.DryRun = l.Guardian.DryRun
		c.Lane = cl
	}
}

// validateCanary checks lane's canary: its share and floor, and that its
// chain builds for the lane it shadows.
func (d *specDecoder) validateCanary(lane schemas.Lane, l *Lane) {
	c := l.Canary
	if c == nil {
		return
	}
	p := "lanes." + string(lane)
	if _, err := stages.NewCanarySampler(c.Fraction); err != nil {
		d.refused(p, err)
	}
	if err := c.Floor().Validate(); err != nil {
		d.refused(p, err)
	}
	if _, err := c.Lane.Chain(lane, ChainOptions{}); err != nil {
		d.refused(p+".canary.spec", err)
	}
}
