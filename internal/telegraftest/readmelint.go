package telegraftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// EnvReadmeLinter names an existing readme_linter executable to use instead of building one.
const EnvReadmeLinter = "HAZEWATCH_README_LINTER"

const readmeLinterPackage = "github.com/influxdata/telegraf/tools/readme_linter"

var readmeLinter = cachedTool{
	env: EnvReadmeLinter,
	dir: func() (string, error) {
		root, err := repotest.CacheRoot()
		return filepath.Join(root, "readme_linter-"+Version+"-"+runtime.GOOS+"-"+runtime.GOARCH), err
	},
	build: func(dir string, logf func(string, ...any)) (string, error) {
		return goInstall(dir, "readme_linter", 10*time.Minute, logf, readmeLinterPackage+"@"+Version)
	},
}

// ReadmeLinter returns the path of Telegraf's README linter (tools/readme_linter of the Telegraf module at
// Version), building it on first use into the cache directory with
// `GOBIN=<dir> go install github.com/influxdata/telegraf/tools/readme_linter@<Version>`: with Telegraf's own
// go.mod, so its Markdown parser is the version Telegraf's CI lints with. $HAZEWATCH_README_LINTER names
// an executable to use instead. A failed build fails t with the go command's output.
func ReadmeLinter(t testing.TB) string {
	t.Helper()
	return readmeLinter.path(t)
}

// LintReadme runs Telegraf's README linter on readme as the README of the Telegraf plugin kind.name (kind
// one of "inputs", "outputs", "processors", "aggregators", "parsers") and fails t with every finding,
// each with readme's path and line.
//
// The linter chooses its rules (the metadata lines, the sections a plugin type requires, the tags a
// type allows) from the path plugins/<kind>/<name>/README.md relative to its working directory, as in
// Telegraf's tree; given any other path it checks only the heading and the configuration section. So the
// file is copied to that path in a temporary directory and linted there.
func LintReadme(t testing.TB, readme, kind, name string) {
	t.Helper()
	out, err := lintReadme(ReadmeLinter(t), t.TempDir(), readme, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out {
		t.Errorf("%s", f)
	}
}

// lintReadme returns the linter's findings on readme, with readme's path in place of the copy's.
func lintReadme(linter, work, readme, kind, name string) ([]string, error) {
	switch kind {
	case "inputs", "outputs", "processors", "aggregators", "parsers":
	default:
		return nil, fmt.Errorf("LintReadme: unknown plugin kind %q", kind)
	}
	md, err := os.ReadFile(readme)
	if err != nil {
		return nil, err
	}
	rel := filepath.ToSlash(filepath.Join("plugins", kind, name, "README.md"))
	if err := os.MkdirAll(filepath.Join(work, "plugins", kind, name), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, filepath.FromSlash(rel)), md, 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, linter, rel)
	cmd.Dir = work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return nil, fmt.Errorf("running %s: %v", linter, runErr)
	}
	var findings []string
	passed := false
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		switch {
		case line == "":
		case line == "Pass "+rel:
			passed = true
		case strings.HasPrefix(line, "Fail "+rel):
		default:
			findings = append(findings, strings.Replace(line, rel, readme, 1))
		}
	}
	if runErr != nil && len(findings) == 0 {
		// A failure without a finding: the linter itself broke (it panics on a read error).
		return nil, fmt.Errorf("%s %s: %v\n%s%s", linter, rel, runErr, stdout.String(), stderr.String())
	}
	if runErr == nil && !passed && len(findings) == 0 {
		return nil, fmt.Errorf("%s %s: exited 0 without saying Pass:\n%s%s", linter, rel, stdout.String(), stderr.String())
	}
	return findings, nil
}
