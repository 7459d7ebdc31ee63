package stacktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/promtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// section returns the part of a Markdown document from the heading line title to the next heading of
// the same or a higher level.
func section(t testing.TB, doc, title string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+title+"\n")
	if i < 0 {
		t.Fatalf("no section %q", title)
	}
	level := strings.Index(title, " ") // the number of '#'
	rest := doc[i+1+len(title):]
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} `).FindAllStringIndex(rest, -1) {
		if m[1]-m[0]-1 <= level {
			return rest[:m[0]]
		}
	}
	return rest
}

var backticked = regexp.MustCompile("`([^`]+)`")

func codeSpans(s string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// processorFields reads the field bullets ("- `name` (type...") of a processor README section: name →
// whether it is text.
func processorFields(t testing.TB, sec string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^- `([a-z0-9_.]+)` \\(([a-z]+)").FindAllStringSubmatch(sec, -1) {
		out[m[1]] = m[2] == "string"
	}
	if len(out) == 0 {
		t.Fatal("no field bullets in the processor README section")
	}
	return out
}

// TestDeployREADMEMetricNames checks deploy/README.md's table of Prometheus names: every name is the
// one Telegraf's serializer gives the field, every row says the unit, every numeric field the stack
// produces (the input's, the reference processor's and the PurpleAir preset's, as their READMEs list
// them) has its row, and the text fields are the ones listed as removed.
func TestDeployREADMEMetricNames(t *testing.T) {
	doc := string(repotest.ReadFile(t, "deploy/README.md"))
	sec := section(t, doc, "## Metric names in Prometheus")
	documented := map[string]bool{} // field → has a Prometheus name
	rows := 0
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			t.Errorf("row %q: %d cells, want field, metric, unit", line, len(cells))
			continue
		}
		rows++
		fields, names, unit := codeSpans(cells[0]), codeSpans(cells[1]), strings.TrimSpace(cells[2])
		if unit == "" {
			t.Errorf("row %q says no unit", line)
		}
		if strings.TrimSpace(cells[1]) == "—" {
			for _, f := range fields {
				documented[f] = false
			}
			continue
		}
		if len(names) != len(fields) {
			t.Errorf("row %q: %d fields, %d metric names", line, len(fields), len(names))
			continue
		}
		for i, f := range fields {
			if got := promName(t, "purpleair", f); got != names[i] {
				t.Errorf("field %q is documented as %q; Telegraf names it %q", f, names[i], got)
			}
			documented[f] = true
		}
	}
	if rows == 0 {
		t.Fatal("no table rows found")
	}

	// The stack's numeric fields: the input's (API defaults and simulator) and the processor's outputs.
	for _, f := range stackMetricNames(t) {
		if has, ok := documented[f]; !ok || !has {
			t.Errorf("field %q reaches Prometheus but has no row with its metric name", f)
		}
	}
	proc := string(repotest.ReadFile(t, "telegraf-processor/README.md"))
	for title, fields := range map[string]map[string]bool{
		"reference processor": processorFields(t, section(t, proc, "## Metrics")),
		"PurpleAir preset":    processorFields(t, section(t, proc, "### Fields added by the preset")),
	} {
		for f, text := range fields {
			has, ok := documented[f]
			switch {
			case !ok:
				t.Errorf("%s field %q is not in the table", title, f)
			case text && has:
				t.Errorf("%s field %q is text, yet documented with a Prometheus name", title, f)
			case !text && !has:
				t.Errorf("%s field %q is numeric, yet documented as removed", title, f)
			}
		}
	}

	// The text fields the deployed output removes are those the table says are removed by fieldexclude.
	conf := string(repotest.ReadFile(t, "deploy/telegraf/telegraf.conf"))
	excluded := tomlStrings(confSetting(conf, "fieldexclude"))
	if len(excluded) == 0 {
		t.Error("deploy/telegraf/telegraf.conf excludes no field")
	}
	for _, f := range excluded {
		if has, ok := documented[f]; !ok || has {
			t.Errorf("deploy/telegraf/telegraf.conf excludes %q; the table should list it as removed", f)
		}
	}
}

// The recording rule deploy/README.md gives for °C is a valid rule file.
func TestDeployREADMERecordingRule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool; skipped with -short")
	}
	promtool := promtest.Promtool(t)
	sec := section(t, string(repotest.ReadFile(t, "deploy/README.md")), "## Metric names in Prometheus")
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(sec)
	if m == nil || !strings.Contains(m[1], "(purpleair_temperature - 32) / 1.8") {
		t.Fatalf("no °C recording rule in the section")
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(m[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
