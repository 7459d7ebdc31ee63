package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"

	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/hazewatch/hazewatch/internal/repotest"
	_ "github.com/hazewatch/hazewatch/telegraf-processor" // registers processors.anomaly for the shim's loader
)

// Issue 15: "three different default streaming configurations". What a user is told to run is one
// block, the PurpleAir preset, wherever the documents show it; the Half-Space Trees settings of River's
// reference are shown once, named the reference configuration; no third configuration of the processor
// appears in the documents a newcomer reads.

// telegrafPluginOptions are options Telegraf itself handles for any processor (filters, ordering); on
// the execd route they sit on processors.execd, natively on the block: not the plugin's configuration.
var telegrafPluginOptions = []string{"alias", "order", "namepass", "namedrop", "fieldinclude", "fieldexclude",
	"fieldpass", "fielddrop", "tagpass", "tagdrop", "taginclude", "tagexclude", "metricpass"}

// processorBlock is one documented [[processors.anomaly]] block.
type processorBlock struct {
	where   string // file:line
	prose   string // the text before the block
	raw     string
	options map[string]any // the plugin's own options as written
}

// documentedProcessorBlocks returns every TOML block of docs configuring processors.anomaly with at
// least one option (sample.conf's copy, all comments, is the plugin's defaults: TestSampleConfigIsTheDefault).
func documentedProcessorBlocks(t *testing.T, docs ...string) []processorBlock {
	t.Helper()
	var out []processorBlock
	for _, doc := range docs {
		for _, f := range fences(string(repotest.ReadFile(t, doc))) {
			if !strings.HasPrefix(f.info, "toml") || !strings.Contains(f.body, "[[processors.anomaly]]") {
				continue
			}
			var conf struct {
				Processors map[string][]map[string]any `toml:"processors"`
			}
			where := fmt.Sprintf("%s:%d", doc, f.line)
			if _, err := toml.Decode(f.body, &conf); err != nil {
				t.Errorf("%s: the TOML block does not parse: %v", where, err)
				continue
			}
			for _, b := range conf.Processors["anomaly"] {
				for _, k := range telegrafPluginOptions {
					delete(b, k)
				}
				if len(b) > 0 {
					out = append(out, processorBlock{where: where, prose: f.before, raw: f.body, options: b})
				}
			}
		}
	}
	return out
}

func TestOneDefaultProcessorConfiguration(t *testing.T) {
	blocks := documentedProcessorBlocks(t, "README.md", "telegraf-processor/README.md")
	var defaults, references []processorBlock
	for _, b := range blocks {
		switch {
		case b.options["preset"] == "purpleair":
			defaults = append(defaults, b)
		case strings.Contains(strings.ToLower(lastParagraphs(b.prose)), "reference configuration"):
			references = append(references, b)
		default:
			t.Errorf("%s configures the processor neither as the default (preset = \"purpleair\") nor as the reference configuration: %v", b.where, b.options)
		}
	}

	// The default: the same option set everywhere, in the README and in the plugin's README.
	for _, doc := range []string{"README.md", "telegraf-processor/README.md"} {
		if !slices.ContainsFunc(defaults, func(b processorBlock) bool { return strings.HasPrefix(b.where, doc+":") }) {
			t.Errorf("%s shows no default configuration (preset = \"purpleair\")", doc)
		}
	}
	for _, b := range defaults[1:] {
		if a, b2 := fmt.Sprint(defaults[0].options), fmt.Sprint(b.options); a != b2 {
			t.Errorf("two default configurations: %s sets %s, %s sets %s", defaults[0].where, a, b.where, b2)
		}
	}
	// It loads and initialises as telegraf-anomaly loads its file.
	for _, b := range append(defaults, references...) {
		loadProcessorBlock(t, b)
	}

	// sample.conf lists the plugin's own defaults (all commented, as Telegraf's samples do) and tells a
	// PurpleAir user the one setting the default configuration adds.
	sample := string(repotest.ReadFile(t, "telegraf-processor/sample.conf"))
	for k, v := range defaults[0].options {
		setting := fmt.Sprintf("%s = %s", k, tomlValue(v))
		if !regexp.MustCompile(`(?m)^\s*##.*` + regexp.QuoteMeta(setting)).MatchString(sample) {
			t.Errorf("telegraf-processor/sample.conf does not tell a PurpleAir user to set %s", setting)
		}
	}

	// The reference configuration: shown once, and the settings River's reference names.
	if len(references) != 1 {
		var where []string
		for _, r := range references {
			where = append(where, r.where)
		}
		t.Fatalf("the reference configuration is shown %d times (%v), want once", len(references), where)
	}
	want := riverReference(t)
	got := references[0].options
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: reference configuration %s = %v, River's reference %v", references[0].where, k, got[k], v)
		}
	}
}

// lastParagraphs is the end of the prose before a block: its heading or introducing sentence.
func lastParagraphs(prose string) string {
	paras := strings.Split(strings.TrimSpace(prose), "\n\n")
	return strings.Join(paras[max(0, len(paras)-2):], "\n\n")
}

func tomlValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// riverReference reads the reference pipeline's settings from README.md's table of the two detectors
// ("HalfSpaceTrees(n_trees=10, height=8, window_size=72, limits={'pm1.0_cf_1': (0, 1200)}, seed=11)",
// "threshold 0.7"), as processor options.
func riverReference(t *testing.T) map[string]any {
	t.Helper()
	readme := string(repotest.ReadFile(t, "README.md"))
	m := regexp.MustCompile(`HalfSpaceTrees\(n_trees=(\d+), height=(\d+), window_size=(\d+), limits=\{'([^']+)': \((\d+), (\d+)\)\}, seed=(\d+)\)` + "`" + `, threshold ([0-9.]+)`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md's table names no HalfSpaceTrees(...) reference with a threshold")
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	lo, hi := float64(num(m[5])), float64(num(m[6]))
	th, _ := strconv.ParseFloat(m[8], 64)
	return map[string]any{
		"trees": num(m[1]), "height": num(m[2]), "window_size": num(m[3]), "seed": num(m[7]),
		"fields": []any{m[4]}, "limits": map[string]any{m[4]: []any{lo, hi}}, "threshold": th,
	}
}

// loadProcessorBlock loads a documented block as telegraf-anomaly loads its file, and initialises it.
func loadProcessorBlock(t *testing.T, b processorBlock) {
	t.Helper()
	body, err := tomlBlock(b.options)
	if err != nil {
		t.Fatalf("%s: %v", b.where, err)
	}
	path := filepath.Join(t.TempDir(), "anomaly.conf")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim's loader ignores options the plugin does not have; sample.conf documents every one it has.
	checkOptionsDocumented(t, b.where, body, "telegraf-processor/sample.conf")
	loaded, err := shim.LoadConfig(&path)
	if err != nil || loaded.Processor == nil {
		t.Errorf("%s does not load as the plugin's configuration: %v\n%s", b.where, err, body)
		return
	}
	if in, ok := loaded.Processor.(telegraf.Initializer); ok {
		if err := in.Init(); err != nil {
			t.Errorf("%s: Init: %v\n%s", b.where, err, body)
		}
	}
}

func tomlBlock(options map[string]any) (string, error) {
	var sb strings.Builder
	err := toml.NewEncoder(&sb).Encode(map[string]any{"processors": map[string]any{"anomaly": []map[string]any{options}}})
	return sb.String(), err
}
