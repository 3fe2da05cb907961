package adapters

import (
	"context"
	"slices"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// ExplainBase is where compliance's explanation links point: one stable
// page per rule, ExplainBase + rule id. matriz.dev is the project's own
// placeholder domain; deployments serve the rule pages under it or rewrite
// the prefix.
const ExplainBase = "https://matriz.dev/explain/compliance/"

// Compliance classifies a message under the EU AI Act: risk_class minimal,
// limited, high or unacceptable, from the declared purpose and the data
// categories it touches, with the rule that decided, the obligations that
// follow, the data origin and a stable explanation link. It is a
// conservative screen for the guardian and for audits, not legal advice:
// when in doubt it picks the higher class.
//
// Input:
//
//	glyph.tags purpose or payload.purpose  string, required (a tag wins;
//	                                       both present and different is an error)
//	payload.data_categories                array<string>, optional
//	glyph.tags data_origin, payload.data_origin, glyph.tags provenance
//	                                       the first present is the data origin,
//	                                       else "unspecified"
//
// Purposes are compared lower-case with spaces and hyphens as underscores.
// Known data categories: biometric, health, genetic, children, employment,
// education, credit, law_enforcement, migration, critical_infrastructure,
// racial_or_ethnic_origin, political_opinions, religious_beliefs,
// trade_union_membership, sex_life, sexual_orientation, personal, contact,
// location, behavioural, financial, telemetry, public, anonymous. An
// unknown category is an error: compliance cannot classify what it does
// not know.
//
// The rules (complianceRules) follow Art. 5(1)(a)–(h) (prohibited
// practices → unacceptable), Annex III areas 1–8 and Art. 6(1)/Annex I
// medical devices (→ high), Art. 50 transparency duties (→ limited), and
// flag special-category and children's data outside those as limited.
// Every matching rule is reported; the highest class decides, and among
// rules of that class the first in table order gives the explanation link.
//
// Payload out: risk_class, rule (deciding rule id), rules (all matching),
// permitted (false only for unacceptable), obligations (articles that
// apply), gaps (missing evidence, e.g. no data origin for a high-risk
// use), purpose (normalised), data_origin, explanation_link.
type Compliance struct{}

// Name returns "compliance".
func (Compliance) Name() string { return NameCompliance }

// Version returns the node's version.
func (Compliance) Version() string { return "1.0.0" }

// complianceRule matches when the purpose is one of purposes (any purpose
// when empty) and, if categories is set, some data category is one of them.
type complianceRule struct {
	id         string
	class      schemas.RiskClass
	purposes   []string
	categories []string
}

var sensitiveTraits = []string{"racial_or_ethnic_origin", "political_opinions", "religious_beliefs", "trade_union_membership", "sex_life", "sexual_orientation"}

// complianceRules in decision order: unacceptable first, then high,
// limited; the default minimal rule applies when nothing else does.
var complianceRules = []complianceRule{
	{id: "art5-1a-manipulation", class: schemas.RiskUnacceptable, purposes: []string{"subliminal_manipulation", "manipulation", "deceptive_manipulation"}},
	{id: "art5-1b-vulnerabilities", class: schemas.RiskUnacceptable, purposes: []string{"exploit_vulnerabilities", "vulnerability_exploitation"}},
	{id: "art5-1b-vulnerabilities", class: schemas.RiskUnacceptable, purposes: []string{"behavioural_targeting", "persuasion", "targeted_advertising"}, categories: []string{"children"}},
	{id: "art5-1c-social-scoring", class: schemas.RiskUnacceptable, purposes: []string{"social_scoring"}},
	{id: "art5-1d-predictive-policing", class: schemas.RiskUnacceptable, purposes: []string{"predictive_policing", "crime_prediction"}},
	{id: "art5-1e-facial-scraping", class: schemas.RiskUnacceptable, purposes: []string{"facial_scraping", "untargeted_facial_scraping"}},
	{id: "art5-1f-emotion-workplace-education", class: schemas.RiskUnacceptable, purposes: []string{"emotion_recognition"}, categories: []string{"employment", "education"}},
	{id: "art5-1f-emotion-workplace-education", class: schemas.RiskUnacceptable, purposes: []string{"workplace_emotion_recognition"}},
	{id: "art5-1g-biometric-categorisation", class: schemas.RiskUnacceptable, purposes: []string{"biometric_categorisation"}, categories: sensitiveTraits},
	{id: "art5-1h-realtime-biometric-identification", class: schemas.RiskUnacceptable, purposes: []string{"realtime_biometric_identification"}, categories: []string{"law_enforcement"}},

	{id: "annex3-1-biometrics", class: schemas.RiskHigh, purposes: []string{"biometric_identification", "remote_biometric_identification", "realtime_biometric_identification", "biometric_categorisation", "emotion_recognition"}},
	{id: "annex3-1-biometrics", class: schemas.RiskHigh, categories: []string{"biometric"}},
	{id: "annex3-2-critical-infrastructure", class: schemas.RiskHigh, purposes: []string{"critical_infrastructure", "infrastructure_safety"}},
	{id: "annex3-2-critical-infrastructure", class: schemas.RiskHigh, categories: []string{"critical_infrastructure"}},
	{id: "annex3-3-education", class: schemas.RiskHigh, purposes: []string{"education_admission", "exam_scoring", "student_assessment", "proctoring"}},
	{id: "annex3-3-education", class: schemas.RiskHigh, categories: []string{"education"}},
	{id: "annex3-4-employment", class: schemas.RiskHigh, purposes: []string{"recruitment", "hiring", "candidate_screening", "worker_management", "performance_evaluation", "task_allocation"}},
	{id: "annex3-4-employment", class: schemas.RiskHigh, categories: []string{"employment"}},
	{id: "annex3-5-essential-services", class: schemas.RiskHigh, purposes: []string{"credit_scoring", "creditworthiness", "insurance_pricing", "benefits_eligibility", "emergency_triage"}},
	{id: "annex3-5-essential-services", class: schemas.RiskHigh, categories: []string{"credit"}},
	{id: "annex3-6-law-enforcement", class: schemas.RiskHigh, purposes: []string{"law_enforcement", "evidence_evaluation", "recidivism_assessment"}},
	{id: "annex3-6-law-enforcement", class: schemas.RiskHigh, categories: []string{"law_enforcement"}},
	{id: "annex3-7-migration", class: schemas.RiskHigh, purposes: []string{"border_control", "migration", "asylum_assessment", "visa_assessment"}},
	{id: "annex3-7-migration", class: schemas.RiskHigh, categories: []string{"migration"}},
	{id: "annex3-8-justice-democracy", class: schemas.RiskHigh, purposes: []string{"judicial_decision", "legal_interpretation", "election_influence", "voter_influence"}},
	{id: "art6-1-annex1-medical-device", class: schemas.RiskHigh, purposes: []string{"medical_diagnosis", "diagnosis", "treatment_recommendation"}},

	{id: "art50-transparency", class: schemas.RiskLimited, purposes: []string{"chatbot", "conversational_agent", "virtual_assistant", "content_generation", "synthetic_media", "deepfake", "text_generation", "image_generation"}},
	{id: "special-category-data", class: schemas.RiskLimited, categories: append([]string{"health", "genetic"}, sensitiveTraits...)},
	{id: "children-data", class: schemas.RiskLimited, categories: []string{"children"}},
}

const ruleDefaultMinimal = "default-minimal"

// knownCategories are the data categories compliance understands.
var knownCategories = map[string]bool{
	"biometric": true, "health": true, "genetic": true, "children": true, "employment": true,
	"education": true, "credit": true, "law_enforcement": true, "migration": true,
	"critical_infrastructure": true, "racial_or_ethnic_origin": true, "political_opinions": true,
	"religious_beliefs": true, "trade_union_membership": true, "sex_life": true,
	"sexual_orientation": true, "personal": true, "contact": true, "location": true,
	"behavioural": true, "financial": true, "telemetry": true, "public": true, "anonymous": true,
}

var classRank = map[schemas.RiskClass]int{
	schemas.RiskMinimal: 0, schemas.RiskLimited: 1, schemas.RiskHigh: 2, schemas.RiskUnacceptable: 3,
}

// obligations are the duties each class brings, by article.
var obligations = map[schemas.RiskClass][]string{
	schemas.RiskUnacceptable: {"art5-prohibited"},
	schemas.RiskHigh:         {"art9-risk-management", "art10-data-governance", "art12-record-keeping", "art13-transparency", "art14-human-oversight", "art15-accuracy-robustness"},
	schemas.RiskLimited:      {"art50-transparency"},
	schemas.RiskMinimal:      {},
}

var toUnderscore = strings.NewReplacer(" ", "_", "-", "_")

// normalPurpose lower-cases s, writes spaces and hyphens as underscores and
// trims underscores at the ends, so "Credit-Scoring " is credit_scoring.
func normalPurpose(s string) string {
	return strings.Trim(toUnderscore.Replace(strings.ToLower(s)), "_")
}

// Handle classifies msg.
func (c Compliance) Handle(ctx context.Context, msg *schemas.MatrizMessage) (schemas.MatrizResult, error) {
	if err := stopped(ctx, NameCompliance); err != nil {
		return schemas.MatrizResult{}, err
	}
	if msg == nil {
		return noMessage(NameCompliance, c.Version()), nil
	}
	in := newInput(NameCompliance, msg)
	purpose := c.purpose(in, msg)
	cats, _ := in.texts("data_categories", false, true)
	categories := make([]string, 0, len(cats))
	for _, cat := range cats {
		n := normalPurpose(cat)
		if !knownCategories[n] {
			in.problem("payload.data_categories: unknown category %q; want one of %s", cat, strings.Join(sortedKeys(knownCategories), ", "))
			continue
		}
		if !slices.Contains(categories, n) {
			categories = append(categories, n)
		}
	}
	origin := "unspecified"
	if s := msg.Glyph.Tags["data_origin"]; s != "" {
		origin = s
	} else if s, ok := in.text("data_origin", false); ok {
		origin = s
	} else if s := msg.Glyph.Tags["provenance"]; s != "" {
		origin = s
	}
	if !in.ok() {
		return refuse(msg, NameCompliance, c.Version(), in.reasons), nil
	}

	class, rule := schemas.RiskMinimal, ruleDefaultMinimal
	rules := []string{}
	for _, r := range complianceRules {
		if !r.matches(purpose, categories) || slices.Contains(rules, r.id) {
			continue
		}
		rules = append(rules, r.id)
		if classRank[r.class] > classRank[class] {
			class, rule = r.class, r.id
		}
	}
	if len(rules) == 0 {
		rules = append(rules, ruleDefaultMinimal)
	}
	gaps := []string{}
	if classRank[class] >= classRank[schemas.RiskHigh] && origin == "unspecified" {
		gaps = append(gaps, "data_origin unspecified: Art. 10 requires documented data provenance for high-risk use")
	}
	link := ExplainBase + rule
	out := schemas.Payload{
		"risk_class":       string(class),
		"rule":             rule,
		"rules":            rules,
		"permitted":        class != schemas.RiskUnacceptable,
		"obligations":      slices.Clone(obligations[class]),
		"gaps":             gaps,
		"purpose":          purpose,
		"data_origin":      origin,
		"explanation_link": link,
	}
	data := schemas.Payload{"risk_class": string(class), "rule": rule, "data_origin": origin, "explanation_link": link}
	return answer(msg, NameCompliance, c.Version(), nil, out, data), nil
}

// purpose reads the declared purpose from the glyph tags or the payload.
func (Compliance) purpose(in *input, msg *schemas.MatrizMessage) string {
	tag := normalPurpose(msg.Glyph.Tags["purpose"])
	if !in.has("purpose") {
		if tag == "" {
			in.problem("purpose missing: set glyph.tags purpose or payload.purpose to the declared purpose, e.g. \"recruitment\" or \"chatbot\"")
		}
		return tag
	}
	p, ok := in.text("purpose", true)
	if !ok {
		return ""
	}
	if p = normalPurpose(p); p == "" {
		in.bad("purpose", "a non-empty string")
		return ""
	}
	if tag != "" && tag != p {
		in.problem("glyph.tags purpose %q and payload.purpose %q differ; declare one purpose", tag, p)
	}
	return p
}

func (r complianceRule) matches(purpose string, categories []string) bool {
	if len(r.purposes) > 0 && !slices.Contains(r.purposes, purpose) {
		return false
	}
	if len(r.categories) == 0 {
		return true
	}
	for _, c := range categories {
		if slices.Contains(r.categories, c) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
