package plugin

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// headerRecorder is an upstream that remembers every request's credential
// headers and answers an empty matrix.
type headerRecorder struct {
	mu   sync.Mutex
	seen []string // "Authorization=…; X-Scope-OrgID=…" per request
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, "Authorization="+r.Header.Get("Authorization")+"; X-Scope-OrgID="+r.Header.Get("X-Scope-OrgID"))
	h.mu.Unlock()
	w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
}

func (h *headerRecorder) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// listenOn starts an httptest server on a given loopback address ("127.0.0.2:0"),
// skipping when the address cannot be bound.
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// A redirect to another origin must not carry the datasource's credentials:
// the other host may be anyone's. Origins differ by port on one address
// (which Go's own redirect rule treats as the same host) and by address.
func TestRedirectToAnotherOriginKeepsCredentials(t *testing.T) {
	const (
		user, password = "alice", "pw-redirect-secret"
		token          = "tok-redirect-secret"
		header         = "hdr-redirect-secret"
	)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	settings := map[string]func(url string) backend.DataSourceInstanceSettings{
		"bearer": func(url string) backend.DataSourceInstanceSettings {
			return backend.DataSourceInstanceSettings{URL: url, JSONData: []byte(`{"authType":"bearer","httpHeaderName1":"X-Scope-OrgID"}`),
				DecryptedSecureJSONData: map[string]string{"bearerToken": token, "httpHeaderValue1": header}}
		},
		"basic": func(url string) backend.DataSourceInstanceSettings {
			return backend.DataSourceInstanceSettings{URL: url, BasicAuthEnabled: true, BasicAuthUser: user,
				JSONData:                []byte(`{"authType":"basic","httpHeaderName1":"X-Scope-OrgID"}`),
				DecryptedSecureJSONData: map[string]string{"basicAuthPassword": password, "httpHeaderValue1": header}}
		},
	}
	targets := map[string]string{"same address, other port": "127.0.0.1:0", "other address": "127.0.0.2:0"}
	w := models.Window{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Step: time.Minute}

	for auth, mk := range settings {
		for where, addr := range targets {
			t.Run(auth+"/"+where, func(t *testing.T) {
				other := &headerRecorder{}
				otherSrv := listenOn(t, addr, other)
				first := &headerRecorder{}
				firstSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					first.ServeHTTP(httptest.NewRecorder(), r) // record only
					http.Redirect(w, r, otherSrv.URL+r.URL.Path+"?leak="+token, http.StatusTemporaryRedirect)
				}))
				defer firstSrv.Close()

				inst, err := NewDatasource(context.Background(), mk(firstSrv.URL))
				if err != nil {
					t.Fatal(err)
				}
				ds := inst.(*Datasource)
				if ds.settingsErr != nil {
					t.Fatal(ds.settingsErr)
				}
				_, _, qerr := ds.up.queryRange(context.Background(), "pm", "up", w)
				health, _ := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})

				// The control: the first host did get the credentials.
				if got := first.requests(); len(got) == 0 || !strings.Contains(got[0], "X-Scope-OrgID="+header) ||
					!(strings.Contains(got[0], token) || strings.Contains(got[0], basic)) {
					t.Fatalf("the first host did not receive the credentials: %q", got)
				}
				// Refusing the hop means the other origin is not even asked.
				if got := other.requests(); len(got) != 0 {
					t.Errorf("the other origin received %d requests", len(got))
				}
				for _, r := range other.requests() {
					for _, secret := range []string{token, basic, password, header} {
						if strings.Contains(r, secret) {
							t.Errorf("the other origin received a credential: %s", r)
						}
					}
				}
				if !strings.Contains(errText(qerr), "another origin") {
					t.Errorf("query error %v, want it to say the redirect leads to another origin", qerr)
				}
				if health.Status != backend.HealthStatusError || !strings.Contains(health.Message, "another origin") {
					t.Errorf("health %v %q, want an error naming the redirect", health.Status, health.Message)
				}
				for _, msg := range []string{errText(qerr), health.Message} {
					if strings.Contains(msg, token) {
						t.Errorf("the redirect's query string reached a message: %s", msg)
					}
				}
			})
		}
	}
}

// Redirects within the origin (a proxy moving the API under a prefix) are
// still followed, with the credentials.
func TestRedirectWithinOriginIsFollowed(t *testing.T) {
	const token = "tok-same-origin"
	rec := &headerRecorder{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query_range", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/prefix/api/v1/query_range", http.StatusTemporaryRedirect)
	})
	mux.Handle("/prefix/", rec)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ds := newTestInstance(t, srv.URL, `{"authType":"bearer"}`, map[string]string{"bearerToken": token})
	w := models.Window{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Step: time.Minute}
	if _, _, err := ds.up.queryRange(context.Background(), "pm", "up", w); err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}
	if got := rec.requests(); len(got) != 1 || !strings.Contains(got[0], "Bearer "+token) {
		t.Fatalf("the redirected request: %q, want one with the bearer token", got)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
