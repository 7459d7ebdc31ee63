package plugintest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/proctest"
)

// A binary that is not a plugin fails the test with its name and what it wrote, not a bare timeout.
// (The datasource binary itself is hosted here by grafana-datasource/pkg's TestBinaryOverGRPC.)
func TestStartFailsNamingTheBinaryAndItsOutput(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "not-a-plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'no handshake here' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	msg := proctest.FatalOf(t, func(tb testing.TB) { Start(tb, bin, "", nil) })
	if !strings.Contains(msg, "go-plugin handshake with not-a-plugin") || !strings.Contains(msg, "no handshake here") {
		t.Errorf("failure %q, want the binary and its output", msg)
	}
}
