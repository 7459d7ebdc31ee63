package plugintest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A binary that is not a plugin fails the test with its name and what it wrote, not a bare timeout.
// (The datasource binary itself is hosted here by grafana-datasource/pkg's TestBinaryOverGRPC.)
func TestStartFailsNamingTheBinaryAndItsOutput(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "not-a-plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'no handshake here' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		Start(ft, bin, "", nil)
	}()
	if !strings.Contains(ft.msg, "go-plugin handshake with not-a-plugin") || !strings.Contains(ft.msg, "no handshake here") {
		t.Errorf("failure %q, want the binary and its output", ft.msg)
	}
}

// fatalRecorder records a Fatalf instead of ending the test, and stops the caller with a panic.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}
