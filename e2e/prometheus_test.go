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

	"github.com/hazewatch/hazewatch/internal/promtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// composeService is the part of a docker-compose service the tests translate to a local process.
type composeService struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

func loadComposeService(t testing.TB, name string) composeService {
	t.Helper()
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(repotest.ReadFile(t, "docker-compose.yml"), &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	s, ok := f.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// composeVarRE matches an innermost compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:+alternative}, ${VAR+alternative}, ${VAR:?error}.
var composeVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^${}]*))?\}`)

// composeDefaults resolves compose interpolations as compose does with none of the variables set: the
// test runs the stack as a user who set nothing. Nested forms resolve from the inside out.
func composeDefaults(s string) string {
	for {
		next := composeVarRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := composeVarRE.FindStringSubmatch(m)
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

// hostPathOf maps a container path to the repository file compose bind-mounts there.
func hostPathOf(t testing.TB, s composeService, containerPath string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == containerPath && strings.HasPrefix(parts[0], "./") {
			return filepath.Join(repotest.Root(t), parts[0])
		}
	}
	t.Fatalf("no bind mount of %s in the compose service (volumes %q)", containerPath, s.Volumes)
	return ""
}

// startPrometheus starts Prometheus with the compose service's command line, translated: the config
// file is the repository file compose mounts, the TSDB dir/tsdb, the listen address a free loopback
// port (promtest.Run sets the last two). It returns once /-/ready answers 200.
func startPrometheus(t testing.TB, bin, dir string, readyWithin time.Duration) *promtest.Server {
	t.Helper()
	s := loadComposeService(t, "prometheus")
	var flags []string
	for _, a := range s.Command {
		a = composeDefaults(a)
		if k, v, _ := strings.Cut(a, "="); k == "--config.file" {
			a = k + "=" + hostPathOf(t, s, v)
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
	s := loadComposeService(t, "prometheus")
	var cfgPath string
	for _, a := range s.Command {
		if k, v, ok := strings.Cut(a, "="); ok && k == "--config.file" {
			cfgPath = hostPathOf(t, s, v)
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
