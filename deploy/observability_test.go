package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
)

const (
	rulesFile     = "prometheus/rules.yml"
	rulesTestFile = "prometheus/rules_test.yml"
	// prometheusConfig is the compose file's Prometheus configuration.
	prometheusConfig = "prometheus/prometheus.yml"
)

func TestPrometheusFilesPassPromtool(t *testing.T) {
	promtool := pipetest.RequireTool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
		{"check", "config", prometheusConfig},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string            `yaml:"record"`
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// TestEveryAlertHasAFiringAndASilentCase reads rules_test.yml: promtool
// passes a test file that never mentions an alert, so this is what keeps
// each alert tested both ways.
func TestEveryAlertHasAFiringAndASilentCase(t *testing.T) {
	data, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(data, &tf); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	firing, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	alerts := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if !firing[r.Alert] {
				t.Errorf("alert %s has no firing case in %s", r.Alert, rulesTestFile)
			}
			if !silent[r.Alert] {
				t.Errorf("alert %s has no not-firing case in %s", r.Alert, rulesTestFile)
			}
		}
	}
	if alerts == 0 {
		t.Fatalf("%s defines no alert", rulesFile)
	}
}

// TestTickBudgetsMatchTheSpec keeps lane:lukhas_tick_budget_seconds equal
// to each lane's tick.budget_ms in the embedded pipeline spec.
func TestTickBudgetsMatchTheSpec(t *testing.T) {
	s, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "lane:lukhas_tick_budget_seconds" {
				continue
			}
			var v float64
			if _, err := fmt.Sscanf(r.Expr, "vector(%g)", &v); err != nil {
				t.Fatalf("budget rule for lane %q: expr %q is not vector(SECONDS)", r.Labels["lane"], r.Expr)
			}
			got[r.Labels["lane"]] = v
		}
	}
	for lane, l := range s.Lanes {
		want := float64(l.Tick.BudgetMS) / 1000
		if v, ok := got[string(lane)]; !ok || v != want {
			t.Errorf("lane %s: budget in %s is %v (present %v), the spec says %v s", lane, rulesFile, v, ok, want)
		}
		delete(got, string(lane))
	}
	for lane := range got {
		t.Errorf("%s has a budget for lane %q, which the spec does not define", rulesFile, lane)
	}
}

// TestPromQLUsesOnlyExportedMetrics parses every expression of the rules
// and the dashboard with Prometheus's own parser and checks each metric
// name against what the binary exports or a recording rule defines.
func TestPromQLUsesOnlyExportedMetrics(t *testing.T) {
	known := exportedMetricNames(t)
	exprs := map[string]string{} // where -> expression
	for _, g := range loadRules(t).Groups {
		for i, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
			exprs[fmt.Sprintf("%s: group %s rule %d (%s%s)", rulesFile, g.Name, i, r.Record, r.Alert)] = r.Expr
		}
	}
	dashExprs, err := dashboardExprs(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(dashExprs) == 0 {
		t.Fatalf("%s holds no query", dashboardFile)
	}
	for where, e := range dashExprs {
		exprs[where] = e
	}
	missing := map[string][]string{}
	for where, e := range exprs {
		names, err := metricNames(e)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		for _, n := range names {
			if !known[n] {
				missing[n] = append(missing[n], where)
			}
		}
	}
	for n, where := range missing {
		sort.Strings(where)
		t.Errorf("metric %s is not exported by matriz (observe.NewMetrics, the process registry) nor recorded by a rule; used by %s", n, strings.Join(where, "; "))
	}
}

func TestMetricNamesFlagsAnUnknownMetric(t *testing.T) {
	names, err := metricNames(`sum by (lane) (rate(lukhas_no_such_total{lane=~"$lane"}[$__rate_interval])) / on (lane) lukhas_drift_ema`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lukhas_drift_ema", "lukhas_no_such_total"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if _, err := metricNames(`rate(lukhas_dlq_total[5m]`); err == nil {
		t.Fatal("an unbalanced expression parsed")
	}
	known := exportedMetricNames(t)
	for _, n := range []string{"lukhas_messages_in_total", "lukhas_tick_duration_seconds_bucket", "lukhas_stage_duration_seconds_count", "go_goroutines", "process_resident_memory_bytes"} {
		if !known[n] {
			t.Errorf("exported names lack %s", n)
		}
	}
	if known["lukhas_no_such_total"] || known["lukhas_drift_ema_bucket"] {
		t.Error("exported names hold a metric the binary does not export")
	}
}

// grafanaVar is a Grafana interval variable; the dashboard's other
// variables ($lane) sit inside label matcher strings.
var grafanaVar = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)

// metricNames parses a PromQL expression (Grafana variables replaced) and
// returns the sorted metric names it selects.
func metricNames(expr string) ([]string, error) {
	e, err := parser.ParseExpr(grafanaVar.ReplaceAllString(expr, "5m"))
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
			set[name] = true
		}
		return nil
	})
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// labelValues is Grafana's label_values(metric, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// dashboardExprs returns every query of a dashboard JSON file, keyed by
// where it sits: each target's expr and each query variable's metric.
func dashboardExprs(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				return nil, fmt.Errorf("%s: panel %q target %s has no expr", file, p.Title, tg.RefID)
			}
			out[fmt.Sprintf("%s: panel %q target %s", file, p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			return nil, fmt.Errorf("%s: variable %s: query %q is not label_values(METRIC, LABEL)", file, v.Name, v.Query)
		}
		out[fmt.Sprintf("%s: variable %s", file, v.Name)] = m[1]
	}
	return out, nil
}

// recordingRegisterer remembers what registers on it, so the test sees
// every metric family, including labelled ones no series exists for yet.
type recordingRegisterer struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedMetricNames builds the registry `matriz run` serves on /metrics
// (the process registry plus observe.NewMetrics, one lane initialised) and
// returns every series name it can export: a histogram's _bucket, _sum and
// _count, a summary's _sum and _count.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := observe.NewProcessRegistry()
	rec := &recordingRegisterer{Registerer: reg}
	m, err := observe.NewMetrics(rec)
	if err != nil {
		t.Fatal(err)
	}
	m.InitLane("candidate")
	names := map[string]bool{}
	add := func(name string, typ dto.MetricType) {
		names[name] = true
		switch typ {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	for _, c := range rec.collectors {
		typ := dto.MetricType_UNTYPED
		switch c.(type) {
		case *prometheus.HistogramVec, prometheus.Histogram:
			typ = dto.MetricType_HISTOGRAM
		case *prometheus.SummaryVec, prometheus.Summary:
			typ = dto.MetricType_SUMMARY
		}
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				add(m[1], typ)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		add(mf.GetName(), mf.GetType())
	}
	if len(names) == 0 {
		t.Fatal("the registry exports no metric")
	}
	return names
}

// TestBinaryLinksNoTestOnlyModule keeps the dashboard SDK and the PromQL
// parser out of the matriz binary: only this package's tests import them.
func TestBinaryLinksNoTestOnlyModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/matriz").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ../cmd/matriz: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, mod := range []string{"github.com/grafana/grafana-foundation-sdk/", "github.com/prometheus/prometheus/"} {
			if strings.HasPrefix(pkg, mod) {
				t.Errorf("cmd/matriz links %s; %s is for deploy's tests only", pkg, mod)
			}
		}
	}
}

// TestComposePrometheusScrapesEveryLane reads docker-compose.yml: every
// `matriz run` service's --http-addr is a target of prometheus.yml, and
// every file the compose file mounts exists.
func TestComposePrometheusScrapesEveryLane(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	data, err = os.ReadFile(prometheusConfig)
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatalf("%s: %v", prometheusConfig, err)
	}
	scraped := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				scraped[tg] = true
			}
		}
	}
	if !slices.Contains(prom.RuleFiles, "rules.yml") {
		t.Errorf("%s does not load rules.yml: rule_files %v", prometheusConfig, prom.RuleFiles)
	}
	lanes := 0
	for name, svc := range compose.Services {
		if i := slices.Index(svc.Command, "--http-addr"); len(svc.Command) > 0 && svc.Command[0] == "run" {
			if i < 0 || i+1 >= len(svc.Command) {
				t.Errorf("service %s runs a lane without --http-addr: Prometheus cannot scrape it", name)
				continue
			}
			lanes++
			_, port, _ := strings.Cut(svc.Command[i+1], ":")
			if target := name + ":" + port; !scraped[target] {
				t.Errorf("service %s serves metrics at %s, which %s does not scrape", name, target, prometheusConfig)
			}
		}
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				continue // a named volume
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}
	if lanes == 0 {
		t.Fatal("docker-compose.yml runs no lane")
	}
	for _, svc := range []string{"prometheus", "grafana"} {
		if _, ok := compose.Services[svc]; !ok {
			t.Errorf("docker-compose.yml has no %s service", svc)
		}
	}
}
