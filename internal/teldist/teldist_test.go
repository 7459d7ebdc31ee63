package teldist

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Prepare lays out a module that is Telegraf's main plus our one file: the generated file imports both
// plugin packages (without them the binary would lack our plugins and still build), go.mod replaces our
// module with this checkout (not a published version), and nothing of ours overwrote Telegraf's files.
func TestPrepare(t *testing.T) {
	root := repotest.Root(t)
	dir := t.TempDir()
	version, err := Prepare(context.Background(), repotest.GoTool(), root, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "v1.") {
		t.Errorf("Telegraf version %q", version)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "hazewatch_plugins.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range OurPlugins {
		if !strings.Contains(string(gen), `_ "`+p+`"`) {
			t.Errorf("the generated file does not import %s:\n%s", p, gen)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"replace " + ourModule + " => " + strconv.Quote(root), "\t" + telegrafModule + " " + version} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	// Telegraf's main is there, as Telegraf ships it (its embedded agent.conf too).
	for _, f := range []string{"main.go", "agent.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("Telegraf's cmd/telegraf/%s not copied: %v", f, err)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*_test.go")); len(matches) != 0 {
		t.Errorf("Telegraf's tests copied: %v", matches)
	}
}

func TestTags(t *testing.T) {
	tags := strings.Split(Tags(), ",")
	if tags[0] != "custom" {
		t.Errorf("tags %v do not start with custom: every Telegraf plugin would be compiled in", tags)
	}
	for _, want := range []string{"outputs.http", "serializers.prometheusremotewrite", "outputs.prometheus_client", "outputs.influxdb_v2", "outputs.file", "inputs.execd", "processors.execd"} {
		found := false
		for _, tag := range tags {
			found = found || tag == want
		}
		if !found {
			t.Errorf("tags lack %s", want)
		}
	}
}

// The built distribution lists our two plugins as native ones and every stock plugin it was asked for,
// and reports its version: what `mage hazewatchTelegraf` promises.
func TestBinaryPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds hazewatch-telegraf")
	}
	bin := Binary(t, repotest.Root(t))
	out, err := exec.Command(bin, "plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("%s plugins: %v\n%s", bin, err, out)
	}
	listed := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		listed[l] = true
	}
	for _, want := range append([]string{"inputs.purpleair", "processors.anomaly"}, StockPlugins...) {
		if !listed[want] {
			t.Errorf("%s plugins does not list %s:\n%s", Name, want, out)
		}
	}
	if listed["inputs.cpu"] || listed["outputs.kafka"] {
		t.Errorf("the distribution holds Telegraf's default plugins (was the custom tag lost?):\n%s", out)
	}
	v, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "-hazewatch") {
		t.Errorf("%s --version: %q, %v; want the version marked -hazewatch", Name, v, err)
	}
}
