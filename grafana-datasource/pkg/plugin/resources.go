package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/prometheus/common/model"
)

// CheckHealth tells whether the upstream answers, which server and version it
// is, and — when it does not — what to fix.
func (d *Datasource) CheckHealth(ctx context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	r, err := d.checkHealth(ctx, req)
	if r != nil {
		d.secrets.scrubHealth(r)
	}
	return r, d.secrets.scrubError(err)
}

func (d *Datasource) checkHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsErr.Error()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, min(d.settings.QueryTimeout, 15*time.Second))
	defer cancel()

	details := map[string]string{"url": d.up.baseURL}
	version := "version unknown (no /api/v1/status/buildinfo; Mimir, Thanos and VictoriaMetrics may omit it)"
	bi, biErr := d.up.buildInfo(ctx)
	if biErr == nil && bi.Version != "" {
		version = "version " + bi.Version
		details["version"] = bi.Version
		details["revision"] = bi.Revision
	}
	// The query path is what the datasource needs; buildinfo alone does not prove it.
	if err := d.up.ping(ctx); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: healthHint(d.up.baseURL, err)}, nil
	}
	msg := fmt.Sprintf("Connected to the Prometheus-compatible API at %s (%s); queries work.", d.up.baseURL, version)
	body, _ := json.Marshal(details)
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg, JSONDetails: body}, nil
}

func healthHint(base string, err error) string {
	var ue *UpstreamError
	if !errors.As(err, &ue) {
		return err.Error()
	}
	switch ue.Kind {
	case KindUnreachable:
		return ue.Msg + ". Check the URL and that the server runs and is reachable from the Grafana server (in Docker, use the service name, not localhost)."
	case KindTimeout:
		return ue.Msg + ". The server or a proxy in between is not answering; check the URL, firewalls, and the query timeout setting."
	case KindHTTP:
		return ue.Msg + "."
	case KindBadResponse:
		return ue.Msg + ". Is " + base + " the Prometheus API base (e.g. http://prometheus:9090, or https://mimir/prometheus)?"
	}
	return ue.Msg
}

// Resource paths served to the query editor (GET; a sorted JSON array of
// strings, or {"error": "…"} with a 4xx/5xx status):
//
//	metrics[?match=<text>]                       metric names containing text (case-insensitive), at most 1000
//	labels[?match[]=<selector>]                  label names
//	label-values?label=<name>[&match[]=<sel>]    values of one label
//
// Optional start and end (Unix seconds or RFC 3339) bound the lookup; the
// default is the last 6 hours, which keeps the upstream cheap.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	// The adapter returns a bare error for a URL it cannot parse, which
	// Grafana shows as a 500 without a reason; the editor gets a 400 instead.
	if _, err := url.Parse(req.URL); err != nil {
		return d.sendJSON(sender, http.StatusBadRequest, map[string]string{"error": "bad resource URL"})
	}
	return d.resources.CallResource(ctx, req, sender)
}

// newResourceHandler routes resource calls; it is built once per instance.
func (d *Datasource) newResourceHandler() backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.labelLookup(func(ctx context.Context, qv url.Values, matches []string, start, end time.Time) ([]string, error) {
		lv, _, err := d.up.api.LabelValues(ctx, model.MetricNameLabel, matches, start, end)
		return filterNames(toStrings(lv), qv.Get("match"), maxMetricNames), err
	}))
	mux.HandleFunc("GET /labels", d.labelLookup(func(ctx context.Context, _ url.Values, matches []string, start, end time.Time) ([]string, error) {
		ln, _, err := d.up.api.LabelNames(ctx, matches, start, end)
		return toStrings(ln), err
	}))
	mux.HandleFunc("GET /label-values", d.labelLookup(func(ctx context.Context, qv url.Values, matches []string, start, end time.Time) ([]string, error) {
		label := qv.Get("label")
		if !model.LabelName(label).IsValidLegacy() {
			return nil, badResourceRequest(fmt.Sprintf("label %q is not a valid label name", label))
		}
		lv, _, err := d.up.api.LabelValues(ctx, label, matches, start, end)
		return toStrings(lv), err
	}))
	// The mux's own 404 and 405 answers are plain text; the editor reads
	// {"error": …}, so anything no route takes is answered here. (A GET
	// pattern takes HEAD too, as HTTP has it.)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			d.writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "only GET is supported"})
			return
		}
		d.writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("unknown resource %q (want metrics, labels or label-values)", strings.TrimPrefix(r.URL.Path, "/"))})
	})
	return httpadapter.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.settingsErr != nil {
			d.writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
			return
		}
		// Grafana passes the path as the editor wrote it ("metrics/" too);
		// cleaned here, the mux routes it instead of answering with a redirect.
		r.URL.Path, r.URL.RawPath = path.Clean(r.URL.Path), ""
		mux.ServeHTTP(w, r)
	}))
}

// badResourceRequest is a lookup refused before it reaches the upstream.
type badResourceRequest string

func (e badResourceRequest) Error() string { return string(e) }

// labelLookup is the handler shared by the resources: parse the range and
// the series selectors (match[] as Prometheus spells it), run lookup under
// the resource timeout, and answer the sorted names or the error.
func (d *Datasource) labelLookup(lookup func(ctx context.Context, qv url.Values, matches []string, start, end time.Time) ([]string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		qv := r.URL.Query()
		start, end, err := resourceRange(qv)
		if err != nil {
			d.writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(d.settings.QueryTimeout, 30*time.Second))
		defer cancel()
		values, err := lookup(ctx, qv, qv["match[]"], start, end)
		var bad badResourceRequest
		switch {
		case errors.As(err, &bad):
			d.writeJSON(w, http.StatusBadRequest, map[string]string{"error": bad.Error()})
			return
		case err != nil:
			cerr := d.up.classify(ctx, "", err)
			status := http.StatusBadGateway
			var ue *UpstreamError
			if errors.As(cerr, &ue) && ue.Kind == KindPromQL {
				status = http.StatusBadRequest
			}
			d.writeJSON(w, status, map[string]string{"error": cerr.Error()})
			return
		}
		if values == nil {
			values = []string{}
		}
		sort.Strings(values)
		d.writeJSON(w, http.StatusOK, values)
	}
}

// maxMetricNames bounds the metrics answer: an autocomplete list longer than
// that is not read by anyone, and big tenants have hundreds of thousands.
const maxMetricNames = 1000

// filterNames keeps names containing text (case-insensitive), sorted, at most limit.
func filterNames(names []string, text string, limit int) []string {
	text = strings.ToLower(text)
	out := names[:0]
	for _, n := range names {
		if text == "" || strings.Contains(strings.ToLower(n), text) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// toStrings is a list of label names or label values as plain strings.
func toStrings[S ~string](names []S) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out
}

func resourceRange(qv url.Values) (time.Time, time.Time, error) {
	end := time.Now()
	start := end.Add(-6 * time.Hour)
	parse := func(name string, def time.Time) (time.Time, error) {
		s := qv.Get(name)
		if s == "" {
			return def, nil
		}
		var secs float64
		if _, err := fmt.Sscanf(s, "%g", &secs); err == nil && !strings.ContainsAny(s, "-:T") {
			return time.UnixMilli(int64(secs * 1000)), nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return def, fmt.Errorf("%s %q: want Unix seconds or RFC 3339", name, s)
		}
		return t, nil
	}
	var err error
	if start, err = parse("start", start); err != nil {
		return start, end, err
	}
	if end, err = parse("end", end); err != nil {
		return start, end, err
	}
	return start, end, nil
}

// sendJSON answers a resource call; what it says passes the scrubber.
func (d *Datasource) sendJSON(sender backend.CallResourceResponseSender, status int, v any) error {
	body, err := d.scrubbedJSON(v)
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{Status: status, Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: body})
}

// writeJSON is sendJSON for the resource handlers behind the adapter.
func (d *Datasource) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := d.scrubbedJSON(v)
	if err != nil {
		// Only a []string or map[string]string reaches here; neither fails to encode.
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (d *Datasource) scrubbedJSON(v any) ([]byte, error) {
	return json.Marshal(d.secrets.scrubJSONValue(v))
}
