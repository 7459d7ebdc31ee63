package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/promtest"
)

// varRE matches an innermost ${VAR} substitution (Telegraf's, in its config files, and compose's forms): ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:+alternative}, ${VAR+alternative}, ${VAR:?error}.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^${}]*))?\}`)

// varDefaults resolves ${VAR:-default} substitutions with none of the variables set: the test runs
// the stack as a user who set nothing. Nested forms resolve from the inside out.
func varDefaults(s string) string {
	for {
		next := varRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := varRE.FindStringSubmatch(m)
			if op := sub[2]; op == ":-" || op == "-" {
				return sub[3] // unset: the default
			}
			return "" // unset: no alternative; ${VAR:?…} is for the user to fix, not here
		})
		if next == s {
			return s
		}
		s = next
	}
}

// startPrometheus starts Prometheus with the compose service's command line, translated: the config
// file is the repository file compose mounts, the TSDB dir/tsdb, the listen address a free loopback
// port (promtest.Run sets the last two). It returns once /-/ready answers 200.
func startPrometheus(t testing.TB, bin, dir string, readyWithin time.Duration) *promtest.Server {
	t.Helper()
	s := composetest.Service(t, composetest.Load(t, nil), "prometheus")
	var flags []string
	for _, a := range s.Command {
		if k, v, _ := strings.Cut(a, "="); k == "--config.file" {
			a = k + "=" + composetest.HostPath(t, s, v)
		}
		flags = append(flags, a)
	}
	return promtest.Run(t, promtest.Config{Bin: bin, Flags: flags, DataDir: filepath.Join(dir, "tsdb"),
		LogPath: filepath.Join(dir, "prometheus.log"), ReadyWithin: readyWithin})
}

// outOfOrderWindow reads storage.tsdb.out_of_order_time_window from the Prometheus config compose mounts
// (Prometheus 2.39+ syntax: a duration under storage.tsdb).
func outOfOrderWindow(t testing.TB) time.Duration {
	t.Helper()
	s := composetest.Service(t, composetest.Load(t, nil), "prometheus")
	var cfgPath string
	for _, a := range s.Command {
		if k, v, ok := strings.Cut(a, "="); ok && k == "--config.file" {
			cfgPath = composetest.HostPath(t, s, v)
		}
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Storage struct {
			TSDB struct {
				OOO string `yaml:"out_of_order_time_window"`
			} `yaml:"tsdb"`
		} `yaml:"storage"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	if cfg.Storage.TSDB.OOO == "" {
		return 0
	}
	d, err := model.ParseDuration(cfg.Storage.TSDB.OOO)
	if err != nil {
		t.Fatalf("%s: out_of_order_time_window: %v", cfgPath, err)
	}
	return time.Duration(d)
}
