// Package repotest locates, for tests, the files they read from the working tree: the repository root
// (the directory holding go.mod, found by walking up from the test's package directory) and the shared
// data set that lives outside the repository, at ../shared/data beside the root, and is never copied in.
package repotest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// SharedSnapshot is the PurpleAir /v1/sensors snapshot in the shared data directory.
const SharedSnapshot = "purpleair-sensors-snapshot.json"

// FindRoot returns the directory holding go.mod, walking up from the working directory (a test's
// package directory).
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Root is FindRoot, failing the test when there is no go.mod above it.
func Root(t testing.TB) string {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Path joins rel (slash-separated) to the repository root.
func Path(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(Root(t), filepath.FromSlash(rel))
}

// ReadFile reads rel (slash-separated, relative to the repository root), failing the test on error.
func ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FindSharedData returns the path of name in ../shared/data relative to the repository root. The error
// says where the file was looked for; it wraps fs.ErrNotExist when the file is absent.
func FindSharedData(name string) (string, error) {
	root, err := FindRoot()
	if err != nil {
		return "", fmt.Errorf("cannot locate ../shared/data: %w", err)
	}
	p := filepath.Join(root, "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("shared data not available (it lives at ../shared/data beside the repository root, never in it): %w", err)
	}
	return p, nil
}

// SharedData is FindSharedData for a test that needs the file: it skips the test, saying why, when the
// shared data is absent, and fails it on any other error.
func SharedData(t testing.TB, name string) string {
	t.Helper()
	p, err := FindSharedData(name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%v; skipping: this test needs the shared data set", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// GoTool is the go command of the toolchain running the tests, so that a binary a test builds is built
// by the same Go as the test; "go" (looked up on PATH) when that toolchain has no go command.
func GoTool() string {
	//lint:ignore SA1019 the test binary runs where it was built: the toolchain root is right here
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "go"
	}
	return p
}

// GoBuild builds main packages of this module (paths relative to the repository root, as "./cmd/x")
// into dir, one binary per package under the name it is mapped from, statically (CGO_ENABLED=0) as the
// Telegraf image and `mage binaries` build them. A failed build fails the test with the compiler's output.
func GoBuild(t testing.TB, dir string, binaries map[string]string) {
	t.Helper()
	for name, pkg := range binaries {
		cmd := exec.Command(GoTool(), "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = Root(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, strings.TrimSpace(string(out)))
		}
	}
}

// EnvCache names the directory for what tests build or generate once and reuse across runs (the
// Telegraf builds, Prometheus blocks of generated history, our Telegraf distribution); default
// hazewatch in the user's cache directory.
const EnvCache = "HAZEWATCH_CACHE"

// CacheRoot is $HAZEWATCH_CACHE, or hazewatch in the user's cache directory.
func CacheRoot() (string, error) {
	if root := os.Getenv(EnvCache); root != "" {
		return root, nil
	}
	ucd, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set $%s): %w", EnvCache, err)
	}
	return filepath.Join(ucd, "hazewatch"), nil
}

// InCI reports whether the tests run in CI (the CI environment variable is set, as .ci/run and CI
// services set it).
func InCI() bool { return os.Getenv("CI") != "" }

// SkipOrFailInCI skips a test whose external program or service is missing, with why — except in CI,
// where a missing part is a broken setup and the test fails: passing without the real thing would hide it.
func SkipOrFailInCI(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatal(why + " (CI is set: failing rather than skipping)")
	}
	t.Skip(why)
}
