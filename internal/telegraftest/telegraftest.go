// Package telegraftest gives tests a real Telegraf: a binary built from the Telegraf module at the version
// this project targets, with only the plugins our end-to-end tests drive, built once and cached.
//
// Building Telegraf outside our module (go install module@version) keeps Telegraf's whole dependency tree
// out of our go.mod while still testing against the exact released code.
package telegraftest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Version is the Telegraf release the project builds against (the version in go.mod).
const Version = "v1.37.2"

// Tags selects the Telegraf plugins compiled into the test binary ("custom" disables the default set).
const Tags = "custom,inputs.execd,inputs.file,processors.execd,outputs.file,outputs.http,parsers.influx,serializers.influx,serializers.prometheusremotewrite"

// EnvBinary names an existing Telegraf executable to use instead of building one.
const EnvBinary = "HAZEWATCH_TELEGRAF"

const modulePath = "github.com/influxdata/telegraf/cmd/telegraf"

// A cold build of Telegraf takes a few minutes.
var telegraf = cachedTool{env: EnvBinary, dir: cacheDir, build: func(dir string, logf func(string, ...any)) (string, error) {
	return goInstall(dir, "telegraf", 20*time.Minute, logf, "-tags", Tags, modulePath+"@"+Version)
}}

// Binary returns the path of a Telegraf Version binary built with Tags, building it on first use into
// the cache directory with `GOBIN=<dir> go install -tags <Tags> github.com/influxdata/telegraf/cmd/telegraf@<Version>`.
// If $HAZEWATCH_TELEGRAF names an executable, that is returned instead. A failed build fails t with
// the go command's output.
func Binary(t testing.TB) string {
	t.Helper()
	return telegraf.path(t)
}

// cachedTool is a program a test needs, named by an environment variable or else built once per
// process into a cache directory (which itself survives processes).
type cachedTool struct {
	env   string
	dir   func() (string, error)
	build func(dir string, logf func(string, ...any)) (string, error)

	mu    sync.Mutex
	built string // set once a build in this process succeeded
}

func (c *cachedTool) path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(c.env); p != "" {
		if err := checkExecutable(p); err != nil {
			t.Fatalf("telegraftest: $%s=%q: %v", c.env, p, err)
		}
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.built != "" {
		return c.built
	}
	dir, err := c.dir()
	if err != nil {
		t.Fatalf("telegraftest: %v", err)
	}
	path, err := c.build(dir, t.Logf)
	if err != nil {
		t.Fatalf("telegraftest: %v", err)
	}
	c.built = path
	return path
}

// cacheDir is where binaries are kept: one subdirectory per (Version, Tags, GOOS/GOARCH) so that changing
// any of them builds afresh instead of reusing a binary with the wrong plugins.
func cacheDir() (string, error) {
	root, err := repotest.CacheRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(Version + "\x00" + Tags + "\x00" + runtime.GOOS + "/" + runtime.GOARCH))
	return filepath.Join(root, "telegraf-"+Version+"-"+hex.EncodeToString(sum[:6])), nil
}

// goInstall returns dir/exe, installing it there with `go install args...` (args ending in the package
// at its version) if it is absent. Several test binaries may call this at once (go test runs packages
// in parallel), so the build is serialised with a file lock and the result is moved into place with a
// rename: nobody ever sees a half-written binary.
func goInstall(dir, exe string, timeout time.Duration, logf func(string, ...any), args ...string) (string, error) {
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	final := filepath.Join(dir, exe)
	if checkExecutable(final) == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if checkExecutable(final) == nil { // built by another process while we waited
		return final, nil
	}

	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	pkg := args[len(args)-1]
	start := time.Now()
	logf("telegraftest: building %s into %s", pkg, dir)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, repotest.GoTool(), append([]string{"install"}, args...)...)
	cmd.Dir = tmp // outside any module: go install pkg@version uses the package's own go.mod
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GO111MODULE=on")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s failed: %s: %v\n%s", pkg, cmd.String(), err, out.String())
	}
	if err := os.Rename(filepath.Join(tmp, exe), final); err != nil {
		return "", err
	}
	logf("telegraftest: built %s in %s", pkg, time.Since(start).Round(time.Second))
	return final, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not executable")
	}
	return nil
}

// Result is what a Telegraf run left behind.
type Result struct {
	Stderr []byte // Telegraf's log (it logs to stderr)
	Stdout []byte
	Wall   time.Duration // from start to exit
	// CPU is the user+system time of Telegraf and of the processes it started and waited for (execd
	// plugins), where the platform reports it; 0 otherwise.
	CPU time.Duration
}

// RunOnce runs `telegraf --config <config> --once` (gather once, process, flush, exit) and returns its
// output. It fails t when Telegraf exits non-zero or does not finish within timeout, including the log.
func RunOnce(t testing.TB, bin, config string, timeout time.Duration) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", config, "--once")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if ctx.Err() != nil {
		t.Fatalf("telegraf --once did not finish within %v\nstderr:\n%s", timeout, res.Stderr)
	}
	if err != nil {
		t.Fatalf("telegraf --once: %v\nstderr:\n%s\nstdout:\n%s", err, res.Stderr, res.Stdout)
	}
	return res
}
