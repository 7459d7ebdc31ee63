package promtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/proctest"
)

// Server is a Prometheus-compatible HTTP API: a Prometheus started here, or another store a test
// started itself and wraps (URL and Proc set by the test) to query it the same way.
type Server struct {
	URL  string
	Proc *proctest.Process // nil when the server is not a child of the test
}

// Config says how to run Prometheus. The zero Config is an empty server with no scrapes on a fresh
// TSDB, ready within a minute.
type Config struct {
	// Bin is the binary; empty: Binary (skipping the test where Prometheus is not installed).
	Bin string
	// Flags are passed as given (a compose service's command, say), except --web.listen-address,
	// which is always a free loopback port, and --storage.tsdb.path, which is DataDir. Without a
	// --config.file flag, Prometheus runs with an empty configuration.
	Flags []string
	// DataDir is the TSDB directory; empty: a fresh temporary directory.
	DataDir string
	// LogPath receives Prometheus's output, quoted when it fails to start; empty: a temporary file.
	LogPath string
	// ReadyWithin bounds the wait for /-/ready; zero: one minute.
	ReadyWithin time.Duration
}

// HistoryFlags are the flags of a server holding loaded, back-dated history (see StartDir).
var HistoryFlags = []string{
	"--storage.tsdb.retention.time=100y", // the history is back-dated
	"--query.max-samples=100000000",
	// Equal block durations disable compaction: the loaded blocks stay as promtool wrote them and no
	// CPU goes to merging them mid-test.
	"--storage.tsdb.min-block-duration=2h",
	"--storage.tsdb.max-block-duration=2h",
	"--log.level=warn",
}

// Run starts Prometheus as c says and returns once /-/ready answers 200; the test fails with
// Prometheus's log when it exits first or is not ready in time. The server stops at test cleanup.
func Run(t testing.TB, c Config) *Server {
	t.Helper()
	if c.Bin == "" {
		c.Bin = Binary(t)
	}
	if c.DataDir == "" {
		c.DataDir = t.TempDir()
	}
	if c.LogPath == "" {
		c.LogPath = filepath.Join(t.TempDir(), "prometheus.log")
	}
	if c.ReadyWithin == 0 {
		c.ReadyWithin = time.Minute
	}
	addr := proctest.FreeLoopbackAddr(t)
	args := []string{"--web.listen-address=" + addr, "--storage.tsdb.path=" + c.DataDir}
	configured := false
	for _, f := range c.Flags {
		switch k, _, _ := strings.Cut(f, "="); k {
		case "--web.listen-address", "--storage.tsdb.path":
			continue
		case "--config.file":
			configured = true
		}
		args = append(args, f)
	}
	if !configured {
		cfg := filepath.Join(t.TempDir(), "prometheus.yml")
		if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\nscrape_configs: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config.file="+cfg)
	}
	// Prometheus needs nothing from the environment; a minimal one keeps runs alike.
	p := proctest.Start(t, "prometheus", c.Bin, args, proctest.MinimalEnv(nil), c.LogPath)
	s := &Server{URL: "http://" + addr, Proc: p}
	proctest.WaitHTTP(t, p, s.URL+"/-/ready", c.ReadyWithin)
	return s
}

// Start builds (or reuses from the cache) the dataset's TSDB blocks and
// starts Prometheus on them, in a fresh data directory.
func Start(t testing.TB, d *Dataset) *Server {
	t.Helper()
	SkipIfAbsent(t)
	blocks := cachedBlocks(t, d)
	dataDir := t.TempDir()
	// Hard links keep a fresh data dir cheap; blocks are immutable.
	if err := linkTree(blocks, dataDir); err != nil {
		t.Fatalf("preparing the data dir: %v", err)
	}
	return StartDir(t, dataDir)
}

// StartDir starts Prometheus with HistoryFlags on an existing data directory.
func StartDir(t testing.TB, dataDir string) *Server {
	t.Helper()
	return Run(t, Config{DataDir: dataDir, Flags: HistoryFlags})
}

// Stop stops the server (idempotent); a server the test did not start is left alone.
func (s *Server) Stop() {
	if s.Proc != nil {
		_ = s.Proc.Stop(10 * time.Second)
	}
}

// Log is the tail of the server's output, for failure messages.
func (s *Server) Log() string {
	if s.Proc == nil {
		return ""
	}
	return s.Proc.Log()
}

// PeakRSSBytes is the server process's peak resident memory (VmHWM).
func (s *Server) PeakRSSBytes() int64 { return proctest.PeakRSS(s.Proc.Pid()) }

// CPUTime is the server process's user+system CPU time so far.
func (s *Server) CPUTime() time.Duration { return proctest.CPUTime(s.Proc.Pid()) }
