package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// benchResourceInstance is an instance whose upstream is an in-process fake
// answering every label lookup with the same 500 names, so that the figure is
// the plugin's dispatch, decode, filter and encode rather than Prometheus'.
func benchResourceInstance(b *testing.B) *Datasource {
	names := make([]string, 500)
	for i := range names {
		names[i] = fmt.Sprintf(`"purpleair_metric_%03d"`, i)
	}
	body := []byte(`{"status":"success","data":[` + strings.Join(names, ",") + `]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "bench", URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	ds := inst.(*Datasource)
	if ds.settingsErr != nil {
		b.Fatal(ds.settingsErr)
	}
	b.Cleanup(ds.Dispose)
	ds.logger = nopLogger()
	return ds
}

func benchResource(b *testing.B, path, query string, wantStatus int) {
	ds := benchResourceInstance(b)
	req := &backend.CallResourceRequest{Path: path, Method: http.MethodGet, URL: path + "?" + query}
	var status, size int
	sender := backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
		status, size = r.Status, len(r.Body)
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		if err := ds.CallResource(context.Background(), req, sender); err != nil {
			b.Fatal(err)
		}
		if status != wantStatus {
			b.Fatalf("%s?%s: status %d, want %d", path, query, status, wantStatus)
		}
	}
	b.ReportMetric(float64(size), "body-bytes")
}

// BenchmarkResourceMetrics is the query editor's metric autocomplete: one
// upstream lookup of 500 names filtered by text.
func BenchmarkResourceMetrics(b *testing.B) {
	benchResource(b, "metrics", "match=metric_1", http.StatusOK)
}

// BenchmarkResourceUnknown is dispatch alone: an unknown resource never
// reaches the upstream.
func BenchmarkResourceUnknown(b *testing.B) {
	benchResource(b, "nope", "", http.StatusNotFound)
}
