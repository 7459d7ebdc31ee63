// Package promtest runs a real Prometheus server (the Debian package's
// /usr/bin/prometheus) for the datasource's integration tests and
// benchmarks, preloaded with generated history through
// `promtool tsdb create-blocks-from openmetrics`.
package promtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Binary paths; CI installs the Debian package.
const (
	PrometheusBin = "/usr/bin/prometheus"
	PromtoolBin   = "/usr/bin/promtool"
)

// Family is one metric family: Value(sensor, t) gives the sample, ok=false
// for a missing sample (a gap the datasource must impute).
type Family struct {
	Name  string
	Value func(sensor int, t time.Time) (v float64, ok bool)
}

// Dataset is generated history: Sensors series per family with label
// sensor_index="<i>", one sample every Step over [Start, End).
type Dataset struct {
	// ID names the dataset in the block cache; change it when the
	// generator changes.
	ID         string
	Sensors    int
	Start, End time.Time
	Step       time.Duration
	Families   []Family
}

// Samples is the number of samples generated (before gaps).
func (d *Dataset) Samples() int {
	return d.Sensors * len(d.Families) * int(d.End.Sub(d.Start)/d.Step)
}

// WriteOpenMetrics writes the dataset as OpenMetrics text.
func (d *Dataset) WriteOpenMetrics(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 0, 128)
	for _, f := range d.Families {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", f.Name)
		for s := 0; s < d.Sensors; s++ {
			prefix := fmt.Sprintf("%s{sensor_index=\"%d\"} ", f.Name, s)
			for t := d.Start; t.Before(d.End); t = t.Add(d.Step) {
				v, ok := f.Value(s, t)
				if !ok {
					continue
				}
				buf = append(buf[:0], prefix...)
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, t.Unix(), 10)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

// Version is the version the installed Prometheus binary reports in
// `prometheus --version` ("2.42.0+ds" for Debian 12's package), which is
// what its /api/v1/status/buildinfo answers too. Tests assert it rather than
// a pinned release, so that they pass with another distribution's package.
func Version(t testing.TB) string {
	t.Helper()
	SkipIfAbsent(t)
	out, err := exec.Command(PrometheusBin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", PrometheusBin, err, out)
	}
	v, ok := ParseVersion(string(out))
	if !ok {
		t.Fatalf("no version in the output of %s --version:\n%s", PrometheusBin, out)
	}
	return v
}

var versionRE = regexp.MustCompile(`(?m)^prometheus, version (\S+)`)

// ParseVersion extracts the version from `prometheus --version` output.
func ParseVersion(out string) (string, bool) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Server is a running Prometheus.
type Server struct {
	URL     string
	cmd     *exec.Cmd
	done    chan struct{}
	dataDir string
	log     *bytes.Buffer
}

// SkipIfAbsent skips the test when the Prometheus package is not installed.
func SkipIfAbsent(t testing.TB) {
	t.Helper()
	for _, b := range []string{PrometheusBin, PromtoolBin} {
		if _, err := os.Stat(b); err != nil {
			repotest.SkipOrFailInCI(t, b+" is not installed (Debian package prometheus): the test runs against a real Prometheus")
		}
	}
}

// Start builds (or reuses from the cache) the dataset's TSDB blocks and
// starts Prometheus on a free loopback port with a fresh data directory.
// The server is stopped at test cleanup.
func Start(t testing.TB, d *Dataset) *Server {
	t.Helper()
	SkipIfAbsent(t)
	blocks := cachedBlocks(t, d)
	dataDir := t.TempDir()
	// Hard links keep a fresh data dir cheap; blocks are immutable.
	if err := linkTree(blocks, dataDir); err != nil {
		t.Fatalf("preparing the data dir: %v", err)
	}
	s := StartDir(t, dataDir)
	return s
}

// StartDir starts Prometheus on an existing data directory.
func StartDir(t testing.TB, dataDir string) *Server {
	t.Helper()
	SkipIfAbsent(t)
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), dataDir: dataDir, done: make(chan struct{}), log: &bytes.Buffer{}}
	s.cmd = exec.Command(PrometheusBin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+dataDir,
		"--storage.tsdb.retention.time=100y", // the history is back-dated
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--query.max-samples=100000000",
		// Equal block durations disable compaction: the loaded blocks stay
		// as promtool wrote them and no CPU goes to merging them mid-test.
		"--storage.tsdb.min-block-duration=2h",
		"--storage.tsdb.max-block-duration=2h",
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("prometheus exited: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s: %s", s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PeakRSSBytes is the server process's peak resident memory (VmHWM).
func (s *Server) PeakRSSBytes() int64 { return PeakRSS(s.cmd.Process.Pid) }

// PeakRSS reads VmHWM of a process (0 if unavailable); pid 0 = this process.
func PeakRSS(pid int) int64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// CPUTime is the server process's user+system CPU time so far.
func (s *Server) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces) start at ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// SelfCPUTime is this process's user+system CPU time so far.
func SelfCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ResetPeakRSS resets this process's VmHWM (Linux: clear_refs 5).
func ResetPeakRSS() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// Stop stops the server (idempotent).
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cachedBlocks returns a directory of TSDB blocks for d, generating them once
// per dataset ID into $HAZEWATCH_CACHE (or the user cache dir): promtool
// takes tens of seconds for the benchmark's 1.5M samples.
func cachedBlocks(t testing.TB, d *Dataset) string {
	t.Helper()
	root := os.Getenv("HAZEWATCH_CACHE")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		root = filepath.Join(c, "hazewatch")
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("layout2|%s|%d|%d|%d|%d|%d", d.ID, d.Sensors, d.Start.Unix(), d.End.Unix(), d.Step, len(d.Families))))
	dir := filepath.Join(root, "promtest-blocks", d.ID+"-"+hex.EncodeToString(h[:6]))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(root, "promtest-gen-")
	if err != nil {
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if tmp, err = os.MkdirTemp(root, "promtest-gen-"); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(tmp)
	om := filepath.Join(tmp, "history.om")
	f, err := os.Create(om)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteOpenMetrics(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(tmp, "blocks")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Blocks up to a week long (promtool's hidden --max-block-duration) are what
	// a compacted production TSDB looks like; 2-hour blocks (the default) make
	// every week-long query touch 84 blocks.
	cmd := exec.CommandContext(ctx, PromtoolBin, "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=168h", om, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool create-blocks-from openmetrics: %v\n%s", err, b)
	}
	if err := os.WriteFile(filepath.Join(out, "complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// The rename publishes the blocks atomically (the "complete" marker is
	// inside). If another test process published the same dataset first,
	// the rename fails on the non-empty directory and theirs is used.
	if err := os.Rename(out, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "complete")); serr == nil {
			return dir
		}
		t.Fatal(err)
	}
	return dir
}

func linkTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "complete" {
			return nil
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".tmp") {
			return nil
		}
		if err := os.Link(p, target); err != nil {
			// Different filesystems: copy.
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}
