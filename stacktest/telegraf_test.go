package stacktest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// telegrafProcess describes how the compose stack's Telegraf runs on the execd route, translated to
// this machine. The compose service runs our distribution (deploy/telegraf/native, checked by the
// end-to-end tests in e2e/, TestComposeRunsTheDistribution among them); these tests drive the execd
// route a stock Telegraf takes, deploy/telegraf/telegraf.conf under that route's flags, with the
// service's environment (after compose interpolation of composeEnv) plus overrides.
type telegrafProcess struct {
	args    []string // after the binary
	env     []string
	confDir string // the directory of the execd route's configs (HAZEWATCH_CONF_DIR)
}

func telegrafFromCompose(t testing.TB, composeEnv, overrides map[string]string) telegrafProcess {
	t.Helper()
	s := composetest.Service(t, composetest.Load(t, composeEnv), "telegraf")
	var p telegrafProcess
	p.confDir = repotest.Path(t, "deploy/telegraf")
	p.args = []string{"--strict-env-handling", "--config", filepath.Join(p.confDir, "telegraf.conf")}
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "HAZEWATCH_CONF_DIR": p.confDir}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	for k, v := range overrides {
		env[k] = v
	}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	slices.Sort(p.env)
	return p
}

// TestTelegrafConfigCheck loads the mounted telegraf.conf with the real Telegraf (`telegraf config
// check`: parse, and build and initialize every plugin without starting it) under the flags compose uses.
func TestTelegrafConfigCheck(t *testing.T) {
	bin := telegraftest.Binary(t)
	p := telegrafFromCompose(t, nil, nil)
	cmd := exec.Command(bin, append([]string{"config", "check"}, p.args...)...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("telegraf config check: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("E! ")) || bytes.Contains(out, []byte("W! ")) {
		t.Errorf("telegraf config check logged problems:\n%s", out)
	}
}

// TestTelegrafPurpleAirSource runs the real Telegraf with the mounted telegraf.conf and stand-in plugin
// commands that report what they were started with, for each way a user can start the stack: Telegraf's
// ${VAR:-default} handling and the execd environment must end in the source compose promises, the
// input must get its config path and the key, and the processor must run.
func TestTelegrafPurpleAirSource(t *testing.T) {
	bin := telegraftest.Binary(t)
	stubs := t.TempDir()
	writeScript(t, filepath.Join(stubs, "telegraf-purpleair"), `echo "purpleair,sensor_index=1 source=\"$PURPLEAIR_SOURCE\",config=\"$2\",key_length=${#PURPLEAIR_API_KEY}i,sim_start=\"$PURPLEAIR_SIM_START\",sim_speedup=\"$PURPLEAIR_SIM_SPEEDUP\""`+"\nexec sleep 60")
	writeScript(t, filepath.Join(stubs, "telegraf-anomaly"), `while IFS= read -r line; do echo "$line" | sed 's/ \([0-9]*\)$/,processor_state_dir="'"$(echo "$HAZEWATCH_STATE_DIR" | tr / :)"'" \1/'; done`)
	for _, c := range composeSourceCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := telegrafFromCompose(t, c.env, map[string]string{"HAZEWATCH_BIN_DIR": stubs})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(p.args, "--test", "--test-wait", "2")...)
			cmd.Env = p.env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			// The exit status is not checked: in --test mode Telegraf v1.37 reports errors for reading
			// the execd pipes it has just closed itself. The metric it printed is the evidence.
			_ = cmd.Run()
			line := regexp.MustCompile(`(?m)^> purpleair,.*$`).FindString(stdout.String())
			if line == "" {
				t.Fatalf("no purpleair metric from Telegraf\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
			}
			for field, want := range map[string]string{
				"source":              `"` + c.source + `"`,
				"config":              `"` + filepath.Join(p.confDir, "purpleair.conf") + `"`,
				"key_length":          strconv.Itoa(len(c.env["PURPLEAIR_API_KEY"])) + "i",
				"processor_state_dir": `":var:lib:hazewatch"`,
				"sim_start":           `"` + c.simStart + `"`,
				"sim_speedup":         `"` + c.simSpeedup + `"`,
			} {
				if !strings.Contains(line, field+"="+want) {
					t.Errorf("%s: want %s=%s", line, field, want)
				}
			}
		})
	}
}

func writeScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// buildPlugins compiles our two external plugins, as `mage binaries` and the Dockerfile do, into dir.
func buildPlugins(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	repotest.GoBuild(t, dir, map[string]string{
		"telegraf-purpleair": "./telegraf-input/cmd/telegraf-purpleair",
		"telegraf-anomaly":   "./telegraf-processor/cmd/telegraf-anomaly",
	})
	return dir
}

// execdEnvironment returns the `environment` list telegraf.conf gives the execd block running the
// named binary, with Telegraf's ${VAR:-default} resolved against env.
func execdEnvironment(t testing.TB, binary string, env map[string]string) map[string]string {
	t.Helper()
	var conf struct {
		Inputs     map[string][]map[string]any `toml:"inputs"`
		Processors map[string][]map[string]any `toml:"processors"`
	}
	if _, err := toml.Decode(string(repotest.ReadFile(t, "deploy/telegraf/telegraf.conf")), &conf); err != nil {
		t.Fatal(err)
	}
	for _, blocks := range [][]map[string]any{conf.Inputs["execd"], conf.Processors["execd"]} {
		for _, b := range blocks {
			cmd, _ := b["command"].([]any)
			if len(cmd) == 0 || !strings.HasSuffix(cmd[0].(string), "/"+binary) {
				continue
			}
			out := map[string]string{}
			list, _ := b["environment"].([]any)
			for _, e := range list {
				k, v, _ := strings.Cut(e.(string), "=")
				out[k] = expandWithDefaults(v, env)
			}
			return out
		}
	}
	t.Fatalf("telegraf.conf has no execd block running %s", binary)
	return nil
}

// expandWithDefaults resolves ${VAR} and ${VAR:-default} (the forms telegraf.conf uses).
func expandWithDefaults(s string, env map[string]string) string {
	return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`).ReplaceAllStringFunc(s, func(m string) string {
		sub := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`).FindStringSubmatch(m)
		if v := env[sub[1]]; v != "" {
			return v
		}
		return sub[2]
	})
}

// TestPluginConfigs loads deploy/telegraf/{purpleair,anomaly}.conf into the real plugin binaries the way
// Telegraf starts them (the execd block's environment, stdin closed at once): each must load and
// initialize without an error. Every option they set must also be one the plugin documents, since the
// shim's TOML decoding ignores unknown keys silently.
func TestPluginConfigs(t *testing.T) {
	bins := buildPlugins(t)
	cases := []struct {
		binary, conf, sample string
		env                  map[string]string
	}{
		{"telegraf-anomaly", "anomaly.conf", "telegraf-processor/sample.conf", map[string]string{"HAZEWATCH_STATE_DIR": t.TempDir()}},
		{"telegraf-purpleair", "purpleair.conf", "telegraf-input/sample.conf", map[string]string{"PURPLEAIR_SOURCE": ""}},
		{"telegraf-purpleair", "purpleair.conf", "telegraf-input/sample.conf", map[string]string{"PURPLEAIR_SOURCE": "api", "PURPLEAIR_API_KEY": "test-key"}},
	}
	for _, c := range cases {
		t.Run(c.binary+" "+c.env["PURPLEAIR_SOURCE"], func(t *testing.T) {
			conf := repotest.Path(t, "deploy/telegraf/"+c.conf)
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			if k := c.env["PURPLEAIR_API_KEY"]; k != "" {
				env = append(env, "PURPLEAIR_API_KEY="+k) // inherited from the container, not set by telegraf.conf
				// The plugin starts polling the live API at once; a dead proxy keeps the test's fake key
				// from ever leaving this machine.
				env = append(env, "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=")
			}
			execd := execdEnvironment(t, c.binary, c.env)
			for k, v := range execd {
				env = append(env, k+"="+v)
			}
			// Every $VAR the plugin config uses must be provided by its execd block (the shim expands
			// unset variables to "" silently) or be the key the input reads by name.
			raw := string(repotest.ReadFile(t, "deploy/telegraf/"+c.conf))
			for _, m := range regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(stripComments(raw), -1) {
				if _, ok := execd[m[1]]; !ok {
					t.Errorf("%s uses $%s, which telegraf.conf's execd block for %s does not set", c.conf, m[1], c.binary)
				}
			}
			// As the shim reads it: variables expanded first.
			checkOptionsDocumented(t, c.conf, os.Expand(raw, func(k string) string { return execd[k] }), c.sample)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bins, c.binary), "-config", conf)
			cmd.Env = env
			cmd.Stdin = strings.NewReader("") // Telegraf closing stdin = stop
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err != nil || bytes.Contains(stderr.Bytes(), []byte("E! ")) {
				t.Errorf("%s -config %s: %v\nstderr:\n%s", c.binary, c.conf, err, &stderr)
			}
			if c.env["PURPLEAIR_API_KEY"] != "" && strings.Contains(stderr.String()+stdout.String(), c.env["PURPLEAIR_API_KEY"]) {
				t.Error("the API key appears in the plugin's output")
			}
		})
	}
}

func stripComments(s string) string {
	return regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(s, "")
}

// checkOptionsDocumented fails for an option set in deploy/telegraf/<conf> that the plugin's sample.conf
// does not document (a typo the shim would silently ignore).
func checkOptionsDocumented(t testing.TB, conf, content, sample string) {
	t.Helper()
	doc := string(repotest.ReadFile(t, sample))
	var tables map[string]map[string][]map[string]any
	if _, err := toml.Decode(content, &tables); err != nil {
		t.Fatalf("%s: %v", conf, err)
	}
	for kind, plugins := range tables {
		for name, blocks := range plugins {
			if !strings.Contains(doc, "[["+kind+"."+name+"]]") {
				t.Errorf("%s configures %s.%s, not the plugin %s documents", conf, kind, name, sample)
			}
			for _, b := range blocks {
				for key, v := range b {
					if _, isTable := v.(map[string]any); isTable {
						if !strings.Contains(doc, "["+kind+"."+name+"."+key+"]") {
							t.Errorf("%s: table %s is not documented in %s", conf, key, sample)
						}
						continue
					}
					if !regexp.MustCompile(`(?m)^\s*#?\s*` + regexp.QuoteMeta(key) + `\s*=`).MatchString(doc) {
						t.Errorf("%s: option %s is not documented in %s (typo?)", conf, key, sample)
					}
				}
			}
		}
	}
}
