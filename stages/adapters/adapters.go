package adapters

import (
	"github.com/google/uuid"

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

// resultNamespace is the UUID namespace of result IDs: the name-based
// (SHA-1, version 5) UUID of "https://matriz.dev/ns/result" in the URL
// namespace, 0a85f843-c4b2-558c-a3a1-5885f1b131d1, written out byte by byte
// so no code path can change it.
var resultNamespace = uuid.UUID{
	0x0a, 0x85, 0xf8, 0x43, 0xc4, 0xb2, 0x55, 0x8c,
	0xa3, 0xa1, 0x58, 0x85, 0xf1, 0xb1, 0x31, 0xd1,
}

// ResultNamespace returns the UUID namespace of result IDs,
// 0a85f843-c4b2-558c-a3a1-5885f1b131d1. It is a function, not a variable,
// so no caller can change it for everyone; components that derive result
// IDs should call ResultID rather than use it directly.
func ResultNamespace() uuid.UUID { return resultNamespace }

// ResultID is the deterministic ID of node's result for the message msgID:
// the version 5 UUID of msgID + "/" + node in ResultNamespace(), as a
// lower-case string. The same message answered by the same node always
// gets the same ID, so a result written again after a crash is recognised
// as a duplicate; the router uses it for the results it writes itself.
func ResultID(msgID, node string) string {
	return uuid.NewSHA1(resultNamespace, []byte(msgID+"/"+node)).String()
}

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
