package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// TestResourceRouting covers the answers the router gives before any
// upstream lookup: each must be the editor's {"error": …} JSON, not the
// mux's plain text, and a path as Grafana may pass it must still route.
func TestResourceRouting(t *testing.T) {
	var lookups []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookups = append(lookups, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":["pm_b","pm_a","rh"]}`))
	}))
	defer up.Close()
	ds := newTestInstance(t, up.URL, `{}`, nil)
	broken := newTestInstanceAllowingErrors(t, "", `{}`)

	cases := []struct {
		name       string
		ds         *Datasource
		method     string
		path, url  string
		wantStatus int
		wantBody   string
		wantLookup string
	}{
		{"metrics", ds, "GET", "metrics", "metrics?match=PM", 200, `["pm_a","pm_b"]`, "/api/v1/label/__name__/values"},
		{"no method means GET", ds, "", "labels", "labels", 200, `["pm_a","pm_b","rh"]`, "/api/v1/labels"},
		{"leading and trailing slashes", ds, "GET", "/label-values/", "/label-values/?label=sensor_index", 200, `["pm_a","pm_b","rh"]`, "/api/v1/label/sensor_index/values"},
		{"POST", ds, "POST", "metrics", "metrics", 405, `{"error":"only GET is supported"}`, ""},
		{"HEAD answers as GET", ds, "HEAD", "labels", "labels", 200, `["pm_a","pm_b","rh"]`, "/api/v1/labels"},
		{"unknown", ds, "GET", "nope", "nope", 404, `{"error":"unknown resource \"nope\" (want metrics, labels or label-values)"}`, ""},
		{"bad label", ds, "GET", "label-values", "label-values?label=bad-name", 400, `{"error":"label \"bad-name\" is not a valid label name"}`, ""},
		{"bad range", ds, "GET", "labels", "labels?start=yesterday", 400, `{"error":"start \"yesterday\": want Unix seconds or RFC 3339"}`, ""},
		{"malformed query pair ignored", ds, "GET", "labels", "labels?%zz=1", 200, `["pm_a","pm_b","rh"]`, "/api/v1/labels"},
		{"unparsable URL", ds, "GET", "labels", "%zz", 400, `{"error":"bad resource URL"}`, ""},
		{"settings error", broken, "GET", "metrics", "metrics", 400, `{"error":"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lookups = nil
			var got *backend.CallResourceResponse
			err := c.ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: c.method, Path: c.path, URL: c.url},
				backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
					if got != nil {
						t.Errorf("a second response: %d %s", r.Status, r.Body)
					}
					got = r
					return nil
				}))
			if err != nil || got == nil {
				t.Fatalf("CallResource: %v, response %v", err, got)
			}
			if got.Status != c.wantStatus || !strings.HasPrefix(string(got.Body), c.wantBody) {
				t.Errorf("%d %s, want %d %s…", got.Status, got.Body, c.wantStatus, c.wantBody)
			}
			if ct := got.Headers["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" || !json.Valid(got.Body) {
				t.Errorf("Content-Type %v, body %s: want JSON", ct, got.Body)
			}
			if allow := got.Headers["Allow"]; c.wantStatus == http.StatusMethodNotAllowed && (len(allow) != 1 || allow[0] != "GET, HEAD") {
				t.Errorf("Allow %v on a 405, want GET, HEAD", allow)
			}
			if want := []string{c.wantLookup}; (c.wantLookup == "" && len(lookups) != 0) || (c.wantLookup != "" && strings.Join(lookups, ",") != want[0]) {
				t.Errorf("upstream lookups %v, want %q", lookups, c.wantLookup)
			}
		})
	}
}

// newTestInstanceAllowingErrors is an instance whose settings may be invalid,
// as Grafana creates one so that "Save & test" can show why.
func newTestInstanceAllowingErrors(t *testing.T, url, jsonData string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "test", Type: PluginID, URL: url, JSONData: []byte(jsonData)})
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}
