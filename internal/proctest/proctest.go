// Package proctest runs the programs a test starts beside itself (Prometheus, Telegraf, the stores a
// test replays into) as children in their own process group, with their output in a log file the
// test quotes when something fails. Stopping a child stops whatever it started (Telegraf's execd
// plugins), and nothing outlives the test.
package proctest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Process is a running child.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // valid once done is closed
}

// Start starts bin with args and env, stdout and stderr going to logPath. The process group is killed
// at test cleanup whatever happened before.
func Start(t testing.TB, name, bin string, args, env []string, logPath string) *Process {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	return p
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has ended; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is what the process's Wait returned; nil before it has ended.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills the process group. It returns
// an error when the process had to be killed or exited with a failure other than the SIGTERM itself.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		p.killGroup() // children a crashed parent may have left
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.killGroup()
		var ee *exec.ExitError
		if p.err != nil && !(errors.As(p.err, &ee) && ee.ExitCode() <= 0) {
			return fmt.Errorf("%s exited with %v", p.Name, p.err)
		}
		return nil
	case <-time.After(grace):
		p.killGroup()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.Name, grace)
	}
}

// Kill ends the process with SIGKILL (no flush, no goodbye: a crash) and waits for it.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// killGroup SIGKILLs the process group led by the child (by its id; nothing else).
func (p *Process) killGroup() {
	if runtime.GOOS == "windows" || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// Log returns the tail of the process's log, for failure messages.
func (p *Process) Log() string { return LogTail(p.LogPath) }

// LogTail is the end of the log file at path (its last 8,000 bytes), or why it cannot be read, for
// a failure message.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 8000
	if len(b) > max {
		return "…" + string(b[len(b)-max:])
	}
	return string(b)
}

// WaitHTTP polls url until it answers 200, failing the test with the process's log when p exits first
// or within passes.
func WaitHTTP(t testing.TB, p *Process, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if p.Exited() {
			t.Fatalf("%s exited before %s answered (%v):\n%s", p.Name, url, p.err, p.Log())
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 within %s:\n%s", p.Name, url, within, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreeLoopbackAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// MinimalEnv is the environment children get: nothing from the developer's shell that could change
// what they do (a PURPLEAIR_API_KEY there would switch the input to the live API), plus extra.
func MinimalEnv(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}
