package execd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
	_ "github.com/hazewatch/hazewatch/telegraf-input"     // registers inputs.purpleair
	_ "github.com/hazewatch/hazewatch/telegraf-processor" // registers processors.anomaly
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, conf string
		want       string // "" = no error; else a substring of the error
	}{
		{"processor, known options", "[[processors.anomaly]]\n  window_size = 72\n  fields = [\"pm1.0_cf_1\"]\n  [processors.anomaly.limits]\n    \"pm1.0_cf_1\" = [0.0, 1200.0]\n", ""},
		{"processor, misspelt option", "[[processors.anomaly]]\n  window = 72\n", `"processors.anomaly.window"`},
		{"processor, two unknown", "[[processors.anomaly]]\n  window = 72\n  treees = 3\n", `"processors.anomaly.treees", "processors.anomaly.window"`},
		{"input, known option", "[[inputs.purpleair]]\n  source = \"simulate\"\n", ""},
		{"input, misspelt option", "[[inputs.purpleair]]\n  sorce = \"simulate\"\n", `"inputs.purpleair.sorce"`},
		{"misspelt section", "[[processor.anomaly]]\n  window_size = 72\n", `"processor.anomaly`},
		{"unknown plugin", "[[processors.nosuch]]\n  x = 1\n", "unknown plugin [[processors.nosuch]]"},
		{"environment expanded", "[[processors.anomaly]]\n  window_size = ${HZ_TEST_WINDOW}\n", ""},
		// The shim would load the first block and ignore the second without a word.
		{"two processor blocks", "[[processors.anomaly]]\n  window_size = 72\n[[processors.anomaly]]\n  window_size = 10\n",
			"2 plugin blocks ([[processors.anomaly]], [[processors.anomaly]]): the file must hold exactly one"},
		{"two input blocks", "[[inputs.purpleair]]\n[[inputs.purpleair]]\n  source = \"file\"\n", "2 plugin blocks ([[inputs.purpleair]], [[inputs.purpleair]])"},
		{"an input and a processor", "[[inputs.purpleair]]\n[[processors.anomaly]]\n", "2 plugin blocks ([[inputs.purpleair]], [[processors.anomaly]])"},
	}
	t.Setenv("HZ_TEST_WINDOW", "72")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plugin.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Check(path)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %s", err, tt.want)
			}
		})
	}
	if err := Check(""); err != nil {
		t.Errorf("no file (all defaults): %v", err)
	}
}

// TestShippedConfigurations: the plugin configurations the stack mounts use only real options.
func TestShippedConfigurations(t *testing.T) {
	for _, name := range []string{"anomaly.conf", "purpleair.conf"} {
		path := repotest.Path(t, "deploy/telegraf/"+name)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// As telegraf.conf's `environment` sets them for the plugins.
		t.Setenv("HAZEWATCH_STATE_DIR", t.TempDir())
		t.Setenv("PURPLEAIR_SOURCE", "simulate")
		t.Setenv("PURPLEAIR_SIM_START", "-6h")
		t.Setenv("PURPLEAIR_SIM_SPEEDUP", "0")
		if err := Check(path); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoadNamesTheFileAndTheBlock(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	logger := New(io.Discard, false)
	onlyProcessor := write("processor.conf", "[[processors.anomaly]]\n  window_size = 72\n")
	if _, err := LoadInput("purpleair", onlyProcessor, logger); err == nil || !strings.Contains(err.Error(), `holds no [[inputs.purpleair]] block`) {
		t.Errorf("an input from a processor's file: %v", err)
	}
	if p, err := LoadProcessor("anomaly", onlyProcessor, logger); err != nil || p == nil {
		t.Errorf("the processor's own file: %v, %v", p, err)
	}
	bad := write("bad.conf", "[[processors.anomaly]]\n  trees = 0\n")
	if _, err := LoadProcessor("anomaly", bad, logger); err == nil || !strings.HasPrefix(err.Error(), `configuration "`+bad+`": processors.anomaly: `) || !strings.Contains(err.Error(), "trees") {
		t.Errorf("a bad option value: %v", err)
	}
	if in, err := LoadInput("purpleair", "", logger); err != nil || in == nil {
		t.Errorf("no file (the input's defaults): %v, %v", in, err)
	}
}
