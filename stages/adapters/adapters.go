package adapters

import (
	"github.com/matriz/pipelines/stages"
)

// Node names, as Name returns them and as DefaultRoutes maps topics to them.
const (
	NameBio           = "bio"
	NameBridge        = "bridge"
	NameCompliance    = "compliance"
	NameConsciousness = "consciousness"
	NameContradiction = "contradiction"
	NameCreative      = "creative"
	NameEmotion       = "emotion"
	NameGovernance    = "governance"
	NameIdentity      = "identity"
	NameMemory        = "memory"
	NameOrchestration = "orchestration"
)

// All returns one node of each kind with its default configuration, in
// name order. Each call returns new values; they hold no mutable state, so
// the router may share them between partitions and goroutines.
func All() []stages.Node {
	return []stages.Node{
		Bio{},
		Bridge{},
		Compliance{},
		&Consciousness{cfg: defaultConsciousnessConfig()},
		&Contradiction{cfg: defaultContradictionConfig()},
		&Creative{cfg: defaultCreativeConfig()},
		&Emotion{cfg: defaultEmotionConfig()},
		&Governance{cfg: defaultGovernanceConfig()},
		Identity{},
		Memory{},
		Orchestration{},
	}
}

// DefaultRoutes returns the default topic → node name map for the
// SymbolicMeshRouter. Every node answers the topic named after it, and the
// MATRIZ topics map to the node that handles them:
//
//	resource      → bio            (load and energy signals)
//	external      → bridge         (payloads from outside systems)
//	purpose       → compliance     (declared purposes and data categories)
//	trend         → consciousness  (salience to attend to)
//	attention     → consciousness
//	contradiction → contradiction  (TRIZ parameter conflicts)
//	idea          → creative       (idea vectors to vary)
//	affect        → emotion        (valence and arousal)
//	policy        → governance     (payloads to check against rules)
//	subject       → identity       (identity claims)
//	memory        → memory         (memory writes to plan)
//	goal          → orchestration  (goal trees to plan)
//
// The map is new on every call, so a caller may change its copy.
func DefaultRoutes() map[string]string {
	routes := map[string]string{
		"resource":  NameBio,
		"external":  NameBridge,
		"purpose":   NameCompliance,
		"trend":     NameConsciousness,
		"attention": NameConsciousness,
		"idea":      NameCreative,
		"affect":    NameEmotion,
		"policy":    NameGovernance,
		"subject":   NameIdentity,
		"goal":      NameOrchestration,
	}
	for _, n := range All() {
		routes[n.Name()] = n.Name()
	}
	return routes
}
