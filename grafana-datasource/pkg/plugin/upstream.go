package plugin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// The upstream is reached through prometheus/client_golang's HTTP API client
// (api/prometheus/v1) rather than a hand-written one: the SDK already depends
// on client_golang, so it costs no new module, and it handles what a small
// client would get subtly wrong — the error envelope (errorType/error),
// warnings, and the label, metadata and buildinfo endpoints.
//
// query_range alone is decoded here (decode.go), in one streaming pass, into
// the same github.com/prometheus/common/model types: client_golang's
// QueryRange buffers the body, parses the envelope skipping over "data"
// (json.RawMessage) and then parses "data" again, which on the benchmark's
// 17 MB answers was a quarter of the plugin's CPU time and three copies of
// each answer in memory.
//
// The *http.Client underneath comes from the SDK's httpclient, so basic auth,
// TLS, custom headers, the secure SOCKS proxy and Grafana's middlewares apply.

// upstream talks to one Prometheus-compatible HTTP API.
type upstream struct {
	api    promv1.API
	http   *http.Client
	rawURL string
	// maxSeries bounds the series one query_range may return (0 = no bound).
	maxSeries int
	// maxPoints bounds the samples kept per series (0 = no bound).
	maxPoints int
	baseURL   string // redacted, for messages
	secrets   secrets
}

// newUpstream is the client of settings s; sec (the instance's secrets)
// scrubs what the upstream says before it becomes an error.
func newUpstream(s *models.Settings, opts httpclient.Options, sec secrets) (*upstream, error) {
	opts.Middlewares = httpclient.DefaultMiddlewares()
	if !s.Gzip {
		opts.Middlewares = append(opts.Middlewares, identityEncodingMiddleware())
	}
	if s.AuthType == models.AuthBearer {
		opts.Middlewares = append(opts.Middlewares, bearerMiddleware(s.BearerToken))
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP client: %v", err)
	}
	hc.CheckRedirect = sameOriginRedirects
	c, err := promapi.NewClient(promapi.Config{Address: s.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("upstream URL %s: %v", models.RedactURL(s.URL), err)
	}
	return &upstream{api: promv1.NewAPI(c), http: hc, rawURL: s.URL, baseURL: models.RedactURL(s.URL), maxSeries: s.MaxSeries,
		maxPoints: s.MaxPointsPerSeries, secrets: sec}, nil
}

// maxRedirects is as many as Go's client follows by default.
const maxRedirects = 10

// sameOriginRedirects follows a redirect only to the origin (scheme, host
// and port) of the request that received it. The credentials are added by
// transport middlewares (basic auth, bearer, custom headers), which run again
// for every hop: Go's own rule of dropping Authorization for another host
// never sees them, and it treats another port of the same host as the same
// host anyway. Refusing the hop is the only way the other origin never
// receives them; the error says where the upstream pointed, so that the URL
// can be set to it.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	prev := via[len(via)-1].URL
	if !sameOrigin(prev, req.URL) {
		return &crossOriginRedirectError{from: origin(prev), to: origin(req.URL)}
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return origin(a) == origin(b)
}

// origin is scheme://host:port, the port made explicit so that
// http://h and http://h:80 compare equal.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// crossOriginRedirectError is a redirect that was not followed because it
// leads to another origin. It holds origins only: a Location's path and
// query string may carry tokens.
type crossOriginRedirectError struct{ from, to string }

func (e *crossOriginRedirectError) Error() string {
	return fmt.Sprintf("redirected from %s to another origin, %s; the plugin does not send the datasource's credentials there. If that is the real API address, set the datasource URL to it",
		e.from, e.to)
}

// urlCredentials is the user and password of a URL's userinfo; ok when it has a password.
func urlCredentials(raw string) (user, password string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "", "", false
	}
	password, ok = u.User.Password()
	return u.User.Username(), password, ok
}

func bearerMiddleware(token string) httpclient.Middleware {
	return httpclient.NamedMiddlewareFunc("hazewatch-bearer", func(_ httpclient.Options, next http.RoundTripper) http.RoundTripper {
		return httpclient.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+token)
			return next.RoundTrip(r)
		})
	})
}

// identityEncodingMiddleware asks for uncompressed responses. Go's transport
// otherwise requests gzip, and Prometheus then spends most of a week-long
// query_range compressing it: measured on the benchmark's 17 MB answer,
// 0.5 s uncompressed vs 5.6 s gzipped on a busy 2-core host. Across a slow
// WAN link gzip can still win; jsonData.gzip turns it back on.
func identityEncodingMiddleware() httpclient.Middleware {
	return httpclient.NamedMiddlewareFunc("hazewatch-identity-encoding", func(_ httpclient.Options, next http.RoundTripper) http.RoundTripper {
		return httpclient.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Header.Get("Accept-Encoding") == "" {
				r = r.Clone(r.Context())
				r.Header.Set("Accept-Encoding", "identity")
			}
			return next.RoundTrip(r)
		})
	})
}

// basicAuthValue is the credential part of a Basic Authorization header.
func basicAuthValue(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// scrub is the instance's one scrubber (secrets.scrub), applied to the
// upstream's words as soon as they become an error's.
func (u *upstream) scrub(msg string) string { return u.secrets.scrub(msg) }

// queryRangeEnvelope is the Prometheus HTTP API answer to query_range.
type queryRangeEnvelope struct {
	Status    string           `json:"status"`
	ErrorType promv1.ErrorType `json:"errorType"`
	Error     string           `json:"error"`
	Warnings  []string         `json:"warnings"`
	Infos     []string         `json:"infos"`
	// What the decoder did not keep (see decodeLimits).
	OffGrid      int `json:"-"`
	OverCap      int `json:"-"`
	CappedSeries int `json:"-"`
	Data         struct {
		ResultType string       `json:"resultType"`
		Result     model.Matrix `json:"result"`
	} `json:"data"`
}

// queryRange runs one feature's PromQL over a window.
func (u *upstream) queryRange(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	form := url.Values{}
	form.Set("query", expr)
	form.Set("start", strconv.FormatInt(w.Start.Unix(), 10))
	form.Set("end", strconv.FormatInt(w.End.Unix(), 10))
	form.Set("step", strconv.FormatFloat(w.Step.Seconds(), 'f', -1, 64))
	endpoint := u.rawURL + "/api/v1/query_range"
	// The cap is the grid's step count when that is lower: on the grid, any
	// more can only be repeated timestamps.
	maxPoints := w.Points()
	if u.maxPoints > 0 {
		maxPoints = min(maxPoints, u.maxPoints)
	}
	lim := decodeLimits{MaxSeries: u.maxSeries, Window: w, MaxPoints: maxPoints,
		Charge: func(n int) error { return engine.ChargePoints(ctx, n) }}
	env, status, err := u.postForm(ctx, endpoint, form, lim)
	if err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented || status == http.StatusForbidden) {
		// Some proxies and read-only gateways only allow GET.
		env, status, err = u.get(ctx, endpoint+"?"+form.Encode(), lim)
	}
	if err == errTooManySeries {
		return nil, nil, &engine.TooManySeriesError{Feature: feature, Got: -1, Limit: u.maxSeries}
	}
	var be *engine.BudgetError
	if errors.As(err, &be) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, u.classify(ctx, feature, err)
	}
	if env.Status == "error" {
		return nil, env.Warnings, u.classify(ctx, feature, &promv1.Error{Type: env.ErrorType, Msg: env.Error})
	}
	if status/100 != 2 {
		typ := promv1.ErrServer
		if status/100 == 4 {
			typ = promv1.ErrClient
		}
		return nil, nil, u.classify(ctx, feature, &promv1.Error{Type: typ, Msg: fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))})
	}
	if env.OffGrid > 0 {
		engine.ReportNotice(ctx, engine.SeverityWarning, fmt.Sprintf("feature %q: %d samples off the query's step grid (%s) were dropped; the upstream did not answer at the requested step",
			feature, env.OffGrid, w))
	}
	if env.OverCap > 0 {
		engine.ReportNotice(ctx, engine.SeverityWarning, fmt.Sprintf("feature %q: %d series sent more than %d points (the range's steps, at most the datasource setting maxPointsPerSeries %d); %d points beyond that were ignored",
			feature, env.CappedSeries, maxPoints, u.maxPoints, env.OverCap))
	}
	for _, info := range env.Infos {
		engine.ReportNotice(ctx, engine.SeverityInfo, fmt.Sprintf("upstream info for feature %q: %s", feature, info))
	}
	if env.Data.ResultType != "matrix" {
		return nil, env.Warnings, &UpstreamError{Kind: KindBadResponse, Feature: feature,
			Msg: fmt.Sprintf("query_range returned resultType %q, not a matrix", env.Data.ResultType)}
	}
	return env.Data.Result, env.Warnings, nil
}

func (u *upstream) postForm(ctx context.Context, endpoint string, form url.Values, lim decodeLimits) (*queryRangeEnvelope, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req, lim)
}

func (u *upstream) get(ctx context.Context, endpoint string, lim decodeLimits) (*queryRangeEnvelope, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, 0, err
	}
	return u.do(req, lim)
}

// do sends req and decodes the envelope while the body streams in. A body
// that is not the API's JSON (a proxy's HTML error page) yields the status
// with an empty envelope, so the caller reports the HTTP status.
func (u *upstream) do(req *http.Request, lim decodeLimits) (*queryRangeEnvelope, int, error) {
	resp, err := u.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	env := &queryRangeEnvelope{}
	if derr := decodeQueryRange(resp.Body, env, lim); derr != nil {
		var be *engine.BudgetError
		if derr == errTooManySeries || errors.As(derr, &be) {
			return nil, resp.StatusCode, derr
		}
		if err := req.Context().Err(); err != nil {
			return nil, 0, err
		}
		if resp.StatusCode/100 == 2 {
			return nil, resp.StatusCode, &promv1.Error{Type: promv1.ErrBadResponse, Msg: "decoding query_range: " + derr.Error()}
		}
		return &queryRangeEnvelope{}, resp.StatusCode, nil
	}
	return env, resp.StatusCode, nil
}

// Kinds of upstream failure, each with its own message and status.
const (
	KindPromQL      = "promql"      // upstream rejected the expression (bad_data, execution)
	KindUnreachable = "unreachable" // connection refused, DNS, TLS
	KindTimeout     = "timeout"     // deadline exceeded while waiting for upstream
	KindHTTP        = "http"        // non-API HTTP status (auth, proxy, 5xx)
	KindBadResponse = "bad_response"
	KindCanceled    = "canceled"
)

// UpstreamError is a failure talking to the Prometheus-compatible upstream.
type UpstreamError struct {
	Kind    string
	Feature string // "" for non-query calls
	Msg     string
}

func (e *UpstreamError) Error() string {
	if e.Feature != "" {
		return fmt.Sprintf("feature %q: %s", e.Feature, e.Msg)
	}
	return e.Msg
}

func (u *upstream) classify(ctx context.Context, feature string, err error) error {
	var apiErr *promv1.Error
	switch {
	case ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		return &UpstreamError{Kind: KindTimeout, Feature: feature, Msg: "upstream " + u.baseURL + " did not answer before the query timeout"}
	case ctx.Err() == context.Canceled || errors.Is(err, context.Canceled):
		return &UpstreamError{Kind: KindCanceled, Feature: feature, Msg: "query canceled"}
	case errors.As(err, &apiErr):
		switch apiErr.Type {
		case promv1.ErrBadData, promv1.ErrExec:
			return &UpstreamError{Kind: KindPromQL, Feature: feature, Msg: "upstream rejected the PromQL: " + u.scrub(apiErr.Msg)}
		case promv1.ErrTimeout:
			return &UpstreamError{Kind: KindTimeout, Feature: feature, Msg: "upstream timed out evaluating the PromQL: " + u.scrub(apiErr.Msg)}
		case promv1.ErrCanceled:
			return &UpstreamError{Kind: KindCanceled, Feature: feature, Msg: "upstream canceled the query: " + u.scrub(apiErr.Msg)}
		case promv1.ErrBadResponse:
			return &UpstreamError{Kind: KindBadResponse, Feature: feature, Msg: "upstream " + u.baseURL + " answered with something that is not the Prometheus HTTP API: " + u.scrub(apiErr.Msg)}
		default:
			return &UpstreamError{Kind: KindHTTP, Feature: feature, Msg: "upstream " + u.baseURL + " answered " + u.scrub(apiErr.Msg) + hintFor(apiErr.Msg)}
		}
	}
	var redirErr *crossOriginRedirectError
	if errors.As(err, &redirErr) {
		return &UpstreamError{Kind: KindHTTP, Feature: feature, Msg: "upstream " + u.baseURL + " " + redirErr.Error()}
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &UpstreamError{Kind: KindTimeout, Feature: feature, Msg: "upstream " + u.baseURL + " did not answer in time"}
	}
	if errors.As(err, &urlErr) {
		// url.Error's own text repeats the full URL, possibly with user:password@; use the cause only.
		return &UpstreamError{Kind: KindUnreachable, Feature: feature, Msg: "upstream " + u.baseURL + " is unreachable: " + u.scrub(rootCause(urlErr.Err))}
	}
	return &UpstreamError{Kind: KindUnreachable, Feature: feature, Msg: "upstream " + u.baseURL + ": " + u.scrub(rootCause(err))}
}

func rootCause(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Op + ": " + opErr.Err.Error()
	}
	return err.Error()
}

func hintFor(msg string) string {
	switch {
	case strings.Contains(msg, "401"), strings.Contains(msg, "403"):
		return " — check the datasource's authentication settings"
	case strings.Contains(msg, "404"):
		return " — check that the URL is the API base (e.g. http://prometheus:9090, or …/prometheus for Mimir), without /api/v1"
	}
	return ""
}

// buildInfo asks the upstream for its version.
func (u *upstream) buildInfo(ctx context.Context) (promv1.BuildinfoResult, error) {
	bi, err := u.api.Buildinfo(ctx)
	if err != nil {
		return bi, u.classify(ctx, "", err)
	}
	return bi, nil
}

// ping runs the cheapest query that proves the query path works (some
// Prometheus-compatible stores lack /status/buildinfo).
func (u *upstream) ping(ctx context.Context) error {
	_, _, err := u.api.Query(ctx, "1+1", time.Now())
	if err != nil {
		return u.classify(ctx, "", err)
	}
	return nil
}
