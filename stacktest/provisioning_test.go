package stacktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/provisioningtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

const dashboardFile = "provisioning/dashboards/hazewatch/purpleair-anomalies.json"

func readYAML(t testing.TB, rel string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(repotest.ReadFile(t, rel)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

type provisionedDatasource struct {
	Name      string         `yaml:"name"`
	UID       string         `yaml:"uid"`
	Type      string         `yaml:"type"`
	Access    string         `yaml:"access"`
	URL       string         `yaml:"url"`
	IsDefault bool           `yaml:"isDefault"`
	Editable  bool           `yaml:"editable"`
	JSONData  map[string]any `yaml:"jsonData"`
}

func datasources(t testing.TB) map[string]provisionedDatasource {
	t.Helper()
	var f struct {
		APIVersion  int                     `yaml:"apiVersion"`
		Datasources []provisionedDatasource `yaml:"datasources"`
	}
	readYAML(t, "provisioning/datasources/hazewatch.yaml", &f)
	out := map[string]provisionedDatasource{}
	for _, d := range f.Datasources {
		if _, dup := out[d.UID]; dup || d.UID == "" {
			t.Fatalf("datasource uid %q empty or used twice", d.UID)
		}
		out[d.UID] = d
	}
	return out
}

func TestProvisionedDatasources(t *testing.T) {
	ds := datasources(t)
	prom, ok := ds["prometheus"]
	if !ok || prom.Type != "prometheus" {
		t.Fatalf("no Prometheus datasource with uid prometheus: %+v", ds)
	}
	hw, ok := ds["hazewatch"]
	if !ok || hw.Type != pluginID {
		t.Fatalf("no %s datasource with uid hazewatch: %+v", pluginID, ds)
	}
	// Both read the Prometheus the compose stack runs.
	p := composetest.Load(t, nil)
	for _, d := range []provisionedDatasource{prom, hw} {
		u, err := url.Parse(d.URL)
		if err != nil || u.Port() != "9090" {
			t.Errorf("datasource %s: url %q is not the prometheus service", d.UID, d.URL)
			continue
		}
		if _, err := p.GetService(u.Hostname()); err != nil {
			t.Errorf("datasource %s: host %q is not a compose service", d.UID, u.Hostname())
		}
	}

	// The Prometheus datasource tells Grafana which Prometheus it talks to (for query-editor features).
	image := composetest.Service(t, p, "prometheus").Image
	if v, _ := prom.JSONData["prometheusVersion"].(string); "prom/prometheus:v"+v != image {
		t.Errorf("prometheusVersion %q does not match the compose image %s", v, image)
	}

	// Our datasource's settings load with the backend's own loader and mean what they say.
	jsonData, err := json.Marshal(hw.JSONData)
	if err != nil {
		t.Fatal(err)
	}
	s, err := models.LoadSettings(models.Instance{URL: hw.URL, JSONData: jsonData})
	if err != nil {
		t.Fatalf("hazewatch datasource settings: %v", err)
	}
	for key, v := range hw.JSONData {
		var got string
		switch key {
		case "authType":
			got = s.AuthType
		case "queryTimeout":
			got = model.Duration(s.QueryTimeout).String()
		case "scrapeInterval":
			got = model.Duration(s.ScrapeInterval).String()
		case "cacheTTL":
			got = model.Duration(s.CacheTTL).String()
		case "maxSeries":
			got = strconv.Itoa(s.MaxSeries)
		case "maxPointsPerSeries":
			got = strconv.Itoa(s.MaxPointsPerSeries)
		case "maxTrainingRows":
			got = strconv.Itoa(s.MaxTrainingRows)
		default:
			t.Errorf("jsonData.%s is not a setting the backend reads", key)
			continue
		}
		if want := normalizeSetting(v); got != want {
			t.Errorf("jsonData.%s = %v, the backend read %s", key, v, got)
		}
	}
	// $__rate_interval in the batch queries must match what Prometheus's datasource assumes.
	if prom.JSONData["timeInterval"] != hw.JSONData["scrapeInterval"] {
		t.Errorf("Prometheus timeInterval %v differs from the hazewatch datasource's scrapeInterval %v", prom.JSONData["timeInterval"], hw.JSONData["scrapeInterval"])
	}
}

func normalizeSetting(v any) string {
	switch x := v.(type) {
	case string:
		if d, err := model.ParseDuration(x); err == nil {
			return d.String()
		}
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// dashboard is the subset of Grafana's dashboard JSON the checks read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *dsRef          `json:"datasource"`
			Options    []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *dsRef                   `json:"datasource"`
	Targets    []json.RawMessage        `json:"targets"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Panels     []panel                  `json:"panels"` // collapsed rows
	// FieldConfig is the part of the panel's field defaults the threshold checks read.
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type target struct {
	RefID      string `json:"refId"`
	Datasource *dsRef `json:"datasource"`
	Expr       string `json:"expr"`
}

func loadDashboard(t testing.TB) dashboard {
	t.Helper()
	raw := repotest.ReadFile(t, dashboardFile)
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// variableValues returns each template variable's possible values, with the substitutions used to
// validate targets: "sensor" (a query variable) as the regex "All" sends, custom variables each option.
func (d dashboard) variableValues(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "custom":
			for _, o := range v.Options {
				out[v.Name] = append(out[v.Name], o.Value)
			}
		case "query":
			out[v.Name] = []string{".*"}
		}
	}
	return out
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title != "PurpleAir anomalies" {
		t.Errorf("uid %q, title %q", d.UID, d.Title)
	}
	vars := d.variableValues(t)
	if len(vars["sensor"]) == 0 {
		t.Error("no template variable sensor")
	}
	if !slices.Contains(vars["training"], "panel") || len(vars["training"]) < 2 {
		t.Errorf("template variable training: %v, want panel and at least one duration", vars["training"])
	}
	for _, v := range d.Templating.List {
		if v.Datasource != nil && !knownDatasource(t, v.Datasource.UID) {
			t.Errorf("variable %s uses datasource %q, which is not provisioned", v.Name, v.Datasource.UID)
		}
	}

	ids := map[int]bool{}
	var modes []string
	for _, p := range d.allPanels() {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Datasource != nil && !knownDatasource(t, p.Datasource.UID) {
			t.Errorf("panel %q uses datasource %q, which is not provisioned", p.Title, p.Datasource.UID)
		}
		for _, raw := range p.Targets {
			var tg target
			if err := json.Unmarshal(raw, &tg); err != nil {
				t.Fatalf("panel %q: target: %v", p.Title, err)
			}
			ds := tg.Datasource
			if ds == nil {
				ds = p.Datasource
			}
			if ds == nil || !knownDatasource(t, ds.UID) || ds.UID == "-- Mixed --" {
				t.Errorf("panel %q target %s: datasource %+v is not a provisioned datasource", p.Title, tg.RefID, ds)
				continue
			}
			switch ds.UID {
			case "prometheus":
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %s: empty PromQL", p.Title, tg.RefID)
				}
				checkMetricRefs(t, "panel "+p.Title, tg.Expr)
			case "hazewatch":
				for _, q := range checkHazewatchTarget(t, "panel "+p.Title, raw, vars) {
					modes = append(modes, q.Mode)
				}
			}
		}
	}
	for _, mode := range []string{models.ModeSeries, models.ModeFleet} {
		if !slices.Contains(modes, mode) {
			t.Errorf("no panel shows the batch score in %s mode", mode)
		}
	}
	// The panels an operator uses every day (issue 13) and the reference ones.
	for _, want := range []string{"Sensors needing attention now", "Channel A vs B", "EPA-corrected PM2.5", "AQI category",
		"Stale sensors", "Streaming opinion", "Batch opinion", "PM2.5 per sensor", "Most anomalous sensors now", "Share of imputed readings"} {
		if !slices.ContainsFunc(d.allPanels(), func(p panel) bool { return strings.HasPrefix(p.Title, want) }) {
			t.Errorf("no panel %q", want)
		}
	}
}

func knownDatasource(t testing.TB, uid string) bool {
	t.Helper()
	switch uid {
	case "-- Mixed --", "-- Grafana --", "-- Dashboard --", "__expr__":
		return true
	}
	_, ok := datasources(t)[uid]
	return ok
}

// checkMetricRefs fails when expr names a purpleair_* metric the stack does not produce.
func checkMetricRefs(t testing.TB, where, expr string) {
	t.Helper()
	names := stackMetricNames(t)
	for _, n := range metricRef.FindAllString(expr, -1) {
		if _, ok := names[n]; !ok {
			t.Errorf("%s: %s is not a metric the stack writes (%s)", where, n, expr)
		}
	}
}

// grafanaQuery is a hazewatch target as Grafana sends it: the query model plus the keys Grafana adds.
// Decoding with DisallowUnknownFields catches keys the backend would silently ignore.
type grafanaQuery struct {
	models.Query
	RefID         string          `json:"refId"`
	Datasource    json.RawMessage `json:"datasource"`
	Hide          bool            `json:"hide"`
	QueryType     string          `json:"queryType"`
	IntervalMs    int64           `json:"intervalMs"`
	MaxDataPoints int64           `json:"maxDataPoints"`
	Key           string          `json:"key"`
}

// checkHazewatchTarget validates a hazewatch target with the backend's own parser, once per value of
// every template variable it uses (the frontend substitutes them before the backend sees the query).
func checkHazewatchTarget(t testing.TB, where string, raw json.RawMessage, vars map[string][]string) []*models.Query {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict grafanaQuery
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("%s: key not in the datasource's query model: %v", where, err)
	}
	variants := []string{string(raw)}
	for name, values := range vars {
		var next []string
		for _, v := range variants {
			if !strings.Contains(v, "$"+name) {
				next = append(next, v)
				continue
			}
			for _, value := range values {
				next = append(next, strings.ReplaceAll(v, "$"+name, value))
			}
		}
		variants = next
	}
	var out []*models.Query
	for _, v := range variants {
		if strings.Contains(v, "$") && !strings.Contains(v, "$__") {
			t.Errorf("%s: unresolved template variable in %s", where, v)
		}
		q, err := models.ParseQuery([]byte(v))
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, v)
			continue
		}
		for _, f := range q.Features {
			checkMetricRefs(t, where, f.Expr)
		}
		out = append(out, q)
	}
	return out
}

func TestAlertRules(t *testing.T) {
	f := provisioningtest.LoadAlertRules(t)
	d := loadDashboard(t)
	panelIDs := map[string]bool{}
	for _, p := range d.allPanels() {
		panelIDs[strconv.Itoa(p.ID)] = true
	}
	threshold := confSetting(string(repotest.ReadFile(t, "deploy/telegraf/anomaly.conf")), "threshold")

	var usedDatasources []string
	var streamingThreshold string
	for _, g := range f.Groups {
		if _, err := model.ParseDuration(g.Interval); err != nil || g.Folder == "" || g.Name == "" {
			t.Errorf("group %q: interval %q, folder %q", g.Name, g.Interval, g.Folder)
		}
		for _, r := range g.Rules {
			where := "rule " + r.UID
			if r.UID == "" || r.Title == "" {
				t.Errorf("%s: uid and title are required", where)
			}
			if _, err := model.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			refs := map[string]bool{}
			for _, q := range r.Data {
				refs[q.RefID] = true
				if q.Model["refId"] != q.RefID {
					t.Errorf("%s: model refId %v ≠ %s", where, q.Model["refId"], q.RefID)
				}
			}
			if !refs[r.Condition] {
				t.Errorf("%s: condition %q is not a refId of the rule", where, r.Condition)
			}
			var condition provisioningtest.AlertQuery
			for _, q := range r.Data {
				if q.RefID == r.Condition {
					condition = q
				}
			}
			for _, q := range r.Data {
				usedDatasources = append(usedDatasources, q.DatasourceUID)
				if !knownDatasource(t, q.DatasourceUID) {
					t.Errorf("%s/%s: datasource %q is not provisioned", where, q.RefID, q.DatasourceUID)
				}
				switch q.DatasourceUID {
				case "__expr__":
					if len(q.Refs()) == 0 {
						t.Errorf("%s/%s: expression %v reads no refId", where, q.RefID, q.Model["expression"])
					}
					for _, e := range q.Refs() {
						if !refs[e] || e == q.RefID {
							t.Errorf("%s/%s: expression refers to %q, not another refId of the rule", where, q.RefID, e)
						}
					}
					if _, _, v, ok := q.Threshold(); ok && r.Labels["pipeline"] == "streaming" {
						streamingThreshold = strconv.FormatFloat(v, 'f', -1, 64)
					}
				case "prometheus":
					expr, _ := q.Model["expr"].(string)
					if expr == "" {
						t.Errorf("%s/%s: empty PromQL", where, q.RefID)
					}
					checkMetricRefs(t, where, expr)
				case "hazewatch":
					raw, err := json.Marshal(q.Model)
					if err != nil {
						t.Fatal(err)
					}
					// Alert rules run in the backend with no dashboard: no variables to substitute.
					for _, hq := range checkHazewatchTarget(t, where, raw, nil) {
						if hq.Preset == "" {
							checkBatchRuleOutput(t, where, hq, condition)
						}
					}
					if _, err := q.HazewatchQuery(); err != nil {
						t.Errorf("%s/%s: %v", where, q.RefID, err)
					}
				}
			}
			if uid := r.Annotations["__dashboardUid__"]; uid != "" && uid != d.UID {
				t.Errorf("%s: __dashboardUid__ %q is not the dashboard's uid %q", where, uid, d.UID)
			}
			if id := r.Annotations["__panelId__"]; id != "" && !panelIDs[id] {
				t.Errorf("%s: __panelId__ %s is not a panel of the dashboard", where, id)
			}
		}
	}
	for _, uid := range []string{"prometheus", "hazewatch"} {
		if !slices.Contains(usedDatasources, uid) {
			t.Errorf("no alert rule queries datasource %s", uid)
		}
	}
	if streamingThreshold == "" || streamingThreshold != threshold {
		t.Errorf("streaming alert threshold %q differs from the processor's threshold %q (anomaly.conf)", streamingThreshold, threshold)
	}
}

func TestContactPointAndPolicy(t *testing.T) {
	var cps struct {
		APIVersion    int `yaml:"apiVersion"`
		ContactPoints []struct {
			OrgID     int    `yaml:"orgId"`
			Name      string `yaml:"name"`
			Receivers []struct {
				UID                   string         `yaml:"uid"`
				Type                  string         `yaml:"type"`
				Settings              map[string]any `yaml:"settings"`
				DisableResolveMessage bool           `yaml:"disableResolveMessage"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
	}
	readYAML(t, "provisioning/alerting/contact-points.yaml", &cps)
	grafana := composetest.Service(t, composetest.Load(t, nil), "grafana")
	names := map[string]bool{}
	for _, cp := range cps.ContactPoints {
		names[cp.Name] = true
		for _, r := range cp.Receivers {
			if r.UID == "" || r.Type != "webhook" {
				t.Errorf("contact point %s: receiver uid %q type %q", cp.Name, r.UID, r.Type)
			}
			raw, _ := r.Settings["url"].(string)
			// Grafana expands $VAR in provisioning files from its own environment, which compose sets.
			expanded := os.Expand(raw, func(k string) string { v, _ := envValue(grafana, k); return v })
			if raw == expanded {
				t.Errorf("contact point %s: url %q does not come from the environment", cp.Name, raw)
			}
			if u, err := url.Parse(expanded); err != nil || u.Scheme == "" || u.Host == "" {
				t.Errorf("contact point %s: url %q expands to %q in the compose stack, not a URL", cp.Name, raw, expanded)
			}
		}
	}

	type route struct {
		Receiver       string     `yaml:"receiver"`
		GroupBy        []string   `yaml:"group_by"`
		ObjectMatchers [][]string `yaml:"object_matchers"`
		GroupWait      string     `yaml:"group_wait"`
		GroupInterval  string     `yaml:"group_interval"`
		RepeatInterval string     `yaml:"repeat_interval"`
		Routes         []route    `yaml:"routes"`
	}
	var pol struct {
		APIVersion int `yaml:"apiVersion"`
		Policies   []struct {
			OrgID int `yaml:"orgId"`
			route `yaml:",inline"`
		} `yaml:"policies"`
	}
	readYAML(t, "provisioning/alerting/policies.yaml", &pol)
	if len(pol.Policies) == 0 {
		t.Fatal("no notification policy")
	}
	var walk func(r route)
	walk = func(r route) {
		if r.Receiver != "" && !names[r.Receiver] {
			t.Errorf("policy routes to %q, which is not a provisioned contact point", r.Receiver)
		}
		for _, d := range []string{r.GroupWait, r.GroupInterval, r.RepeatInterval} {
			if _, err := model.ParseDuration(d); d != "" && err != nil {
				t.Errorf("policy: %q: %v", d, err)
			}
		}
		for _, m := range r.ObjectMatchers {
			if len(m) != 3 {
				t.Errorf("policy matcher %q: want [label, op, value]", m)
			}
		}
		for _, c := range r.Routes {
			walk(c)
		}
	}
	for _, p := range pol.Policies {
		if p.Receiver == "" {
			t.Error("the root policy needs a receiver")
		}
		walk(p.route)
	}
}

func TestDashboardProvider(t *testing.T) {
	var f struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			FolderUID             string `yaml:"folderUid"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "provisioning/dashboards/hazewatch.yaml", &f)
	grafana := composetest.Service(t, composetest.Load(t, nil), "grafana")
	found := false
	for _, p := range f.Providers {
		dir := hostPath(t, grafana, p.Options.Path)
		matches, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, m := range matches {
			if m == repotest.Path(t, dashboardFile) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no dashboard provider loads %s", dashboardFile)
	}
}

// provisionedBatchQueries returns every hazewatch query of the dashboard (once per value of each template
// variable it uses) and of the alert rules, parsed by the backend's own parser.
func provisionedBatchQueries(t testing.TB) (where []string, queries []*models.Query) {
	t.Helper()
	d := loadDashboard(t)
	vars := d.variableValues(t)
	for _, p := range d.allPanels() {
		for _, raw := range p.Targets {
			var tg target
			if err := json.Unmarshal(raw, &tg); err != nil {
				t.Fatal(err)
			}
			ds := tg.Datasource
			if ds == nil {
				ds = p.Datasource
			}
			if ds == nil || ds.UID != "hazewatch" {
				continue
			}
			for _, q := range checkHazewatchTarget(t, "panel "+p.Title, raw, vars) {
				where, queries = append(where, fmt.Sprintf("panel %d %q", p.ID, p.Title)), append(queries, q)
			}
		}
	}
	for _, g := range provisioningtest.LoadAlertRules(t).Groups {
		for _, r := range g.Rules {
			for _, q := range r.Data {
				if q.DatasourceUID != "hazewatch" {
					continue
				}
				raw, err := json.Marshal(q.Model)
				if err != nil {
					t.Fatal(err)
				}
				for _, pq := range checkHazewatchTarget(t, "rule "+r.UID, raw, nil) {
					where, queries = append(where, "rule "+r.UID), append(queries, pq)
				}
			}
		}
	}
	return where, queries
}

// TestBatchQueriesStep checks the batch queries against the data they read: their step is the readings'
// cadence (the simulator's step in purpleair.conf, PurpleAir's 2 minutes), whatever the panel's range and
// interval, so that the grid (and the forest cache key, aligned to it) only moves when a new reading can
// have arrived; and fleet queries carry no training range, which fleet mode ignores with a warning notice.
func TestBatchQueriesStep(t *testing.T) {
	step := simStep(t)
	where, queries := provisionedBatchQueries(t)
	if len(queries) < 3 {
		t.Fatalf("%d batch queries in the provisioning, want the dashboard's and the alert rule's", len(queries))
	}
	hw := datasources(t)["hazewatch"]
	jsonData, err := json.Marshal(hw.JSONData)
	if err != nil {
		t.Fatal(err)
	}
	s, err := models.LoadSettings(models.Instance{URL: hw.URL, JSONData: jsonData})
	if err != nil {
		t.Fatal(err)
	}
	lim := models.Limits{MaxPointsPerSeries: s.MaxPointsPerSeries, ScrapeInterval: s.ScrapeInterval}
	now := time.Date(2024, 4, 11, 12, 0, 30, 0, time.UTC)
	for i, q := range queries {
		if q.Training.FixedStep != step {
			t.Errorf("%s: training.step %q, want the readings' step %s (purpleair.conf)", where[i], q.Training.Step, model.Duration(step))
		}
		// The preset reads training.range in fleet mode too: the detector warms up over it.
		if q.Mode == models.ModeFleet && q.Preset == "" && q.Training.Range != models.TrainingPanel {
			t.Errorf("%s: fleet query with training.range %q, which fleet mode ignores (with a warning on every refresh)", where[i], q.Training.Range)
		}
		// The dashboard's default range as Grafana sends it (6 h in ~1000 px: a 20 s interval), and a
		// refresh one step later: same step, no notice, and a grid that moved by exactly one step.
		for _, span := range []time.Duration{6 * time.Hour, 24 * time.Hour} {
			tc := models.TimeContext{From: now.Add(-span), To: now, Interval: 20 * time.Second, MaxDataPoints: 1000}
			plan, err := models.Resolve(q, tc, lim)
			if err != nil {
				t.Errorf("%s: %v", where[i], err)
				continue
			}
			// A training window too long for maxPointsPerSeries at this step (training = 30d) raises
			// the step, with a notice: that is the datasource doing its job.
			if longest := max(span, q.Training.Lookback); int(longest/step)+1 > lim.MaxPointsPerSeries {
				if plan.Step <= step {
					t.Errorf("%s over %s with training %s: step %s not raised", where[i], span, q.Training.Range, plan.Step)
				}
			} else {
				if plan.Step != step {
					t.Errorf("%s over %s: step %s, want %s", where[i], span, plan.Step, step)
				}
				if len(plan.Notices) > 0 {
					t.Errorf("%s over %s: notices on every refresh: %q", where[i], span, plan.Notices)
				}
			}
			tc.From, tc.To = tc.From.Add(30*time.Second), tc.To.Add(30*time.Second)
			if later, err := models.Resolve(q, tc, lim); err != nil || later.Score != plan.Score || later.Train != plan.Train {
				t.Errorf("%s over %s: a refresh 30 s later within the same step moves the grid (%v)", where[i], span, err)
			}
		}
	}
}

// checkBatchRuleOutput rejects batch rule conditions that fire on a healthy fleet: the anomaly flag with
// a contamination share (each fit flags that share of its rows, however healthy they are), or a
// threshold on the score at or below scikit-learn's "auto" cut of 0.5 (about a fifth of clean readings
// score above it). The thresholds that do work were measured; see the rule's comment.
func checkBatchRuleOutput(t testing.TB, where string, q *models.Query, condition provisioningtest.AlertQuery) {
	t.Helper()
	if slices.Contains(q.Output, models.OutputAnomaly) && q.IsolationForest.Contamination != "auto" {
		t.Errorf("%s: output anomaly with contamination %q flags that share of every snapshot, healthy or not", where, q.IsolationForest.Contamination)
	}
	_, evaluator, th, ok := condition.Threshold()
	if !ok || len(q.Output) != 1 || q.Output[0] != models.OutputScore {
		return
	}
	if evaluator != "gt" || th <= 0.5 || th >= 1 {
		t.Errorf("%s: threshold %s %v on the score, want gt with a value in (0.5, 1): 0.5 and below flag a healthy fleet", where, evaluator, th)
	}
}

// ruleThresholds lists the values at which the provisioned rules page: every threshold expression's
// value, and the PurpleAir preset's score threshold (a preset rule pages on anomaly, i.e. score ≥ it).
func ruleThresholds(t testing.TB) map[float64][]string {
	t.Helper()
	out := map[float64][]string{}
	for _, g := range provisioningtest.LoadAlertRules(t).Groups {
		for _, r := range g.Rules {
			for _, q := range r.Data {
				if reads, _, v, ok := q.Threshold(); ok && q.RefID == r.Condition {
					out[v] = append(out[v], r.UID+" ("+reads+")")
				}
				if q.DatasourceUID == "hazewatch" {
					if hq, err := q.HazewatchQuery(); err == nil && hq.Preset == models.PresetPurpleAir {
						out[hq.PurpleAir.Threshold] = append(out[hq.PurpleAir.Threshold], r.UID+" (preset score)")
					}
				}
			}
		}
	}
	return out
}

// TestThresholdLines: a graph that draws a threshold line draws one, at a value where a provisioned rule
// pages (issue 13: the fleet panel painted red at 0.6 while its rule fired at 0.88). Bands (mode "area",
// the AQI categories) are not lines and are not held to a rule.
func TestThresholdLines(t *testing.T) {
	rules := ruleThresholds(t)
	lines := 0
	for _, p := range loadDashboard(t).allPanels() {
		mode := p.FieldConfig.Defaults.Custom.ThresholdsStyle.Mode
		if p.Type != "timeseries" || (mode != "line" && mode != "line+area" && mode != "dashed" && mode != "line+dashed") {
			continue
		}
		var values []float64
		for _, st := range p.FieldConfig.Defaults.Thresholds.Steps {
			if st.Value != nil {
				values = append(values, *st.Value)
			}
		}
		if len(values) != 1 {
			t.Errorf("panel %d %q draws %d threshold lines %v, want one", p.ID, p.Title, len(values), values)
			continue
		}
		if len(rules[values[0]]) == 0 {
			t.Errorf("panel %d %q: threshold line at %v, where no rule pages (rules page at %v)", p.ID, p.Title, values[0], rules)
			continue
		}
		t.Logf("panel %d %q: line at %v = %v", p.ID, p.Title, values[0], rules[values[0]])
		lines++
	}
	if lines < 3 {
		t.Errorf("%d panels draw a rule's threshold, want the streaming, batch and preset scores'", lines)
	}
}

// TestPresetRules holds the PurpleAir preset's rules to what makes them work in Grafana (issue 13):
//   - a sensor-fault and an unusual-air rule, each keeping its kind with purpleair.kind (the datasource
//     reads the other kind's verdicts as none) on a fleet query scored at the last step with the
//     anomaly output — the numeric frames that carry kind, reason and since as labels;
//   - no detail label on them: its text grows with the episode ("for 46 min", "for 48 min"), and a label
//     that changes starts a new alert instance at every evaluation, so `for` would never be reached;
//   - notifications that say what is wrong from the labels the frames carry;
//   - a stale rule per sensor, and a pipeline rule that pages on no data at all (noDataState Alerting).
func TestPresetRules(t *testing.T) {
	f := provisioningtest.LoadAlertRules(t)
	kinds := map[string]string{}
	var silent, stale []string
	for _, g := range f.Groups {
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.NoDataState == "Alerting" {
				silent = append(silent, r.UID)
			}
			for _, q := range r.Data {
				if expr, _ := q.Model["expr"].(string); strings.Contains(expr, "purpleair_last_seen") && strings.Contains(expr, "by (sensor_index)") {
					stale = append(stale, r.UID)
				}
			}
			p, kind, ok := r.KindFilter()
			if !ok {
				for _, q := range r.Data {
					if hq, err := q.HazewatchQuery(); err == nil && hq.Preset != "" {
						t.Errorf("rule %s: a preset query without the kind filter pages on every kind", r.UID)
					}
				}
				continue
			}
			where := "rule " + r.UID
			if other, dup := kinds[kind]; dup {
				t.Errorf("%s and %s both page on kind %s", where, other, kind)
			}
			kinds[kind] = r.UID
			hq, err := p.HazewatchQuery()
			if err != nil {
				t.Fatal(err)
			}
			if hq.Mode != models.ModeFleet || hq.FleetAt != models.FleetAtLast || !slices.Equal(hq.Output, []string{models.OutputAnomaly}) {
				t.Errorf("%s: preset query mode %s at %s, output %v; want fleet at last with output [anomaly]", where, hq.Mode, hq.FleetAt, hq.Output)
			}
			if hq.PurpleAir.DetailLabel {
				t.Errorf("%s: purpleair.detailLabel makes a new alert instance at every evaluation", where)
			}
			if hq.Training.Lookback < 6*time.Hour {
				t.Errorf("%s: training.range %q: the detector needs hours of warm-up for a sensor's usual ratio and level", where, hq.Training.Range)
			}
			reads, evaluator, v, ok := r.Condition, "", 0.0, false
			for _, q := range r.Data {
				if q.RefID == r.Condition {
					reads, evaluator, v, ok = q.Threshold()
				}
			}
			if !ok || reads != p.RefID || evaluator != "gt" || v != 0 {
				t.Errorf("%s: condition %s reads %q %s %v; want the preset query %s > 0", where, r.Condition, reads, evaluator, v, p.RefID)
			}
			if r.NoDataState != "OK" {
				t.Errorf("%s: noDataState %s; no flagged sensor is the normal state (the pipeline rule reports silence)", where, r.NoDataState)
			}
			if !strings.Contains(r.Annotations["summary"], "$labels.sensor_index") || !strings.Contains(r.Annotations["summary"], "$labels.since") {
				t.Errorf("%s: summary %q does not name the sensor and since when", where, r.Annotations["summary"])
			}
		}
	}
	if kinds["sensor"] == "" || kinds["air"] == "" {
		t.Errorf("kind filters %v, want a rule for sensor and one for air", kinds)
	}
	if r := f.Rule(kinds["sensor"]); r != nil && !strings.Contains(r.Annotations["summary"], "$labels.reason") {
		t.Errorf("rule %s: summary %q does not say why", r.UID, r.Annotations["summary"])
	}
	if len(stale) == 0 {
		t.Error("no rule watches each sensor's last report (purpleair_last_seen by sensor_index)")
	}
	if len(silent) != 1 {
		t.Errorf("rules with noDataState Alerting: %v, want the pipeline rule alone", silent)
	} else if r := f.Rule(silent[0]); r.ExecErrState != "Alerting" {
		t.Errorf("rule %s: execErrState %s; Prometheus down is the pipeline silent too", r.UID, r.ExecErrState)
	}
}
