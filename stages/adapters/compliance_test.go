package adapters_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages/adapters"
)

func TestComplianceClasses(t *testing.T) {
	for _, tc := range []struct {
		purpose    string
		categories []string
		class      schemas.RiskClass
		rule       string
	}{
		{"spam_filtering", nil, schemas.RiskMinimal, "default-minimal"},
		{"inventory_forecast", []string{"telemetry", "anonymous"}, schemas.RiskMinimal, "default-minimal"},
		{"Chatbot", nil, schemas.RiskLimited, "art50-transparency"},
		{"deepfake", nil, schemas.RiskLimited, "art50-transparency"},
		{"newsletter", []string{"health"}, schemas.RiskLimited, "special-category-data"},
		{"newsletter", []string{"children"}, schemas.RiskLimited, "children-data"},
		{"credit-scoring", nil, schemas.RiskHigh, "annex3-5-essential-services"},
		{"marketing", []string{"credit"}, schemas.RiskHigh, "annex3-5-essential-services"},
		{"hiring", nil, schemas.RiskHigh, "annex3-4-employment"},
		{"exam scoring", nil, schemas.RiskHigh, "annex3-3-education"},
		{"border_control", nil, schemas.RiskHigh, "annex3-7-migration"},
		{"judicial_decision", nil, schemas.RiskHigh, "annex3-8-justice-democracy"},
		{"infrastructure_safety", nil, schemas.RiskHigh, "annex3-2-critical-infrastructure"},
		{"evidence_evaluation", nil, schemas.RiskHigh, "annex3-6-law-enforcement"},
		{"diagnosis", []string{"health"}, schemas.RiskHigh, "art6-1-annex1-medical-device"},
		{"emotion_recognition", nil, schemas.RiskHigh, "annex3-1-biometrics"},
		{"realtime_biometric_identification", nil, schemas.RiskHigh, "annex3-1-biometrics"},
		{"social scoring", nil, schemas.RiskUnacceptable, "art5-1c-social-scoring"},
		{"manipulation", nil, schemas.RiskUnacceptable, "art5-1a-manipulation"},
		{"persuasion", []string{"children"}, schemas.RiskUnacceptable, "art5-1b-vulnerabilities"},
		{"persuasion", nil, schemas.RiskMinimal, "default-minimal"},
		{"predictive_policing", nil, schemas.RiskUnacceptable, "art5-1d-predictive-policing"},
		{"facial_scraping", nil, schemas.RiskUnacceptable, "art5-1e-facial-scraping"},
		{"emotion_recognition", []string{"education"}, schemas.RiskUnacceptable, "art5-1f-emotion-workplace-education"},
		{"biometric_categorisation", []string{"religious_beliefs"}, schemas.RiskUnacceptable, "art5-1g-biometric-categorisation"},
		{"realtime_biometric_identification", []string{"law_enforcement"}, schemas.RiskUnacceptable, "art5-1h-realtime-biometric-identification"},
	} {
		t.Run(tc.purpose+"/"+strings.Join(tc.categories, ","), func(t *testing.T) {
			p := schemas.Payload{"purpose": tc.purpose}
			if tc.categories != nil {
				p["data_categories"] = tc.categories
			}
			r := handle(t, adapters.Compliance{}, message(p, map[string]string{"data_origin": "crm"}))
			wantOK(t, r)
			if got := str(t, r, "risk_class"); got != string(tc.class) {
				t.Fatalf("risk_class %s, want %s (rules %v)", got, tc.class, r.Payload["rules"])
			}
			if got := str(t, r, "rule"); got != tc.rule {
				t.Fatalf("rule %s, want %s", got, tc.rule)
			}
			if got := str(t, r, "explanation_link"); got != adapters.ExplainBase+tc.rule {
				t.Fatalf("explanation_link %s", got)
			}
			if !slices.Contains(strs(t, r, "rules"), tc.rule) {
				t.Fatalf("rules %v do not list the deciding rule", r.Payload["rules"])
			}
			if got := r.Payload["permitted"]; got != (tc.class != schemas.RiskUnacceptable) {
				t.Fatalf("permitted = %v for %s", got, tc.class)
			}
			if len(strs(t, r, "obligations")) == 0 && tc.class != schemas.RiskMinimal {
				t.Fatalf("no obligations for %s", tc.class)
			}
		})
	}
}

func TestComplianceOriginAndGaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tags   map[string]string
		p      schemas.Payload
		origin string
		gaps   int
	}{
		{"tag wins", map[string]string{"purpose": "hiring", "data_origin": "ats", "provenance": "x"}, schemas.Payload{"data_origin": "other"}, "ats", 0},
		{"payload next", map[string]string{"purpose": "hiring", "provenance": "x"}, schemas.Payload{"data_origin": "other"}, "other", 0},
		{"provenance last", map[string]string{"purpose": "hiring", "provenance": "x"}, nil, "x", 0},
		{"high without origin", map[string]string{"purpose": "hiring"}, nil, "unspecified", 1},
		{"minimal without origin", map[string]string{"purpose": "weather"}, nil, "unspecified", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handle(t, adapters.Compliance{}, message(tc.p, tc.tags))
			wantOK(t, r)
			if got := str(t, r, "data_origin"); got != tc.origin {
				t.Errorf("data_origin %q, want %q", got, tc.origin)
			}
			if got := strs(t, r, "gaps"); len(got) != tc.gaps {
				t.Errorf("gaps %v, want %d", got, tc.gaps)
			}
		})
	}
}

func TestComplianceBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags map[string]string
		p    schemas.Payload
		want []string
	}{
		{"no purpose", nil, nil, []string{"purpose missing: set glyph.tags purpose or payload.purpose"}},
		{"blank purpose", nil, schemas.Payload{"purpose": " - "}, []string{"payload.purpose", "want a non-empty string"}},
		{"purpose wrong type", nil, schemas.Payload{"purpose": int64(3)}, []string{"payload.purpose: got long 3"}},
		{"purposes differ", map[string]string{"purpose": "chatbot"}, schemas.Payload{"purpose": "hiring"}, []string{`glyph.tags purpose "chatbot" and payload.purpose "hiring" differ`}},
		{"unknown category", map[string]string{"purpose": "chatbot"}, schemas.Payload{"data_categories": []string{"astrology"}}, []string{`unknown category "astrology"`, "biometric"}},
		{"categories wrong type", map[string]string{"purpose": "chatbot"}, schemas.Payload{"data_categories": "health"}, []string{"payload.data_categories: got string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantReason(t, handle(t, adapters.Compliance{}, message(tc.p, tc.tags)), tc.want...)
		})
	}
	// The same purpose in tag and payload, spelled differently, is one purpose.
	r := handle(t, adapters.Compliance{}, message(schemas.Payload{"purpose": "Credit Scoring", "data_categories": []string{"Credit", "credit"}}, map[string]string{"purpose": "credit-scoring"}))
	wantOK(t, r)
	if str(t, r, "purpose") != "credit_scoring" {
		t.Fatalf("purpose %v", r.Payload["purpose"])
	}
}
