package telegraftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// TestBinaryHasPlugins checks that the binary Binary returns is a Telegraf with exactly the plugins
// named in Tags compiled in.
func TestBinaryHasPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Telegraf on a cold cache (minutes); skipped with -short")
	}
	bin := Binary(t)
	want := map[string][]string{
		"inputs":     {"inputs.execd", "inputs.file"},
		"processors": {"processors.execd"},
		"outputs":    {"outputs.file", "outputs.http"},
	}
	for kind, names := range want {
		out, err := exec.Command(bin, "plugins", kind).CombinedOutput()
		if err != nil {
			t.Fatalf("%s plugins %s: %v\n%s", bin, kind, err, out)
		}
		got := strings.Fields(string(out))
		if strings.Join(got, " ") != strings.Join(names, " ") {
			t.Errorf("%s plugins: got %q, want %q", kind, got, names)
		}
	}
	if again := Binary(t); again != bin {
		t.Errorf("second call returned %q, want the cached %q", again, bin)
	}
}

func TestBinaryFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "telegraf")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBinary, fake)
	if got := Binary(t); got != fake {
		t.Errorf("Binary() = %q, want $%s = %q", got, EnvBinary, fake)
	}
}

func TestCacheDirDependsOnEnvironment(t *testing.T) {
	root := t.TempDir()
	t.Setenv(repotest.EnvCache, root)
	dir, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != root || !strings.HasPrefix(filepath.Base(dir), "telegraf-"+Version+"-") {
		t.Errorf("cacheDir() = %q, want %s/telegraf-%s-<hash>", dir, root, Version)
	}
}

// TestRunOnce runs a real Telegraf over a line-protocol file and checks the metric reaches outputs.file.
func TestRunOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Telegraf binary; skipped with -short")
	}
	bin := Binary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.lp")
	out := filepath.Join(dir, "out.lp")
	if err := os.WriteFile(in, []byte("purpleair,sensor_index=53 pm1.0_cf_1=3.5 1712793665000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "telegraf.conf")
	cfg := `[agent]
  omit_hostname = true
[[inputs.file]]
  files = ["` + in + `"]
  data_format = "influx"
[[outputs.file]]
  files = ["` + out + `"]
  data_format = "influx"
`
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	RunOnce(t, bin, conf, 60*time.Second)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "purpleair,sensor_index=53 pm1.0_cf_1=3.5 1712793665000000000\n"; string(got) != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

// TestVersionIsTheModulePin: the Telegraf the tests build is the one go.mod requires (the one our
// distribution and plugins compile against).
func TestVersionIsTheModulePin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repotest.Root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var pinned string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/influxdata/telegraf" {
			pinned = f[1]
		}
	}
	if pinned != Version {
		t.Errorf("go.mod requires github.com/influxdata/telegraf %q; telegraftest.Version is %q", pinned, Version)
	}
}
