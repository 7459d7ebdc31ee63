package stacktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/types"

	"github.com/hazewatch/hazewatch/internal/composetest"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// The first start replays 6 hours (TestFirstStartFillsDashboard); a restart must not: measured without
// deploy/telegraf/first-start.sh, a restart wrote a second simulated history between the stored readings
// (9,050 PM2.5 samples in Prometheus before, 17,949 and 17,962 after in two runs), because the readings'
// times are the sensors' own last_seen, which a second simulation from another start does not repeat.

const firstStartScript = "deploy/telegraf/first-start.sh"

// runFirstStart runs the image's entrypoint script in front of `env` and returns what the command it
// hands over to sees of PURPLEAIR_SIM_START ("" when unset), and the script's stderr.
func runFirstStart(t *testing.T, env map[string]string) (string, string) {
	t.Helper()
	cmd := exec.Command("sh", repotest.Path(t, firstStartScript), "env")
	cmd.Env = proctest.MinimalEnv(env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s env: %v\n%s", firstStartScript, err, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^PURPLEAIR_SIM_START=(.*)$`).FindStringSubmatch(string(out))
	if m == nil {
		return "", stderr.String()
	}
	return m[1], stderr.String()
}

func TestFirstStartScript(t *testing.T) {
	fresh, used := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(used, "anomaly-state.bin"), []byte("state"), 0o644); err != nil {
		t.Fatal(err)
	}
	step := simStep(t)
	m := regexp.MustCompile(`(?m)^step_seconds=(\d+)$`).FindStringSubmatch(string(repotest.ReadFile(t, firstStartScript)))
	if m == nil || m[1] != strconv.Itoa(int(step.Seconds())) {
		t.Fatalf("%s: step_seconds %v, purpleair.conf's step %v", firstStartScript, m, step)
	}
	nextStep := func(got string) bool {
		at, err := time.Parse(time.RFC3339, got)
		now := time.Now()
		return err == nil && at.After(now.Add(-time.Second)) && !at.After(now.Add(step)) && at.Equal(at.Truncate(step))
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want func(string) bool // what Telegraf then sees; "" lets the configs' default (-6h) apply
	}{
		{"first start (compose passes the unset variable as empty)", map[string]string{"HAZEWATCH_STATE_DIR": fresh, "PURPLEAIR_SIM_START": ""}, func(s string) bool { return s == "" }},
		{"restart: real time from the next step", map[string]string{"HAZEWATCH_STATE_DIR": used, "PURPLEAIR_SIM_START": ""}, nextStep},
		{"restart, replay asked for", map[string]string{"HAZEWATCH_STATE_DIR": used, "PURPLEAIR_SIM_START": "-24h"}, func(s string) bool { return s == "-24h" }},
		{"first start, real time asked for", map[string]string{"HAZEWATCH_STATE_DIR": fresh, "PURPLEAIR_SIM_START": "-0s"}, func(s string) bool { return s == "-0s" }},
	} {
		got, stderr := runFirstStart(t, c.env)
		if !c.want(got) {
			t.Errorf("%s: PURPLEAIR_SIM_START=%q (stderr %q)", c.name, got, stderr)
		}
		if skipped := strings.Contains(stderr, "without replaying history"); skipped != (c.env["PURPLEAIR_SIM_START"] == "" && c.env["HAZEWATCH_STATE_DIR"] == used) {
			t.Errorf("%s: the script should say why it skips the replay exactly when it does: stderr %q", c.name, stderr)
		}
	}

	// The image runs it: the Dockerfile installs it as the entrypoint in front of the official one, and
	// compose keeps HAZEWATCH_STATE_DIR on a named volume, so the state it looks for outlives a container.
	dockerfile := string(repotest.ReadFile(t, "deploy/telegraf/Dockerfile"))
	if !regexp.MustCompile(`(?m)^COPY (--chmod=0?755 )?`+regexp.QuoteMeta(firstStartScript)+` /usr/local/bin/hazewatch-first-start$`).MatchString(dockerfile) ||
		!strings.Contains(dockerfile, `ENTRYPOINT ["/usr/local/bin/hazewatch-first-start", "/entrypoint.sh"]`) {
		t.Errorf("deploy/telegraf/Dockerfile does not run %s before the official /entrypoint.sh", firstStartScript)
	}
	s := composetest.Service(t, composetest.Load(t, nil), "telegraf")
	dir, _ := envValue(s, "HAZEWATCH_STATE_DIR")
	onVolume := false
	for _, v := range s.Volumes {
		onVolume = onVolume || (v.Target == dir && v.Type == types.VolumeTypeVolume)
	}
	if dir == "" || !onVolume {
		t.Errorf("compose: HAZEWATCH_STATE_DIR %q is not a named volume, so every start would look like the first", dir)
	}
}

// TestRestartDoesNotReplay starts the stack with compose's defaults, stops Telegraf once the replay is
// in, and starts it again through the image's entrypoint script with the same state directory: the
// second start must add only real-time readings, not a second copy of the 6 hours.
func TestRestartDoesNotReplay(t *testing.T) {
	plugins := buildPlugins(t)
	stateDir := t.TempDir()
	st := startStack(t, plugins, stateDir, nil)
	firstStarted := time.Now()
	sensors := sensorCount(t)
	step := simStep(t)
	const stored = `sum(count_over_time(purpleair_pm2_5_cf_1[7h]))`
	count := func() float64 {
		res, err := st.prom.Query(context.Background(), stored, time.Time{})
		if err != nil || len(res) != 1 {
			return -1
		}
		return res[0].Samples[0].V
	}
	want := float64(sensors) * float64(6*time.Hour/step)
	var first float64
	for deadline := time.Now().Add(firstStartBudget); ; time.Sleep(time.Second) {
		if first = count(); first >= want-float64(2*sensors) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first start stored %v PM2.5 readings within %v, want about %v\n%s", first, firstStartBudget, want, st.log)
		}
	}
	time.Sleep(3 * time.Second) // the last flush
	first = count()
	st.stop()
	// Restarted within the same step, a replay would simulate exactly what the first start did, which
	// Prometheus takes silently as the same samples again; a restart in a later step is what a user
	// does, and there a replay writes readings at other times (measured: the count doubled).
	time.Sleep(time.Until(firstStarted.Truncate(step).Add(step + time.Second)))

	p := telegrafFromCompose(t, nil, map[string]string{
		"HAZEWATCH_BIN_DIR":           plugins,
		"HAZEWATCH_STATE_DIR":         stateDir,
		"PROMETHEUS_REMOTE_WRITE_URL": st.prom.URL + "/api/v1/write",
	})
	args := append([]string{repotest.Path(t, firstStartScript), telegraftest.Binary(t)}, p.args...)
	again := proctest.Start(t, "telegraf restarted", "sh", args, p.env, filepath.Join(t.TempDir(), "telegraf.log"))
	// A replay would be in within seconds (it took 16 s from nothing, TestFirstStartFillsDashboard);
	// real time adds one reading per sensor per step.
	time.Sleep(20 * time.Second)
	second := count()
	// Read before stopping: on stop Telegraf v1.37 logs errors of its own for the execd pipes it closes.
	log := again.Log()
	if err := again.Stop(30 * time.Second); err != nil {
		t.Error(err)
	}
	t.Logf("stored PM2.5 readings: %v after the first start, %v 20 s after the restart", first, second)
	if second > first+float64(2*sensors) {
		t.Errorf("the restart added %v readings to the %v stored (at most %d expected in real time): it replayed history\n%s", second-first, first, 2*sensors, log)
	}
	if second < first {
		t.Errorf("stored readings went from %v to %v", first, second)
	}
	if !strings.Contains(log, "without replaying history") {
		t.Errorf("the restart did not go through %s's state check:\n%s", firstStartScript, log)
	}
	if strings.Contains(log, "E! ") {
		t.Errorf("the restarted Telegraf logged errors:\n%s", log)
	}
}
