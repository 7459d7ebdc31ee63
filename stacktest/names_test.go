package stacktest

import (
	"regexp"
	"slices"
	"testing"

	"github.com/influxdata/telegraf"
	promser "github.com/influxdata/telegraf/plugins/serializers/prometheus"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// promName is the Prometheus metric name Telegraf's prometheusremotewrite serializer gives field f of
// measurement m: the serializer's own naming functions (MetricName, then SanitizeMetricName, which
// replaces each invalid character with "_"), so the names below are the names Prometheus receives.
func promName(t testing.TB, measurement, field string) string {
	t.Helper()
	n, ok := promser.SanitizeMetricName(promser.MetricName(measurement, field, telegraf.Untyped))
	if !ok {
		t.Fatalf("Telegraf cannot name %s.%s", measurement, field)
	}
	return n
}

// sampleConfDefault returns the default a plugin's sample.conf documents for option key
// (`# key = value`), or "" when it documents none.
func sampleConfDefault(sample, key string) string {
	return confValue(sample, key, `#?`)
}

// confSetting returns the value a config sets for key (uncommented), or "".
func confSetting(conf, key string) string {
	return confValue(conf, key, ``)
}

func confValue(conf, key, comment string) string {
	m := regexp.MustCompile(`(?m)^\s*` + comment + `\s*` + regexp.QuoteMeta(key) + `\s*=\s*(.+?)\s*(?:##.*)?$`).FindStringSubmatch(conf)
	if m == nil {
		return ""
	}
	return m[1]
}

// tomlStrings reads a TOML string or array of strings as written in our configs.
func tomlStrings(v string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	return out
}

// processorNumericFields are the processor's output fields that reach Prometheus (numbers and
// booleans; its string fields, the skip reason and the imputed list, are dropped by the serializer).
func processorNumericFields(t testing.TB) []string {
	t.Helper()
	sample := string(repotest.ReadFile(t, "telegraf-processor/sample.conf"))
	deployed := string(repotest.ReadFile(t, "deploy/telegraf/anomaly.conf"))
	var out []string
	for _, key := range []string{"score_field", "anomaly_field", "warmup_field"} {
		v := confSetting(deployed, key)
		if v == "" {
			v = sampleConfDefault(sample, key)
		}
		names := tomlStrings(v)
		if len(names) != 1 {
			t.Fatalf("telegraf-processor/sample.conf documents no default for %s", key)
		}
		out = append(out, names[0])
	}
	return out
}

// stackMetricNames maps every Prometheus metric name the stack produces to the PurpleAir or processor
// field it comes from: the input's default API fields (a superset of what the simulator emits numerically)
// and the processor's numeric outputs, on measurement "purpleair".
func stackMetricNames(t testing.TB) map[string]string {
	t.Helper()
	sample := string(repotest.ReadFile(t, "telegraf-input/sample.conf"))
	fields := tomlStrings(sampleConfDefault(sample, "fields"))
	if len(fields) == 0 {
		t.Fatal("telegraf-input/sample.conf documents no default API fields")
	}
	// The simulator's fields beyond the API defaults.
	fields = append(fields, "altitude", "last_seen", "date_created", "location_type", "pm1.0_atm", "pm2.5", "pm10.0_atm")
	fields = append(fields, processorNumericFields(t)...)
	out := map[string]string{}
	for _, f := range fields {
		out[promName(t, "purpleair", f)] = f
	}
	return out
}

var metricRef = regexp.MustCompile(`\bpurpleair_[A-Za-z0-9_]+`)

// TestMetricNames pins the names the dashboard and the alert rules are written against, so a change in
// Telegraf's naming (or a field rename) fails here first, and logs the whole mapping.
func TestMetricNames(t *testing.T) {
	for field, want := range map[string]string{
		"pm1.0_cf_1":     "purpleair_pm1_0_cf_1",
		"pm2.5_cf_1":     "purpleair_pm2_5_cf_1",
		"pm10.0_cf_1":    "purpleair_pm10_0_cf_1",
		"pm2.5_cf_1_a":   "purpleair_pm2_5_cf_1_a",
		"pm2.5_atm":      "purpleair_pm2_5_atm",
		"humidity":       "purpleair_humidity",
		"anomaly_score":  "purpleair_anomaly_score",
		"anomaly":        "purpleair_anomaly",
		"anomaly_warmup": "purpleair_anomaly_warmup",
	} {
		if got := promName(t, "purpleair", field); got != want {
			t.Errorf("field %q → %q, want %q", field, got, want)
		}
	}
	names := stackMetricNames(t)
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		t.Logf("%-28s ← field %s", n, names[n])
	}
	if !slices.Contains(sorted, "purpleair_anomaly_score") || !slices.Contains(sorted, "purpleair_anomaly") {
		t.Errorf("the processor's outputs are not among the stack's metrics: %v", sorted)
	}
}
