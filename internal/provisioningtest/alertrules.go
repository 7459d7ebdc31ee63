// Package provisioningtest reads the Grafana alert rules the repository provisions
// (provisioning/alerting/rules.yaml) into one typed model, for the tests that hold the rules to the code:
// the provisioning checks, the end-to-end run that evaluates them, and the demo that reports what the
// batch rule would page on.
package provisioningtest

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"

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
