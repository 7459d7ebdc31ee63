package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
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
	if d.settingsErr != nil {
		return d.sendJSON(sender, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()})
	}
	if req.Method != http.MethodGet && req.Method != "" {
		return d.sendJSON(sender, http.StatusMethodNotAllowed, map[string]string{"error": "only GET is supported"})
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return d.sendJSON(sender, http.StatusBadRequest, map[string]string{"error": "bad resource URL"})
	}
	qv := u.Query()
	start, end, err := resourceRange(qv)
	if err != nil {
		return d.sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	// Series selectors: match[] as Prometheus spells it.
	matches := qv["match[]"]
	ctx, cancel := context.WithTimeout(ctx, min(d.settings.QueryTimeout, 30*time.Second))
	defer cancel()

	var values []string
	switch strings.Trim(req.Path, "/") {
	case "metrics":
		var lv model.LabelValues
		lv, _, err = d.up.api.LabelValues(ctx, model.MetricNameLabel, matches, start, end)
		values = filterNames(labelValuesStrings(lv), qv.Get("match"), maxMetricNames)
	case "labels":
		var ln model.LabelNames
		ln, _, err = d.up.api.LabelNames(ctx, matches, start, end)
		for _, n := range ln {
			values = append(values, string(n))
		}
	case "label-values":
		label := qv.Get("label")
		if !model.LabelName(label).IsValidLegacy() {
			return d.sendJSON(sender, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("label %q is not a valid label name", label)})
		}
		var lv model.LabelValues
		lv, _, err = d.up.api.LabelValues(ctx, label, matches, start, end)
		values = labelValuesStrings(lv)
	default:
		return d.sendJSON(sender, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("unknown resource %q (want metrics, labels or label-values)", req.Path)})
	}
	if err != nil {
		cerr := d.up.classify(ctx, "", err)
		status := http.StatusBadGateway
		var ue *UpstreamError
		if errors.As(cerr, &ue) && ue.Kind == KindPromQL {
			status = http.StatusBadRequest
		}
		return d.sendJSON(sender, status, map[string]string{"error": cerr.Error()})
	}
	if values == nil {
		values = []string{}
	}
	sort.Strings(values)
	return d.sendJSON(sender, http.StatusOK, values)
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

func labelValuesStrings(lv model.LabelValues) []string {
	out := make([]string, len(lv))
	for i, v := range lv {
		out[i] = string(v)
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
	body, err := json.Marshal(d.secrets.scrubJSONValue(v))
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    body,
	})
}
