package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

func TestRunRejectsBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, conf, want string
	}{
		{"bad option value", "[[processors.anomaly]]\n  trees = 0\n", "E! configuration "},
		{"unknown plugin", "[[processors.dedup]]\n", "unknown processor dedup"},
		{"not TOML", "[[processors.anomaly]\n", "E! loading "},
		{"misspelt option", "[[processors.anomaly]]\n  window = 72\n", `unknown option "processors.anomaly.window"`},
		{"second block", "[[processors.anomaly]]\n  window_size = 72\n[[processors.anomaly]]\n  window_size = 10\n", "2 plugin blocks"},
		{"unwritable state_file", "[[processors.anomaly]]\n  state_file = \"" + dir + "\"\n", "E! state_file " + dir + " is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			if code := run(path, false, strings.NewReader(""), io.Discard, &stderr); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.HasPrefix(stderr.String(), "E! ") {
				t.Errorf("stderr %q, want an E! line containing %q", stderr.String(), tt.want)
			}
		})
	}
	var stderr bytes.Buffer
	run(filepath.Join(dir, "bad_option_value.conf"), false, strings.NewReader(""), io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "trees must be in [1, 10000], got 0") {
		t.Errorf("configuration error does not name the option: %q", stderr.String())
	}
}

// Every line on stderr carries a level and ends in a newline: execd logs a line without a level as an
// error of unknown origin, and glues a line that ends in anything else onto the next one. The shim wrote
// "Failed to parse metric: ...\b" for input that is not line protocol.
func TestStderrLinesCarryALevel(t *testing.T) {
	in := "purpleair,sensor_index=1 pm1.0_cf_1=1 1\nnot line protocol at all\npurpleair,sensor_index=1 pm1.0_cf_1=2 2\n"
	var stdout, stderr bytes.Buffer
	if code := run("", false, strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\n%s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 2 {
		t.Errorf("%d metrics out, want the 2 good ones:\n%s", n, stdout.String())
	}
	text := stderr.String()
	if !strings.Contains(text, "not line protocol") || !strings.HasSuffix(text, "\n") || strings.Contains(text, "\b") {
		t.Fatalf("stderr %q: want the parse error on lines of their own", text)
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if len(line) < 3 || !strings.Contains("EWID", line[:1]) || line[1:3] != "! " {
			t.Errorf("line without a level: %q", line)
		}
	}
}

// The processor only adds fields: an unsigned field it does not score leaves as it came, not as the
// shim's serializer wrote it (18446744073709551615u became 9223372036854775807i).
func TestUnsignedFieldsPassUnchanged(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "anomaly.conf")
	if err := os.WriteFile(conf, []byte("[[processors.anomaly]]\n  fields = [\"pm1.0_cf_1\"]\n  window_size = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := "purpleair,sensor_index=1 pm1.0_cf_1=3,big=18446744073709551615u,small=7u,neg=-3i 1\n" +
		"purpleair,sensor_index=1 pm1.0_cf_1=4u,big=0u 2\n"
	var stdout, stderr bytes.Buffer
	if code := run(conf, false, strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"big=18446744073709551615u", "small=7u", "neg=-3i", "pm1.0_cf_1=4u", "big=0u", "anomaly_score="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

// Through a real Telegraf: an unsigned field leaves processors.execd as it came in, provided the
// execd block sends it as unsigned (influx_uint_support; without it Telegraf itself sends it signed).
func TestTelegrafKeepsUnsignedFields(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Telegraf; skipped with -short")
	}
	telegrafBin := telegraftest.Binary(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "telegraf-anomaly")
	if out, err := exec.Command(repotest.GoTool(), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := write("in.lp", "purpleair,sensor_index=1 pm1.0_cf_1=3,big=18446744073709551615u,small=7u 1712793600000000000\n")
	anomalyConf := write("anomaly.conf", "[[processors.anomaly]]\n  fields = [\"pm1.0_cf_1\"]\n  window_size = 1\n")
	out := filepath.Join(dir, "out.lp")
	conf := write("telegraf.conf", fmt.Sprintf(`[agent]
  omit_hostname = true

[[inputs.file]]
  files = [%q]
  data_format = "influx"

[[processors.execd]]
  command = [%q, "-config", %q]
  influx_uint_support = true

[[outputs.file]]
  files = [%q]
  data_format = "influx"
  influx_uint_support = true
`, in, bin, anomalyConf, out))
	res := telegraftest.RunOnce(t, telegrafBin, conf, 120*time.Second)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no output: %v\n%s", err, res.Stderr)
	}
	for _, want := range []string{"big=18446744073709551615u", "small=7u", "anomaly_warmup=true"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output lacks %s:\n%s\nTelegraf:\n%s", want, got, res.Stderr)
		}
	}
}
