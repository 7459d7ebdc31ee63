package plugin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

func TestUpstreamClassifiesAnswers(t *testing.T) {
	const token = "tok-very-secret"
	var gotAuth, gotEncoding, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotEncoding, gotMethod = r.Header.Get("Authorization"), r.Header.Get("Accept-Encoding"), r.Method
		r.ParseForm()
		switch r.Form.Get("query") {
		case "ok":
			w.Write([]byte(`{"status":"success","warnings":["partial"],"data":{"resultType":"matrix","result":[{"metric":{"sensor_index":"1"},"values":[[1700000000,"1.5"],[1700000060,"2"]]}]}}`))
		case "exec":
			w.WriteHeader(422)
			w.Write([]byte(`{"status":"error","errorType":"execution","error":"query processing would load too many samples; token ` + token + `"}`))
		case "unauth":
			w.WriteHeader(401)
			w.Write([]byte(`<html>Unauthorized</html>`))
		case "get-only":
			if r.Method != http.MethodGet {
				w.WriteHeader(405)
				return
			}
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		case "vector":
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
		case "garbage":
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,`))
		}
	}))
	defer srv.Close()
	ds := backend.DataSourceInstanceSettings{URL: srv.URL,
		JSONData: []byte(`{"authType":"bearer"}`), DecryptedSecureJSONData: map[string]string{"bearerToken": token}}
	s, err := models.LoadSettings(models.Instance{URL: ds.URL, JSONData: ds.JSONData, DecryptedSecureJSONData: ds.DecryptedSecureJSONData})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := httpOptions(context.Background(), ds, s)
	if err != nil {
		t.Fatal(err)
	}
	up, err := newUpstream(s, opts, newSecrets(ds))
	if err != nil {
		t.Fatal(err)
	}
	w := models.Window{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Step: time.Minute}

	m, warns, err := up.queryRange(context.Background(), "f", "ok", w)
	if err != nil || len(m) != 1 || len(m[0].Values) != 2 || float64(m[0].Values[1].Value) != 2 || len(warns) != 1 {
		t.Fatalf("ok: %v %v %v", m, warns, err)
	}
	if gotAuth != "Bearer "+token || gotEncoding != "identity" || gotMethod != http.MethodPost {
		t.Errorf("request: auth %q, encoding %q, method %s", gotAuth, gotEncoding, gotMethod)
	}
	if _, _, err := up.queryRange(context.Background(), "f", "get-only", w); err != nil || gotMethod != http.MethodGet {
		t.Errorf("GET fallback after 405: %v (last method %s)", err, gotMethod)
	}

	cases := []struct {
		expr, kind, msg string
	}{
		{"exec", KindPromQL, "upstream rejected the PromQL: query processing would load too many samples; token <redacted>"},
		{"unauth", KindHTTP, "HTTP 401 Unauthorized — check the datasource's authentication settings"},
		{"vector", KindBadResponse, `resultType "vector"`},
		{"garbage", KindBadResponse, "not the Prometheus HTTP API"},
	}
	for _, c := range cases {
		_, _, err := up.queryRange(context.Background(), "f", c.expr, w)
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Kind != c.kind || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want kind %s containing %q", c.expr, err, c.kind, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the token leaked: %v", c.expr, err)
		}
	}
}

// authType "basic" without Grafana's top-level basicAuth flag (a provisioning
// file may set only jsonData) must still send the credentials: the SDK's HTTP
// client options add basic auth only when the flag is on.
func TestBasicAuthWithoutBasicAuthFlag(t *testing.T) {
	const user, password = "alice", "pw-very-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("Unauthorized\n"))
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"sensor_index":"1"},"values":[[1700000000,"1"]]}]}}`))
	}))
	defer srv.Close()
	w := models.Window{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Step: time.Minute}
	secure := map[string]string{"basicAuthPassword": password}

	for _, c := range []struct {
		name     string
		ds       backend.DataSourceInstanceSettings
		wantAuth bool
	}{
		{"authType basic, no basicAuth flag", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{"authType":"basic"}`),
			BasicAuthUser: user, DecryptedSecureJSONData: secure}, true},
		{"basicAuth flag, no authType", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{}`),
			BasicAuthEnabled: true, BasicAuthUser: user, DecryptedSecureJSONData: secure}, true},
		{"authType basic and the flag", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{"authType":"basic"}`),
			BasicAuthEnabled: true, BasicAuthUser: user, DecryptedSecureJSONData: secure}, true},
		// The control: the server does refuse requests without credentials.
		{"authType none", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{"authType":"none"}`),
			BasicAuthUser: user, DecryptedSecureJSONData: secure}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst, err := NewDatasource(context.Background(), c.ds)
			if err != nil {
				t.Fatal(err)
			}
			ds := inst.(*Datasource)
			if ds.settingsErr != nil {
				t.Fatal(ds.settingsErr)
			}
			_, _, err = ds.up.queryRange(context.Background(), "f", "up", w)
			if c.wantAuth && err != nil {
				t.Fatalf("query with basic auth configured: %v", err)
			}
			if !c.wantAuth && (err == nil || !strings.Contains(err.Error(), "401")) {
				t.Fatalf("query without credentials: %v, want the server's 401", err)
			}
			if err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("the password leaked: %v", err)
			}
		})
	}
}
