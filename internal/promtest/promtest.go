// Package promtest runs a real Prometheus (the Debian package's /usr/bin/prometheus) for the tests of
// the whole module: the datasource's integration tests and benchmarks (preloaded with generated
// history through `promtool tsdb create-blocks-from openmetrics`, see Dataset), and the stack tests in
// e2e and stacktest (started with the compose service's flags, fed by Telegraf's remote write). It
// queries any Prometheus-compatible HTTP API (Server.Query), so the stores e2e replays into
// (VictoriaMetrics, a Thanos querier) are read the same way.
package promtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Binary paths; CI installs the Debian package.
const (
	PrometheusBin = "/usr/bin/prometheus"
	PromtoolBin   = "/usr/bin/promtool"
)

// SkipIfAbsent skips the test when prometheus or promtool is missing (found as Binary and Promtool
// find them), or fails it in CI, where a missing Prometheus is a broken runner.
func SkipIfAbsent(t testing.TB) {
	t.Helper()
	Binary(t)
	Promtool(t)
}

// Binary is the Prometheus binary: the Debian package's, else the first prometheus on PATH. Missing,
// the test skips (fails in CI).
func Binary(t testing.TB) string {
	t.Helper()
	return installed(t, PrometheusBin)
}

// Promtool is promtool: the Debian package's, else the first promtool on PATH. Missing, the test skips
// (fails in CI).
func Promtool(t testing.TB) string {
	t.Helper()
	return installed(t, PromtoolBin)
}

// installed is deb (a program of the Debian package prometheus) if it is there, else the program of the
// same name on PATH; missing, it skips the test (fails it in CI).
func installed(t testing.TB, deb string) string {
	t.Helper()
	if _, err := os.Stat(deb); err == nil {
		return deb
	}
	if p, err := exec.LookPath(filepath.Base(deb)); err == nil {
		return p
	}
	repotest.SkipOrFailInCI(t, deb+" is missing: install the Debian package prometheus (apt-get install prometheus; .ci/run installs it)")
	return ""
}

// Version is the version the installed Prometheus binary reports in
// `prometheus --version` ("2.42.0+ds" for Debian 12's package), which is
// what its /api/v1/status/buildinfo answers too. Tests assert it rather than
// a pinned release, so that they pass with another distribution's package.
func Version(t testing.TB) string {
	t.Helper()
	bin := Binary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	v, ok := ParseVersion(string(out))
	if !ok {
		t.Fatalf("no version in the output of %s --version:\n%s", bin, out)
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
