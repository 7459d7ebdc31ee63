package repotest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootHoldsTheModule(t *testing.T) {
	b := ReadFile(t, "go.mod")
	if !strings.HasPrefix(string(b), "module github.com/hazewatch/hazewatch\n") {
		t.Fatalf("go.mod at %s starts %q", Root(t), string(b[:min(len(b), 60)]))
	}
	if got, want := Path(t, "internal/repotest"), filepath.Join(Root(t), "internal", "repotest"); got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
}

func TestAbsentSharedDataSkips(t *testing.T) {
	const name = "no-such-file.json"
	_, err := FindSharedData(name)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join("shared", "data", name)) {
		t.Fatalf("FindSharedData(%q) = %v, want a not-exist error naming the path", name, err)
	}
	var inner *testing.T
	t.Run("absent", func(t *testing.T) {
		inner = t
		SharedData(t, name)
		t.Error("SharedData returned for an absent file")
	})
	if !inner.Skipped() {
		t.Error("SharedData did not skip the test for an absent file")
	}
}

func TestPresentSharedDataIsFound(t *testing.T) {
	p := SharedData(t, SharedSnapshot)
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		t.Fatalf("SharedData returned %s: %v", p, err)
	}
}

func TestCacheRoot(t *testing.T) {
	t.Setenv(EnvCache, "/somewhere/else")
	if got, err := CacheRoot(); err != nil || got != "/somewhere/else" {
		t.Errorf("with $%s set: %q, %v", EnvCache, got, err)
	}
	t.Setenv(EnvCache, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, err := CacheRoot(); err != nil || got != "/xdg/hazewatch" {
		t.Errorf("without $%s: %q, %v; want the user's cache directory's hazewatch", EnvCache, got, err)
	}
}
