package stacktest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// A newcomer's first hour is README.md read top to bottom on a fresh clone (issue 15). Fenced blocks
// whose info string is "sh runnable" hold commands that need nothing but Go and the clone; the tests
// below run them. Other blocks need Docker, the network or the whole test suite and are only checked
// for what can be checked without running them.

// fence is one fenced code block of a Markdown document.
type fence struct {
	info   string // the info string after ```, e.g. "sh runnable"
	body   string
	line   int    // 1-based line of the opening fence
	before string // the prose before the block (since the previous block), which names it
}

func fences(doc string) []fence {
	var out []fence
	lines := strings.Split(doc, "\n")
	prose := 0
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		f := fence{info: strings.TrimSpace(info), line: i + 1, before: strings.Join(lines[prose:i], "\n")}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		f.body = strings.Join(body, "\n") + "\n"
		prose = i + 1
		out = append(out, f)
	}
	return out
}

// shellCommands splits a shell block into commands: one per line, comments dropped.
func shellCommands(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

const cliPrefix = "go run ./cmd/hazewatch "

// TestReadmeRunnableCommands runs every command of README.md's runnable blocks in order, in an empty
// directory with no ../shared beside it (a fresh clone's user has neither the references' snapshot nor
// earlier output), with the hazewatch command built from this checkout standing in for `go run
// ./cmd/hazewatch` (the same main package; building it once keeps the test fast). Each command must
// succeed; the CLI's CSV outputs from one input must have one row per input row, as the README says, so
// all of them the same number of lines; the demo must write its report where the README says.
func TestReadmeRunnableCommands(t *testing.T) {
	readme := string(repotest.ReadFile(t, "README.md"))
	var cmds []string
	for _, f := range fences(readme) {
		if f.info == "sh runnable" {
			cmds = append(cmds, shellCommands(f.body)...)
		}
	}
	// The README's first command, and the CLI examples that start from a simulated fleet.
	if len(cmds) == 0 || cmds[0] != cliPrefix+"demo" {
		t.Fatalf("README.md's first runnable command is %q, want %q (\"The two commands\")", cmds, cliPrefix+"demo")
	}
	if !slices.ContainsFunc(cmds, func(c string) bool { return strings.HasPrefix(c, cliPrefix+"simulate ") }) {
		t.Errorf("no runnable `hazewatch simulate` in README.md: the CLI examples must start from data anyone can make")
	}

	bin := t.TempDir()
	repotest.GoBuild(t, bin, map[string]string{"hazewatch": "./cmd/hazewatch"})
	work := filepath.Join(t.TempDir(), "clone-user")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}

	rows := map[string]int{} // input file → lines of CSV printed from it
	for _, c := range cmds {
		if strings.Contains(c, "../shared") {
			t.Errorf("%q: a runnable command reads ../shared, which a fresh clone does not have", c)
			continue
		}
		args, ok := strings.CutPrefix(c, cliPrefix)
		if !ok {
			t.Errorf("%q: a runnable block holds a command this test cannot run (only `%s…`)", c, cliPrefix)
			continue
		}
		argv := strings.Fields(args)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "hazewatch"), argv...)
		cmd.Dir = work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("%q: %v\nstderr:\n%s", c, err, &stderr)
			continue
		}
		t.Logf("%-90s %v", c, time.Since(start).Round(10*time.Millisecond))

		switch argv[0] {
		case "demo":
			if fi, err := os.Stat(filepath.Join(work, "report", "index.html")); err != nil || fi.Size() == 0 {
				t.Errorf("%q: no report/index.html (%v)", c, err)
			}
		case "simulate":
			out := argv[slices.Index(argv, "-o")+1]
			if fi, err := os.Stat(filepath.Join(work, out)); err != nil || fi.Size() == 0 {
				t.Errorf("%q: wrote no %s (%v)", c, out, err)
			}
		case "stream", "batch", "impute":
			in := argv[len(argv)-1]
			n := bytes.Count(stdout.Bytes(), []byte("\n"))
			if n < 2 {
				t.Errorf("%q printed %d lines", c, n)
			}
			if prev, ok := rows[in]; ok && prev != n {
				t.Errorf("%q printed %d lines, an earlier command on %s %d: not one row per input row", c, n, in, prev)
			}
			rows[in] = n
		}
	}
	if len(rows) == 0 {
		t.Error("no runnable command prints CSV from a file")
	}
}

// TestReadmeCommandsExist checks what the README's other commands depend on without running them
// (they need Docker, or run the whole suite): every `go tool mage X` names a target of Magefile.go, and
// every `go run ./path` a main package of the repository.
func TestReadmeCommandsExist(t *testing.T) {
	targets := mageTargets(t)
	found := 0
	for _, f := range fences(string(repotest.ReadFile(t, "README.md"))) {
		if kind := strings.Fields(f.info + " x")[0]; kind != "sh" && kind != "bash" {
			continue
		}
		for _, c := range shellCommands(f.body) {
			if target, ok := strings.CutPrefix(c, "go tool mage"); ok {
				found++
				name := strings.Fields(target + " build")[0] // bare `mage` runs the default target
				if name == "build" {
					name = "Build"
				}
				if _, ok := targets[strings.ToUpper(name[:1])+name[1:]]; !ok {
					t.Errorf("README.md line %d: %q: Magefile.go has no target %s", f.line, c, name)
				}
			}
			if pkg, ok := strings.CutPrefix(c, "go run ./"); ok {
				found++
				dir := strings.Fields(pkg)[0]
				if !isMainPackage(t, repotest.Path(t, dir)) {
					t.Errorf("README.md line %d: %q: ./%s is not a main package", f.line, c, dir)
				}
			}
		}
	}
	if found < 3 {
		t.Errorf("only %d go commands found in README.md's shell blocks", found)
	}
}

// TestReadmeLinks checks the relative links of the documents a newcomer reads first: each names a
// file or directory of the clone, and an anchor names a heading of the linked Markdown file.
func TestReadmeLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range []string{"README.md", "deploy/README.md", "telegraf-processor/README.md", "telegraf-input/README.md"} {
		text := string(repotest.ReadFile(t, doc))
		checked := 0
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.ToSlash(filepath.Join(filepath.Dir(doc), file))
			}
			checked++
			if _, err := os.Stat(repotest.Path(t, path)); err != nil {
				t.Errorf("%s links to %s, which the clone does not have", doc, target)
				continue
			}
			if anchor != "" && !slices.Contains(headingAnchors(string(repotest.ReadFile(t, path))), anchor) {
				t.Errorf("%s links to %s: %s has no heading with anchor #%s", doc, target, path, anchor)
			}
		}
		if doc == "README.md" && checked < 10 {
			t.Errorf("%s: only %d relative links found", doc, checked)
		}
	}
}

// headingAnchors are the anchors GitHub gives a document's headings: lower case, punctuation dropped,
// spaces as hyphens (duplicates numbered, which our documents do not rely on).
func headingAnchors(doc string) []string {
	var out []string
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if inFence || !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.Index(title, "<!--"); i >= 0 {
			title = title[:i]
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestReadmePrerequisites holds the versions the README's prerequisites and text name to the ones the
// build uses: Go (go.mod's go line), Node.js (the major of the locked @types/node, which the frontend is
// type-checked against) and Telegraf (the release the tests and the distribution build).
func TestReadmePrerequisites(t *testing.T) {
	readme := string(repotest.ReadFile(t, "README.md"))
	prereq := section(t, readme, "## Prerequisites")

	gomod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(repotest.ReadFile(t, "go.mod")))
	if gomod == nil || !strings.Contains(prereq, "Go "+gomod[1]+" or newer") {
		t.Errorf("README.md's prerequisites do not ask for Go %v or newer (go.mod)", gomod)
	}
	node := regexp.MustCompile(`"@types/node": "(\d+)\.`).FindStringSubmatch(string(repotest.ReadFile(t, "grafana-datasource/package.json")))
	if node == nil || !strings.Contains(prereq, "Node.js "+node[1]+" or newer") {
		t.Errorf("README.md's prerequisites do not ask for Node.js %v or newer (the locked @types/node)", node)
	}
	for _, m := range regexp.MustCompile(`Telegraf (v\d+\.\d+\.\d+)`).FindAllStringSubmatch(readme, -1) {
		if m[1] != telegraftest.Version {
			t.Errorf("README.md names Telegraf %s; the build uses %s", m[1], telegraftest.Version)
		}
	}
	for _, want := range []string{"Docker", "Compose v2", "BuildKit", "prometheus", "chromium", ":9090"} {
		if !strings.Contains(prereq, want) {
			t.Errorf("README.md's prerequisites do not mention %s", want)
		}
	}
}
