package proctest

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStopEndsTheGroupAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	// The shell's child sleeps on when the shell alone is signalled; the group kill ends it too.
	p := Start(t, "sh", "/bin/sh", []string{"-c", "echo started; sleep 60 & wait"}, MinimalEnv(map[string]string{"X": "1"}), filepath.Join(dir, "log"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Log(), "started"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no output within 10s: %q", p.Log())
		}
	}
	if p.Exited() {
		t.Fatal("exited early")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !p.Exited() {
		t.Error("running after Stop")
	}
	// The killed child is gone once whoever adopted it has reaped it.
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(-p.Pid(), 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a process of the group survived Stop")
		}
	}
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	p := Start(t, "stubborn", "/bin/sh", []string{"-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, nil, filepath.Join(t.TempDir(), "log"))
	for !strings.Contains(p.Log(), "ready") {
		time.Sleep(10 * time.Millisecond)
	}
	err := p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "stubborn did not stop") {
		t.Errorf("Stop: %v, want the kill reported", err)
	}
}

func TestWaitHTTPFailsWithTheLogWhenTheProcessExits(t *testing.T) {
	p := Start(t, "quitter", "/bin/sh", []string{"-c", "echo giving up; exit 3"}, nil, filepath.Join(t.TempDir(), "log"))
	<-p.Done()
	if p.Err() == nil {
		t.Error("exit 3 is not an error")
	}
	msg := FatalOf(t, func(tb testing.TB) { WaitHTTP(tb, p, "http://"+FreeLoopbackAddr(t)+"/", time.Second) })
	if !strings.Contains(msg, "quitter exited") || !strings.Contains(msg, "giving up") {
		t.Errorf("failure %q, want the exit and the log", msg)
	}
}

func TestFreeLoopbackAddr(t *testing.T) {
	addr := FreeLoopbackAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s is not free: %v", addr, err)
	}
	l.Close()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("%s is not loopback", addr)
	}
}
