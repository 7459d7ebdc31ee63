// Package provisioningtest reads the Grafana alert rules the repository provisions
// (provisioning/alerting/rules.yaml) into one typed model, hazewatch queries included (read by the
// datasource's own query model, the PurpleAir preset too), for the tests that hold the rules to the code:
// the provisioning checks, the end-to-end run that evaluates them, and the demo that reports what the
// batch rule would page on.
package provisioningtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// AlertRulesFile is the provisioned alert rules file, relative to the repository root.
const AlertRulesFile = "provisioning/alerting/rules.yaml"

// AlertRules is Grafana's alert rule provisioning file, with the fields the repository uses.
type AlertRules struct {
	APIVersion int              `yaml:"apiVersion"`
	Groups     []AlertRuleGroup `yaml:"groups"`
}

// AlertRuleGroup is a group of rules evaluated together.
type AlertRuleGroup struct {
	OrgID    int         `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []AlertRule `yaml:"rules"`
}

// AlertRule is one rule: its queries and expressions (Data), the one that decides (Condition), and how
// long it must hold before the rule fires (For).
type AlertRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []AlertQuery      `yaml:"data"`
	For          string            `yaml:"for"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	Labels       map[string]string `yaml:"labels"`
	Annotations  map[string]string `yaml:"annotations"`
}

// AlertQuery is one entry of a rule's data: a datasource query, or an expression (DatasourceUID
// "__expr__").
type AlertQuery struct {
	RefID             string            `yaml:"refId"`
	RelativeTimeRange RelativeTimeRange `yaml:"relativeTimeRange"`
	DatasourceUID     string            `yaml:"datasourceUid"`
	Model             map[string]any    `yaml:"model"`
}

// RelativeTimeRange is the range a query reads, in seconds before the evaluation time.
type RelativeTimeRange struct {
	From int64 `yaml:"from"`
	To   int64 `yaml:"to"`
}

// LoadAlertRules reads AlertRulesFile, refusing fields the model does not know (a misspelt key would
// otherwise be ignored by Grafana and by the tests alike).
func LoadAlertRules(t testing.TB) *AlertRules {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(repotest.ReadFile(t, AlertRulesFile)))
	dec.KnownFields(true)
	var f AlertRules
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", AlertRulesFile, err)
	}
	return &f
}

// Rule returns the rule with uid, or nil.
func (f *AlertRules) Rule(uid string) *AlertRule {
	for g := range f.Groups {
		for r := range f.Groups[g].Rules {
			if f.Groups[g].Rules[r].UID == uid {
				return &f.Groups[g].Rules[r]
			}
		}
	}
	return nil
}

// Threshold reads a threshold expression with one condition: the refId it reads, its evaluator ("gt",
// "lt", …) and the evaluator's first parameter. ok is false for any other entry.
func (q AlertQuery) Threshold() (reads, evaluator string, value float64, ok bool) {
	if q.DatasourceUID != "__expr__" || q.Model["type"] != "threshold" {
		return "", "", 0, false
	}
	conds, _ := q.Model["conditions"].([]any)
	if len(conds) != 1 {
		return "", "", 0, false
	}
	c, _ := conds[0].(map[string]any)
	ev, _ := c["evaluator"].(map[string]any)
	params, _ := ev["params"].([]any)
	evaluator, _ = ev["type"].(string)
	if len(params) == 0 || evaluator == "" {
		return "", "", 0, false
	}
	switch v := params[0].(type) {
	case float64:
		value = v
	case int:
		value = float64(v)
	default:
		return "", "", 0, false
	}
	reads, _ = q.Model["expression"].(string)
	return reads, evaluator, value, true
}

// grafanaKeys are the keys Grafana adds to every datasource query of an alert rule; the rest of a
// hazewatch model is the datasource's query model.
var grafanaKeys = []string{"refId", "datasource", "intervalMs", "maxDataPoints", "hide", "queryType", "key"}

// HazewatchQuery reads the model of a query to the hazewatch datasource with the backend's own parser
// (models.ParseQuery: defaults, validation, the PurpleAir preset), after refusing any key that is neither
// Grafana's nor the query model's: the backend ignores unknown keys, so a misspelt "purplair" or
// "fleetat" would silently run the default instead.
func (q AlertQuery) HazewatchQuery() (*models.Query, error) {
	raw, err := json.Marshal(q.Model)
	if err != nil {
		return nil, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	for _, k := range grafanaKeys {
		delete(keys, k)
	}
	model, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(model))
	dec.DisallowUnknownFields()
	var strict models.Query
	if err := dec.Decode(&strict); err != nil {
		return nil, fmt.Errorf("refId %s: not the datasource's query model: %w", q.RefID, err)
	}
	return models.ParseQuery(model)
}

var mathRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)`)

// Refs returns the refIds an expression reads: a math expression's $A and ${A}, or the single refId
// of a reduce, resample or threshold expression. Empty for a datasource query.
func (q AlertQuery) Refs() []string {
	if q.DatasourceUID != "__expr__" {
		return nil
	}
	e, _ := q.Model["expression"].(string)
	if q.Model["type"] != "math" {
		if e == "" {
			return nil
		}
		return []string{e}
	}
	var out []string
	for _, m := range mathRef.FindAllStringSubmatch(e, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// KindFilter reads how a rule keeps one kind of the PurpleAir preset's verdicts: its condition is a
// threshold on a hazewatch query with the preset and purpleair.kind set, whose verdicts of the other
// kind read as none (the datasource filters them, see QUERY_MODEL.md). ok is false for any other rule.
func (r *AlertRule) KindFilter() (preset *AlertQuery, kind string, ok bool) {
	var reads string
	for _, q := range r.Data {
		if q.RefID == r.Condition {
			reads, _, _, ok = q.Threshold()
		}
	}
	if !ok {
		return nil, "", false
	}
	for i := range r.Data {
		p := &r.Data[i]
		if p.RefID != reads || p.DatasourceUID != "hazewatch" {
			continue
		}
		hq, err := p.HazewatchQuery()
		if err != nil || hq.Preset != models.PresetPurpleAir || hq.PurpleAir.Kind == "" {
			return nil, "", false
		}
		return p, hq.PurpleAir.Kind, true
	}
	return nil, "", false
}
