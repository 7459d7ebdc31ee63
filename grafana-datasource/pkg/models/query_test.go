package models

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

func TestParseQueryDefaults(t *testing.T) {
	q, err := ParseQuery([]byte(`{"refId":"A","datasource":{"uid":"x"},"features":[{"name":"pm25","expr":"purpleair_pm2_5_cf_1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"schemaVersion", q.SchemaVersion, 1},
		{"mode", q.Mode, ModeSeries},
		{"entity", strings.Join(q.Entity, ","), "sensor_index"},
		{"forest", q.Forest, ForestPerEntity},
		{"fleetAt", q.FleetAt, FleetAtLast},
		{"training.range", q.Training.Range, TrainingPanel},
		{"training.lookback", q.Training.Lookback, time.Duration(0)},
		{"trees", q.IsolationForest.Trees, 100},
		{"maxSamples", q.IsolationForest.MaxSamples, "auto"},
		{"contamination", q.IsolationForest.Contamination, "auto"},
		{"seed", q.IsolationForest.Seed, int64(DefaultSeed)},
		{"imputation", q.Imputation.Method, ImputeKNN},
		{"k", q.Imputation.K, 5},
		{"output", strings.Join(q.Output, ","), "score"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseQuerySeed(t *testing.T) {
	for _, c := range []struct {
		json string
		want int64
	}{
		{`{"features":[{"expr":"up"}],"isolationForest":{"trees":10}}`, DefaultSeed},
		{`{"features":[{"expr":"up"}],"isolationForest":{"seed":0}}`, 0},
		{`{"features":[{"expr":"up"}],"isolationForest":{"seed":7}}`, 7},
	} {
		q, err := ParseQuery([]byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		if q.IsolationForest.Seed != c.want {
			t.Errorf("%s: seed %d, want %d", c.json, q.IsolationForest.Seed, c.want)
		}
	}
}

func TestParseQueryFull(t *testing.T) {
	q, err := ParseQuery([]byte(`{
	  "schemaVersion": 1, "mode": "fleet", "fleetAt": "each",
	  "features": [{"name":"pm25","expr":"avg by (sensor_index) (purpleair_pm2_5_cf_1)"},{"name":"rh","expr":"purpleair_humidity"}],
	  "entity": "site, sensor_index", "forest": "shared",
	  "training": {"range": "7d", "step": "2m"},
	  "isolationForest": {"trees": 50, "maxSamples": "0.5", "contamination": "0.01", "maxFeatures": "1", "seed": 42},
	  "imputation": {"method": "none", "k": 3},
	  "output": ["score", "anomaly"], "includeFeatures": true, "variables": {"site": "oakland"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(q.Entity, "|"); got != "site|sensor_index" {
		t.Errorf("entity = %q", got)
	}
	if q.Training.Lookback != 7*24*time.Hour || q.Training.FixedStep != 2*time.Minute {
		t.Errorf("training = %+v", q.Training)
	}
	p := q.IsolationForest
	opt, err := p.Options(1)
	if err != nil || opt.NEstimators != 50 || opt.MaxSamples != iforest.Fraction(0.5) || opt.Contamination != 0.01 || opt.MaxFeatures != iforest.Count(1) || opt.Seed != 42 {
		t.Errorf("isolationForest = %+v: options %+v, %v", p, opt, err)
	}
	if q.Imputation.Method != ImputeNone || q.Imputation.K != 3 || !q.IncludeFeatures || q.Variables["site"] != "oakland" {
		t.Errorf("rest = %+v", q)
	}
}

// As in scikit-learn, a whole number is a count and a number with a decimal point a fraction: "1" is
// one column (or sample) per tree, "1.0" all of them; spaces and an empty string mean the defaults.
func TestParseQueryCountOrFraction(t *testing.T) {
	cases := []struct {
		maxSamples, maxFeatures, contamination string
		samples, features                      iforest.Size
		contam                                 float64
	}{
		{"", "", "", iforest.AutoSize(), iforest.Fraction(1), iforest.ContaminationAuto},
		{" auto ", " ", " auto ", iforest.AutoSize(), iforest.Fraction(1), iforest.ContaminationAuto},
		{"1", "1", "0.5", iforest.Count(1), iforest.Count(1), 0.5},
		{"1.0", "1.0", "0.01", iforest.Fraction(1), iforest.Fraction(1), 0.01},
		{"1e-1", "0.5", "1e-2", iforest.Fraction(0.1), iforest.Fraction(0.5), 0.01},
	}
	for _, c := range cases {
		q, err := ParseQuery(fmt.Appendf(nil, `{"isolationForest":{"maxSamples":%q,"maxFeatures":%q,"contamination":%q},"features":[{"expr":"up"}]}`,
			c.maxSamples, c.maxFeatures, c.contamination))
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		p := q.IsolationForest
		opt, err := p.Options(1)
		if err != nil || opt.MaxSamples != c.samples || opt.MaxFeatures != c.features || opt.Contamination != c.contam {
			t.Errorf("%+v: got %+v: %+v, %v", c, p, opt, err)
		}
		if strings.TrimSpace(c.contamination) == "auto" || c.contamination == "" {
			if p.Contamination != "auto" {
				t.Errorf("%+v: contamination %q, want it normalised to \"auto\"", c, p.Contamination)
			}
		}
	}
}

func TestParseQueryErrors(t *testing.T) {
	cases := []struct {
		name, json, want string
	}{
		{"empty", ``, "empty query JSON"},
		{"not json", `{"features":`, "does not decode"},
		{"wrong type", `{"features":"pm25"}`, `field "features"`},
		{"unknown mode", `{"mode":"batch","features":[{"expr":"up"}]}`, `unknown mode "batch"`},
		{"future schema", `{"schemaVersion":3,"features":[{"expr":"up"}]}`, "newer than this plugin"},
		{"no features", `{"features":[]}`, "no features"},
		{"empty expr", `{"features":[{"name":"a","expr":" "}]}`, `feature "a" has an empty PromQL`},
		{"bad name", `{"features":[{"name":"pm 2.5","expr":"up"}]}`, "name \"pm 2.5\""},
		{"dup name", `{"features":[{"name":"a","expr":"up"},{"name":"a","expr":"up"}]}`, "used twice"},
		{"bad entity", `{"entity":["sensor-index"],"features":[{"expr":"up"}]}`, "not a valid label name"},
		{"bad forest", `{"forest":"global","features":[{"expr":"up"}]}`, `forest "global"`},
		{"bad range", `{"training":{"range":"last week"},"features":[{"expr":"up"}]}`, "training.range"},
		{"bad step", `{"training":{"step":"-1m"},"features":[{"expr":"up"}]}`, "training.step"},
		{"sub-second step", `{"training":{"step":"100ms"},"features":[{"expr":"up"}]}`, "below one second"},
		{"trees", `{"isolationForest":{"trees":-1},"features":[{"expr":"up"}]}`, "isolationForest.trees must be at least 1, got -1"},
		{"trees over the limit", `{"isolationForest":{"trees":10001},"features":[{"expr":"up"}]}`, "isolationForest.trees must be at most 10000 (the datasource's limit), got 10001"},
		{"contamination", `{"isolationForest":{"contamination":"0.7"},"features":[{"expr":"up"}]}`, "contamination"},
		{"maxSamples", `{"isolationForest":{"maxSamples":"1.5"},"features":[{"expr":"up"}]}`, "maxSamples"},
		{"maxSamples zero", `{"isolationForest":{"maxSamples":"0"},"features":[{"expr":"up"}]}`, `isolationForest.maxSamples must be a positive count or a fraction in (0, 1], got 0`},
		{"maxFeatures auto", `{"isolationForest":{"maxFeatures":"auto"},"features":[{"expr":"up"}]}`, `maxFeatures "auto"`},
		{"maxFeatures fraction", `{"isolationForest":{"maxFeatures":"2.0"},"features":[{"expr":"up"}]}`, `isolationForest.maxFeatures fraction must be in (0, 1], got 2`},
		{"contamination nan", `{"isolationForest":{"contamination":"NaN"},"features":[{"expr":"up"}]}`, `contamination "NaN"`},
		{"imputation", `{"imputation":{"method":"mean"},"features":[{"expr":"up"}]}`, "imputation.method"},
		{"k", `{"imputation":{"k":1000},"features":[{"expr":"up"}]}`, "imputation.k"},
		{"output", `{"output":["probability"],"features":[{"expr":"up"}]}`, `output "probability"`},
		{"variable", `{"variables":{"__interval":"1m"},"features":[{"expr":"up"}]}`, "variable name"},
		{"calibration", `{"calibration":"sigmoid","features":[{"expr":"up"}]}`, `calibration "sigmoid"`},
		{"preset", `{"preset":"airnow"}`, `preset "airnow"`},
		{"preset threshold", `{"preset":"purpleair","purpleair":{"threshold":1.5}}`, "purpleair.threshold"},
		{"preset threshold type", `{"preset":"purpleair","purpleair":{"threshold":"high"}}`, `field "purpleair.threshold"`},
		{"preset correction", `{"preset":"purpleair","purpleair":{"correction":"lrapa"}}`, `purpleair.correction "lrapa"`},
		{"preset selector", `{"preset":"purpleair","purpleair":{"selector":"{site=\"x\"}"}}`, "purpleair.selector"},
		{"preset sensor", `{"preset":"purpleair","purpleair":{"sensor":"(13"}}`, `purpleair.sensor "(13"`},
		{"preset kind", `{"preset":"purpleair","purpleair":{"kind":"both"}}`, `purpleair.kind "both" is unknown (want "sensor", "air", or empty for both)`},
		{"preset entity", `{"preset":"purpleair","entity":["site"]}`, "entity must be"},
		{"preset decision", `{"preset":"purpleair","output":["decision"]}`, `output "decision"`},
		{"preset output", `{"preset":"purpleair","output":["kind","kind"]}`, `output "kind" is listed twice`},
		{"preset mode", `{"preset":"purpleair","mode":"batch"}`, `unknown mode "batch"`},
		{"preset range", `{"preset":"purpleair","training":{"range":"a week"}}`, "training.range"},
		{"kind without preset", `{"output":["kind"],"features":[{"expr":"up"}]}`, `output "kind" needs preset "purpleair"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseQuery([]byte(c.json))
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error = %v, want a *QueryError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestDefaultFeatureNames(t *testing.T) {
	q, err := ParseQuery([]byte(`{"features":[{"expr":"up"},{"expr":"down"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Features[0].Name != "f1" || q.Features[1].Name != "f2" {
		t.Errorf("names = %q, %q", q.Features[0].Name, q.Features[1].Name)
	}
}

func TestTrainingDurationsFromVariables(t *testing.T) {
	q, err := ParseQuery([]byte(`{"variables":{"window":"14d"},"training":{"range":"$window","step":"$__interval"},"features":[{"expr":"up"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Training.Lookback != 14*24*time.Hour || q.Training.FixedStep != 0 {
		t.Errorf("training = %+v, want 14d lookback and the panel's step", q.Training)
	}
	if _, err := ParseQuery([]byte(`{"training":{"range":"$window"},"features":[{"expr":"up"}]}`)); err == nil || !strings.Contains(err.Error(), `training.range "$window"`) {
		t.Errorf("an unresolved variable should be named in the error, got %v", err)
	}
}

func TestSchemaVersionsAndCalibration(t *testing.T) {
	for _, c := range []struct {
		json    string
		version int
		calib   string
	}{
		// A stored version-1 query (or one without a version) keeps raw scores.
		{`{"features":[{"expr":"up"}]}`, 1, CalibrationNone},
		{`{"schemaVersion":1,"features":[{"expr":"up"}]}`, 1, CalibrationNone},
		{`{"schemaVersion":2,"features":[{"expr":"up"}]}`, 2, CalibrationTail},
		{`{"schemaVersion":2,"calibration":"none","features":[{"expr":"up"}]}`, 2, CalibrationNone},
		{`{"schemaVersion":1,"calibration":"tail","features":[{"expr":"up"}]}`, 1, CalibrationTail},
	} {
		q, err := ParseQuery([]byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		if q.SchemaVersion != c.version || q.Calibration != c.calib {
			t.Errorf("%s: version %d, calibration %q; want %d, %q", c.json, q.SchemaVersion, q.Calibration, c.version, c.calib)
		}
	}
}

func TestPurpleAirPresetDefaults(t *testing.T) {
	q, err := ParseQuery([]byte(`{"schemaVersion":2,"preset":"purpleair","purpleair":{"sensor":"131075|$s","selector":"site=\"$site\""},"variables":{"s":"9","site":"oak"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Mode != ModeSeries || q.FleetAt != FleetAtLast || q.PurpleAir.Threshold != 0.7 || q.PurpleAir.Correction != "us_wide" {
		t.Errorf("defaults: %+v", q)
	}
	if got := strings.Join(q.Output, ","); got != "score,anomaly,kind,reason" {
		t.Errorf("output %s", got)
	}
	if q.PurpleAir.Selector != `site="oak"` {
		t.Errorf("selector %q, want the variable resolved", q.PurpleAir.Selector)
	}
	re := q.PurpleAir.SensorRE
	if re == nil || !re.MatchString("131075") || !re.MatchString("9") || re.MatchString("1310750") {
		t.Errorf("sensor regexp %v: want it anchored, variables resolved", re)
	}
}

func TestParseQueryPurpleAirKind(t *testing.T) {
	for raw, want := range map[string]string{``: "", `"kind":""`: "", `"kind":" sensor "`: PurpleAirKindSensor, `"kind":"air"`: PurpleAirKindAir} {
		q, err := ParseQuery([]byte(`{"preset":"purpleair","purpleair":{` + raw + `}}`))
		if err != nil {
			t.Errorf("purpleair {%s}: %v", raw, err)
		} else if q.PurpleAir.Kind != want {
			t.Errorf("purpleair {%s}: kind %q, want %q", raw, q.PurpleAir.Kind, want)
		}
	}
}
