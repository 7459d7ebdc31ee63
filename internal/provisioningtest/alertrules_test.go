package provisioningtest

import (
	"strings"
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

func readQuery(t *testing.T, y string) AlertQuery {
	t.Helper()
	var q AlertQuery
	if err := yaml.Unmarshal([]byte(y), &q); err != nil {
		t.Fatal(err)
	}
	return q
}

// A preset query reads into the datasource's model with its defaults; a key the model does not have is
// refused even though the backend would ignore it (and run something else than the rule says).
func TestHazewatchQuery(t *testing.T) {
	q, err := readQuery(t, `{refId: A, datasourceUid: hazewatch, model: {refId: A, datasource: {uid: hazewatch}, intervalMs: 120000, maxDataPoints: 43200,
		schemaVersion: 2, preset: purpleair, mode: fleet, fleetAt: last, training: {range: 1d, step: 2m}, output: [anomaly]}}`).HazewatchQuery()
	if err != nil {
		t.Fatal(err)
	}
	if q.Preset != "purpleair" || q.PurpleAir.Threshold != 0.7 || q.Calibration != "tail" || q.Training.Range != "1d" || len(q.Output) != 1 {
		t.Errorf("preset query read as %+v", q)
	}
	for name, y := range map[string]string{
		"misspelt preset options": `{refId: A, model: {schemaVersion: 2, preset: purpleair, purplair: {threshold: 0.9}}}`,
		"unknown preset option":   `{refId: A, model: {schemaVersion: 2, preset: purpleair, purpleair: {treshold: 0.9}}}`,
		"unknown preset":          `{refId: A, model: {schemaVersion: 2, preset: purpleare}}`,
		"forest output":           `{refId: A, model: {schemaVersion: 2, preset: purpleair, output: [decision]}}`,
		"newer schema":            `{refId: A, model: {schemaVersion: 3, preset: purpleair}}`,
	} {
		if q, err := readQuery(t, y).HazewatchQuery(); err == nil {
			t.Errorf("%s: read as %+v, want an error", name, q)
		}
	}
}

func TestRefs(t *testing.T) {
	for y, want := range map[string]string{
		`{datasourceUid: __expr__, model: {type: math, expression: "$A * ${B} + $A1"}}`: "A B A1",
		`{datasourceUid: __expr__, model: {type: threshold, expression: C}}`:            "C",
		`{datasourceUid: prometheus, model: {expr: "up"}}`:                              "",
	} {
		if got := strings.Join(readQuery(t, y).Refs(), " "); got != want {
			t.Errorf("%s: Refs() = %q, want %q", y, got, want)
		}
	}
}

// KindFilter finds a rule whose condition is a threshold on a preset query with purpleair.kind, and
// nothing when the query has no kind, is a forest query, or is not what the condition reads.
func TestKindFilter(t *testing.T) {
	presetOf := func(kind string) string {
		return `{refId: A, datasourceUid: hazewatch, model: {schemaVersion: 2, preset: purpleair, mode: fleet, output: [anomaly], purpleair: {kind: "` + kind + `"}}}`
	}
	const forest = `{refId: A, datasourceUid: hazewatch, model: {mode: fleet, features: [{name: pm, expr: up}]}}`
	thresholdOn := func(ref string) string {
		return `{refId: B, datasourceUid: __expr__, model: {type: threshold, expression: ` + ref + `, conditions: [{evaluator: {type: gt, params: [0]}}]}}`
	}
	const math = `{refId: B, datasourceUid: __expr__, model: {type: math, expression: "$A > 0"}}`
	cases := []struct {
		name string
		data []string
		kind string
	}{
		{"sensor", []string{presetOf("sensor"), thresholdOn("A")}, "sensor"},
		{"air", []string{thresholdOn("A"), presetOf("air")}, "air"},
		{"no kind", []string{presetOf(""), thresholdOn("A")}, ""},
		{"forest query", []string{forest, thresholdOn("A")}, ""},
		{"threshold on another query", []string{presetOf("sensor"), thresholdOn("C")}, ""},
		{"math condition", []string{presetOf("sensor"), math}, ""},
	}
	for _, c := range cases {
		r := AlertRule{Condition: "B"}
		for _, y := range c.data {
			r.Data = append(r.Data, readQuery(t, y))
		}
		p, kind, ok := r.KindFilter()
		if kind != c.kind || ok != (c.kind != "") || (ok && p.RefID != "A") {
			t.Errorf("%s: KindFilter() = %v, %q, %v", c.name, p, kind, ok)
		}
	}
}
