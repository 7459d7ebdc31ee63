package repotest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDevelopersLayoutMatchesTree keeps DEVELOPERS.md's Architecture and Layout sections true to
// the tree: every path they cite exists, and every Go package of the product is in the layout
// table (under a row of its own or of a parent folder, or named in the internal/ row).
func TestDevelopersLayoutMatchesTree(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "DEVELOPERS.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start, end := strings.Index(text, "## Architecture"), strings.Index(text, "## Build, test, benchmark")
	if start < 0 || end < start {
		t.Fatal("DEVELOPERS.md: no Architecture section before Build, test, benchmark")
	}
	section := text[start:end]

	// Paths: backticked names with a slash, first word only (`grafana-datasource/pkg/` …).
	cited := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z][a-z0-9_.-]*/[A-Za-z0-9_./-]*)").FindAllStringSubmatch(section, -1) {
		p := strings.TrimSuffix(m[1], "/")
		if strings.Contains(p, "*") || strings.HasPrefix(p, "@") || strings.HasPrefix(p, "github.com/") || strings.HasPrefix(p, "html/") {
			continue
		}
		cited[p] = true
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("DEVELOPERS.md cites %s, which does not exist", p)
		}
	}
	// Packages named in the internal/ row by their last element.
	internalRow := ""
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `internal/` |") {
			internalRow = line
		}
	}

	if internalRow == "" {
		t.Fatal("DEVELOPERS.md's layout has no internal/ row")
	}
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(strings.SplitN(internalRow, "|", 4)[2], -1) {
		if _, err := os.Stat(filepath.Join(root, "internal", m[1])); err != nil {
			t.Errorf("DEVELOPERS.md's internal/ row names %s, which is not a package under internal/", m[1])
		}
	}

	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || rel == "tools") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || rel == "Magefile.go" {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		for c := range cited {
			if c == "internal" { // the internal/ row names its packages one by one
				continue
			}
			if dir == c || strings.HasPrefix(dir, c+"/") {
				return nil
			}
		}
		if strings.HasPrefix(dir, "internal/") && strings.Contains(internalRow, "`"+strings.Split(strings.TrimPrefix(dir, "internal/"), "/")[0]+"`") {
			return nil
		}
		t.Errorf("package %s is not in DEVELOPERS.md's layout", dir)
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
}
