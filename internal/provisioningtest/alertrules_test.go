package provisioningtest

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestThreshold(t *testing.T) {
	cases := []struct {
		name, yaml       string
		reads, evaluator string
		value            float64
		ok               bool
	}{
		{"float", `{datasourceUid: __expr__, model: {type: threshold, expression: A, conditions: [{evaluator: {type: gt, params: [0.88]}}]}}`, "A", "gt", 0.88, true},
		{"int", `{datasourceUid: __expr__, model: {type: threshold, expression: B, conditions: [{evaluator: {type: lt, params: [1]}}]}}`, "B", "lt", 1, true},
		{"a query", `{datasourceUid: prometheus, model: {type: threshold, expr: up}}`, "", "", 0, false},
		{"a reduce", `{datasourceUid: __expr__, model: {type: reduce, expression: A}}`, "", "", 0, false},
		{"two conditions", `{datasourceUid: __expr__, model: {type: threshold, expression: A, conditions: [{evaluator: {type: gt, params: [1]}}, {evaluator: {type: lt, params: [2]}}]}}`, "", "", 0, false},
		{"no parameter", `{datasourceUid: __expr__, model: {type: threshold, expression: A, conditions: [{evaluator: {type: gt, params: []}}]}}`, "", "", 0, false},
		{"text parameter", `{datasourceUid: __expr__, model: {type: threshold, expression: A, conditions: [{evaluator: {type: gt, params: ["0.9"]}}]}}`, "", "", 0, false},
	}
	for _, c := range cases {
		var q AlertQuery
		if err := yaml.Unmarshal([]byte(c.yaml), &q); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		reads, evaluator, value, ok := q.Threshold()
		if reads != c.reads || evaluator != c.evaluator || value != c.value || ok != c.ok {
			t.Errorf("%s: Threshold() = %q, %q, %v, %v; want %q, %q, %v, %v", c.name, reads, evaluator, value, ok, c.reads, c.evaluator, c.value, c.ok)
		}
	}
}

// The shipped file reads into the model with no unknown field, and every rule can be found by its uid.
func TestLoadAlertRules(t *testing.T) {
	f := LoadAlertRules(t)
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if got := f.Rule(r.UID); got == nil || got.Title != r.Title {
				t.Errorf("Rule(%q) = %v", r.UID, got)
			}
		}
	}
	if n < 2 || f.Rule("no-such-rule") != nil {
		t.Errorf("%d rules; Rule of an unknown uid = %v", n, f.Rule("no-such-rule"))
	}
}
