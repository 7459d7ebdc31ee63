package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// recordingLogger keeps every line logged at any level, with its key-value pairs, as text.
type recordingLogger struct {
	mu    *sync.Mutex
	lines *[]string
	with  []any
}

func newRecordingLogger() recordingLogger {
	return recordingLogger{mu: &sync.Mutex{}, lines: &[]string{}}
}

func (l recordingLogger) record(level, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, fmt.Sprint(append([]any{level, " ", msg, " "}, append(append([]any{}, l.with...), args...)...)...))
}

func (l recordingLogger) Debug(msg string, args ...any) { l.record("debug", msg, args...) }
func (l recordingLogger) Info(msg string, args ...any)  { l.record("info", msg, args...) }
func (l recordingLogger) Warn(msg string, args ...any)  { l.record("warn", msg, args...) }
func (l recordingLogger) Error(msg string, args ...any) { l.record("error", msg, args...) }
func (l recordingLogger) With(args ...any) log.Logger {
	l.with = append(append([]any{}, l.with...), args...)
	return l
}
func (l recordingLogger) Level() log.Level                       { return log.Debug }
func (l recordingLogger) FromContext(context.Context) log.Logger { return l }
func (l recordingLogger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(*l.lines, "\n")
}

// TestNoCredentialInLogs drives the plugin through what logs — instance creation (valid and invalid
// settings), failing queries whose upstream answers echo a credential, health and resources — with a
// logger that records everything at debug level, and requires that no credential appears.
func TestNoCredentialInLogs(t *testing.T) {
	const (
		password = "pw-must-not-leak"
		token    = "tok-must-not-leak"
		header   = "hdr-must-not-leak"
	)
	rec := newRecordingLogger()
	saved := log.DefaultLogger
	log.DefaultLogger = rec
	t.Cleanup(func() { log.DefaultLogger = saved })

	// An upstream that refuses everything, repeating what it was sent.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		msg, _ := json.Marshal(fmt.Sprintf("refused %s with %s and %s", r.Form.Get("query"), r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")))
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"status":"error","errorType":"execution","error":%s}`, msg)
	}))
	defer srv.Close()

	settings := []backend.DataSourceInstanceSettings{
		{UID: "basic", URL: srv.URL, BasicAuthEnabled: true, BasicAuthUser: "alice",
			JSONData:                []byte(`{"authType":"basic","httpHeaderName1":"X-Scope-OrgID"}`),
			DecryptedSecureJSONData: map[string]string{"basicAuthPassword": password, "httpHeaderValue1": header}},
		{UID: "bearer", URL: srv.URL, JSONData: []byte(`{"authType":"bearer"}`),
			DecryptedSecureJSONData: map[string]string{"bearerToken": token}},
		// Invalid settings are logged when the instance is made.
		{UID: "bad-url", URL: "http://alice:" + password + "@[::1", JSONData: []byte(`{"authType":"bearer"}`),
			DecryptedSecureJSONData: map[string]string{"bearerToken": token}},
		{UID: "bad-timeout", URL: srv.URL, JSONData: []byte(`{"authType":"bearer","queryTimeout":"soon"}`),
			DecryptedSecureJSONData: map[string]string{"bearerToken": token}},
	}
	to := time.Unix(1700000000, 0)
	for _, s := range settings {
		inst, err := NewDatasource(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", s.UID, err)
		}
		ds := inst.(*Datasource)
		queries := []backend.DataQuery{
			dataQuery("A", to.Add(-time.Hour), to, map[string]any{"features": []map[string]string{{"name": "pm", "expr": "pm"}}}),
			{RefID: "B", TimeRange: backend.TimeRange{From: to.Add(-time.Hour), To: to}, JSON: []byte(`{"features": ` + token + `}`)},
		}
		if _, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries}); err != nil {
			t.Fatalf("%s: QueryData: %v", s.UID, err)
		}
		if _, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{}); err != nil {
			t.Fatalf("%s: CheckHealth: %v", s.UID, err)
		}
		ds.CallResource(context.Background(), &backend.CallResourceRequest{Path: "metrics", URL: "metrics?match=pm"},
			backend.CallResourceResponseSenderFunc(func(*backend.CallResourceResponse) error { return nil }))
	}

	logged := rec.text()
	// The test must have seen the lines that could carry a credential: the settings, the failures.
	for _, want := range []string{"datasource instance created", "invalid datasource settings", "upstream rejected the PromQL: refused pm with"} {
		if !strings.Contains(logged, want) {
			t.Fatalf("no %q line was logged; the test no longer exercises it:\n%s", want, logged)
		}
	}
	// A credential is also leaked in the encoded form an echoed Authorization header carries.
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + password))
	for _, secret := range []string{password, token, header, basic} {
		if strings.Contains(logged, secret) {
			t.Errorf("a credential (%s) is in the log:\n%s", secret, logged)
		}
	}
}
