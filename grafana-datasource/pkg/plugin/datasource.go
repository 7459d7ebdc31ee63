// Package plugin is the Hazewatch anomaly datasource's backend: it answers
// Grafana's QueryData, CheckHealth and CallResource calls, for panels and for
// alert rules alike. Queries are evaluated by package engine (align features
// on entity and step, impute, fit or reuse a cached forest, score) over
// history fetched from a Prometheus-compatible store with query_range; this
// package holds what is Grafana's or the upstream's: settings and the HTTP
// client, the fetch, frames, notices, errors, resources and health.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

// PluginID is plugin.json's id.
const PluginID = "hazewatch-anomaly-datasource"

// Make sure Datasource implements the SDK's handler interfaces.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured datasource instance. Grafana creates a new one
// whenever the settings change (and disposes the old), so everything here is
// derived from one immutable Settings.
type Datasource struct {
	settings *models.Settings
	up       *upstream
	eng      *engine.Engine
	logger   log.Logger
	// resources serves CallResource (resources.go).
	resources backend.CallResourceHandler
	// secrets scrubs every string the instance hands back (see scrub.go).
	secrets secrets
	// releaseMemoryLimit takes the instance's budget back out of the
	// process's soft memory limit (memlimit.go).
	releaseMemoryLimit func()
	// settingsErr is a configuration error reported on every call instead of
	// failing instance creation, so that "Save & test" can show it.
	settingsErr error
}

// NewDatasource is the instance factory passed to datasource.Manage.
func NewDatasource(ctx context.Context, ds backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	sec := newSecrets(ds)
	logger := newScrubLogger(log.DefaultLogger.FromContext(ctx), sec)
	d := &Datasource{logger: logger, secrets: sec}
	d.resources = d.newResourceHandler()
	s, err := models.LoadSettings(models.Instance{URL: ds.URL, JSONData: ds.JSONData, BasicAuthEnabled: ds.BasicAuthEnabled,
		BasicAuthUser: ds.BasicAuthUser, DecryptedSecureJSONData: ds.DecryptedSecureJSONData})
	if err != nil {
		logger.Warn("invalid datasource settings", "uid", ds.UID, "error", err)
		d.settingsErr = err
		return d, nil
	}
	opts, err := httpOptions(ctx, ds, s)
	if err != nil {
		d.settingsErr = err
		return d, nil
	}
	up, err := newUpstream(s, opts, sec)
	if err != nil {
		d.settingsErr = err
		return d, nil
	}
	logger.Debug("datasource instance created", "uid", ds.UID, "settings", s.String())
	d.settings, d.up, d.eng = s, up, newEngine(up, s, nil)
	d.releaseMemoryLimit = reserveMemoryLimit(s.MemoryBudget)
	return d, nil
}

// httpOptions are the SDK's HTTP client options of the instance (basic auth,
// TLS, custom headers), with the client's own timeout above the query timeout.
func httpOptions(ctx context.Context, ds backend.DataSourceInstanceSettings, s *models.Settings) (httpclient.Options, error) {
	opts, err := ds.HTTPClientOptions(ctx)
	if err != nil {
		return opts, fmt.Errorf("datasource settings: HTTP client options: %v", err)
	}
	// The SDK sets BasicAuth only when the top-level basicAuth flag is on;
	// jsonData.authType "basic" alone (a provisioning file, an older
	// ConfigEditor) must send the credentials too, not go out anonymously.
	if s.AuthType == models.AuthBasic {
		opts.BasicAuth = &httpclient.BasicAuthOptions{User: s.BasicAuthUser, Password: s.BasicAuthPassword}
	}
	if opts.Timeouts == nil {
		to := httpclient.DefaultTimeoutOptions
		opts.Timeouts = &to
	}
	// The per-query context deadline enforces the query timeout; the client's
	// own timeout must not cut a long but legitimate query_range short first.
	opts.Timeouts.Timeout = s.QueryTimeout + 5*time.Second
	return opts, nil
}

// fetcher runs one feature's query_range; *upstream implements it.
type fetcher interface {
	queryRange(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error)
}

// newEngine is the query engine of settings s fetching from up; observer
// (nil = none) receives phase timings.
func newEngine(up fetcher, s *models.Settings, observer func(phase string, d time.Duration)) *engine.Engine {
	return engine.New(engine.FetchFunc(up.queryRange), engine.Options{
		MaxSeries:       s.MaxSeries,
		MaxTrainingRows: s.MaxTrainingRows,
		CacheMaxBytes:   s.CacheMaxBytes,
		CacheTTL:        s.CacheTTL,
		MemoryBudget:    s.MemoryBudget,
		Observer:        observer,
	})
}

// Dispose releases the instance when Grafana replaces it (settings changed):
// idle upstream connections are closed; the forest cache goes with it.
func (d *Datasource) Dispose() {
	if d.up != nil {
		d.up.http.CloseIdleConnections()
	}
	if d.releaseMemoryLimit != nil {
		d.releaseMemoryLimit()
	}
}

// QueryData evaluates each query independently and concurrently; one
// failing query yields an error for its RefID only.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, q := range req.Queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := d.query(ctx, q)
			d.secrets.scrubResponse(&r)
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return resp, nil
}

// query evaluates one query; panics become that query's error.
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) (resp backend.DataResponse) {
	defer func() {
		if p := recover(); p != nil {
			d.logger.Error("panic evaluating query", "refId", dq.RefID, "panic", p, "stack", string(debug.Stack()))
			resp = backend.ErrDataResponse(backend.StatusInternal, fmt.Sprintf("internal error evaluating the query: %v", p))
		}
	}()
	if d.settingsErr != nil {
		return errorResponse(d.settingsErr)
	}
	q, err := models.ParseQuery(dq.JSON)
	if err != nil {
		return errorResponse(err)
	}
	plan, err := models.Resolve(q, models.TimeContext{From: dq.TimeRange.From, To: dq.TimeRange.To, Interval: dq.Interval, MaxDataPoints: dq.MaxDataPoints},
		models.Limits{MaxPointsPerSeries: d.settings.MaxPointsPerSeries, ScrapeInterval: d.settings.ScrapeInterval})
	if err != nil {
		return errorResponse(err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.settings.QueryTimeout, errQueryTimeout)
	defer cancel()
	res, err := d.eng.Run(ctx, q, plan)
	if err != nil {
		if errors.Is(context.Cause(ctx), errQueryTimeout) {
			err = &timeoutError{limit: d.settings.QueryTimeout.String(), cause: err}
		}
		d.logger.Debug("query failed", "refId", dq.RefID, "error", err)
		return errorResponse(err)
	}
	return backend.DataResponse{Frames: toFrames(dq.RefID, q, res)}
}

var errQueryTimeout = errors.New("query timeout")

// timeoutError is the query running past the datasource's queryTimeout.
type timeoutError struct {
	limit string
	cause error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("query timed out after %s (datasource setting queryTimeout): shorten the training range, raise the step, or use fewer trees", e.limit)
}

// errorResponse maps an error to a DataResponse with an HTTP-like status and
// the error source: upstream failures and the user's own query are marked
// downstream (not the plugin's fault, so they do not count against its SLO),
// everything else plugin.
func errorResponse(err error) backend.DataResponse {
	var (
		qe  *models.QueryError
		ue  *UpstreamError
		te  *timeoutError
		tm  *engine.TooManySeriesError
		de  *engine.DuplicateEntityError
		ie  *iforest.InputError
		be  *engine.BudgetError
		msg = err.Error()
	)
	switch {
	case errors.As(err, &te):
		src := backend.ErrorSourcePlugin
		if errors.As(te.cause, &ue) {
			src = backend.ErrorSourceDownstream
		}
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, src, te.Error())
	case errors.As(err, &qe), errors.As(err, &tm), errors.As(err, &de), errors.As(err, &be):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
	case errors.As(err, &ue):
		switch ue.Kind {
		case KindPromQL:
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
		case KindTimeout:
			return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, msg)
		case KindCanceled:
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
		default:
			return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, msg)
		}
	case errors.As(err, &ie):
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "invalid value reached the forest: "+msg)
	case errors.Is(err, context.Canceled):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "query canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, "query deadline exceeded (Grafana's own timeout)")
	}
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, msg)
}
