package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/internal/promtest"
)

// sharedServer is one Prometheus loaded with a dataset, started by the
// first test that asks for it and shared by the package's tests after it.
type sharedServer struct {
	name    string
	dataset func() *promtest.Dataset
	once    sync.Once
	srv     *promtest.Server
}

func (s *sharedServer) get(t *testing.T) *promtest.Server {
	promtest.SkipIfAbsent(t)
	s.once.Do(func() { s.srv = promtest.Start(sharedTB{t}, s.dataset()) })
	if s.srv == nil {
		t.Fatalf("the %s Prometheus failed to start in an earlier test", s.name)
	}
	return s.srv
}

// The integration tests share one Prometheus loaded with the planted dataset.
var planted = sharedServer{name: "shared", dataset: promtest.Planted}

func plantedServer(t *testing.T) *promtest.Server { return planted.get(t) }

// sharedTB defers the server's cleanup to the end of the package's tests
// (TestMain) instead of the first test that started it.
type sharedTB struct{ *testing.T }

var sharedCleanups []func()

func (s sharedTB) Cleanup(f func()) { sharedCleanups = append(sharedCleanups, f) }
func (s sharedTB) TempDir() string {
	d, err := osMkdirTemp()
	if err != nil {
		s.T.Fatal(err)
	}
	sharedCleanups = append(sharedCleanups, func() { osRemoveAll(d) })
	return d
}

func newTestInstance(t *testing.T, url, jsonData string, secure map[string]string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		UID: "test", Type: PluginID, Name: "hazewatch", URL: url, JSONData: []byte(jsonData), DecryptedSecureJSONData: secure,
	})
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	// Disposed as Grafana would, so that its budget leaves the process's
	// memory limit (a test instance with a tiny budget must not throttle
	// the tests after it).
	t.Cleanup(ds.Dispose)
	if ds.settingsErr != nil {
		t.Fatal(ds.settingsErr)
	}
	return ds
}

func queryOne(t *testing.T, ds *Datasource, dq backend.DataQuery) backend.DataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dq}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Responses[dq.RefID]
}

var plantedFeatures = []map[string]string{
	{"name": "pm25", "expr": promtest.MetricPM25},
	{"name": "rh", "expr": promtest.MetricHumidity},
	{"name": "temp", "expr": "avg by (sensor_index) (" + promtest.MetricTemperature + ")"},
}

// topScore returns the entity and time of the highest "score" value.
func topScore(t *testing.T, frames data.Frames) (string, time.Time, float64) {
	t.Helper()
	var best float64 = -1
	var sensor string
	var at time.Time
	for _, f := range frames {
		fld, idx := f.FieldByName("score")
		if idx < 0 {
			t.Fatalf("frame without score: %v", f.Fields)
		}
		tf, _ := f.FieldByName(data.TimeSeriesTimeFieldName)
		for i := 0; i < fld.Len(); i++ {
			if v := fld.At(i).(float64); v > best {
				best, sensor = v, fld.Labels["sensor_index"]
				if tf != nil {
					at = tf.At(i).(time.Time)
				}
			}
		}
	}
	return sensor, at, best
}

func TestPrometheusSeriesPlantedSpikeScoresHighest(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	from, to := promtest.SeriesSpikeAt.Add(-12*time.Hour), promtest.SeriesSpikeAt.Add(12*time.Hour)
	for _, forest := range []string{"per_entity", "shared"} {
		t.Run(forest, func(t *testing.T) {
			r := queryOne(t, ds, dataQuery("A", from, to, map[string]any{
				"features": plantedFeatures, "forest": forest, "output": []string{"score", "anomaly"},
				"training": map[string]any{"range": "7d", "step": "5m"}, "isolationForest": map[string]any{"seed": 42, "contamination": "0.001"},
			}))
			if r.Error != nil {
				t.Fatal(r.Error)
			}
			if len(r.Frames) != 12 {
				t.Fatalf("%d frames, want 12 sensors", len(r.Frames))
			}
			sensor, at, score := topScore(t, r.Frames)
			if sensor != fmt.Sprint(promtest.SeriesSpikeSensor) || at.Before(promtest.SeriesSpikeAt) || !at.Before(promtest.SeriesSpikeAt.Add(promtest.SeriesSpikeLen)) {
				t.Errorf("highest score %.3f is sensor %s at %s; want the planted spike, sensor %d at %s", score, sensor, at, promtest.SeriesSpikeSensor, promtest.SeriesSpikeAt)
			}
			// The spike's three points are flagged anomalous.
			for _, f := range r.Frames {
				an, _ := f.FieldByName("anomaly")
				if an.Labels["sensor_index"] != fmt.Sprint(promtest.SeriesSpikeSensor) {
					continue
				}
				flagged := 0
				for i := 0; i < an.Len(); i++ {
					ts := f.Fields[0].At(i).(time.Time)
					if !ts.Before(promtest.SeriesSpikeAt) && ts.Before(promtest.SeriesSpikeAt.Add(promtest.SeriesSpikeLen)) && an.At(i).(float64) == 1 {
						flagged++
					}
				}
				if flagged != 3 {
					t.Errorf("%d of the 3 spike points flagged anomalous", flagged)
				}
			}
			m := r.Frames[0].Meta
			if !strings.Contains(m.ExecutedQueryString, "training range: [2026-10-23T01:05:00Z") || !strings.Contains(m.ExecutedQueryString, "temp: avg by (sensor_index)") {
				t.Errorf("executed query string:\n%s", m.ExecutedQueryString)
			}
		})
	}
}

func TestPrometheusFleetOutlierScoresHighest(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	to := promtest.FleetOutlierFrom.Add(time.Hour)
	r := queryOne(t, ds, dataQuery("F", to.Add(-6*time.Hour), to, map[string]any{"mode": "fleet", "features": plantedFeatures, "training": map[string]any{"step": "5m"}}))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if r.Frames[0].Meta.Type != data.FrameTypeNumericMulti || len(r.Frames) != 12 {
		t.Fatalf("%d frames of type %s", len(r.Frames), r.Frames[0].Meta.Type)
	}
	if sensor, _, score := topScore(t, r.Frames); sensor != fmt.Sprint(promtest.FleetOutlierSensor) {
		t.Errorf("highest fleet score %.3f is sensor %s, want the outlier %d", score, sensor, promtest.FleetOutlierSensor)
	}
}

func TestPrometheusPromQLError(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	r := queryOne(t, ds, dataQuery("E", promtest.PlantedEnd.Add(-time.Hour), promtest.PlantedEnd, map[string]any{
		"features": []map[string]string{{"name": "bad", "expr": "rate(" + promtest.MetricPM25 + "[5m]"}}}))
	if r.Error == nil || r.Status != backend.StatusBadRequest || r.ErrorSource != backend.ErrorSourceDownstream {
		t.Fatalf("status %d source %s error %v", r.Status, r.ErrorSource, r.Error)
	}
	if !strings.Contains(r.Error.Error(), `feature "bad": upstream rejected the PromQL`) || !strings.Contains(r.Error.Error(), "parse error") {
		t.Errorf("error = %q, want Prometheus's parse error passed on", r.Error)
	}
}

func TestPrometheusTooManySeries(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{"maxSeries":5}`, nil)
	r := queryOne(t, ds, dataQuery("M", promtest.PlantedEnd.Add(-time.Hour), promtest.PlantedEnd, map[string]any{"features": plantedFeatures}))
	if r.Error == nil || r.Status != backend.StatusBadRequest || !strings.Contains(r.Error.Error(), "returned more than 5 series, the limit is 5") {
		t.Errorf("status %d error %v", r.Status, r.Error)
	}
}

func TestPrometheusHealthAndResources(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	h, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The version the installed binary reports, not a pinned release: the
	// test runs against whichever Debian (or other) package is installed.
	if want := "(version " + promtest.Version(t) + ")"; h.Status != backend.HealthStatusOk || !strings.Contains(h.Message, want) {
		t.Errorf("health: %v %q, want it to contain %q", h.Status, h.Message, want)
	}
	rng := fmt.Sprintf("start=%d&end=%d", promtest.PlantedEnd.Add(-3*24*time.Hour).Unix(), promtest.PlantedEnd.Unix())
	cases := []struct {
		path, query string
		want        []string
		n           int
	}{
		{"metrics", rng, []string{promtest.MetricHumidity, promtest.MetricPM25, promtest.MetricTemperature}, 3},
		{"labels", rng, []string{"__name__", "sensor_index"}, 2},
		{"label-values", "label=sensor_index&" + rng, []string{"0", "1", "10", "11"}, 12},
		{"metrics", "match=HUMID&" + rng, []string{promtest.MetricHumidity}, 1},
		{"labels", "match[]=" + promtest.MetricPM25 + "&" + rng, []string{"__name__", "sensor_index"}, 2},
		{"label-values", "label=sensor_index&match[]=" + promtest.MetricPM25 + `{sensor_index="3"}&` + rng, []string{"3"}, 1},
	}
	for _, c := range cases {
		status, body := callResource(t, ds, c.path, c.query)
		var got []string
		if status != 200 || json.Unmarshal(body, &got) != nil {
			t.Errorf("%s?%s: %d %s", c.path, c.query, status, body)
			continue
		}
		if len(got) != c.n || strings.Join(got[:len(c.want)], ",") != strings.Join(c.want, ",") {
			t.Errorf("%s?%s = %v, want %d values starting %v", c.path, c.query, got, c.n, c.want)
		}
	}
	if status, body := callResource(t, ds, "label-values", "label=bad-name"); status != 400 || !strings.Contains(string(body), "not a valid label name") {
		t.Errorf("bad label: %d %s", status, body)
	}
	if status, _ := callResource(t, ds, "nope", ""); status != 404 {
		t.Errorf("unknown resource: %d", status)
	}
}

func callResource(t *testing.T, ds *Datasource, path, query string) (int, []byte) {
	t.Helper()
	var got *backend.CallResourceResponse
	err := ds.CallResource(context.Background(), &backend.CallResourceRequest{Path: path, Method: "GET", URL: path + "?" + query},
		backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
	if err != nil || got == nil {
		t.Fatalf("CallResource %s: %v", path, err)
	}
	return got.Status, got.Body
}

func TestPrometheusStoppedServer(t *testing.T) {
	promtest.SkipIfAbsent(t)
	srv := promtest.StartDir(t, t.TempDir())
	const password = "hunter2-secret"
	url := strings.Replace(srv.URL, "http://", "http://alice:"+password+"@", 1)
	ds := newTestInstance(t, url, `{"authType":"bearer"}`, map[string]string{"bearerToken": "tok-" + password})
	if h, _ := ds.CheckHealth(context.Background(), nil); h.Status != backend.HealthStatusOk {
		t.Fatalf("health before stop: %q", h.Message)
	}
	srv.Stop()
	r := queryOne(t, ds, dataQuery("S", promtest.PlantedEnd.Add(-time.Hour), promtest.PlantedEnd, map[string]any{"features": plantedFeatures}))
	if r.Error == nil || r.Status != backend.StatusBadGateway || r.ErrorSource != backend.ErrorSourceDownstream || !strings.Contains(r.Error.Error(), "unreachable") || !strings.Contains(r.Error.Error(), "connection refused") {
		t.Errorf("status %d source %s error %v", r.Status, r.ErrorSource, r.Error)
	}
	h, _ := ds.CheckHealth(context.Background(), nil)
	if h.Status != backend.HealthStatusError || !strings.Contains(h.Message, "Check the URL") {
		t.Errorf("health after stop: %v %q", h.Status, h.Message)
	}
	for _, msg := range []string{r.Error.Error(), h.Message} {
		if strings.Contains(msg, password) {
			t.Errorf("a credential leaked into %q", msg)
		}
	}
}

func TestSlowUpstreamTimesOut(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	ds := newTestInstance(t, slow.URL, `{"queryTimeout":"1s"}`, nil)
	start := time.Now()
	r := queryOne(t, ds, dataQuery("T", promtest.PlantedEnd.Add(-time.Hour), promtest.PlantedEnd, map[string]any{"features": plantedFeatures}))
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s with a 1s timeout", el)
	}
	if r.Status != backend.StatusTimeout || r.ErrorSource != backend.ErrorSourceDownstream || !strings.Contains(fmt.Sprint(r.Error), "timed out after 1s") {
		t.Errorf("status %d source %s error %v", r.Status, r.ErrorSource, r.Error)
	}
}
