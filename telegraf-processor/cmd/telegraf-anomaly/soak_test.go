package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// TestSoakKillAndRestart feeds the compiled command 1,000,000 metrics of 10,000 sensors in ten runs of
// 100,000, as processors.execd sends them, with the state written every second. Every other run is
// ended by kill -9 while it is still processing (so at times in the middle of a state write), the
// others by closing stdin. A run that ended cleanly must have passed every metric on; after every kill
// the next run must load the state file (not find it corrupt) and no temporary may be left.
// HAZEWATCH_SOAK=1 runs it (about a minute on a shared 2-core machine); HAZEWATCH_SOAK_METRICS changes
// the total.
func TestSoakKillAndRestart(t *testing.T) {
	if os.Getenv("HAZEWATCH_SOAK") == "" {
		t.Skip("set HAZEWATCH_SOAK=1 to run the soak (builds the command, feeds it 1,000,000 metrics)")
	}
	total := 1_000_000
	if s := os.Getenv("HAZEWATCH_SOAK_METRICS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	const sensors, perRun = 10_000, 100_000
	dir := t.TempDir()
	bin := filepath.Join(dir, "telegraf-anomaly")
	if out, err := exec.Command(repotest.GoTool(), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state", "state.bin")
	conf := filepath.Join(dir, "anomaly.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[[processors.anomaly]]
  key_tags = ["sensor_index"]
  max_series = %d
  mode = "annotate"
  window_size = 20
  state_file = %q
  state_interval = "1s"
`, sensors, state)), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	loaded := regexp.MustCompile(`D! loaded (\d+) series from `)
	var in, out, kills, loads, stale, midWrite int
	var leftByKill []string
	began := time.Now()
	for run := 0; in < total; run++ {
		n := min(perRun, total-in)
		var lines bytes.Buffer
		for k := range n {
			i := in + k
			s := i % sensors
			base := float64(s%50) + 5
			fmt.Fprintf(&lines, "purpleair,sensor_index=%d pm1.0_cf_1=%.1f,pm2.5_cf_1=%.1f,pm10.0_cf_1=%.1f,rssi=-%di %d\n",
				s, base+rng.Float64(), 1.3*base+rng.Float64(), 1.6*base+rng.Float64(), 50+s%30, 1712793600000000000+int64(i/sensors)*120_000_000_000)
		}
		kill := run%2 == 1
		cmd := exec.Command(bin, "-config", conf, "-debug")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			stdin.Write(lines.Bytes())
			if !kill {
				stdin.Close()
			}
		}()
		// A killed run dies in the second half of its metrics, in the middle of a state write if one
		// starts before the last metric is out (a temporary file exists only while one is written).
		var progress atomic.Int64
		killed := make(chan bool, 1)
		if kill {
			go func() {
				for progress.Load() < int64(n/2) {
					time.Sleep(time.Millisecond)
				}
				for {
					tmp, _ := filepath.Glob(state + ".tmp-*")
					if len(tmp) > 0 || progress.Load() >= int64(n) {
						cmd.Process.Signal(syscall.SIGKILL)
						killed <- len(tmp) > 0
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
		}
		got, annotated := 0, 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got++
			progress.Store(int64(got))
			if l := sc.Text(); strings.Contains(l, "anomaly_score=") || strings.Contains(l, "anomaly_warmup=true") {
				annotated++
			}
		}
		err := cmd.Wait()
		if kill && <-killed {
			midWrite++
		}
		stdin.Close()
		if kill {
			kills++
		} else {
			if err != nil {
				t.Fatalf("run %d ended with %v\n%s", run, err, stderr.String())
			}
			if got != n || annotated != n {
				t.Errorf("run %d (ended cleanly): %d metrics in, %d out, %d annotated", run, n, got, annotated)
			}
		}
		// The temporaries a kill left must be gone once the next run has started.
		for _, f := range leftByKill {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("run %d: the temporary %s a kill left is still there", run, f)
			}
		}
		leftByKill = nil
		if run > 0 {
			// Every run after the first starts from the state the one before left, killed or not.
			m := loaded.FindStringSubmatch(stderr.String())
			if m == nil || strings.Contains(stderr.String(), "corrupt") {
				t.Errorf("run %d did not load the state file:\n%s", run, stderr.String())
			} else if k, _ := strconv.Atoi(m[1]); k != sensors {
				t.Errorf("run %d loaded %d series, want %d", run, k, sensors)
			} else {
				loads++
			}
		}
		if strings.Contains(stderr.String(), "E! ") {
			t.Errorf("run %d logged errors:\n%s", run, stderr.String())
		}
		// What a kill left is removed by the next start; after a clean end there is nothing to remove.
		if tmp, _ := filepath.Glob(state + ".tmp-*"); len(tmp) != 0 {
			if !kill {
				t.Errorf("after run %d: temporaries left: %v", run, tmp)
			}
			leftByKill = tmp
			stale += len(tmp)
		}
		in += n
		out += got
	}
	elapsed := time.Since(began)
	// One last start removes what the last kill may have left, and loads the state once more.
	cmd := exec.Command(bin, "-config", conf, "-debug")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = strings.NewReader(""), &stderr
	if err := cmd.Run(); err != nil || !loaded.MatchString(stderr.String()) {
		t.Errorf("final start: %v\n%s", err, stderr.String())
	}
	if tmp, _ := filepath.Glob(state + ".tmp-*"); len(tmp) != 0 {
		t.Errorf("temporaries left at the end: %v", tmp)
	}
	t.Logf("soak: %d temporaries left by kills, each removed at the next start", stale)
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak: %d metrics in, %d out over %d runs (%d killed with -9, %d of them during a state write); %d of %d restarts loaded the state; %.1f s, %.0f metrics/s; state file %d bytes (%.1f bytes/series)",
		in, out, (total+perRun-1)/perRun, kills, midWrite, loads, (total+perRun-1)/perRun-1, elapsed.Seconds(), float64(out)/elapsed.Seconds(), fi.Size(), float64(fi.Size())/sensors)
}
