package packagecheck

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testVersion = "1.2.3"

// fixture is a plugin package that passes every rule: a dist/ directory and the source directory its manifest
// was made from. Each table case breaks exactly one thing in a fresh copy.
type fixture struct {
	dist, src string
	plugin    map[string]any
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{dist: filepath.Join(root, "dist"), src: filepath.Join(root, "src")}
	f.plugin = map[string]any{
		"type": "datasource", "id": "hazewatch-anomaly-datasource", "name": "Hazewatch Anomaly",
		"backend": true, "alerting": true, "metrics": true, "executable": "gpx_hazewatch_anomaly",
		"info": map[string]any{
			"version": testVersion, "updated": "2026-11-25",
			"author": map[string]any{"name": "Hazewatch", "url": "https://example.org/hazewatch"},
			"logos":  map[string]any{"small": "img/logo-small.svg", "large": "img/logo.svg"},
			"links": []any{
				map[string]any{"name": "Project home", "url": "https://example.org/hazewatch"},
				map[string]any{"name": "Issues", "url": "https://example.org/hazewatch/issues"},
			},
			"screenshots": []any{
				map[string]any{"name": "Query editor", "path": "img/query.png"},
				map[string]any{"name": "Diagram", "path": "img/diagram.svg"},
			},
		},
		"dependencies": map[string]any{"grafanaDependency": ">=12.0.0"},
	}
	f.writePlugin(t)
	write(t, filepath.Join(f.dist, "module.js"), "define([],function(){})", 0o644)
	write(t, filepath.Join(f.dist, "img/logo.svg"), "<svg/>", 0o644)
	write(t, filepath.Join(f.dist, "img/logo-small.svg"), "<svg/>", 0o644)
	write(t, filepath.Join(f.dist, "img/query.png"), "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 0o644)
	write(t, filepath.Join(f.dist, "img/diagram.svg"), `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`, 0o644)
	write(t, filepath.Join(f.dist, "README.md"), "# Hazewatch Anomaly\n", 0o644)
	write(t, filepath.Join(f.dist, "CHANGELOG.md"), "# Changelog\n", 0o644)
	write(t, filepath.Join(f.dist, "LICENSE"), "Apache License\n", 0o644)
	for _, b := range []string{"linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64.exe"} {
		write(t, filepath.Join(f.dist, "gpx_hazewatch_anomaly_"+b), "\x7fELF binary", 0o755)
	}
	write(t, filepath.Join(f.src, "pkg/main.go"), "package main\n", 0o644)
	write(t, filepath.Join(f.src, "pkg/plugin/datasource.go"), "package plugin\n", 0o644)
	// The SDK skips the top-level node_modules (some npm packages ship .go files).
	write(t, filepath.Join(f.src, "node_modules/flatted/golang/flatted.go"), "package flatted\n", 0o644)
	f.writeManifest(t, map[string]string{"pkg/main.go": "package main\n", "pkg/plugin/datasource.go": "package plugin\n"})
	return f
}

func (f *fixture) writePlugin(t *testing.T) {
	t.Helper()
	b, err := json.MarshalIndent(f.plugin, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(f.dist, "plugin.json"), string(b), 0o644)
}

func (f *fixture) info() map[string]any { return f.plugin["info"].(map[string]any) }

func (f *fixture) writeManifest(t *testing.T, files map[string]string) {
	t.Helper()
	var sb strings.Builder
	for _, name := range sortedKeys(files) {
		sum := sha256.Sum256([]byte(files[name]))
		sb.WriteString(hex.EncodeToString(sum[:]) + ":" + name + "\n")
	}
	write(t, filepath.Join(f.dist, ManifestName), sb.String(), 0o755)
}

func (f *fixture) pkg() Package {
	return Package{Dir: f.dist, SourceDir: f.src, PackageVersion: testVersion}
}

func write(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestGoodFixturePassesEveryRule(t *testing.T) {
	f := newFixture(t)
	if errs := Check(f.pkg()); len(errs) != 0 {
		t.Fatalf("good package failed: %v", errs)
	}
}

// Every rule must be able to fail: each case breaks the good fixture in one way and names the rule that must
// report it and a piece of the message.
func TestEachRuleFails(t *testing.T) {
	cases := []struct {
		name    string
		rule    string
		breakIt func(t *testing.T, f *fixture)
		want    string
	}{
		{"id without org", "plugin id", func(t *testing.T, f *fixture) { f.plugin["id"] = "anomaly-datasource"; f.writePlugin(t) },
			"must be <org>-<name>-<type>"},
		{"id with capitals", "plugin id", func(t *testing.T, f *fixture) { f.plugin["id"] = "Hazewatch-anomaly-datasource"; f.writePlugin(t) },
			"must be <org>-<name>-<type>"},
		{"id suffix is not the type", "plugin id", func(t *testing.T, f *fixture) { f.plugin["id"] = "hazewatch-anomaly-panel"; f.writePlugin(t) },
			`ends in "panel" but type is "datasource"`},
		{"alerting without backend", "alerting needs backend", func(t *testing.T, f *fixture) {
			f.plugin["backend"] = false
			delete(f.plugin, "executable")
			f.writePlugin(t)
		}, `"alerting": true needs "backend": true`},
		{"version placeholder left", "version", func(t *testing.T, f *fixture) {
			f.plugin["info"].(map[string]any)["version"] = "%VERSION%"
			f.writePlugin(t)
		}, "the build did not fill it in"},
		{"version differs", "version", func(t *testing.T, f *fixture) {
			f.plugin["info"].(map[string]any)["version"] = "1.2.4"
			f.writePlugin(t)
		}, `"1.2.4" differs from package.json's version "1.2.3"`},
		{"updated placeholder left", "version", func(t *testing.T, f *fixture) {
			f.plugin["info"].(map[string]any)["updated"] = "%TODAY%"
			f.writePlugin(t)
		}, "%TODAY%"},
		{"no executable", "executable", func(t *testing.T, f *fixture) { delete(f.plugin, "executable"); f.writePlugin(t) },
			`backend plugin without "executable"`},
		{"binary of another name", "executable", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "gpx_anomaly_linux_amd64"), "x", 0o755)
		}, `gpx_anomaly_linux_amd64 does not match executable "gpx_hazewatch_anomaly"`},
		{"windows binary without .exe", "executable", func(t *testing.T, f *fixture) {
			os.Rename(filepath.Join(f.dist, "gpx_hazewatch_anomaly_windows_amd64.exe"), filepath.Join(f.dist, "gpx_hazewatch_anomaly_windows_amd64"))
		}, ".exe is required on windows and only there"},
		{"unknown platform", "executable", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "gpx_hazewatch_anomaly_plan9_mips"), "x", 0o755)
		}, "is not <executable>_<os>_<arch>"},
		{"no binaries at all", "executable", func(t *testing.T, f *fixture) {
			for _, b := range []string{"linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64.exe"} {
				os.Remove(filepath.Join(f.dist, "gpx_hazewatch_anomaly_"+b))
			}
		}, "no backend binary"},
		{"linux/amd64 missing", "linux/amd64 binary", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.dist, "gpx_hazewatch_anomaly_linux_amd64"))
		}, "gpx_hazewatch_anomaly_linux_amd64 is missing"},
		{"linux/amd64 empty", "linux/amd64 binary", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "gpx_hazewatch_anomaly_linux_amd64"), "", 0o755)
		}, "is empty"},
		{"binary not executable", "binary modes", func(t *testing.T, f *fixture) {
			os.Chmod(filepath.Join(f.dist, "gpx_hazewatch_anomaly_linux_arm64"), 0o644)
		}, "gpx_hazewatch_anomaly_linux_arm64 has mode 0644, want 0755"},
		{"binary world-writable", "binary modes", func(t *testing.T, f *fixture) {
			os.Chmod(filepath.Join(f.dist, "gpx_hazewatch_anomaly_darwin_arm64"), 0o777)
		}, "has mode 0777, want 0755"},
		{"manifest missing", "build manifest", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, ManifestName)) },
			"go_plugin_build_manifest is missing"},
		{"manifest line malformed", "build manifest", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, ManifestName), "abc pkg/main.go\n", 0o755)
		}, `line 1 "abc pkg/main.go" is not <sha256>:<path>`},
		{"manifest path escapes", "build manifest", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, ManifestName), strings.Repeat("a", 64)+":../main.go\n", 0o755)
		}, "must be a clean relative path"},
		{"manifest lists a non-Go file", "build manifest", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, ManifestName), strings.Repeat("a", 64)+":pkg/main.py\n", 0o755)
		}, "is not a Go source file"},
		{"manifest empty", "build manifest", func(t *testing.T, f *fixture) { write(t, filepath.Join(f.dist, ManifestName), "\n", 0o755) },
			"lists no source file"},
		{"source edited after the build", "build manifest", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.src, "pkg/main.go"), "package main // edited\n", 0o644)
		}, "pkg/main.go changed since the build"},
		{"source file added after the build", "build manifest", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.src, "pkg/plugin/new.go"), "package plugin\n", 0o644)
		}, "pkg/plugin/new.go is not listed"},
		{"listed file deleted", "build manifest", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.src, "pkg/plugin/datasource.go")) },
			"pkg/plugin/datasource.go is listed but not in the sources"},
		{"standalone.txt shipped", "no standalone.txt", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "standalone.txt"), "127.0.0.1:1234", 0o644)
		}, "standalone.txt must not be shipped"},
		{"module.js missing", "assets", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, "module.js")) },
			`frontend bundle "module.js" is missing`},
		{"logo missing", "assets", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, "img/logo.svg")) },
			`logo "img/logo.svg" is missing`},
		{"no small logo declared", "assets", func(t *testing.T, f *fixture) {
			f.plugin["info"].(map[string]any)["logos"] = map[string]any{"large": "img/logo.svg"}
			f.writePlugin(t)
		}, "info.logos needs both small and large"},
		{"README missing", "assets", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, "README.md")) },
			`README "README.md" is missing`},
		{"README is the template", "assets", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "README.md"), "# Grafana data source plugin template\n", 0o644)
		}, "still the scaffold's template"},
		{"CHANGELOG empty", "assets", func(t *testing.T, f *fixture) { write(t, filepath.Join(f.dist, "CHANGELOG.md"), "", 0o644) },
			`CHANGELOG "CHANGELOG.md" is empty`},
		{"LICENSE missing", "assets", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, "LICENSE")) },
			`LICENSE "LICENSE" is missing`},
		{"no links", "links", func(t *testing.T, f *fixture) { f.info()["links"] = []any{}; f.writePlugin(t) },
			"info.links is empty"},
		{"relative link", "links", func(t *testing.T, f *fixture) {
			f.info()["links"] = []any{map[string]any{"name": "Docs", "url": "../README.md"}}
			f.writePlugin(t)
		}, `info.links[0].url "../README.md" is not an absolute http(s) URL`},
		{"link without name", "links", func(t *testing.T, f *fixture) {
			f.info()["links"] = []any{map[string]any{"url": "https://example.org"}}
			f.writePlugin(t)
		}, "info.links[0] has no name"},
		{"author url without host", "links", func(t *testing.T, f *fixture) {
			f.info()["author"] = map[string]any{"name": "x", "url": "https:///x"}
			f.writePlugin(t)
		}, "info.author.url"},
		{"no screenshots", "screenshots", func(t *testing.T, f *fixture) { f.info()["screenshots"] = []any{}; f.writePlugin(t) },
			"info.screenshots is empty"},
		{"screenshot missing", "screenshots", func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dist, "img/query.png")) },
			`screenshot "img/query.png" is missing`},
		{"screenshot not a png", "screenshots", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.dist, "img/query.png"), "<html>not found</html>", 0o644)
		}, `screenshot "img/query.png" is not a png image`},
		{"screenshot outside the package", "screenshots", func(t *testing.T, f *fixture) {
			f.info()["screenshots"] = []any{map[string]any{"name": "x", "path": "../x.png"}}
			f.writePlugin(t)
		}, "must be a relative path inside the package"},
		{"no grafanaDependency", "grafana dependency", func(t *testing.T, f *fixture) {
			f.plugin["dependencies"] = map[string]any{}
			f.writePlugin(t)
		}, `want ">=X.Y.Z"`},
		{"grafanaDependency a range", "grafana dependency", func(t *testing.T, f *fixture) {
			f.plugin["dependencies"] = map[string]any{"grafanaDependency": "^12"}
			f.writePlugin(t)
		}, `"^12"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			c.breakIt(t, f)
			errs := Check(f.pkg())
			var hit bool
			for _, err := range errs {
				if strings.HasPrefix(err.Error(), c.rule+": ") && strings.Contains(err.Error(), c.want) {
					hit = true
				}
			}
			if !hit {
				t.Fatalf("rule %q did not report %q; got %v", c.rule, c.want, errs)
			}
		})
	}
}

func TestFrontendOnlyPluginSkipsBackendRules(t *testing.T) {
	f := newFixture(t)
	f.plugin["backend"] = false
	f.plugin["alerting"] = false
	delete(f.plugin, "executable")
	f.writePlugin(t)
	for _, b := range []string{"linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64.exe"} {
		os.Remove(filepath.Join(f.dist, "gpx_hazewatch_anomaly_"+b))
	}
	os.Remove(filepath.Join(f.dist, ManifestName))
	if errs := Check(f.pkg()); len(errs) != 0 {
		t.Fatalf("frontend-only package failed: %v", errs)
	}
}

func TestParseManifestAcceptsSDKOutput(t *testing.T) {
	h := strings.Repeat("0123456789abcdef", 4)
	got, err := ParseManifest([]byte(h + ":pkg/main.go\n" + h + ":pkg/models/query.go\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["pkg/models/query.go"] != h {
		t.Fatalf("got %v", got)
	}
}

// zipDir packs dir as <top>/... with the files' modes, like the lead's mage build does.
func zipDir(t *testing.T, dir, top, out string, extra map[string]string) {
	t.Helper()
	zf, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		h, _ := zip.FileInfoHeader(info)
		h.Name = top + "/" + filepath.ToSlash(rel)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(p)
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
}

func TestCheckZip(t *testing.T) {
	const good = "hazewatch-anomaly-datasource-" + testVersion + ".zip"
	cases := []struct {
		name    string
		top     string
		zipName string
		extra   map[string]string
		prepare func(t *testing.T, f *fixture)
		want    string // "" = passes
	}{
		{"catalog layout", "hazewatch-anomaly-datasource", good, nil, nil, ""},
		{"wrong top folder", "dist", good, nil, nil, `top-level folder "dist" must be the plugin id`},
		{"file outside the folder", "hazewatch-anomaly-datasource", good, map[string]string{"README.md": "x"}, nil, "outside a top-level folder"},
		{"two top folders", "hazewatch-anomaly-datasource", good, map[string]string{"other/x": "x"}, nil, "several top-level folders"},
		{"path escaping", "hazewatch-anomaly-datasource", good, map[string]string{"hazewatch-anomaly-datasource/../evil": "x"}, nil, "not a clean relative path"},
		{"wrong file name", "hazewatch-anomaly-datasource", "plugin.zip", nil, nil, `zip name: "plugin.zip"`},
		{"mode lost in the zip", "hazewatch-anomaly-datasource", good, nil, func(t *testing.T, f *fixture) {
			os.Chmod(filepath.Join(f.dist, "gpx_hazewatch_anomaly_linux_amd64"), 0o644)
		}, "binary modes: gpx_hazewatch_anomaly_linux_amd64 has mode 0644"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.prepare != nil {
				c.prepare(t, f)
			}
			zipPath := filepath.Join(t.TempDir(), c.zipName)
			zipDir(t, f.dist, c.top, zipPath, c.extra)
			errs := CheckZip(zipPath, t.TempDir(), f.src, testVersion)
			if c.want == "" {
				if len(errs) != 0 {
					t.Fatalf("good zip failed: %v", errs)
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), c.want) {
					return
				}
			}
			t.Fatalf("want an error containing %q, got %v", c.want, errs)
		})
	}
}

// pluginRoot is grafana-datasource/, the directory this package lives in and the backend is built from.
func pluginRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

// The package the build really produced: grafana-datasource/dist (from `mage plugin` or `mage build`).
func TestRealDist(t *testing.T) {
	root := pluginRoot(t)
	dist := filepath.Join(root, "dist")
	p, err := ReadPluginJSON(dist)
	if err != nil {
		t.Skipf("no built plugin in %s (%v): run `mage plugin` from the repository root to build it", dist, err)
	}
	bins, err := Binaries(dist, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) == 0 {
		t.Skipf("%s holds only the frontend (npm run build): run `mage plugin` to build the backend binaries too", dist)
	}
	version, err := ReadPackageVersion(filepath.Join(root, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range Check(Package{Dir: dist, SourceDir: root, PackageVersion: version}) {
		t.Error(err)
	}
	// Beyond the validator: the platforms this project ships (Magefile.go pluginTargets).
	for _, target := range shippedTargets {
		if _, err := os.Stat(filepath.Join(dist, p.Executable+"_"+target)); err != nil {
			t.Errorf("shipped platform missing: %s_%s", p.Executable, target)
		}
	}
	t.Logf("checked %s: binaries %v", dist, bins)
}

// shippedTargets are the backend builds the repository's Magefile produces.
var shippedTargets = []string{"linux_amd64", "linux_arm64", "linux_arm", "darwin_amd64", "darwin_arm64", "windows_amd64.exe"}

func TestRealZip(t *testing.T) {
	root := pluginRoot(t)
	version, err := ReadPackageVersion(filepath.Join(root, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(root, "dist", "hazewatch-anomaly-datasource-"+version+".zip")
	if _, err := os.Stat(zipPath); err != nil {
		t.Skipf("no plugin zip %s: run `mage plugin` from the repository root to build it", zipPath)
	}
	for _, err := range CheckZip(zipPath, t.TempDir(), root, version) {
		t.Error(err)
	}
}

// The source plugin.json (src/), before any build: its catalog metadata passes the rules that do not need a built
// package, and grafanaDependency does not claim a Grafana older than the @grafana packages the frontend is built
// against (package.json), which is the lowest version anything here tests.
func TestSourcePluginJSON(t *testing.T) {
	root := pluginRoot(t)
	src := filepath.Join(root, "src")
	p, err := ReadPluginJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{CheckID(p), CheckLinks(p), CheckScreenshots(src, p), CheckGrafanaDependency(p)} {
		if err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	built := pkg.Dependencies["@grafana/data"]
	var major, minor int
	if _, err := fmt.Sscanf(built, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("package.json @grafana/data %q: want an exact version", built)
	}
	claimed, err := GrafanaDependencyMin(p)
	if err != nil {
		t.Fatal(err)
	}
	if claimed[0] < major || (claimed[0] == major && claimed[1] < minor) {
		t.Errorf("grafanaDependency %q claims Grafana %d.%d, older than @grafana/data %s the frontend is built and tested with",
			p.Dependencies.GrafanaDependency, claimed[0], claimed[1], built)
	}
}
