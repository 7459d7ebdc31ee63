package stacktest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/types"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/promtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// The compose file is loaded through internal/composetest (compose-go's loader, as docker compose
// loads it).

const pluginID = "hazewatch-anomaly-datasource"

// envValue is a service's environment variable after interpolation ("" when unset).
func envValue(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// hostPath maps a path inside a service's container to the repository file a bind mount puts there.
func hostPath(t testing.TB, s types.ServiceConfig, containerPath string) string {
	t.Helper()
	best := types.ServiceVolumeConfig{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if (containerPath == v.Target || strings.HasPrefix(containerPath, v.Target+"/")) && len(v.Target) > len(best.Target) {
			best = v
		}
	}
	if best.Target == "" {
		t.Fatalf("service %s: no bind mount provides %s", s.Name, containerPath)
	}
	return filepath.Join(best.Source, filepath.FromSlash(strings.TrimPrefix(containerPath, best.Target)))
}

func TestComposeServices(t *testing.T) {
	p := composetest.Load(t, nil)
	for _, name := range []string{"telegraf", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s missing: %v", name, err)
		}
	}
}

// pinnedImage accepts name:tag with a version-looking tag, or a digest; "latest" and bare names move.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$`)

func TestComposeImagesArePinned(t *testing.T) {
	p := composetest.Load(t, nil)
	for _, s := range p.Services {
		if s.Build == nil {
			if !pinnedImage.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest") {
				t.Errorf("service %s: image %q is not pinned to a version", s.Name, s.Image)
			}
			continue
		}
		// A built image is as pinned as the images its Dockerfile starts from.
		dockerfile := filepath.Join(s.Build.Context, s.Build.Dockerfile)
		if filepath.IsAbs(s.Build.Dockerfile) {
			dockerfile = s.Build.Dockerfile
		}
		b, err := os.ReadFile(dockerfile)
		if err != nil {
			t.Errorf("service %s: %v", s.Name, err)
			continue
		}
		froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(string(b), -1)
		if len(froms) == 0 {
			t.Errorf("service %s: %s has no FROM", s.Name, dockerfile)
		}
		for _, m := range froms {
			if !pinnedImage.MatchString(m[1]) {
				t.Errorf("service %s: %s starts FROM %q, which is not pinned to a version", s.Name, dockerfile, m[1])
			}
		}
	}
}

// TestTelegrafImageBuildsOurPlugins checks that the Dockerfile compiles the two external plugins from
// packages that exist, installs them where telegraf.conf looks for them, and that the Go toolchain
// image is new enough for go.mod.
func TestTelegrafImageBuildsOurPlugins(t *testing.T) {
	p := composetest.Load(t, nil)
	s := composetest.Service(t, p, "telegraf")
	if s.Build == nil {
		t.Fatal("service telegraf is not built: nothing would put our plugins into the official image")
	}
	if s.Build.Context != repotest.Root(t) {
		t.Errorf("build context %s, want the repository root (the Dockerfile compiles our packages)", s.Build.Context)
	}
	dockerfile := string(repotest.ReadFile(t, "deploy/telegraf/Dockerfile"))
	for bin, pkg := range map[string]string{
		"telegraf-purpleair": "./telegraf-input/cmd/telegraf-purpleair",
		"telegraf-anomaly":   "./telegraf-processor/cmd/telegraf-anomaly",
	} {
		if !strings.Contains(dockerfile, "-o /out/"+bin+" "+pkg) {
			t.Errorf("Dockerfile does not build %s from %s", bin, pkg)
		}
		if !strings.Contains(dockerfile, "/out/"+bin) || !regexp.MustCompile(`COPY --from=build [^\n]*/out/`+bin+`[^\n]*/usr/local/bin/`).MatchString(dockerfile) {
			t.Errorf("Dockerfile does not install %s into /usr/local/bin (telegraf.conf's default HAZEWATCH_BIN_DIR)", bin)
		}
		if !isMainPackage(t, repotest.Path(t, strings.TrimPrefix(pkg, "./"))) {
			t.Errorf("%s is not a main package in the repository (yet?)", pkg)
		}
	}
	m := regexp.MustCompile(`FROM golang:(\d+)\.(\d+)(?:\.(\d+))?`).FindStringSubmatch(dockerfile)
	gm := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?`).FindStringSubmatch(string(repotest.ReadFile(t, "go.mod")))
	if m == nil || gm == nil {
		t.Fatalf("cannot read the Go versions (Dockerfile %v, go.mod %v)", m, gm)
	}
	if compareVersions(m[1:], gm[1:]) < 0 {
		t.Errorf("Dockerfile builds with Go %s.%s.%s, go.mod needs %s.%s.%s", m[1], m[2], m[3], gm[1], gm[2], gm[3])
	}
}

func isMainPackage(t testing.TB, dir string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly)
		if err == nil && f.Name.Name == "main" {
			return true
		}
	}
	return false
}

// compareVersions compares dotted numeric versions given as parts ("" = 0).
func compareVersions(a, b []string) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// builtByMage lists bind-mount sources that are build outputs rather than files in the repository, with
// the mage target that produces them.
var builtByMage = map[string]string{
	"grafana-datasource/dist": "Plugin",
}

func TestComposeBindMountsExist(t *testing.T) {
	root := repotest.Root(t)
	p := composetest.Load(t, nil)
	targets := mageTargets(t)
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("service %s: volume %q is not declared under volumes:", s.Name, v.Source)
				}
				continue
			}
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("service %s: bind mount %s is outside the repository", s.Name, v.Source)
				continue
			}
			rel = filepath.ToSlash(rel)
			if target, ok := builtByMage[rel]; ok {
				doc, ok := targets[target]
				if !ok {
					t.Errorf("service %s mounts %s, built by mage target %s, which Magefile.go does not have", s.Name, rel, target)
				} else if !strings.Contains(doc, rel) {
					t.Errorf("mage target %s's doc comment does not say it builds %s: %q", target, rel, doc)
				}
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s: bind mount source %s does not exist", s.Name, rel)
			}
			if !v.ReadOnly {
				t.Errorf("service %s: %s is mounted read-write; configuration should be read-only", s.Name, rel)
			}
		}
	}
}

// mageTargets returns the exported functions of Magefile.go (mage's targets) with their doc comments.
func mageTargets(t testing.TB) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), repotest.Path(t, "Magefile.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatalf("Magefile.go: %v", err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.IsExported() {
			out[fn.Name.Name] = fn.Doc.Text()
		}
	}
	return out
}

func TestComposeGrafana(t *testing.T) {
	p := composetest.Load(t, nil)
	g := composetest.Service(t, p, "grafana")

	if v, _ := envValue(g, "GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"); v != pluginID {
		t.Errorf("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS = %q, want %q", v, pluginID)
	}
	if got := hostPath(t, g, "/etc/grafana/provisioning"); got != repotest.Path(t, "provisioning") {
		t.Errorf("/etc/grafana/provisioning comes from %s, want the repository's provisioning/", got)
	}
	if got := hostPath(t, g, "/var/lib/grafana/plugins/"+pluginID); got != repotest.Path(t, "grafana-datasource/dist") {
		t.Errorf("the plugin directory comes from %s, want grafana-datasource/dist", got)
	}
	home, _ := envValue(g, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
	if _, err := os.Stat(hostPath(t, g, home)); err != nil {
		t.Errorf("home dashboard %s: %v", home, err)
	}
	hook, ok := envValue(g, "HAZEWATCH_ALERT_WEBHOOK_URL")
	if u, err := url.Parse(hook); !ok || err != nil || u.Scheme == "" || u.Host == "" {
		t.Errorf("HAZEWATCH_ALERT_WEBHOOK_URL defaults to %q, not a URL (provisioning would fail)", hook)
	}
	if hook, _ := envValue(composetest.Service(t, composetest.Load(t, map[string]string{"HAZEWATCH_ALERT_WEBHOOK_URL": "https://hooks.example/x"}), "grafana"), "HAZEWATCH_ALERT_WEBHOOK_URL"); hook != "https://hooks.example/x" {
		t.Errorf("HAZEWATCH_ALERT_WEBHOOK_URL from the environment is not passed on: %q", hook)
	}

	// The image must satisfy the plugin's grafanaDependency (">=X.Y.Z").
	var plugin struct {
		ID           string `json:"id"`
		Backend      bool   `json:"backend"`
		Alerting     bool   `json:"alerting"`
		Dependencies struct {
			GrafanaDependency string `json:"grafanaDependency"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(repotest.ReadFile(t, "grafana-datasource/src/plugin.json"), &plugin); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	if plugin.ID != pluginID {
		t.Errorf("plugin.json id %q, compose allows %q", plugin.ID, pluginID)
	}
	// The provisioned alert rules query this datasource; Grafana only lets alert rules use datasources
	// whose plugin.json says alerting: true.
	if !plugin.Backend || !plugin.Alerting {
		t.Errorf("plugin.json: backend %v, alerting %v; the provisioned batch alert rule needs both", plugin.Backend, plugin.Alerting)
	}
	tag := g.Image[strings.LastIndex(g.Image, ":")+1:]
	want := strings.TrimSpace(strings.TrimPrefix(plugin.Dependencies.GrafanaDependency, ">="))
	if want == "" || !strings.HasPrefix(plugin.Dependencies.GrafanaDependency, ">=") {
		t.Fatalf("plugin.json grafanaDependency %q: expected >=X.Y.Z", plugin.Dependencies.GrafanaDependency)
	}
	if compareVersions(strings.Split(tag, "."), strings.Split(want, ".")) < 0 {
		t.Errorf("Grafana image %s is older than the plugin's grafanaDependency %s", g.Image, plugin.Dependencies.GrafanaDependency)
	}
}

func TestComposePrometheus(t *testing.T) {
	p := composetest.Load(t, nil)
	s := composetest.Service(t, p, "prometheus")
	flags := map[string]string{}
	for _, a := range s.Command {
		k, v, _ := strings.Cut(a, "=")
		flags[k] = v
	}
	if _, ok := flags["--web.enable-remote-write-receiver"]; !ok {
		t.Error("prometheus runs without --web.enable-remote-write-receiver: Telegraf's remote write would get 404")
	}
	if flags["--storage.tsdb.retention.time"] != "30d" {
		t.Errorf("default retention %q, want 30d", flags["--storage.tsdb.retention.time"])
	}
	if got := composetest.Service(t, composetest.Load(t, map[string]string{"PROMETHEUS_RETENTION": "90d"}), "prometheus").Command; !slices.Contains(got, "--storage.tsdb.retention.time=90d") {
		t.Errorf("PROMETHEUS_RETENTION=90d does not reach the flag: %q", got)
	}
	if got := hostPath(t, s, flags["--config.file"]); got != repotest.Path(t, "deploy/prometheus/prometheus.yml") {
		t.Errorf("--config.file is %s on the host, want deploy/prometheus/prometheus.yml", got)
	}
	for _, v := range s.Volumes {
		if v.Target == flags["--storage.tsdb.path"] && v.Type != types.VolumeTypeVolume {
			t.Errorf("the TSDB (%s) is not on a named volume", v.Target)
		}
	}
}

// TestPrometheusConfig checks deploy/prometheus/prometheus.yml with promtool and that its out-of-order
// window fits inside the retention compose sets (samples older than the retention are useless anyway).
func TestPrometheusConfig(t *testing.T) {
	promtool := promtest.Promtool(t)
	cfg := repotest.Path(t, "deploy/prometheus/prometheus.yml")
	if out, err := exec.Command(promtool, "check", "config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	var c struct {
		Storage struct {
			TSDB struct {
				OutOfOrderTimeWindow string `yaml:"out_of_order_time_window"`
			} `yaml:"tsdb"`
		} `yaml:"storage"`
	}
	b, _ := os.ReadFile(cfg)
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	window, err := model.ParseDuration(c.Storage.TSDB.OutOfOrderTimeWindow)
	if err != nil || window <= 0 {
		t.Fatalf("storage.tsdb.out_of_order_time_window %q: back-dated remote writes would be refused", c.Storage.TSDB.OutOfOrderTimeWindow)
	}
	var retention model.Duration
	for _, a := range composetest.Service(t, composetest.Load(t, nil), "prometheus").Command {
		if v, ok := strings.CutPrefix(a, "--storage.tsdb.retention.time="); ok {
			retention, _ = model.ParseDuration(v)
		}
	}
	if retention == 0 || window > retention {
		t.Errorf("out-of-order window %v is longer than the retention %v", window, retention)
	}
}

// TestComposePurpleAirSource checks the first half of the source switch: compose hands Telegraf
// PURPLEAIR_SOURCE = "api" when only a key is given, a forced source as is, and "" otherwise (which
// telegraf.conf defaults to "simulate"; TestTelegrafPurpleAirSource runs the whole chain).
func TestComposePurpleAirSource(t *testing.T) {
	for _, c := range composeSourceCases {
		t.Run(c.name, func(t *testing.T) {
			s := composetest.Service(t, composetest.Load(t, c.env), "telegraf")
			got, _ := envValue(s, "PURPLEAIR_SOURCE")
			if got != c.composeSource {
				t.Errorf("PURPLEAIR_SOURCE in the container = %q, want %q", got, c.composeSource)
			}
			key, _ := envValue(s, "PURPLEAIR_API_KEY")
			if key != c.env["PURPLEAIR_API_KEY"] {
				t.Errorf("PURPLEAIR_API_KEY in the container = %q, want %q", key, c.env["PURPLEAIR_API_KEY"])
			}
		})
	}
}

var composeSourceCases = []struct {
	name          string
	env           map[string]string
	composeSource string // what compose puts in the container
	source        string // what the input plugin is configured with in the end
	simStart      string // the simulator's start and speedup in the end
	simSpeedup    string
}{
	// With nothing set, the simulator replays its last 6 hours at once (the first start fills the
	// dashboard: TestFirstStartFillsDashboard).
	{"no key: simulate", nil, "", "simulate", "-6h", "0"},
	{"key: api", map[string]string{"PURPLEAIR_API_KEY": "k3y"}, "api", "api", "-6h", "0"},
	{"key, simulate forced", map[string]string{"PURPLEAIR_API_KEY": "k3y", "PURPLEAIR_SOURCE": "simulate"}, "simulate", "simulate", "-6h", "0"},
	{"file forced", map[string]string{"PURPLEAIR_SOURCE": "file"}, "file", "file", "-6h", "0"},
	{"longer backfill, paced", map[string]string{"PURPLEAIR_SIM_START": "-24h", "PURPLEAIR_SIM_SPEEDUP": "60"}, "", "simulate", "-24h", "60"},
	{"real time from now", map[string]string{"PURPLEAIR_SIM_START": "-0s"}, "", "simulate", "-0s", "0"},
}

// TestComposeTelegrafWritesToPrometheusService checks that the URL Telegraf writes to names the
// prometheus service, on the port its remote-write receiver listens on.
func TestComposeTelegrafWritesToPrometheusService(t *testing.T) {
	p := composetest.Load(t, nil)
	s := composetest.Service(t, p, "telegraf")
	raw, _ := envValue(s, "PROMETHEUS_REMOTE_WRITE_URL")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetService(u.Hostname()); err != nil || u.Port() != "9090" || u.Path != "/api/v1/write" {
		t.Errorf("PROMETHEUS_REMOTE_WRITE_URL = %q: want http://<prometheus service>:9090/api/v1/write", raw)
	}
	if _, ok := s.DependsOn["prometheus"]; !ok {
		t.Error("telegraf does not depend on prometheus")
	}
}
