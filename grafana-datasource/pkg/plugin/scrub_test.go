package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// echoUpstream repeats the request's credentials — the Authorization header
// as sent (bearer token, or basic's base64) and basic's password decoded —
// in every place a Prometheus-compatible API returns text: warnings and
// infos of a successful query, the error of a failed one, buildinfo, and
// label names and values.
func echoUpstream(pingOK *atomic.Bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		echo := "auth " + r.Header.Get("Authorization")
		if _, pw, ok := r.BasicAuth(); ok {
			echo += " password " + pw
		}
		e, _ := json.Marshal(echo)
		switch {
		case strings.HasSuffix(r.URL.Path, "/query_range") && r.Form.Get("query") == "fail":
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"status":"error","errorType":"execution","error":%s}`, e)
		case strings.HasSuffix(r.URL.Path, "/query_range"):
			fmt.Fprintf(w, `{"status":"success","warnings":[%s],"infos":[%s],"data":{"resultType":"matrix","result":[{"metric":{"sensor_index":"1"},"values":[[1700000000,"1"]]}]}}`, e, e)
		case strings.HasSuffix(r.URL.Path, "/status/buildinfo"):
			fmt.Fprintf(w, `{"status":"success","data":{"version":%s,"revision":%s}}`, e, e)
		case strings.HasSuffix(r.URL.Path, "/query") && pingOK.Load():
			w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}`))
		case strings.HasSuffix(r.URL.Path, "/query"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%s}`, e)
		case strings.HasSuffix(r.URL.Path, "/labels"):
			fmt.Fprintf(w, `{"status":"success","data":[%s,"sensor_index"]}`, e)
		default: // label values: refused
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":%s}`, e)
		}
	}))
}

// Every string the plugin hands back — query errors, frame notices,
// health messages and details, resource answers and errors, logs — goes
// through one scrubber; an upstream echoing the credentials in each of
// them must not get one through.
func TestEchoedSecretsAreScrubbedEverywhere(t *testing.T) {
	const (
		user, password = "alice", "pw-echo-secret"
		token          = "tok-echo-secret"
	)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	var pingOK atomic.Bool
	srv := echoUpstream(&pingOK)
	defer srv.Close()
	rec := newRecordingLogger()
	saved := log.DefaultLogger
	log.DefaultLogger = rec
	t.Cleanup(func() { log.DefaultLogger = saved })

	for _, c := range []struct {
		name    string
		ds      backend.DataSourceInstanceSettings
		secrets []string
	}{
		{"bearer", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{"authType":"bearer"}`),
			DecryptedSecureJSONData: map[string]string{"bearerToken": token}}, []string{token}},
		{"basic", backend.DataSourceInstanceSettings{URL: srv.URL, BasicAuthEnabled: true, BasicAuthUser: user,
			JSONData: []byte(`{"authType":"basic"}`), DecryptedSecureJSONData: map[string]string{"basicAuthPassword": password}},
			[]string{password, basic}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst, err := NewDatasource(context.Background(), c.ds)
			if err != nil {
				t.Fatal(err)
			}
			ds := inst.(*Datasource)
			var out []string // everything that leaves the plugin, as text
			to := time.Unix(1700000060, 0)
			resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{
				dataQuery("ok", to.Add(-time.Minute), to, map[string]any{"features": []map[string]string{{"name": "pm", "expr": "pm"}}}),
				dataQuery("fail", to.Add(-time.Minute), to, map[string]any{"features": []map[string]string{{"name": "pm", "expr": "fail"}}}),
			}})
			if err != nil {
				t.Fatal(err)
			}
			ok, fail := resp.Responses["ok"], resp.Responses["fail"]
			if ok.Error != nil || len(ok.Frames) == 0 || ok.Frames[0].Meta == nil {
				t.Fatalf("query ok: %v, %d frames", ok.Error, len(ok.Frames))
			}
			var warnings, infos int
			for _, n := range ok.Frames[0].Meta.Notices {
				out = append(out, n.Text)
				if strings.Contains(n.Text, "upstream warning") {
					warnings++
				}
				if strings.Contains(n.Text, "upstream info") {
					infos++
				}
			}
			if warnings != 1 || infos != 1 {
				t.Errorf("notices %v: want the upstream's warning and its info", ok.Frames[0].Meta.Notices)
			}
			if fail.Error == nil {
				t.Fatal("query fail: no error")
			}
			out = append(out, fail.Error.Error())

			for _, up := range []bool{false, true} {
				pingOK.Store(up)
				health, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if want := map[bool]backend.HealthStatus{false: backend.HealthStatusError, true: backend.HealthStatusOk}[up]; health.Status != want {
					t.Errorf("health %v, want %v: %s", health.Status, want, health.Message)
				}
				out = append(out, health.Message, string(health.JSONDetails))
			}

			for _, path := range []string{"labels", "label-values?label=sensor_index"} {
				var body string
				ds.CallResource(context.Background(), &backend.CallResourceRequest{Path: strings.Split(path, "?")[0], URL: path},
					backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { body = string(r.Body); return nil }))
				if body == "" {
					t.Fatalf("resource %s: no answer", path)
				}
				out = append(out, body)
			}
			out = append(out, rec.text())

			all := strings.Join(out, "\n")
			// The control: the echo did reach every output, redacted.
			if n := strings.Count(all, "redacted"); n < 9 {
				t.Errorf("only %d redactions; the echo did not reach every output:\n%s", n, all)
			}
			for _, secret := range c.secrets {
				if strings.Contains(all, secret) {
					t.Errorf("a credential (%s) left the plugin:\n%s", secret, all)
				}
			}
		})
	}
}
