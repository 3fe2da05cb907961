package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// update rewrites deploy/grafana/matriz.json from matrizDashboard:
//
//	go test ./deploy -run TestDashboardIsGenerated -update
var update = flag.Bool("update", false, "rewrite deploy/grafana/matriz.json from the generator")

const dashboardFile = "grafana/matriz.json"

// The dashboard lives in a test so the SDK is a test dependency only: the
// matriz binary never links it.

// laneSel restricts a query to the lanes picked in the lane variable.
const laneSel = `lane=~"$lane"`

var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).LegendFormat(legend).Datasource(datasource)
}

// thresholds are the colour steps from base upwards; lines draws them on
// the graph.
func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	all := append([]dashboard.Threshold{{Color: "green"}}, steps...)
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(all)
}

func step(v float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: cog.ToPtr(v), Color: color}
}

func series(title, desc, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(datasource).Height(8).Span(12).Min(0).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		Thresholds(thresholds())
}

// matrizDashboard is deploy/grafana/matriz.json: the plan's four panels
// (tick p95, drift EMA, circuit breaks, breakthrough flags), then the
// lane's flow (throughput, DLQ, lag) and the guardian's work.
func matrizDashboard() (dashboard.Dashboard, error) {
	lanes := dashboard.NewQueryVariableBuilder("lane").Label("Lane").
		Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(lukhas_messages_in_total, lane)")}).
		Definition("label_values(lukhas_messages_in_total, lane)").
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")

	return dashboard.NewDashboardBuilder("MATRIZ lanes").
		Uid("matriz-lanes").
		Description("Per lane: the consciousness tick, drift, the fold-guard and breakthroughs, throughput, DLQ, lag and the guardian. Alerts: deploy/prometheus/rules.yml.").
		Tags([]string{"matriz"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneUtc).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus")).
		WithVariable(lanes).
		WithRow(dashboard.NewRowBuilder("The plan: tick, drift, fold-guard, breakthroughs")).
		WithPanel(series("Tick p95 per lane",
			"95th percentile of one frame's processing time over 5 minutes, with the lane's budget (tick.budget_ms). Lines at 33 ms (one frame at 30 FPS) and 35 ms (the plan's p95 goal). Over budget the tick lowers its fps.",
			"s").
			WithTarget(query("A", `lane:lukhas_tick_duration_seconds:p95_5m{`+laneSel+`}`, "{{lane}} p95")).
			WithTarget(query("B", `lane:lukhas_tick_budget_seconds{`+laneSel+`}`, "{{lane}} budget")).
			Thresholds(thresholds(step(0.033, "yellow"), step(0.035, "red"))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))).
		WithPanel(series("Drift EMA per lane",
			"EMA of 1 - cos(intent, action) across the lane's glyphs. Warning at 0.25, block at 0.35 (the guardian denies actions past max_drift).",
			"none").
			WithTarget(query("A", `lukhas_drift_ema{`+laneSel+`}`, "{{lane}}")).
			Thresholds(thresholds(step(0.25, "orange"), step(0.35, "red"))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))).
		WithPanel(series("Circuit breaks",
			"Fold-guard circuit breaker trips in the last 5 minutes: memory writes fanned out past the fold budget.",
			"short").
			WithTarget(query("A", `lane:lukhas_memory_circuit_breaks:increase5m{`+laneSel+`}`, "{{lane}}")).
			DrawStyle(common.GraphDrawStyleBars)).
		WithPanel(series("Breakthrough flags",
			"Breakthrough flags raised in the last 5 minutes (novelty x value z-score past the lane's threshold).",
			"short").
			WithTarget(query("A", `lane:lukhas_breakthrough_flags:increase5m{`+laneSel+`}`, "{{lane}}")).
			DrawStyle(common.GraphDrawStyleBars)).
		WithRow(dashboard.NewRowBuilder("Flow")).
		WithPanel(series("Throughput",
			"Messages consumed (in) and results acknowledged by Kafka (out), per second over 5 minutes.",
			"reqps").
			WithTarget(query("A", `lane:lukhas_messages_in:rate5m{`+laneSel+`}`, "{{lane}} in")).
			WithTarget(query("B", `lane:lukhas_messages_out:rate5m{`+laneSel+`}`, "{{lane}} out"))).
		WithPanel(series("DLQ by reason",
			"Records sent to matriz.<lane>.dlq per second, by the reason in their headers.",
			"reqps").
			WithTarget(query("A", `lane_reason:lukhas_dlq:rate5m{`+laneSel+`}`, "{{lane}} {{reason}}"))).
		WithPanel(series("Consumer lag",
			"Records between each partition's high watermark and the next offset the lane reads.",
			"short").
			WithTarget(query("A", `lukhas_consumer_lag{`+laneSel+`}`, "{{lane}}/{{partition}}"))).
		WithPanel(series("Oldest uncommitted record",
			"Age of the oldest record consumed but not yet committed, per partition (0 when none).",
			"s").
			WithTarget(query("A", `lukhas_oldest_uncommitted_age_seconds{`+laneSel+`}`, "{{lane}}/{{partition}}"))).
		WithRow(dashboard.NewRowBuilder("Guardian")).
		WithPanel(series("Guardian decisions by outcome",
			"Guardian decisions per second over 5 minutes, by outcome.",
			"reqps").
			WithTarget(query("A", `lane_outcome:lukhas_guardian_decisions:rate5m{`+laneSel+`}`, "{{lane}} {{outcome}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))).
		WithPanel(stat.NewPanelBuilder().Title("Waiting approvals").
			Description("Actions waiting for a human approval: matriz approve ACTION_ID --lane LANE.").
			Datasource(datasource).Height(8).Span(12).Unit("short").
			WithTarget(query("A", `lukhas_approvals_waiting{`+laneSel+`}`, "{{lane}}")).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Thresholds(thresholds(step(1, "orange")))).
		Build()
}

func TestDashboardIsGenerated(t *testing.T) {
	d, err := matrizDashboard()
	if err != nil {
		t.Fatalf("build the dashboard: %v", err)
	}
	want, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(dashboardFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatalf("%v (write it: go test ./deploy -run TestDashboardIsGenerated -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generator in dashboard_test.go: edit the generator, then go test ./deploy -run TestDashboardIsGenerated -update", dashboardFile)
	}
}

// TestDashboardHasTheLanePanels checks what issue 11 asks of the
// dashboard: the plan's four panels and the operator's, and a lane
// variable that every query filters on.
func TestDashboardHasTheLanePanels(t *testing.T) {
	exprs, err := dashboardExprs(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"Tick p95 per lane", "Drift EMA per lane", "Circuit breaks", "Breakthrough flags",
		"Throughput", "DLQ by reason", "Consumer lag", "Guardian decisions by outcome", "Waiting approvals"} {
		found := false
		for where := range exprs {
			if strings.Contains(where, fmt.Sprintf("panel %q ", title)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no panel %q with a query", dashboardFile, title)
		}
	}
	if got := exprs[dashboardFile+": variable lane"]; got != "lukhas_messages_in_total" {
		t.Errorf("lane variable reads label_values of %q, want lukhas_messages_in_total", got)
	}
	for where, e := range exprs {
		if strings.Contains(where, "panel") && !strings.Contains(e, laneSel) {
			t.Errorf("%s: %s does not filter on the lane variable (%s)", where, e, laneSel)
		}
	}
}
