package teldist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// EnvBinary names an existing hazewatch-telegraf to use instead of building one (mage test sets it).
const EnvBinary = "HAZEWATCH_TELEGRAF_DIST"

// sourceDirs are what the distribution compiles of this checkout (with go.mod and go.sum): the
// plugins and everything they import. A change in any of them builds afresh.
var sourceDirs = []string{"telegraf-input", "telegraf-processor", "pkg", "internal"}

var (
	binMu   sync.Mutex
	binPath string
)

// Binary returns a hazewatch-telegraf built from root (this checkout) for the host, building it on
// first use into the cache directory ($HAZEWATCH_CACHE, default os.UserCacheDir()/hazewatch) under a
// key that hashes the sources it compiles, the tags and the Go version; $HAZEWATCH_TELEGRAF_DIST names
// a binary to use instead. A failed build fails t.
func Binary(t testing.TB, root string) string {
	t.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		if !fileExists(p) {
			t.Fatalf("teldist: $%s=%q does not exist", EnvBinary, p)
		}
		return p
	}
	binMu.Lock()
	defer binMu.Unlock()
	if binPath != "" {
		return binPath
	}
	key, err := sourceKey(root)
	if err != nil {
		t.Fatalf("teldist: %v", err)
	}
	cache, err := repotest.CacheRoot()
	if err != nil {
		t.Fatalf("teldist: %v", err)
	}
	final := filepath.Join(cache, Name+"-"+key, Name)
	if !fileExists(final) {
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			t.Fatal(err)
		}
		// Built beside the final name and renamed into place: a concurrent test process building the
		// same key renames an identical binary, and nobody runs a half-written one.
		tmp := fmt.Sprintf("%s.building-%d", final, os.Getpid())
		defer os.Remove(tmp)
		start := time.Now()
		t.Logf("teldist: building %s into %s (the first build takes minutes)", Name, final)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := Build(ctx, Options{Root: root, Out: tmp}); err != nil {
			t.Fatalf("teldist: %v", err)
		}
		if err := os.Rename(tmp, final); err != nil {
			t.Fatal(err)
		}
		t.Logf("teldist: built in %s", time.Since(start).Round(time.Second))
		pruneCache(cache, filepath.Dir(final))
	}
	binPath = final
	return final
}

// sourceKey hashes the non-test Go sources and embedded files of sourceDirs, go.mod, go.sum, the tags
// and the Go version.
func sourceKey(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s/%s\x00", Tags(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	add := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		return err
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := add(filepath.Join(root, f)); err != nil {
			return "", err
		}
	}
	for _, d := range sourceDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := e.Name()
			if e.IsDir() {
				if name == "testdata" || name == "node_modules" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, "_test.go") || !(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".conf")) {
				return nil
			}
			return add(path)
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// pruneCache removes the builds of other keys (each a 30 MB binary) last built more than a day ago:
// every change of the sources makes a new key, and a test process running now has its own key's build
// from today.
func pruneCache(cache, keep string) {
	old, _ := filepath.Glob(filepath.Join(cache, Name+"-*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && d != keep && time.Since(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(d)
		}
	}
}
