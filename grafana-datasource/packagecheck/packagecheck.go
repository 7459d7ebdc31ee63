// Package packagecheck checks a built Grafana plugin package — the dist/ directory or the zip Grafana's catalog
// takes — against the rules of Grafana's plugin validator, offline (the validator itself cannot be installed here).
//
// Each rule is a function that returns nil or an error saying what is wrong and how to fix it. Check runs them
// all on a package and reports every failure, not only the first, so one build shows everything to fix.
package packagecheck

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ManifestName is the file the plugin SDK's build writes next to the binaries: one "<sha256>:<path>" line per Go
// source file of the plugin, so that a reviewer can tell which sources the binaries were built from.
const ManifestName = "go_plugin_build_manifest"

// PluginJSON is the part of plugin.json the rules read.
type PluginJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Backend    bool   `json:"backend"`
	Alerting   bool   `json:"alerting"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
		Updated string `json:"updated"`
		Author  struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"author"`
		Logos struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
		Links []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"links"`
		Screenshots []struct {
			Name string `json:"name"`
			Path string `json:"path"`
		} `json:"screenshots"`
	} `json:"info"`
	Dependencies struct {
		GrafanaDependency string `json:"grafanaDependency"`
	} `json:"dependencies"`
}

// ReadPluginJSON reads dir/plugin.json.
func ReadPluginJSON(dir string) (*PluginJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		return nil, fmt.Errorf("plugin.json: %w", err)
	}
	var p PluginJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plugin.json does not decode: %w", err)
	}
	return &p, nil
}

// ReadPackageVersion returns the "version" of a package.json.
func ReadPackageVersion(packageJSON string) (string, error) {
	b, err := os.ReadFile(packageJSON)
	if err != nil {
		return "", fmt.Errorf("package.json: %w", err)
	}
	var p struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("package.json does not decode: %w", err)
	}
	if p.Version == "" {
		return "", fmt.Errorf("package.json has no version")
	}
	return p.Version, nil
}

// idPattern is the validator's plugin id rule: <org>-<name>-<type>, lower-case letters and digits.
var idPattern = regexp.MustCompile(`^[a-z0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*-(app|panel|datasource)$`)

// CheckID: the id is <org>-<name>-<type> and its suffix is the plugin's type.
func CheckID(p *PluginJSON) error {
	m := idPattern.FindStringSubmatch(p.ID)
	if m == nil {
		return fmt.Errorf("id %q must be <org>-<name>-<type> in lower-case letters and digits, e.g. myorg-anomaly-datasource", p.ID)
	}
	if m[1] != p.Type {
		return fmt.Errorf("id %q ends in %q but type is %q", p.ID, m[1], p.Type)
	}
	return nil
}

// CheckAlertingNeedsBackend: alert rules run in Grafana's server, so only a backend plugin may claim alerting.
func CheckAlertingNeedsBackend(p *PluginJSON) error {
	if p.Alerting && !p.Backend {
		return errors.New(`"alerting": true needs "backend": true (alert rules run without a browser)`)
	}
	return nil
}

// CheckVersion: plugin.json's info.version was filled in at build time and equals package.json's version.
func CheckVersion(p *PluginJSON, packageVersion string) error {
	switch {
	case p.Info.Version == "" || strings.Contains(p.Info.Version, "%VERSION%"):
		return fmt.Errorf("info.version is %q: the build did not fill it in (expected %q from package.json)", p.Info.Version, packageVersion)
	case p.Info.Version != packageVersion:
		return fmt.Errorf("info.version %q differs from package.json's version %q", p.Info.Version, packageVersion)
	case strings.Contains(p.Info.Updated, "%TODAY%"):
		return errors.New("info.updated still holds %TODAY%: the build did not fill it in")
	}
	return nil
}

var binaryOSArch = regexp.MustCompile(`^_(linux|darwin|windows|freebsd)_(amd64|arm64|arm|386)(\.exe)?$`)

// Binaries lists the backend executables in dir: files named <executable>_<os>_<arch>[.exe], sorted.
func Binaries(dir string, p *PluginJSON) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && p.Executable != "" && strings.HasPrefix(e.Name(), p.Executable+"_") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// CheckExecutable: a backend plugin names its executable, every gpx_ file is <executable>_<os>_<arch> with .exe
// exactly on Windows, and there is at least one binary.
func CheckExecutable(dir string, p *PluginJSON) error {
	if !p.Backend {
		if p.Executable != "" {
			return fmt.Errorf("executable %q is set but backend is false", p.Executable)
		}
		return nil
	}
	if p.Executable == "" {
		return errors.New(`backend plugin without "executable" in plugin.json`)
	}
	if !strings.HasPrefix(p.Executable, "gpx_") {
		return fmt.Errorf("executable %q should start with gpx_ (the name the plugin SDK's build uses)", p.Executable)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var problems []string
	found := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, "gpx_") {
			continue
		}
		if !strings.HasPrefix(name, p.Executable+"_") {
			problems = append(problems, fmt.Sprintf("%s does not match executable %q", name, p.Executable))
			continue
		}
		m := binaryOSArch.FindStringSubmatch(strings.TrimPrefix(name, p.Executable))
		switch {
		case m == nil:
			problems = append(problems, fmt.Sprintf("%s is not <executable>_<os>_<arch>", name))
		case (m[1] == "windows") != (m[3] == ".exe"):
			problems = append(problems, fmt.Sprintf("%s: .exe is required on windows and only there", name))
		default:
			found++
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	if found == 0 {
		return fmt.Errorf("no backend binary %s_<os>_<arch> in the package", p.Executable)
	}
	return nil
}

// CheckLinuxAMD64: Grafana's catalog and most servers need the linux/amd64 binary.
func CheckLinuxAMD64(dir string, p *PluginJSON) error {
	if !p.Backend {
		return nil
	}
	name := p.Executable + "_linux_amd64"
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("%s is missing: the linux/amd64 backend binary is required", name)
	}
	if st.Size() == 0 {
		return fmt.Errorf("%s is empty", name)
	}
	return nil
}

// CheckBinaryModes: every backend binary is mode 0755, so Grafana can start it whoever unpacked the zip.
func CheckBinaryModes(dir string, p *PluginJSON) error {
	bins, err := Binaries(dir, p)
	if err != nil {
		return err
	}
	var problems []string
	for _, b := range bins {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil {
			return err
		}
		if perm := st.Mode().Perm(); perm != 0o755 {
			problems = append(problems, fmt.Sprintf("%s has mode %#o, want 0755", b, perm))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

var manifestLine = regexp.MustCompile(`^([0-9a-f]{64}):(\S.*)$`)

// ParseManifest reads go_plugin_build_manifest: path → sha256 (hex). Every line must be "<sha256>:<path>" with a
// clean relative path of a .go file, each path once.
func ParseManifest(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		m := manifestLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d %q is not <sha256>:<path>", n, line)
		}
		p := m[2]
		if path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
			return nil, fmt.Errorf("line %d: path %q must be a clean relative path", n, p)
		}
		if !strings.HasSuffix(p, ".go") {
			return nil, fmt.Errorf("line %d: %q is not a Go source file", n, p)
		}
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("line %d: %q is listed twice", n, p)
		}
		out[p] = m[1]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the manifest lists no source file")
	}
	return out, nil
}

// SourceHashes walks sourceDir like the plugin SDK's build does (every .go file, skipping the top-level
// node_modules) and returns path → sha256.
func SourceHashes(sourceDir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(sourceDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sourceDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == "node_modules" {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(rel, ".go") {
			return nil
		}
		h, err := hashFile(p)
		if err != nil {
			return err
		}
		out[rel] = h
		return nil
	})
	return out, err
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckManifest: a backend plugin ships a well-formed go_plugin_build_manifest. With sourceDir (the directory the
// build ran in) it must also match the sources: same files, same hashes — a mismatch means the binaries were not
// built from these sources (stale build or edited files).
func CheckManifest(dir, sourceDir string, p *PluginJSON) error {
	if !p.Backend {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return fmt.Errorf("%s is missing (the plugin SDK's build writes it)", ManifestName)
	}
	listed, err := ParseManifest(b)
	if err != nil {
		return fmt.Errorf("%s: %w", ManifestName, err)
	}
	if sourceDir == "" {
		return nil
	}
	actual, err := SourceHashes(sourceDir)
	if err != nil {
		return err
	}
	var problems []string
	for _, f := range sortedKeys(listed) {
		h, ok := actual[f]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is listed but not in the sources", f))
		case h != listed[f]:
			problems = append(problems, fmt.Sprintf("%s changed since the build (hash differs)", f))
		}
	}
	for _, f := range sortedKeys(actual) {
		if _, ok := listed[f]; !ok {
			problems = append(problems, fmt.Sprintf("%s is not listed", f))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s does not match the sources in %s: %s (rebuild the plugin)", ManifestName, sourceDir, strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckNoStandalone: standalone.txt marks a plugin built for local debugging; Grafana would not start it.
func CheckNoStandalone(dir string) error {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "standalone.txt" {
			rel, _ := filepath.Rel(dir, p)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("%s must not be shipped (debug build marker)", strings.Join(found, ", "))
	}
	return nil
}

// CheckAssets: the frontend bundle, the logos plugin.json names, and a README, CHANGELOG and LICENSE with content.
func CheckAssets(dir string, p *PluginJSON) error {
	var problems []string
	need := func(rel, what string) {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s %q is missing", what, rel))
		case st.IsDir() || st.Size() == 0:
			problems = append(problems, fmt.Sprintf("%s %q is empty", what, rel))
		}
	}
	need("module.js", "frontend bundle")
	if p.Info.Logos.Small == "" || p.Info.Logos.Large == "" {
		problems = append(problems, "info.logos needs both small and large")
	}
	for _, l := range []string{p.Info.Logos.Small, p.Info.Logos.Large} {
		if l != "" {
			need(l, "logo")
		}
	}
	need("README.md", "README")
	need("CHANGELOG.md", "CHANGELOG")
	need("LICENSE", "LICENSE")
	if b, err := os.ReadFile(filepath.Join(dir, "README.md")); err == nil {
		if bytes.Contains(b, []byte("Grafana data source plugin template")) || bytes.Contains(b, []byte("%PLUGIN_ID%")) {
			problems = append(problems, "README.md is still the scaffold's template")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkWebURL: an absolute http(s) URL with a host. The validator also fetches each link; that needs the network,
// so here only the form is checked.
func checkWebURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute http(s) URL (Grafana's catalog shows it as a link)", what, raw)
	}
	return nil
}

// CheckLinks: info.links has at least one entry, each with a name and an absolute URL; info.author.url, when set,
// is one too.
func CheckLinks(p *PluginJSON) error {
	var problems []string
	if len(p.Info.Links) == 0 {
		problems = append(problems, "info.links is empty: name the project's home, documentation and issue tracker")
	}
	for i, l := range p.Info.Links {
		if strings.TrimSpace(l.Name) == "" {
			problems = append(problems, fmt.Sprintf("info.links[%d] has no name", i))
		}
		if err := checkWebURL(fmt.Sprintf("info.links[%d].url", i), l.URL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if p.Info.Author.URL != "" {
		if err := checkWebURL("info.author.url", p.Info.Author.URL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// imageMagic are the first bytes of the image formats Grafana's catalog shows.
var imageMagic = map[string][]byte{
	".png":  []byte("\x89PNG\r\n\x1a\n"),
	".jpg":  {0xff, 0xd8, 0xff},
	".jpeg": {0xff, 0xd8, 0xff},
	".gif":  []byte("GIF8"),
}

// CheckScreenshots: info.screenshots has at least one entry, each with a name and a path to an image in the
// package whose content is of the type its extension says (an SVG is checked for an <svg element).
func CheckScreenshots(dir string, p *PluginJSON) error {
	var problems []string
	if len(p.Info.Screenshots) == 0 {
		problems = append(problems, "info.screenshots is empty: the catalog page shows none")
	}
	for i, sc := range p.Info.Screenshots {
		if strings.TrimSpace(sc.Name) == "" {
			problems = append(problems, fmt.Sprintf("info.screenshots[%d] has no name", i))
		}
		if sc.Path == "" || path.IsAbs(sc.Path) || strings.HasPrefix(path.Clean(sc.Path), "../") {
			problems = append(problems, fmt.Sprintf("info.screenshots[%d].path %q must be a relative path inside the package", i, sc.Path))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(sc.Path)))
		if err != nil {
			problems = append(problems, fmt.Sprintf("screenshot %q is missing", sc.Path))
			continue
		}
		ext := strings.ToLower(path.Ext(sc.Path))
		magic, known := imageMagic[ext]
		switch {
		case len(b) == 0:
			problems = append(problems, fmt.Sprintf("screenshot %q is empty", sc.Path))
		case ext == ".svg":
			if !bytes.Contains(b, []byte("<svg")) {
				problems = append(problems, fmt.Sprintf("screenshot %q is not an SVG image", sc.Path))
			}
		case !known:
			problems = append(problems, fmt.Sprintf("screenshot %q: want .png, .jpg, .gif or .svg", sc.Path))
		case !bytes.HasPrefix(b, magic):
			problems = append(problems, fmt.Sprintf("screenshot %q is not a %s image", sc.Path, strings.TrimPrefix(ext, ".")))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

var grafanaDependencyPattern = regexp.MustCompile(`^>=\s*(\d+)\.(\d+)\.(\d+)$`)

// GrafanaDependencyMin is the lowest Grafana version dependencies.grafanaDependency (">=X.Y.Z") admits.
func GrafanaDependencyMin(p *PluginJSON) ([3]int, error) {
	var v [3]int
	m := grafanaDependencyPattern.FindStringSubmatch(strings.TrimSpace(p.Dependencies.GrafanaDependency))
	if m == nil {
		return v, fmt.Errorf(`dependencies.grafanaDependency %q: want ">=X.Y.Z", the lowest Grafana the plugin is tested with`, p.Dependencies.GrafanaDependency)
	}
	for i := range v {
		fmt.Sscan(m[i+1], &v[i])
	}
	return v, nil
}

// CheckGrafanaDependency: dependencies.grafanaDependency is set, as ">=X.Y.Z".
func CheckGrafanaDependency(p *PluginJSON) error {
	_, err := GrafanaDependencyMin(p)
	return err
}

// Package is a plugin package on disk: dist/ or an unpacked zip's <id>/ directory.
type Package struct {
	Dir            string // the directory holding plugin.json
	SourceDir      string // where the backend was built from ("" = unknown: the manifest is checked for form only)
	PackageVersion string // package.json's version
}

// Rule is one validator rule applied to a package.
type Rule struct {
	Name  string
	Check func(pkg Package, p *PluginJSON) error
}

// Rules are the checks, in the order they are reported.
var Rules = []Rule{
	{"plugin id", func(_ Package, p *PluginJSON) error { return CheckID(p) }},
	{"alerting needs backend", func(_ Package, p *PluginJSON) error { return CheckAlertingNeedsBackend(p) }},
	{"version", func(pkg Package, p *PluginJSON) error { return CheckVersion(p, pkg.PackageVersion) }},
	{"executable", func(pkg Package, p *PluginJSON) error { return CheckExecutable(pkg.Dir, p) }},
	{"linux/amd64 binary", func(pkg Package, p *PluginJSON) error { return CheckLinuxAMD64(pkg.Dir, p) }},
	{"binary modes", func(pkg Package, p *PluginJSON) error { return CheckBinaryModes(pkg.Dir, p) }},
	{"build manifest", func(pkg Package, p *PluginJSON) error { return CheckManifest(pkg.Dir, pkg.SourceDir, p) }},
	{"no standalone.txt", func(pkg Package, _ *PluginJSON) error { return CheckNoStandalone(pkg.Dir) }},
	{"assets", func(pkg Package, p *PluginJSON) error { return CheckAssets(pkg.Dir, p) }},
	{"links", func(_ Package, p *PluginJSON) error { return CheckLinks(p) }},
	{"screenshots", func(pkg Package, p *PluginJSON) error { return CheckScreenshots(pkg.Dir, p) }},
	{"grafana dependency", func(_ Package, p *PluginJSON) error { return CheckGrafanaDependency(p) }},
}

// Check runs every rule and returns one error per failing rule, named after it.
func Check(pkg Package) []error {
	p, err := ReadPluginJSON(pkg.Dir)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, r := range Rules {
		if err := r.Check(pkg, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
		}
	}
	return errs
}

// Unzip extracts a plugin zip into dest, keeping file modes, and returns the directory of its single top-level
// folder. The zip must hold exactly one top-level folder named after the plugin id (what Grafana's catalog and
// grafana-cli unpack into the plugins directory) and no path escaping it.
func Unzip(zipPath, dest string) (string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	top := ""
	for _, f := range zr.File {
		name := f.Name
		if path.IsAbs(name) || strings.Contains(name, "\\") || path.Clean(name) != strings.TrimSuffix(name, "/") ||
			name == ".." || strings.HasPrefix(name, "../") {
			return "", fmt.Errorf("zip entry %q is not a clean relative path", name)
		}
		first, rest, _ := strings.Cut(name, "/")
		if rest == "" && !f.FileInfo().IsDir() {
			return "", fmt.Errorf("zip entry %q is outside a top-level folder: files must be under <plugin id>/", name)
		}
		if top == "" {
			top = first
		} else if first != top {
			return "", fmt.Errorf("zip has several top-level folders (%q, %q): want only <plugin id>/", top, first)
		}
		target := filepath.Join(dest, filepath.FromSlash(name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", err
		}
		if err := extract(f, target); err != nil {
			return "", err
		}
	}
	if top == "" {
		return "", errors.New("zip is empty")
	}
	return filepath.Join(dest, top), nil
}

func extract(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The mode recorded in the zip is what an unzip gives Grafana; keep it so the mode rule sees it.
	return os.Chmod(target, f.Mode().Perm())
}

// CheckZip unpacks a plugin zip into a temporary directory under tmp and runs every rule on it; it also requires
// the top-level folder to be the plugin id and the file name to be <id>-<version>.zip.
func CheckZip(zipPath, tmp, sourceDir, packageVersion string) []error {
	dir, err := Unzip(zipPath, tmp)
	if err != nil {
		return []error{fmt.Errorf("zip layout: %w", err)}
	}
	p, err := ReadPluginJSON(dir)
	if err != nil {
		return []error{fmt.Errorf("zip layout: %w", err)}
	}
	var errs []error
	if filepath.Base(dir) != p.ID {
		errs = append(errs, fmt.Errorf("zip layout: top-level folder %q must be the plugin id %q", filepath.Base(dir), p.ID))
	}
	if want := p.ID + "-" + packageVersion + ".zip"; filepath.Base(zipPath) != want {
		errs = append(errs, fmt.Errorf("zip name: %q, want %q", filepath.Base(zipPath), want))
	}
	return append(errs, Check(Package{Dir: dir, SourceDir: sourceDir, PackageVersion: packageVersion})...)
}
