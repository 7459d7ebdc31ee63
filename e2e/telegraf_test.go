package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/teldist"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// overrideSettings sets `key = value` lines of a single-table TOML plugin config: a setting already
// present (uncommented) is replaced in place, keeping the file's comments; others are appended (the
// file's one table continues to its end). Keys are replaced in full lines only, so values are TOML
// literals as written.
func overrideSettings(conf string, set map[string]string) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var appended []string
	for _, k := range keys {
		re := regexp.MustCompile(`(?m)^([ \t]*)` + regexp.QuoteMeta(k) + `[ \t]*=.*$`)
		if re.MatchString(conf) {
			conf = re.ReplaceAllString(conf, "${1}"+k+" = "+escapeReplacement(set[k]))
			continue
		}
		appended = append(appended, "  "+k+" = "+set[k])
	}
	if len(appended) > 0 {
		if !strings.HasSuffix(conf, "\n") {
			conf += "\n"
		}
		conf += "  ## ---- end-to-end test overrides ----\n" + strings.Join(appended, "\n") + "\n"
	}
	return conf
}

func escapeReplacement(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// telegrafStack is the Telegraf part of the compose stack laid out on this machine: our distribution
// running deploy/telegraf/native as the compose service does (native), or a stock Telegraf running our
// external binaries with deploy/telegraf/telegraf.conf (the execd route).
type telegrafStack struct {
	native   bool
	bin      string // Telegraf: hazewatch-telegraf when native
	dir      string // the test's directory for this stack
	binDir   string // HAZEWATCH_BIN_DIR: telegraf-purpleair, telegraf-anomaly
	confDir  string // HAZEWATCH_CONF_DIR: purpleair.conf (test overrides), anomaly.conf (as shipped)
	stateDir string // HAZEWATCH_STATE_DIR: the processor's state file (a named volume in compose)
	remote   string // PROMETHEUS_REMOTE_WRITE_URL
}

// stateFile is where deploy/telegraf/anomaly.conf puts the processor's state.
func (s *telegrafStack) stateFile() string { return filepath.Join(s.stateDir, "anomaly-state.bin") }

// deployDir is where the route's configuration is in the repository.
func (s *telegrafStack) deployDir() string {
	if s.native {
		return "deploy/telegraf/native"
	}
	return "deploy/telegraf"
}

// installProcessorConfig copies the route's anomaly.conf, as shipped, into confDir.
func (s *telegrafStack) installProcessorConfig(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.confDir, "anomaly.conf"), repotest.ReadFile(t, s.deployDir()+"/anomaly.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newTelegrafStack lays out the Telegraf part of the stack in dir as compose mounts it (bin, etc-telegraf
// with the route's anomaly.conf as shipped, state) and builds what the containers would hold: Telegraf
// (our distribution when native) and, into binDir, the two execd plugins, the datasource binary and
// extra (binary name → package).
func newTelegrafStack(t testing.TB, dir string, native bool, extra map[string]string) *telegrafStack {
	t.Helper()
	s := &telegrafStack{native: native, dir: dir, binDir: filepath.Join(dir, "bin"), confDir: filepath.Join(dir, "etc-telegraf"), stateDir: filepath.Join(dir, "state")}
	for _, d := range []string{s.binDir, s.confDir, s.stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if native {
		s.bin = teldist.Binary(t, repotest.Root(t))
	} else {
		s.bin = telegraftest.Binary(t)
	}
	binaries := map[string]string{
		"telegraf-purpleair":    "./telegraf-input/cmd/telegraf-purpleair",
		"telegraf-anomaly":      "./telegraf-processor/cmd/telegraf-anomaly",
		"gpx_hazewatch_anomaly": "./grafana-datasource/pkg",
	}
	maps.Copy(binaries, extra)
	repotest.GoBuild(t, s.binDir, binaries)
	s.installProcessorConfig(t)
	return s
}

// controlConfig is the configuration telegraf-anomaly runs the restart's control with: the execd
// route's anomaly.conf, which sets the same models as the native one (TestNativeConfigsMatchExecd).
func (s *telegrafStack) controlConfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(s.confDir, "anomaly-execd.conf")
	if err := os.WriteFile(path, repotest.ReadFile(t, "deploy/telegraf/anomaly.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeInputConfig writes confDir/purpleair.conf: the route's shipped purpleair.conf with the given
// settings overridden.
func (s *telegrafStack) writeInputConfig(t testing.TB, set map[string]string) {
	t.Helper()
	conf := overrideSettings(string(repotest.ReadFile(t, s.deployDir()+"/purpleair.conf")), set)
	if err := os.WriteFile(filepath.Join(s.confDir, "purpleair.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run starts Telegraf the way the compose service does (natively its command, with the repository's
// telegraf.conf; on the execd route the execd telegraf.conf under the same flags; the service's
// environment with compose defaults) plus one more config file with an outputs.file copy of every
// metric into outFile. The plugin configs come from confDir.
func (s *telegrafStack) run(t testing.TB, name, outFile string) *proctest.Process {
	t.Helper()
	svc := composetest.Service(t, composetest.Load(t, nil), "telegraf")
	if len(svc.Command) == 0 || svc.Command[0] != teldist.Name {
		t.Fatalf("compose telegraf command %q does not start %s", svc.Command, teldist.Name)
	}
	command := svc.Command[1:]
	if !s.native {
		// What the compose service ran before it ran the distribution, and what a stock Telegraf runs.
		command = []string{"--strict-env-handling", "--config", repotest.Path(t, "deploy/telegraf/telegraf.conf")}
	}
	extra := filepath.Join(s.dir, name+"-outputs-file.conf")
	conf := fmt.Sprintf(`# End-to-end test only: a copy of every metric Telegraf sends to Prometheus, to count and to
# measure detection against the simulator's fault labels.
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, outFile)
	if err := os.WriteFile(extra, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range command {
		switch {
		case s.native && (a == "/etc/telegraf/purpleair.conf" || a == "/etc/telegraf/anomaly.conf"):
			a = filepath.Join(s.confDir, filepath.Base(a)) // the test's copies, with its overrides
		case s.native && strings.HasPrefix(a, "/"):
			a = composetest.HostPath(t, svc, a)
		}
		args = append(args, a)
	}
	args = append(args, "--config", extra)

	env := map[string]string{}
	for k, v := range svc.Environment {
		env[k] = ""
		if v != nil {
			env[k] = *v
		}
	}
	// What compose provides through the container instead: the binaries and configs at their paths,
	// the state volume, the service name of Prometheus.
	env["HAZEWATCH_BIN_DIR"] = s.binDir
	env["HAZEWATCH_CONF_DIR"] = s.confDir
	env["HAZEWATCH_STATE_DIR"] = s.stateDir
	env["PROMETHEUS_REMOTE_WRITE_URL"] = s.remote
	return proctest.Start(t, "telegraf ("+name+")", s.bin, args, proctest.MinimalEnv(env), filepath.Join(s.dir, name+"-telegraf.log"))
}

// lineCounter counts the complete lines of a file that another process appends to.
type lineCounter struct {
	path  string
	off   int64
	lines int
}

func (c *lineCounter) update() (int, error) {
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	// Count only up to the last newline: a line being written is counted once it is complete.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		c.lines += bytes.Count(b[:i+1], []byte{'\n'})
		c.off += int64(i + 1)
	}
	return c.lines, nil
}

// waitForLines polls outFile until it holds at least want lines, the process exits, or within passes.
func waitForLines(t testing.TB, p *proctest.Process, outFile string, want int, within time.Duration) int {
	t.Helper()
	c := &lineCounter{path: outFile}
	deadline := time.Now().Add(within)
	for {
		n, err := c.update()
		if err != nil {
			t.Fatal(err)
		}
		if n >= want {
			return n
		}
		if p.Exited() {
			t.Fatalf("%s exited with %d of %d metrics written: %v\n%s", p.Name, n, want, p.Err(), p.Log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote %d of %d metrics within %s\n%s", p.Name, n, want, within, p.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// logProblems returns Telegraf's error and warning lines (E!/W!), which would mean metrics refused by
// Prometheus, a plugin crash, or a config the plugins did not take. Two kinds are not problems: a slow
// flush (the replay sends a day of history at once, on a machine the test shares), and Telegraf's execd
// plugins reporting, while Telegraf stops, that it closed their pipes ("file already closed").
func logProblems(log string) []string {
	var order []string
	count := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "did not complete within its flush interval") || strings.Contains(l, "file already closed") {
			continue
		}
		if !strings.Contains(l, " E! ") && !strings.Contains(l, " W! ") && !strings.Contains(l, "Metrics are lost") {
			continue
		}
		// One line per distinct message: the same warning repeats on every flush.
		if _, msg, ok := strings.Cut(l, "Z "); ok {
			l = msg
		}
		if count[l] == 0 {
			order = append(order, l)
		}
		count[l]++
	}
	out := make([]string, len(order))
	for i, l := range order {
		out[i] = fmt.Sprintf("%d× %s", count[l], l)
	}
	return out
}
