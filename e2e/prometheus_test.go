package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// prometheusBinary is where the Debian package installs Prometheus (2.42 on this machine).
const prometheusBinary = "/usr/bin/prometheus"

// composeService is the part of a docker-compose service the tests translate to a local process.
type composeService struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

func loadComposeService(t testing.TB, name string) composeService {
	t.Helper()
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(repotest.ReadFile(t, "docker-compose.yml"), &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	s, ok := f.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// composeVarRE matches an innermost compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:+alternative}, ${VAR+alternative}, ${VAR:?error}.
var composeVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^${}]*))?\}`)

// composeDefaults resolves compose interpolations as compose does with none of the variables set: the
// test runs the stack as a user who set nothing. Nested forms resolve from the inside out.
func composeDefaults(s string) string {
	for {
		next := composeVarRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := composeVarRE.FindStringSubmatch(m)
			if op := sub[2]; op == ":-" || op == "-" {
				return sub[3] // unset: the default
			}
			return "" // unset: no alternative; ${VAR:?…} is for the user to fix, not here
		})
		if next == s {
			return s
		}
		s = next
	}
}

// hostPathOf maps a container path to the repository file compose bind-mounts there.
func hostPathOf(t testing.TB, s composeService, containerPath string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == containerPath && strings.HasPrefix(parts[0], "./") {
			return filepath.Join(repotest.Root(t), parts[0])
		}
	}
	t.Fatalf("no bind mount of %s in the compose service (volumes %q)", containerPath, s.Volumes)
	return ""
}

// promServer is a running Prometheus.
type promServer struct {
	URL  string
	proc *process
}

// startPrometheus starts Prometheus with the compose service's command line, translated: the config
// file is the repository file compose mounts, the TSDB a temporary directory, the listen address a free
// loopback port. It returns once /-/ready answers 200.
func startPrometheus(t testing.TB, bin, dir string, readyWithin time.Duration) *promServer {
	t.Helper()
	s := loadComposeService(t, "prometheus")
	addr := freeLoopbackAddr(t)
	args := []string{"--web.listen-address=" + addr}
	for _, a := range s.Command {
		a = composeDefaults(a)
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "--config.file":
			a = k + "=" + hostPathOf(t, s, v)
		case "--storage.tsdb.path":
			a = k + "=" + filepath.Join(dir, "tsdb")
		case "--web.listen-address":
			continue
		}
		args = append(args, a)
	}
	p := startProcess(t, "prometheus", bin, args, minimalEnv(nil), filepath.Join(dir, "prometheus.log"))
	srv := &promServer{URL: "http://" + addr, proc: p}
	deadline := time.Now().Add(readyWithin)
	for {
		if p.exited() {
			t.Fatalf("prometheus %q exited before it was ready:\n%s", args, p.log())
		}
		if resp, err := http.Get(srv.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus %q not ready within %s:\n%s", args, readyWithin, p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outOfOrderWindow reads storage.tsdb.out_of_order_time_window from the Prometheus config compose mounts
// (Prometheus 2.39+ syntax: a duration under storage.tsdb).
func outOfOrderWindow(t testing.TB) time.Duration {
	t.Helper()
	s := loadComposeService(t, "prometheus")
	var cfgPath string
	for _, a := range s.Command {
		if k, v, ok := strings.Cut(a, "="); ok && k == "--config.file" {
			cfgPath = hostPathOf(t, s, v)
		}
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Storage struct {
			TSDB struct {
				OOO string `yaml:"out_of_order_time_window"`
			} `yaml:"tsdb"`
		} `yaml:"storage"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	if cfg.Storage.TSDB.OOO == "" {
		return 0
	}
	d, err := model.ParseDuration(cfg.Storage.TSDB.OOO)
	if err != nil {
		t.Fatalf("%s: out_of_order_time_window: %v", cfgPath, err)
	}
	return time.Duration(d)
}

// promSample is one sample of a query result.
type promSample struct {
	T int64 // Unix ms
	V float64
}

// promSeries is one series of a query result: its labels (without __name__ for most functions) and
// samples (one for a vector, many for a matrix).
type promSeries struct {
	Labels  map[string]string
	Samples []promSample
}

// query evaluates expr at time at (an instant query; a range selector returns a matrix of raw samples).
func (s *promServer) query(ctx context.Context, expr string, at time.Time) ([]promSeries, error) {
	form := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s (query %s)", r.Error, expr)
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
	default:
		return nil, fmt.Errorf("query %s: result type %q, want vector or matrix", expr, r.Data.ResultType)
	}
	out := make([]promSeries, 0, len(r.Data.Result))
	for _, res := range r.Data.Result {
		ps := promSeries{Labels: res.Metric}
		pairs := res.Values
		if r.Data.ResultType == "vector" {
			pairs = [][2]any{res.Value}
		}
		for _, p := range pairs {
			sp, err := parsePromPair(p)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", expr, err)
			}
			ps.Samples = append(ps.Samples, sp)
		}
		out = append(out, ps)
	}
	return out, nil
}

// parsePromPair decodes the API's [<unix seconds float>, "<value>"].
func parsePromPair(p [2]any) (promSample, error) {
	ts, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return promSample{}, fmt.Errorf("malformed sample %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return promSample{}, fmt.Errorf("sample value %q: %w", vs, err)
	}
	// Timestamps are milliseconds written as seconds with three decimals.
	return promSample{T: int64(ts*1000 + 0.5*sign(ts)), V: v}, nil
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}

// promDuration writes d as a PromQL duration in whole seconds, rounded up.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}

// requirePrometheus returns the Prometheus binary, or skips the test when it is missing — except in CI
// (CI set), where a missing Prometheus is a broken runner and fails the test.
func requirePrometheus(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(prometheusBinary); err == nil {
		return prometheusBinary
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	repotest.SkipOrFailInCI(t, prometheusBinary+" is missing: install the Debian package prometheus (apt-get install prometheus) to run the end-to-end stack")
	return ""
}
