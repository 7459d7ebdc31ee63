package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/internal/provisioningtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// What Grafana would do in the browser and in its alerting engine, done here so that the provisioned
// queries reach the datasource as they would from Grafana: template variables replaced, the panel's
// time range and interval computed, alert queries given their relative time range.

const (
	dashboardFile  = "provisioning/dashboards/hazewatch/purpleair-anomalies.json"
	alertRulesFile = provisioningtest.AlertRulesFile
	datasourceFile = "provisioning/datasources/hazewatch.yaml"
	hazewatchType  = "hazewatch-anomaly-datasource"

	// panelMaxDataPoints is what Grafana sends for a half-width panel on a 1920 px screen: Grafana uses
	// the panel's width in pixels when the panel does not set max data points (ours do not).
	panelMaxDataPoints = 940
)

// grafanaRoundInterval is @grafana/data's rangeutil.roundInterval: the "nice" interval Grafana picks for
// a raw interval, both in milliseconds.
func grafanaRoundInterval(ms float64) int64 {
	steps := []struct{ below, to float64 }{
		{10, 1}, {15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500},
		{1500, 1e3}, {3500, 2e3}, {7500, 5e3}, {12500, 1e4}, {17500, 15e3}, {25e3, 2e4}, {45e3, 3e4},
		{9e4, 6e4}, {21e4, 12e4}, {45e4, 3e5}, {75e4, 6e5}, {105e4, 9e5}, {15e5, 12e5}, {27e5, 18e5},
		{54e5, 36e5}, {9e6, 72e5}, {162e5, 108e5}, {324e5, 216e5}, {864e5, 432e5}, {6048e5, 864e5},
		{18144e5, 6048e5}, {36288e5, 2592e6},
	}
	for _, s := range steps {
		if ms < s.below {
			return int64(s.to)
		}
	}
	return 31536e6
}

// grafanaInterval is rangeutil.calculateInterval: the panel's $__interval for a range drawn in
// maxDataPoints pixels, never below lowLimit (the panel's or datasource's min interval; 0 = none).
func grafanaInterval(rng time.Duration, maxDataPoints int, lowLimit time.Duration) time.Duration {
	iv := time.Duration(grafanaRoundInterval(float64(rng.Milliseconds())/float64(maxDataPoints))) * time.Millisecond
	return max(iv, lowLimit, time.Millisecond)
}

// dashboardVariable is a template variable as the dashboard JSON stores it.
type dashboardVariable struct {
	Name       string `json:"name"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value any `json:"value"` // string or []string
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// value is what Grafana substitutes for the variable's current selection in a PromQL context: the
// custom "all" value when All is selected, a regex alternation for several values, the value itself.
func (v dashboardVariable) value() (string, error) {
	var sel []string
	switch c := v.Current.Value.(type) {
	case string:
		sel = []string{c}
	case []any:
		for _, s := range c {
			sel = append(sel, fmt.Sprint(s))
		}
	}
	if len(sel) == 1 && sel[0] == "$__all" {
		if v.AllValue != "" {
			return v.AllValue, nil
		}
		sel = nil
		for _, o := range v.Options {
			if o.Value != "$__all" {
				sel = append(sel, o.Value)
			}
		}
		if len(sel) == 0 {
			return "", fmt.Errorf("variable %s: All selected, no allValue and no options known", v.Name)
		}
	}
	if len(sel) == 0 {
		return "", fmt.Errorf("variable %s has no current value", v.Name)
	}
	if len(sel) == 1 && !v.Multi && !v.IncludeAll {
		return sel[0], nil
	}
	if len(sel) == 1 {
		return regexp.QuoteMeta(sel[0]), nil
	}
	for i := range sel {
		sel[i] = regexp.QuoteMeta(sel[i])
	}
	return "(" + strings.Join(sel, "|") + ")", nil
}

// interpolate replaces $name, ${name} and [[name]] of the given variables in s; Grafana's built-in
// $__… macros are left for the backend, as our frontend leaves them.
func interpolate(s string, vars map[string]string) string {
	re := regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sub := re.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := vars[name]; ok && !strings.HasPrefix(name, "__") {
			return v
		}
		return m
	})
}

// interpolateJSON applies interpolate to every string of a JSON document (the frontend's
// applyTemplateVariables touches the expressions, entity, training and forest parameters: every string
// a variable can appear in).
func interpolateJSON(raw json.RawMessage, vars map[string]string) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case string:
			return interpolate(x, vars)
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return x
	}
	return json.Marshal(walk(v))
}

// panelTarget is one hazewatch target of a dashboard panel.
type panelTarget struct {
	PanelID    int
	PanelTitle string
	RefID      string
	JSON       json.RawMessage // after template variables
}

// dashboardSetup is what the dashboard says about running its queries.
type dashboardSetup struct {
	From, To string // "now-6h", "now"
	Targets  []panelTarget
	Vars     map[string]string
}

// loadDashboard reads the provisioned dashboard: its default time range, its variables' current
// values, and every target addressed to our datasource, interpolated as Grafana would.
func loadDashboard(t testing.TB) dashboardSetup {
	t.Helper()
	type datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	type target struct {
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	}
	type panel struct {
		ID         int               `json:"id"`
		Title      string            `json:"title"`
		Datasource *datasourceRef    `json:"datasource"`
		Targets    []json.RawMessage `json:"targets"`
		Panels     []panel           `json:"panels"`
	}
	var d struct {
		Time       struct{ From, To string } `json:"time"`
		Templating struct {
			List []dashboardVariable `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(repotest.ReadFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	setup := dashboardSetup{From: d.Time.From, To: d.Time.To, Vars: map[string]string{}}
	for _, v := range d.Templating.List {
		val, err := v.value()
		if err != nil {
			t.Fatalf("%s: %v", dashboardFile, err)
		}
		setup.Vars[v.Name] = val
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, raw := range p.Targets {
				var tg target
				if err := json.Unmarshal(raw, &tg); err != nil {
					t.Fatalf("%s: panel %d: %v", dashboardFile, p.ID, err)
				}
				ds := tg.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				if ds == nil || ds.Type != hazewatchType {
					continue
				}
				j, err := interpolateJSON(raw, setup.Vars)
				if err != nil {
					t.Fatal(err)
				}
				setup.Targets = append(setup.Targets, panelTarget{PanelID: p.ID, PanelTitle: p.Title, RefID: tg.RefID, JSON: j})
			}
		}
	}
	walk(d.Panels)
	return setup
}

// grafanaRelativeTime resolves "now" and "now-<duration>" (the forms dashboards use for defaults).
func grafanaRelativeTime(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now-"); ok {
		d, err := model.ParseDuration(rest)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, fmt.Errorf("time %q: only now and now-<duration> are supported here", s)
}

// alertingRequest is the interval and max data points Grafana's alerting sends a rule's query with: the
// model's intervalMs and maxDataPoints, else its defaults (1 s, 43,200).
func alertingRequest(model map[string]any) (interval time.Duration, maxDataPoints int64) {
	interval, maxDataPoints = time.Second, 43200
	if ms, ok := model["intervalMs"].(int); ok {
		interval = time.Duration(ms) * time.Millisecond
	}
	if n, ok := model["maxDataPoints"].(int); ok {
		maxDataPoints = int64(n)
	}
	return interval, maxDataPoints
}

// alertQuery is one query of a provisioned alert rule.
type alertQuery struct {
	RuleUID       string
	RefID         string
	DatasourceUID string
	From, To      time.Duration // relativeTimeRange: seconds before the evaluation time
	Model         map[string]any
	// The rule's condition, when it is a threshold expression on this query: the rule is true for a
	// series whose value is above Threshold (evaluator gt), and fires once it has been true for For.
	Threshold    float64
	HasThreshold bool
	For          time.Duration
}

// loadAlertQueries reads every data query of the provisioned alert rules (expressions excluded).
func loadAlertQueries(t testing.TB) []alertQuery {
	t.Helper()
	var out []alertQuery
	for _, g := range provisioningtest.LoadAlertRules(t).Groups {
		for _, r := range g.Rules {
			var forDur time.Duration
			if r.For != "" {
				d, err := model.ParseDuration(r.For)
				if err != nil {
					t.Fatalf("%s: rule %s: for %q: %v", alertRulesFile, r.UID, r.For, err)
				}
				forDur = time.Duration(d)
			}
			// The condition's threshold, by the query it reads.
			thresholds := map[string]float64{}
			for _, q := range r.Data {
				if q.RefID != r.Condition || q.Model["type"] != "threshold" {
					continue
				}
				reads, evaluator, v, ok := q.Threshold()
				if !ok || evaluator != "gt" {
					t.Fatalf("%s: rule %s: condition %s: the checks read a threshold with one gt condition, got %v", alertRulesFile, r.UID, r.Condition, q.Model)
				}
				thresholds[reads] = v
			}
			for _, q := range r.Data {
				if q.DatasourceUID == "__expr__" {
					continue
				}
				th, ok := thresholds[q.RefID]
				out = append(out, alertQuery{
					RuleUID: r.UID, RefID: q.RefID, DatasourceUID: q.DatasourceUID,
					From: time.Duration(q.RelativeTimeRange.From) * time.Second, To: time.Duration(q.RelativeTimeRange.To) * time.Second,
					Model: q.Model, Threshold: th, HasThreshold: ok, For: forDur,
				})
			}
		}
	}
	return out
}

// provisionedDatasource is one entry of provisioning/datasources.
type provisionedDatasource struct {
	UID      string         `yaml:"uid"`
	Type     string         `yaml:"type"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

func loadDatasources(t testing.TB) map[string]provisionedDatasource {
	t.Helper()
	var f struct {
		Datasources []provisionedDatasource `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(repotest.ReadFile(t, datasourceFile), &f); err != nil {
		t.Fatalf("%s: %v", datasourceFile, err)
	}
	out := map[string]provisionedDatasource{}
	for _, d := range f.Datasources {
		out[d.UID] = d
	}
	return out
}
