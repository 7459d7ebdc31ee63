//go:build mage

// Magefile builds and tests Hazewatch: `go tool mage -l` lists the targets.
package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	sdkbuild "github.com/grafana/grafana-plugin-sdk-go/build"
	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/teldist"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// Default is what a bare `mage` runs.
var Default = Build

const pluginDir = "grafana-datasource"

// pluginTargets are the platforms the datasource backend is shipped for: the six the SDK's BuildAll
// builds (Grafana's official images and desktops, Intel Macs, and 32-bit ARM such as a Raspberry Pi).
var pluginTargets = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}}

// Build builds everything the stack needs: the command-line tool, both Telegraf plugins, and the
// Grafana plugin (backend for every shipped platform, frontend, zip).
func Build() {
	mg.SerialDeps(Binaries, Plugin)
}

// Binaries builds bin/hazewatch and the two Telegraf external plugins bin/telegraf-anomaly and
// bin/telegraf-purpleair (static, so they also run in the official Telegraf image).
func Binaries() error {
	env := map[string]string{"CGO_ENABLED": "0"}
	for out, pkg := range map[string]string{
		"bin/hazewatch":          "./cmd/hazewatch",
		"bin/telegraf-anomaly":   "./telegraf-processor/cmd/telegraf-anomaly",
		"bin/telegraf-purpleair": "./telegraf-input/cmd/telegraf-purpleair",
	} {
		if err := sh.RunWithV(env, "go", "build", "-trimpath", "-o", out, pkg); err != nil {
			return err
		}
	}
	return nil
}

// Telegraf builds bin/telegraf: Telegraf v1.37.2 from its Go module, with only the plugins the stack and
// the end-to-end tests use (the same build the tests run).
func Telegraf() error {
	abs, err := filepath.Abs("bin")
	if err != nil {
		return err
	}
	// go install of a versioned package builds it with Telegraf's own go.mod, outside ours, so our
	// module does not carry Telegraf's whole dependency tree.
	return sh.RunWithV(map[string]string{"GOBIN": abs}, "go", "install", "-tags", telegraftest.Tags,
		"github.com/influxdata/telegraf/cmd/telegraf@"+telegraftest.Version)
}

// Frontend installs the frontend's npm packages (npm ci) when they are missing, and builds it into
// grafana-datasource/dist.
func Frontend() error {
	mg.Deps(NpmCI)
	return runIn(pluginDir, "npm", "run", "build")
}

// NpmCI installs the frontend's locked npm packages unless node_modules is already there.
func NpmCI() error {
	if _, err := os.Stat(filepath.Join(pluginDir, "node_modules")); err == nil {
		return nil
	}
	return runIn(pluginDir, "npm", "ci", "--no-audit", "--no-fund")
}

// Plugin builds the Grafana plugin into grafana-datasource/dist: the frontend, the backend for every
// shipped platform with the SDK's build package (gpx_hazewatch_anomaly_<os>_<arch> and
// go_plugin_build_manifest), and the zip Grafana's catalog takes (dist/<id>-<version>.zip).
func Plugin() error {
	// The frontend build empties dist/, so it goes first.
	mg.SerialDeps(Frontend)
	if err := inDir(pluginDir, func() error {
		for _, t := range pluginTargets {
			if err := (sdkbuild.Build{}).Custom(t[0], t[1]); err != nil {
				return fmt.Errorf("backend %s/%s: %w", t[0], t[1], err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return zipPlugin()
}

// Test runs every test: Go (unit, integration against a real Prometheus and the stores Stores builds,
// end to end through a real Telegraf and through our distribution, the plugin binary over Grafana's plugin protocol, the built
// plugin package) and the frontend's (type check, lint, jest, the editors in headless Chromium).
func Test() error {
	mg.SerialDeps(SystemDeps, Stores, Telegraf, HazewatchTelegraf, Plugin)
	tg, _ := filepath.Abs(filepath.Join("bin", "telegraf"))
	dist, _ := filepath.Abs(filepath.Join("bin", teldist.Name))
	env := map[string]string{"HAZEWATCH_TELEGRAF": tg, teldist.EnvBinary: dist}
	if err := sh.RunWithV(env, "go", "test", "-count=1", "-timeout", "40m", "./..."); err != nil {
		return err
	}
	for _, script := range []string{"typecheck", "lint", "test:ci", "test:browser"} {
		if err := runIn(pluginDir, "npm", "run", script); err != nil {
			return err
		}
	}
	return nil
}

// systemPackages are the Debian packages the tests drive for real: a Prometheus server (and promtool,
// which loads history into it) and Chromium for the editors' browser check.
var systemPackages = map[string]string{"prometheus": "prometheus", "promtool": "prometheus", "chromium": "chromium"}

// SystemDeps installs the Debian packages the tests need when they are missing and this is a Debian
// machine where we are root; elsewhere it says what to install.
func SystemDeps() error {
	var missing []string
	seen := map[string]bool{}
	for cmd, pkg := range systemPackages {
		if _, err := exec.LookPath(cmd); err != nil && !seen[pkg] {
			seen[pkg] = true
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		fmt.Printf("missing system packages %v: install them (Debian: apt-get install %s); without them the Prometheus tests skip (fail when CI is set) and the browser check fails\n",
			missing, strings.Join(missing, " "))
		return nil
	}
	env := map[string]string{"DEBIAN_FRONTEND": "noninteractive"}
	if err := sh.RunWithV(env, "apt-get", "update", "-q"); err != nil {
		return err
	}
	return sh.RunWithV(env, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)...)
}

// E2E runs the stack end to end without Docker (package e2e): Debian's Prometheus, Telegraf with our
// input and processor (our distribution, as compose runs it, then a stock Telegraf through execd), and
// the datasource over Grafana's plugin protocol. Precision, recall and timings go to
// report/e2e/e2e-results.json (and e2e-results-execd.json).
func E2E() error {
	mg.SerialDeps(Telegraf, HazewatchTelegraf)
	tg, err := filepath.Abs(filepath.Join("bin", "telegraf"))
	if err != nil {
		return err
	}
	dist, err := filepath.Abs(filepath.Join("bin", teldist.Name))
	if err != nil {
		return err
	}
	out, err := filepath.Abs(filepath.Join("report", "e2e"))
	if err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{"HAZEWATCH_TELEGRAF": tg, teldist.EnvBinary: dist, "HAZEWATCH_E2E_OUT": out},
		"go", "test", "-count=1", "-run", "^(TestStackEndToEnd|TestStackEndToEndExecd|TestNativeStatefile)$", "-v", "-timeout", "25m", "./e2e")
}

// HazewatchTelegraf builds bin/hazewatch-telegraf, our Telegraf distribution: Telegraf's own main at
// the version go.mod pins, with inputs.purpleair and processors.anomaly compiled in and the stock
// plugins a PurpleAir stack needs (internal/teldist; static). Nothing of Telegraf's is kept in the
// repository: its cmd/telegraf is copied from the module cache into a temporary module at build time.
func HazewatchTelegraf() error {
	return teldist.Build(context.Background(), teldist.Options{Root: ".", Out: filepath.Join("bin", teldist.Name), Stdout: os.Stdout})
}

// releasePlatform is a platform of the release binaries.
type releasePlatform struct{ goos, goarch, goarm string }

func (p releasePlatform) String() string {
	if p.goarm != "" {
		return p.goos + "_" + p.goarch + "v" + p.goarm
	}
	return p.goos + "_" + p.goarch
}

// releasePlatforms: 64-bit servers and Raspberry Pi OS 64-bit, and 32-bit ARM for the Raspberry Pis
// that many PurpleAir-adjacent stations run. GOARM=6 runs on every Raspberry Pi (the Zero and 1 are
// ARMv6; ARMv7 boards run ARMv6 code too).
var releasePlatforms = []releasePlatform{{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"linux", "arm", "6"}}

// releaseCommands are the release's commands besides the distribution.
var releaseCommands = map[string]string{
	"hazewatch":          "./cmd/hazewatch",
	"telegraf-anomaly":   "./telegraf-processor/cmd/telegraf-anomaly",
	"telegraf-purpleair": "./telegraf-input/cmd/telegraf-purpleair",
}

// Release builds static release binaries (CGO_ENABLED=0) of hazewatch, telegraf-anomaly,
// telegraf-purpleair and hazewatch-telegraf for linux/amd64, linux/arm64 and linux/arm (ARMv6) into
// dist/release/<os>_<arch>/, with dist/release/SHA256SUMS. HAZEWATCH_RELEASE_PLATFORMS (e.g.
// "linux_armv6,linux_arm64") builds only those. Cross-compiling the distribution takes minutes per
// platform.
func Release() error {
	only := map[string]bool{}
	for _, p := range strings.Split(os.Getenv("HAZEWATCH_RELEASE_PLATFORMS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			only[p] = true
		}
	}
	root := filepath.Join("dist", "release")
	built := 0
	for _, p := range releasePlatforms {
		if len(only) > 0 && !only[p.String()] {
			continue
		}
		dir := filepath.Join(root, p.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		env := map[string]string{"CGO_ENABLED": "0", "GOOS": p.goos, "GOARCH": p.goarch, "GOARM": p.goarm}
		for name, pkg := range releaseCommands {
			if err := sh.RunWithV(env, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, name), pkg); err != nil {
				return fmt.Errorf("%s %s: %w", p, name, err)
			}
		}
		start := time.Now()
		if err := teldist.Build(context.Background(), teldist.Options{Root: ".", Out: filepath.Join(dir, teldist.Name),
			GOOS: p.goos, GOARCH: p.goarch, GOARM: p.goarm}); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fmt.Printf("%s: %s built in %s\n", p, teldist.Name, time.Since(start).Round(time.Second))
		built++
	}
	if built == 0 {
		return fmt.Errorf("HAZEWATCH_RELEASE_PLATFORMS names none of %v", releasePlatforms)
	}
	return writeChecksums(root)
}

// writeChecksums writes root/SHA256SUMS over every file below root, in sha256sum's format.
func writeChecksums(root string) error {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "SHA256SUMS" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		sum := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "SHA256SUMS"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// Bench runs the Go benchmarks that carry the figures each part promises.
func Bench() error {
	return sh.RunV("go", "test", "-run", "^$", "-bench", ".", "-benchmem", "./...")
}

// Demo runs the main job: a simulated fleet through both pipelines, with a report in report/.
func Demo() error {
	return sh.RunV("go", "run", "./cmd/hazewatch", "demo")
}

func runIn(dir, cmd string, args ...string) error {
	c := exec.Command(cmd, args...)
	c.Dir = dir
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	fmt.Printf("exec (in %s): %s %s\n", dir, cmd, strings.Join(args, " "))
	return c.Run()
}

// inDir runs f with dir as the working directory: the SDK's build package works relative to it
// (src/plugin.json, pkg/, dist/, package.json).
func inDir(dir string, f func() error) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	defer os.Chdir(wd)
	return f()
}

// zipPlugin packs dist/ as <id>/... into dist/<id>-<version>.zip, the layout Grafana's catalog and
// grafana-cli take.
func zipPlugin() error {
	const id = "hazewatch-anomaly-datasource"
	version, err := packageVersion()
	if err != nil {
		return err
	}
	dist := filepath.Join(pluginDir, "dist")
	out := filepath.Join(dist, fmt.Sprintf("%s-%s.zip", id, version))
	_ = os.Remove(out)
	f, err := os.CreateTemp(pluginDir, "plugin-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".zip") {
			return err
		}
		rel, _ := filepath.Rel(dist, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = id + "/" + filepath.ToSlash(rel)
		h.Method = zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("plugin package: %s (%s/%s host)\n", out, runtime.GOOS, runtime.GOARCH)
	return os.Rename(f.Name(), out)
}

func packageVersion() (string, error) {
	out, err := sh.Output("node", "-p", "require('./"+pluginDir+"/package.json').version")
	if err != nil {
		return "", fmt.Errorf("reading the version from %s/package.json: %w", pluginDir, err)
	}
	return strings.TrimSpace(out), nil
}

// store is a time-series database the stores' end-to-end tests (e2e/stores_test.go) run instead of
// Prometheus. Each is built from a small module of ours under tools/stores that pins it (go.mod and
// go.sum), so its dependency tree stays out of our go.mod.
type store struct {
	name   string // binary name, in bin/ and in the cache
	dir    string // its tools module
	module string // the store's module, whose version keys the cache
	pkg    string // the main package built
	tags   string
	// ldflags stamps the version the store reports (/api/v1/status/buildinfo, the datasource's health
	// message), which a module build leaves empty; %s is the module version.
	ldflags string
}

var stores = []store{
	{name: "victoria-metrics", dir: "tools/stores/victoriametrics", module: "github.com/VictoriaMetrics/VictoriaMetrics",
		pkg: "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics",
		// VictoriaMetrics's own version string: app name, then the tag.
		ldflags: "-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-metrics-%s"},
	// Thanos's release build uses these tags; without slicelabels the receiver panics on its first write.
	{name: "thanos", dir: "tools/stores/thanos", module: "github.com/thanos-io/thanos",
		pkg: "github.com/thanos-io/thanos/cmd/thanos", tags: "slicelabels,netgo",
		ldflags: "-X github.com/prometheus/common/version.Version=%s"},
}

// Stores builds the stores the scaling tests run, VictoriaMetrics single node and Thanos, into
// bin/victoria-metrics and bin/thanos (static, CGO_ENABLED=0). Each binary is kept in the cache
// directory ($HAZEWATCH_CACHE, default ~/.cache/hazewatch) under stores/<name>-<version>-<key>, the
// key hashing its tools module's go.mod and go.sum, the tags, the Go version and the platform: a
// second run copies it from there in a second; a changed pin builds afresh.
func Stores() error {
	for _, s := range stores {
		if err := s.install(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// StoresE2E runs only the scaling end-to-end tests (VictoriaMetrics, the Thanos receive hashring)
// with the stores Stores builds and the Telegraf the other tests use.
func StoresE2E() error {
	mg.SerialDeps(Telegraf, Stores)
	tg, err := filepath.Abs(filepath.Join("bin", "telegraf"))
	if err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{"HAZEWATCH_TELEGRAF": tg},
		"go", "test", "-count=1", "-run", "^TestStores", "-v", "-timeout", "20m", "./e2e")
}

// StoresLoad measures the scaling figures (README, Scaling): the batch alert query over 1,000
// simulated sensors through one Prometheus, VictoriaMetrics and a Thanos querier over three receivers
// (latency, plugin peak RSS), and Telegraf's sustained remote-write rate into Thanos receive with
// nothing lost. Bounded (70 simulated minutes of 1,000 sensors per store), loopback only; not part of
// `mage test`. Figures go to report/stores/stores-load.json.
func StoresLoad() error {
	mg.SerialDeps(Telegraf, Stores)
	tg, err := filepath.Abs(filepath.Join("bin", "telegraf"))
	if err != nil {
		return err
	}
	out, err := filepath.Abs(filepath.Join("report", "stores"))
	if err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{"HAZEWATCH_TELEGRAF": tg, "HAZEWATCH_STORES_LOAD": "1", "HAZEWATCH_E2E_OUT": out},
		"go", "test", "-count=1", "-run", "^TestStoresLoad$", "-v", "-timeout", "30m", "./e2e")
}

// install puts bin/<name> in place from the cache, building it into the cache first when missing.
func (s store) install() error {
	cached, err := s.cachePath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(cached); err != nil {
		if err := s.build(cached); err != nil {
			return err
		}
	} else {
		fmt.Printf("%s: cached %s\n", s.name, cached)
	}
	if err := os.MkdirAll("bin", 0o755); err != nil {
		return err
	}
	return copyExecutable(cached, filepath.Join("bin", s.name))
}

// version is the store's module version pinned in its tools module's go.mod.
func (s store) version() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "go.mod"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(s.module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s/go.mod does not require %s", s.dir, s.module)
	}
	return string(m[1]), nil
}

func (s store) cachePath() (string, error) {
	root, err := repotest.CacheRoot()
	if err != nil {
		return "", err
	}
	version, err := s.version()
	if err != nil {
		return "", err
	}
	goVersion, err := sh.Output("go", "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(s.dir, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s/%s", s.tags, s.ldflags, goVersion, runtime.GOOS, runtime.GOARCH)
	key := hex.EncodeToString(h.Sum(nil)[:6])
	return filepath.Join(root, "stores", s.name+"-"+version+"-"+key, s.name), nil
}

// build compiles the store into a temporary file beside cached and renames it into place, so that a
// build cut short never leaves a binary that looks complete.
func (s store) build(cached string) error {
	version, err := s.version()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return err
	}
	tmp := cached + ".building"
	defer os.Remove(tmp)
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return err
	}
	args := []string{"build", "-mod=readonly", "-trimpath", "-ldflags", fmt.Sprintf(s.ldflags, version), "-o", abs}
	if s.tags != "" {
		args = append(args, "-tags", s.tags)
	}
	args = append(args, s.pkg)
	start := time.Now()
	c := exec.Command("go", args...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	fmt.Printf("exec (in %s): go %s\n", s.dir, strings.Join(args, " "))
	if err := c.Run(); err != nil {
		return err
	}
	fmt.Printf("%s %s: built in %s\n", s.name, version, time.Since(start).Round(time.Second))
	return os.Rename(tmp, cached)
}

// copyExecutable copies src to dst through a temporary file and a rename (a test may be running the
// old dst).
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
