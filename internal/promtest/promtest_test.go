package promtest

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	cases := map[string]string{
		// Debian 12 (bookworm)
		"prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5+deb12u1)\n  build user:       team+pkg-go@tracker.debian.org\n": "2.42.0+ds",
		// Upstream release binary
		"prometheus, version 3.1.0 (branch: HEAD, revision: 7086161a93b262aa0949dbf2aba15a5a7b13e0a3)\n  go version:       go1.23.4\n": "3.1.0",
	}
	for out, want := range cases {
		if got, ok := ParseVersion(out); !ok || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", out, got, ok, want)
		}
	}
	if v, ok := ParseVersion("  go version:       go1.19.8\n"); ok {
		t.Errorf("ParseVersion found %q in output without a prometheus version line", v)
	}
}

// The version of the installed binary is what its buildinfo API reports.
func TestVersionMatchesBuildinfo(t *testing.T) {
	SkipIfAbsent(t)
	v := Version(t)
	s := StartDir(t, t.TempDir())
	resp, err := httpGetJSON(s.URL + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Data.Version != v {
		t.Errorf("buildinfo version %q, prometheus --version %q", resp.Data.Version, v)
	}
}

type buildinfo struct {
	Data struct {
		Version string `json:"version"`
	} `json:"data"`
}

func httpGetJSON(url string) (*buildinfo, error) {
	r, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	var b buildinfo
	return &b, json.NewDecoder(r.Body).Decode(&b)
}

func TestDecodeResult(t *testing.T) {
	got, err := decodeResult("matrix", []byte(`[{"metric":{"sensor_index":"3"},"values":[[1700000000.123,"1.5"],[1700000060,"NaN"]]}]`))
	if err != nil || len(got) != 1 || got[0].Labels["sensor_index"] != "3" || len(got[0].Samples) != 2 ||
		got[0].Samples[0] != (Sample{T: 1700000000123, V: 1.5}) || got[0].Samples[1].T != 1700000060000 || !math.IsNaN(got[0].Samples[1].V) {
		t.Errorf("matrix: %+v, %v", got, err)
	}
	got, err = decodeResult("vector", []byte(`[{"metric":{},"value":[1.001,"2"]},{"metric":{"a":"b"},"value":[1.001,"3"]}]`))
	if err != nil || len(got) != 2 || got[1].Samples[0] != (Sample{T: 1001, V: 3}) {
		t.Errorf("vector: %+v, %v", got, err)
	}
	got, err = decodeResult("scalar", []byte(`[12.5,"0.25"]`))
	if err != nil || len(got) != 1 || len(got[0].Labels) != 0 || got[0].Samples[0] != (Sample{T: 12500, V: 0.25}) {
		t.Errorf("scalar: %+v, %v", got, err)
	}
	if _, err := decodeResult("string", []byte(`[1,"x"]`)); err == nil {
		t.Error("a string result decoded")
	}
	if _, err := decodeResult("vector", []byte(`[{"value":[1,2]}]`)); err == nil {
		t.Error("a numeric sample value (the API writes strings) decoded")
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Second: "1s", 1500 * time.Millisecond: "2s", 24 * time.Hour: "86400s"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %s, want %s", d, got, want)
		}
	}
}

// Run takes a compose service's flags: its own listen address and TSDB path win over theirs, and the
// others (the remote-write receiver here) pass as given.
func TestRunWithComposeFlags(t *testing.T) {
	dataDir := t.TempDir()
	s := Run(t, Config{DataDir: dataDir, Flags: []string{"--web.listen-address=0.0.0.0:1", "--storage.tsdb.path=/nonexistent", "--web.enable-remote-write-receiver"}})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", s.URL)
	}
	var flags struct {
		Data map[string]string `json:"data"`
	}
	resp, err := http.Get(s.URL + "/api/v1/status/flags")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&flags); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"storage.tsdb.path": dataDir, "web.enable-remote-write-receiver": "true", "web.listen-address": strings.TrimPrefix(s.URL, "http://")} {
		if got := flags.Data[k]; got != want {
			t.Errorf("--%s=%q, want %q", k, got, want)
		}
	}
	// The receiver is there: an empty body is a bad request, not a missing endpoint.
	if resp, err := http.Post(s.URL+"/api/v1/write", "application/x-protobuf", nil); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("remote write of nothing: %v, %v; want 400", resp.Status, err)
	}

	at := time.Unix(1700000000, 250e6)
	got, err := s.Query(context.Background(), `vector(42)`, at)
	if err != nil || len(got) != 1 || got[0].Samples[0] != (Sample{T: at.UnixMilli(), V: 42}) {
		t.Fatalf("query: %+v, %v", got, err)
	}
	if _, err := s.Query(context.Background(), `rate(x[5m]`, at); err == nil || !strings.Contains(err.Error(), "rate(x[5m]") {
		t.Errorf("a malformed query: %v, want an error naming it", err)
	}
	if names, err := s.MetricNames(context.Background()); err != nil || len(names) != 0 {
		t.Errorf("metric names of an empty server: %v, %v", names, err)
	}
	s.Stop()
	if !s.Proc.Exited() {
		t.Error("Prometheus runs on after Stop")
	}
	if _, err := s.Query(context.Background(), "1", time.Time{}); err == nil {
		t.Error("a stopped server answered")
	}
}
