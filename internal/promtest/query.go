package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sample is one sample of a query result.
type Sample struct {
	T int64 // Unix ms
	V float64
}

// Series is one series of a query result: its labels (without __name__ for most functions) and
// samples (one for a vector or a scalar, many for a matrix).
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Query evaluates expr at time at, or at the server's now when at is zero (an instant query; a range
// selector returns a matrix of raw samples, a scalar one series without labels).
func (s *Server) Query(ctx context.Context, expr string, at time.Time) ([]Series, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s (query %s)", r.Error, expr)
	}
	out, err := decodeResult(r.Data.ResultType, r.Data.Result)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	return out, nil
}

// apiSeries is one element of the API's vector or matrix result.
type apiSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

// decodeResult turns the API's result of the given type into series.
func decodeResult(resultType string, raw json.RawMessage) ([]Series, error) {
	var results []apiSeries
	switch resultType {
	case "vector", "matrix":
		if err := json.Unmarshal(raw, &results); err != nil {
			return nil, err
		}
	case "scalar":
		results = make([]apiSeries, 1)
		if err := json.Unmarshal(raw, &results[0].Value); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("result type %q, want vector, matrix or scalar", resultType)
	}
	out := make([]Series, 0, len(results))
	for _, res := range results {
		s := Series{Labels: res.Metric}
		pairs := res.Values
		if resultType != "matrix" {
			pairs = [][2]any{res.Value}
		}
		for _, p := range pairs {
			sp, err := ParsePair(p)
			if err != nil {
				return nil, err
			}
			s.Samples = append(s.Samples, sp)
		}
		out = append(out, s)
	}
	return out, nil
}

// ParsePair decodes the API's [<unix seconds float>, "<value>"].
func ParsePair(p [2]any) (Sample, error) {
	ts, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return Sample{}, fmt.Errorf("malformed sample %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return Sample{}, fmt.Errorf("sample value %q: %w", vs, err)
	}
	// Timestamps are milliseconds written as seconds with three decimals.
	if ts < 0 {
		return Sample{T: int64(ts*1000 - 0.5), V: v}, nil
	}
	return Sample{T: int64(ts*1000 + 0.5), V: v}, nil
}

// MetricNames lists the metric names the server holds (the values of __name__) over its whole retention:
// start=0, since a store such as VictoriaMetrics otherwise answers for the last day only.
func (s *Server) MetricNames(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/label/__name__/values?start=0", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("metric names: HTTP %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("metric names: %s", r.Error)
	}
	return r.Data, nil
}

// Duration writes d as a PromQL duration in whole seconds, rounded up.
func Duration(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}
