package models

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// A cited document: a path or bare file name ending in .md.
	mdPathRE = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
	// A link into this repository's main branch on GitHub, written out or
	// built in code (`${PROJECT_URL}/blob/main/…`): the path after main/
	// is the repository's.
	repoLinkRE = regexp.MustCompile(`(?:hazewatch/hazewatch|PROJECT_URL\})/(?:blob|tree)/main/([A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md)\b`)
	// Other URLs cite other sites' documents, which this test cannot check.
	urlRE = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s)>\]"'` + "`" + `]+`)
)

// TestCitedDocsExist guards against a document being renamed while the
// comments and pages that point to it keep the old name (issue 11: the
// frontend's summary was folded into QUERY_MODEL.md and its name stayed cited
// in three places). Every .md path cited in
// the datasource's .md, .go and .ts(x) files must resolve: next to the citing
// file, from the datasource's root or the repository's, or — a bare file name
// such as "QUERY_MODEL.md" — as some file of that name in the datasource.
func TestCitedDocsExist(t *testing.T) {
	root, err := filepath.Abs("../..") // grafana-datasource
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(root)
	var sources []string
	docNames := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			// Dependencies, build output and the scaffold's dot-directories
			// (.config's globs name files a plugin may have) are not ours.
			if p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "dist" || name == "test-output") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".md") {
			docNames[name] = true
		}
		switch filepath.Ext(name) {
		case ".md", ".go", ".ts", ".tsx":
			sources = append(sources, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	var cited int
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo, src)
		for _, m := range repoLinkRE.FindAllStringSubmatch(string(b), -1) {
			cited++
			if !exists(filepath.Join(repo, m[1])) {
				t.Errorf("%s links to %s, which does not exist in the repository", rel, m[1])
			}
		}
		text := urlRE.ReplaceAllString(repoLinkRE.ReplaceAllString(string(b), ""), "")
		for _, ref := range mdPathRE.FindAllString(text, -1) {
			cited++
			ok := exists(filepath.Join(filepath.Dir(src), ref)) || exists(filepath.Join(root, ref)) || exists(filepath.Join(repo, ref)) ||
				(!strings.Contains(ref, "/") && docNames[ref])
			if !ok {
				t.Errorf("%s cites %s, which does not exist", rel, ref)
			}
		}
	}
	// The control: the walk did find the citations it guards.
	if cited < 5 {
		t.Errorf("found only %d cited documents in %d files; the walk or the pattern is broken", cited, len(sources))
	}
}
