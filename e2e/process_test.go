package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// process is a child started in its own process group, so that stopping it also stops whatever it
// started (Telegraf's execd plugins), and nothing outlives the test.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // valid once done is closed
}

// startProcess starts bin with args and env, stdout and stderr going to logPath.
func startProcess(t testing.TB, name, bin string, args, env []string, logPath string) *process {
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
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	// Last resort: whatever happens to the test, the group dies with it.
	t.Cleanup(func() { p.stop(10 * time.Second) })
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills the process group. It returns
// an error when the process had to be killed or exited with a failure other than the SIGTERM itself.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		p.killGroup() // children a crashed parent may have left
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.killGroup()
		var ee *exec.ExitError
		if p.err != nil && !(errors.As(p.err, &ee) && ee.ExitCode() <= 0) {
			return fmt.Errorf("%s exited with %v", p.name, p.err)
		}
		return nil
	case <-time.After(grace):
		p.killGroup()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, grace)
	}
}

// killGroup SIGKILLs the process group led by the child (by its id; nothing else).
func (p *process) killGroup() {
	if runtime.GOOS == "windows" || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// log returns the tail of the process's log, for failure messages.
func (p *process) log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 8000
	if len(b) > max {
		return "…" + string(b[len(b)-max:])
	}
	return string(b)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// minimalEnv is the environment children get: nothing from the developer's shell that could change
// what the stack does (a PURPLEAIR_API_KEY there would switch the input to the live API).
func minimalEnv(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}
