package promtest

import (
	"encoding/json"
	"net/http"
	"testing"
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
