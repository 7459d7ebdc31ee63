package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/teldist"
)

// The compose service runs our distribution with the native configs, and the image builds it: a
// compose file still starting the stock telegraf with execd wrappers would pass every other check.
func TestComposeRunsTheDistribution(t *testing.T) {
	svc := composetest.Service(t, composetest.Load(t, nil), "telegraf")
	if len(svc.Command) == 0 || svc.Command[0] != teldist.Name {
		t.Fatalf("compose telegraf command %q does not start %s", svc.Command, teldist.Name)
	}
	var configs []string
	for i, a := range svc.Command {
		if a == "--config" && i+1 < len(svc.Command) {
			configs = append(configs, composetest.HostPath(t, svc, svc.Command[i+1]))
		}
	}
	for _, f := range []string{"telegraf.conf", "purpleair.conf", "anomaly.conf"} {
		want := repotest.Path(t, "deploy/telegraf/native/"+f)
		found := false
		for _, c := range configs {
			found = found || c == want
		}
		if !found {
			t.Errorf("the compose service does not load %s (it loads %q)", want, configs)
		}
	}
	native := string(repotest.ReadFile(t, "deploy/telegraf/native/telegraf.conf")) +
		string(repotest.ReadFile(t, "deploy/telegraf/native/purpleair.conf")) +
		string(repotest.ReadFile(t, "deploy/telegraf/native/anomaly.conf"))
	if strings.Contains(native, "execd") && regexp.MustCompile(`(?m)^\s*\[\[\w+\.execd\]\]`).MatchString(native) {
		t.Error("the native configs still run an execd plugin")
	}
	dockerfile := string(repotest.ReadFile(t, "deploy/telegraf/Dockerfile"))
	if !strings.Contains(dockerfile, "go run ./internal/teldist/cmd/build -o /out/"+teldist.Name) {
		t.Errorf("the Dockerfile does not build %s with internal/teldist/cmd/build", teldist.Name)
	}
	if !regexp.MustCompile(`COPY --from=build [^\n]*/out/` + teldist.Name + `[^\n]*/usr/local/bin/`).MatchString(dockerfile) {
		t.Errorf("the Dockerfile does not install %s into /usr/local/bin", teldist.Name)
	}
}

// decodeConf decodes a plugin config the way Telegraf would after substituting ${VAR:-default} with env
// (the substitution rules of varDefaults, which are Telegraf's for these forms), and returns
// the options of its one block.
func decodeConf(t *testing.T, path, kind, name string, env map[string]string) map[string]any {
	t.Helper()
	text := string(repotest.ReadFile(t, path))
	text = os.Expand(text, func(v string) string { // $VAR and ${VAR}: the execd shim's substitution
		if val, ok := env[v]; ok {
			return val
		}
		return "${" + v + "}"
	})
	for k, v := range env {
		text = regexp.MustCompile(`\$\{`+regexp.QuoteMeta(k)+`:-[^}]*\}`).ReplaceAllLiteralString(text, v)
	}
	text = varDefaults(text) // what is left: the defaults
	var conf map[string]map[string][]map[string]any
	if _, err := toml.Decode(text, &conf); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, text)
	}
	blocks := conf[kind][name]
	if len(blocks) != 1 {
		t.Fatalf("%s holds %d [[%s.%s]] blocks, want 1", path, len(blocks), kind, name)
	}
	return blocks[0]
}

// The native configs set the models and the input as the execd route's do (only namepass moves into
// the processor's block): the two routes of one stack must not drift apart, and the restart's control
// in TestStackEndToEnd runs the native state through telegraf-anomaly with the execd anomaly.conf.
func TestNativeConfigsMatchExecd(t *testing.T) {
	for _, env := range []map[string]string{
		{"HAZEWATCH_STATE_DIR": "/state", "PURPLEAIR_SOURCE": "simulate", "PURPLEAIR_SIM_START": "", "PURPLEAIR_SIM_SPEEDUP": "1.0"},
		{"HAZEWATCH_STATE_DIR": "/elsewhere", "PURPLEAIR_SOURCE": "api", "PURPLEAIR_SIM_START": "-6h", "PURPLEAIR_SIM_SPEEDUP": "0"},
	} {
		execd := decodeConf(t, "deploy/telegraf/anomaly.conf", "processors", "anomaly", env)
		native := decodeConf(t, "deploy/telegraf/native/anomaly.conf", "processors", "anomaly", env)
		if got, _ := json.Marshal(native["namepass"]); string(got) != `["purpleair"]` {
			t.Errorf("native anomaly.conf: namepass %s, want [\"purpleair\"] (the execd route sets it on processors.execd)", got)
		}
		delete(native, "namepass")
		a, _ := json.Marshal(execd)
		b, _ := json.Marshal(native)
		if !bytes.Equal(a, b) {
			t.Errorf("anomaly.conf differs between the routes under %v:\nexecd  %s\nnative %s", env, a, b)
		}

		execdIn := decodeConf(t, "deploy/telegraf/purpleair.conf", "inputs", "purpleair", env)
		nativeIn := decodeConf(t, "deploy/telegraf/native/purpleair.conf", "inputs", "purpleair", env)
		// The native speedup is written "${PURPLEAIR_SIM_SPEEDUP:-1}e0" (a TOML float whatever the number).
		if f, ok := nativeIn["speedup"].(float64); ok {
			if e, ok := execdIn["speedup"].(float64); ok && e == f {
				delete(nativeIn, "speedup")
				delete(execdIn, "speedup")
			}
		}
		a, _ = json.Marshal(execdIn)
		b, _ = json.Marshal(nativeIn)
		if !bytes.Equal(a, b) {
			t.Errorf("purpleair.conf differs between the routes under %v:\nexecd  %s\nnative %s", env, a, b)
		}
	}
}

// statefileEntries returns Telegraf's statefile: plugin ID to the state bytes. Telegraf's persister
// keeps each plugin's state as the JSON of GetState's value (ours: []byte, so a base64 string), and
// the file as JSON of ID to those JSON bytes (base64 again).
func statefileEntries(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("Telegraf's statefile: %v", err)
	}
	var states map[string][]byte
	if err := json.Unmarshal(b, &states); err != nil {
		t.Fatalf("Telegraf's statefile %s: %v", path, err)
	}
	out := map[string][]byte{}
	for id, js := range states {
		var state []byte
		if err := json.Unmarshal(js, &state); err == nil {
			out[id] = state
		}
	}
	return out
}

// TestNativeStatefile: the distribution keeps the processor's models in Telegraf's own statefile
// ([agent] statefile in deploy/telegraf/native/telegraf.conf) — with the processor's state_file removed
// between the runs, the restarted Telegraf scores every sensor at once instead of warming up again. The
// shipped configs run as compose runs them (TestStackEndToEnd covers state_file and the whole stack).
func TestNativeStatefile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs hazewatch-telegraf")
	}
	dir := t.TempDir()
	stack := &telegrafStack{native: true, dir: dir, confDir: filepath.Join(dir, "etc-telegraf"), stateDir: filepath.Join(dir, "state")}
	for _, d := range []string{stack.confDir, stack.stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stack.bin = teldist.Binary(t, repotest.Root(t))
	// A remote-write receiver that takes everything: this test is about the state, not Prometheus.
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	stack.remote = srv.URL + "/api/v1/write"
	stack.installProcessorConfig(t)

	const sensors = 5
	window := 60 // deploy/telegraf/native/anomaly.conf's window_size (TestNativeConfigsMatchExecd: = execd's)
	steps := window + 10
	step := shippedStep(t)
	start := time.Now().Add(-time.Duration(steps) * step).Truncate(step)
	input := func(from time.Time) map[string]string {
		return map[string]string{"sensors": "5", "fault_rate": "0.0", "start": `"` + from.UTC().Format(time.RFC3339) + `"`, "speedup": "0.0"}
	}
	stack.writeInputConfig(t, input(start))
	out1 := filepath.Join(dir, "run1.influx")
	tg := stack.run(t, "run1", out1)
	waitForLines(t, tg, out1, steps*sensors, 3*time.Minute)
	if err := tg.Stop(60 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tg.Log())
	}
	if p := logProblems(tg.Log()); len(p) > 0 {
		t.Errorf("Telegraf logged problems:\n%s", strings.Join(p, "\n"))
	}
	statefile := filepath.Join(stack.stateDir, "telegraf-state.json")
	ours := 0
	for id, b := range statefileEntries(t, statefile) {
		if bytes.HasPrefix(b, []byte("HZANOMST")) {
			ours++
			t.Logf("statefile: processors.anomaly (id %s) saved %d bytes", id, len(b))
		}
	}
	if ours != 1 {
		t.Fatalf("Telegraf's statefile holds %d states of processors.anomaly, want 1", ours)
	}
	// Only Telegraf's statefile is left to restore from.
	if err := os.Remove(stack.stateFile()); err != nil {
		t.Fatalf("the processor's state_file: %v", err)
	}

	stack.writeInputConfig(t, input(time.Now().Add(time.Minute).Truncate(time.Second)))
	out2 := filepath.Join(dir, "run2.influx")
	tg2 := stack.run(t, "run2", out2)
	waitForLines(t, tg2, out2, sensors, 2*time.Minute)
	if err := tg2.Stop(60 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, tg2.Log())
	}
	after, err := readReadings(out2)
	if err != nil {
		t.Fatal(err)
	}
	warm := 0
	for _, r := range after {
		if r.flag(warmupField) {
			warm++
		}
		if _, ok := r.score(); !ok && !r.flag(warmupField) {
			t.Errorf("unscored metric after the restart: %v", r.Fields)
		}
	}
	if warm != 0 {
		t.Errorf("%d of %d metrics after the restart are warm-up: Telegraf's statefile did not restore the models\n%s", warm, len(after), tg2.Log())
	}
	if received.Load() == 0 {
		t.Error("nothing reached the remote-write receiver")
	}
	t.Logf("restart from Telegraf's statefile alone: %d metrics, none warming up", len(after))
}
