// Package purpleair is the Telegraf input plugin `purpleair`: it turns the
// PurpleAir API's column format (a "fields" header plus one "data" row per
// sensor) into one metric per sensor, from the live API, from an API-format
// file, or from the built-in fleet simulator that lets the whole Hazewatch
// stack run — with labelled faults — without an API key. It is compiled into
// the hazewatch-telegraf distribution (internal/teldist) and runs in a stock
// Telegraf through inputs.execd (see cmd/telegraf-purpleair).
//
// The plugin's package is named like its plugin, as Telegraf's own are, and
// imports the API package of the same name (pkg/purpleair) without an alias,
// as Telegraf's redis input imports go-redis: in this package, purpleair.X
// is always the API package's X.
package purpleair

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	httpconfig "github.com/influxdata/telegraf/plugins/common/http"
	commontls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/hazewatch/hazewatch/internal/ctxtime"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

//go:embed sample.conf
var sampleConfig string

// Sources of readings.
const (
	SourceAPI      = "api"
	SourceFile     = "file"
	SourceSimulate = "simulate"
)

// DefaultFields are requested from the API when `fields` is not set: the
// reference data set's columns plus the two laser channels.
var DefaultFields = []string{
	"rssi", "uptime", "latitude", "longitude", "humidity", "temperature", "pressure",
	"pm1.0", "pm2.5_alt", "pm10.0", "pm1.0_cf_1", "pm2.5_atm", "pm2.5_cf_1", "pm10.0_cf_1",
	"pm2.5_cf_1_a", "pm2.5_cf_1_b",
}

// minLivePollInterval protects the API budget of the live service.
const minLivePollInterval = time.Minute

// PurpleAir is the input. Options are documented in sample.conf and README.md.
type PurpleAir struct {
	Source    string   `toml:"source"`
	Tags      []string `toml:"tags"`
	Timestamp string   `toml:"timestamp"`

	APIKey       config.Secret   `toml:"api_key"`
	APIKeyEnv    string          `toml:"api_key_env"`
	BaseURL      string          `toml:"base_url"`
	PollInterval config.Duration `toml:"poll_interval"`
	Fields       []string        `toml:"fields"`
	LocationType string          `toml:"location_type"`
	MaxAge       config.Duration `toml:"max_age"`
	BoundingBox  []float64       `toml:"bounding_box"`
	ShowOnly     []int64         `toml:"show_only"`
	Incremental  bool            `toml:"incremental"`
	MaxRetries   int             `toml:"max_retries"`
	// Telegraf's common HTTP client options, as other HTTP inputs take them: timeout (per request),
	// the transport's timeouts and idle connections, proxy and TLS. Its OAuth2 and cookie options are
	// refused (see refusedHTTPOptions): the API authenticates with the key.
	httpconfig.HTTPClientConfig

	Path       string  `toml:"path"`
	ReplayRate float64 `toml:"replay_rate"`

	Sensors     int             `toml:"sensors"`
	Seed        int64           `toml:"seed"`
	FaultRate   float64         `toml:"fault_rate"`
	Faults      []string        `toml:"faults"`
	LabelFaults bool            `toml:"label_faults"`
	Step        config.Duration `toml:"step"`
	StartAt     string          `toml:"start"`
	Speedup     float64         `toml:"speedup"`

	Log telegraf.Logger `toml:"-"`

	// now and sleep are the wall clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	pointOpts purpleair.PointOptions
	client    *purpleair.Client
	query     purpleair.SensorsQuery
	simCfg    purpleair.SimulatorConfig

	cancel context.CancelFunc
	wg     sync.WaitGroup

	noTimeStamp sync.Once // the warning about responses without data_time_stamp is given once
}

// New returns the plugin with its defaults.
func New() *PurpleAir {
	return &PurpleAir{
		Source:       SourceSimulate,
		Timestamp:    "data_time_stamp",
		APIKeyEnv:    "PURPLEAIR_API_KEY",
		BaseURL:      purpleair.DefaultBaseURL,
		PollInterval: config.Duration(5 * time.Minute),
		Incremental:  true,
		MaxRetries:   4,
		HTTPClientConfig: httpconfig.HTTPClientConfig{
			Timeout: config.Duration(60 * time.Second),
			TransportConfig: httpconfig.TransportConfig{
				ClientConfig: commontls.ClientConfig{RenegotiationMethod: "never"},
			},
		},
		Sensors:   50,
		Seed:      1,
		FaultRate: 0.01,
		Step:      config.Duration(2 * time.Minute),
		Speedup:   1,
	}
}

func init() {
	inputs.Add("purpleair", func() telegraf.Input { return New() })
}

// SampleConfig returns the documented configuration.
func (*PurpleAir) SampleConfig() string { return sampleConfig }

// Init validates the configuration; every error names the option.
func (p *PurpleAir) Init() error {
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = ctxtime.Sleep
	}
	p.pointOpts = purpleair.PointOptions{}
	for _, t := range p.Tags {
		switch t {
		case "name":
			p.pointOpts.TagName = true
		case "location_type":
			p.pointOpts.TagLocationType = true
		default:
			return fmt.Errorf(`tags: unknown tag %q (allowed: "name", "location_type")`, t)
		}
	}
	switch p.Timestamp {
	case "", "data_time_stamp":
	case "last_seen":
		p.pointOpts.UseLastSeen = true
	default:
		return fmt.Errorf(`timestamp must be "data_time_stamp" or "last_seen", got %q`, p.Timestamp)
	}
	if p.LabelFaults && p.Source != SourceSimulate && p.Source != SourceFile {
		return fmt.Errorf(`label_faults needs source = "simulate" or "file" (only simulated readings have a ground truth), source is %q`, p.Source)
	}
	switch p.Source {
	case SourceAPI:
		return p.initAPI()
	case SourceFile:
		return p.initFile()
	case SourceSimulate:
		return p.initSimulate()
	}
	return fmt.Errorf(`source must be "api", "file" or "simulate", got %q`, p.Source)
}

func (p *PurpleAir) initAPI() error {
	key, err := p.apiKey()
	if err != nil {
		return err
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url must be an http(s) URL, got %q", p.BaseURL)
	}
	interval := time.Duration(p.PollInterval)
	if interval <= 0 {
		return fmt.Errorf("poll_interval must be positive, got %s", interval)
	}
	if u.Host == "api.purpleair.com" && interval < minLivePollInterval {
		return fmt.Errorf("poll_interval must be at least %s against the live API (each poll costs points; sensors refresh every 2m), got %s", minLivePollInterval, interval)
	}
	if p.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %s", time.Duration(p.Timeout))
	}
	if err := p.checkHTTPOptions(); err != nil {
		return err
	}
	if p.query, err = p.sensorsQuery(); err != nil {
		return err
	}
	hc, err := p.CreateClient(context.Background(), p.Log)
	if err != nil {
		// checkHTTPOptions has validated the options CreateClient reads; its errors name files and
		// values, never a key or a password.
		return fmt.Errorf("HTTP client: %w", err)
	}
	p.applyLoneTLSOptions(hc)
	p.client = purpleair.NewClient(p.BaseURL, key)
	p.client.HTTP, p.client.MaxRetries, p.client.SkipBadRows = hc, p.MaxRetries, true
	if err := p.client.Check(); err != nil {
		return optionError(err)
	}
	p.client.Logf = func(format string, args ...any) { p.logf(telegraf.Warn, format, args...) }
	return nil
}

// sensorsQuery is the API query the options ask for: the fields (plus those the tag and time
// options read), location type, max age, bounding box and sensors.
func (p *PurpleAir) sensorsQuery() (purpleair.SensorsQuery, error) {
	var q purpleair.SensorsQuery
	fields := p.Fields
	if len(fields) == 0 {
		fields = DefaultFields
	}
	fields = slices.Clone(fields)
	for i, f := range fields {
		if f == "" || strings.ContainsAny(f, ", ") {
			return q, fmt.Errorf("fields: element %d (%q) is not a field name", i, f)
		}
	}
	need := func(f string) {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if p.pointOpts.TagName {
		need("name")
	}
	if p.pointOpts.TagLocationType {
		need("location_type")
	}
	if p.pointOpts.UseLastSeen {
		need("last_seen")
	}
	q.Fields, q.ShowOnly = fields, p.ShowOnly
	switch p.LocationType {
	case "":
	case "outside", "inside":
		lt := purpleair.LocationOutside
		if p.LocationType == "inside" {
			lt = purpleair.LocationInside
		}
		q.LocationType = &lt
	default:
		return q, fmt.Errorf(`location_type must be "outside", "inside" or empty, got %q`, p.LocationType)
	}
	if p.MaxAge < 0 {
		return q, fmt.Errorf("max_age must not be negative, got %s", time.Duration(p.MaxAge))
	}
	q.MaxAge = int64(time.Duration(p.MaxAge) / time.Second)
	box, err := p.boundingBox()
	if err != nil {
		return q, err
	}
	if box != (purpleair.BoundingBox{}) {
		q.Box = &box
	}
	for i, s := range p.ShowOnly {
		if s <= 0 {
			return q, fmt.Errorf("show_only: element %d (%d) is not a sensor index", i, s)
		}
	}
	return q, nil
}

// refusedHTTPOptions are the options of Telegraf's HTTP client configuration that the input embeds but
// refuses: the API authenticates with the X-API-Key header, not with OAuth2 or a login cookie.
var refusedHTTPOptions = []string{
	"client_id", "client_secret", "token_url", "audience", "scopes",
	"cookie_auth_url", "cookie_auth_method", "cookie_auth_headers", "cookie_auth_username",
	"cookie_auth_password", "cookie_auth_body", "cookie_auth_renewal",
}

// checkHTTPOptions validates the HTTP client options that Telegraf's CreateClient would accept, or
// report with their values (a proxy URL may carry a password).
func (p *PurpleAir) checkHTTPOptions() error {
	o, c := p.OAuth2Config, &p.CookieAuthConfig
	set := map[string]bool{
		"client_id": o.ClientID != "", "client_secret": o.ClientSecret != "", "token_url": o.TokenURL != "",
		"audience": o.Audience != "", "scopes": len(o.Scopes) > 0,
		"cookie_auth_url": c.URL != "", "cookie_auth_method": c.Method != "", "cookie_auth_headers": len(c.Headers) > 0,
		"cookie_auth_username": c.Username != "", "cookie_auth_password": c.Password != "",
		"cookie_auth_body": c.Body != "", "cookie_auth_renewal": c.Renewal != 0,
	}
	for _, name := range refusedHTTPOptions {
		if set[name] {
			return fmt.Errorf("%s is not supported: the PurpleAir API authenticates with api_key (sent as the X-API-Key header), not with OAuth2 or a login cookie", name)
		}
	}
	for _, d := range []struct {
		name string
		v    config.Duration
	}{{"idle_conn_timeout", p.IdleConnTimeout}, {"response_timeout", p.ResponseHeaderTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%s must not be negative, got %s", d.name, time.Duration(d.v))
		}
	}
	if p.MaxIdleConns < 0 {
		return fmt.Errorf("max_idle_conn must be 0 or more, got %d", p.MaxIdleConns)
	}
	if p.MaxIdleConnsPerHost < 0 {
		return fmt.Errorf("max_idle_conn_per_host must be 0 or more, got %d", p.MaxIdleConnsPerHost)
	}
	if (p.TLSCert == "") != (p.TLSKey == "") {
		// Telegraf would silently present no client certificate.
		return errors.New("tls_cert and tls_key go together: set both or neither")
	}
	if p.TLSMinVersion != "" {
		if _, err := commontls.ParseTLSVersion(p.TLSMinVersion); err != nil {
			return fmt.Errorf("tls_min_version: %w", err)
		}
	}
	if len(p.TLSCipherSuites) > 0 {
		if _, err := commontls.ParseCiphers(p.TLSCipherSuites); err != nil {
			return fmt.Errorf("tls_cipher_suites: %w", err)
		}
	}
	if _, err := p.TLSConfig(); err != nil {
		// Telegraf's message names the file or the value (the key's password never).
		return fmt.Errorf("TLS options: %w", err)
	}
	if p.HTTPProxyURL != "" {
		if p.UseSystemProxy {
			return errors.New("http_proxy_url and use_system_proxy = true exclude each other (Telegraf would ignore http_proxy_url)")
		}
		u, err := url.Parse(p.HTTPProxyURL)
		if err != nil {
			// url.Parse's error quotes the URL, password included.
			return errors.New("http_proxy_url is not a URL")
		}
		switch u.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return fmt.Errorf("http_proxy_url must be an http, https, socks5 or socks5h URL, got %q", u.Redacted())
		}
		if u.Host == "" {
			return fmt.Errorf("http_proxy_url has no host: %q", u.Redacted())
		}
	}
	return nil
}

// applyLoneTLSOptions applies tls_min_version and tls_cipher_suites when they are the only TLS options
// set: Telegraf's TLS configuration counts them only beside another TLS option (tls_ca, a client
// certificate, ...) and would otherwise leave Go's defaults in place silently. Init has parsed both.
func (p *PurpleAir) applyLoneTLSOptions(hc *http.Client) {
	if p.TLSMinVersion == "" && len(p.TLSCipherSuites) == 0 || p.Enable != nil && !*p.Enable {
		return
	}
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		return
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: commontls.TLSMinVersionDefault}
	}
	if p.TLSMinVersion != "" {
		tr.TLSClientConfig.MinVersion, _ = commontls.ParseTLSVersion(p.TLSMinVersion)
	}
	if len(p.TLSCipherSuites) > 0 {
		tr.TLSClientConfig.CipherSuites, _ = commontls.ParseCiphers(p.TLSCipherSuites)
	}
}

// apiKey reads api_key, or the environment variable named by api_key_env.
func (p *PurpleAir) apiKey() (string, error) {
	if !p.APIKey.Empty() {
		buf, err := p.APIKey.Get()
		if err != nil {
			return "", fmt.Errorf("api_key: %w", err)
		}
		defer buf.Destroy()
		return strings.TrimSpace(buf.String()), nil
	}
	if p.APIKeyEnv == "" {
		return "", errors.New(`source = "api" needs api_key or api_key_env`)
	}
	key := strings.TrimSpace(os.Getenv(p.APIKeyEnv))
	if key == "" {
		return "", fmt.Errorf(`source = "api" needs a key: api_key is empty and the environment variable %s (api_key_env) is not set`, p.APIKeyEnv)
	}
	return key, nil
}

func (p *PurpleAir) initFile() error {
	if p.Path == "" {
		return errors.New(`path must name an API-format JSON file for source = "file"`)
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	f.Close()
	if !(p.ReplayRate >= 0) || math.IsInf(p.ReplayRate, 0) {
		return fmt.Errorf("replay_rate must be 0 (all at once) or a positive number of metrics per second, got %v", p.ReplayRate)
	}
	return nil
}

func (p *PurpleAir) initSimulate() error {
	// The simulator checks its options (named as here); the input only translates them.
	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.Step, cfg.FaultRate = p.Sensors, p.Seed, time.Duration(p.Step), p.FaultRate
	if len(p.Faults) > 0 {
		cfg.Faults = make([]purpleair.FaultKind, len(p.Faults))
		for i, s := range p.Faults {
			cfg.Faults[i] = purpleair.FaultKind(s)
		}
	}
	if !(p.Speedup >= 0) || math.IsInf(p.Speedup, 0) {
		return fmt.Errorf("speedup must be 0 (as fast as possible) or positive, got %v", p.Speedup)
	}
	start, err := p.startTime()
	if err != nil {
		return err
	}
	cfg.Start = start
	if len(p.BoundingBox) > 0 {
		if cfg.Region, err = p.boundingBox(); err != nil {
			return err
		}
	}
	if err := cfg.Validate(); err != nil {
		return optionError(err)
	}
	p.simCfg = cfg
	return nil
}

// boundingBox parses `bounding_box`; the zero box when it is empty.
func (p *PurpleAir) boundingBox() (purpleair.BoundingBox, error) {
	if len(p.BoundingBox) == 0 {
		return purpleair.BoundingBox{}, nil
	}
	if len(p.BoundingBox) != 4 {
		return purpleair.BoundingBox{}, fmt.Errorf("bounding_box must be [nwlng, nwlat, selng, selat], got %d numbers", len(p.BoundingBox))
	}
	b := purpleair.BoundingBox{NWLng: p.BoundingBox[0], NWLat: p.BoundingBox[1], SELng: p.BoundingBox[2], SELat: p.BoundingBox[3]}
	if err := b.Validate(); err != nil {
		return purpleair.BoundingBox{}, fmt.Errorf("bounding_box: %w", err)
	}
	return b, nil
}

// startTime parses `start`: RFC 3339, a negative duration from now, or
// empty for now (aligned down to the step).
func (p *PurpleAir) startTime() (time.Time, error) {
	now := p.now().UTC()
	switch s := strings.TrimSpace(p.StartAt); {
	case s == "":
		return now.Truncate(time.Duration(p.Step)), nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("start: %q is neither RFC 3339 nor a negative duration such as \"-24h\"", p.StartAt)
		}
		return now.Add(d).Truncate(time.Duration(p.Step)), nil
	default:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("start: %q is neither RFC 3339 (2024-04-11T00:00:00Z) nor a negative duration such as \"-24h\"", p.StartAt)
		}
		return t.UTC(), nil
	}
}

// Gather does nothing: the plugin is a service input that emits on its own
// schedule (see Start).
func (*PurpleAir) Gather(telegraf.Accumulator) error { return nil }

// Start runs the selected source in the background until Stop.
func (p *PurpleAir) Start(acc telegraf.Accumulator) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	var run func(context.Context, telegraf.Accumulator)
	switch p.Source {
	case SourceAPI:
		run = p.runAPI
	case SourceFile:
		run = p.runFile
	case SourceSimulate:
		run = p.runSimulate
	default:
		cancel()
		return fmt.Errorf("source %q: Init was not called", p.Source)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		run(ctx, acc)
	}()
	return nil
}

// Stop ends the background loop and waits for it.
func (p *PurpleAir) Stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

// logf logs with the API key redacted: rows, names and error texts come from the server, which may
// echo the key.
func (p *PurpleAir) logf(level telegraf.LogLevel, format string, args ...any) {
	if p.Log == nil {
		return
	}
	msg := p.redact(fmt.Sprintf(format, args...))
	switch level {
	case telegraf.Error:
		p.Log.Error(msg)
	case telegraf.Warn:
		p.Log.Warn(msg)
	case telegraf.Debug:
		p.Log.Debug(msg)
	default:
		p.Log.Info(msg)
	}
}

func (p *PurpleAir) redact(s string) string {
	if p.client == nil {
		return s
	}
	return p.client.Redact(s)
}

// addError reports err with the API key redacted.
func (p *PurpleAir) addError(acc telegraf.Accumulator, err error) {
	if p.client != nil {
		err = p.client.RedactError(err)
	}
	acc.AddError(err)
}

// document collects what emit reports about one response, which may come in
// several chunks (see purpleair.Decoder.DecodeFunc): its warnings are given once per
// response, when it ends.
type document struct {
	bad, skipped    int
	firstBad, first error
	receivedAt      int64 // the time stamp of a response without data_time_stamp
}

// emit adds one metric per usable row of r (a response, or a chunk of one);
// rows that cannot be metrics are counted in doc. pace, when not nil, is
// called before the k-th metric (from 0) this call adds, and its error stops
// the call. It returns the number of metrics added.
func (p *PurpleAir) emit(acc telegraf.Accumulator, r *purpleair.Response, faults []purpleair.FaultKind, pace func(k int) error, doc *document) (int, error) {
	opt := p.pointOpts
	if p.LabelFaults {
		opt.Faults = faults
	}
	if r.DataTimeStamp == 0 {
		// Unix time 0 is never a refresh time: the member is missing. Metrics at 1970 would be dropped
		// or misplaced by every consumer; the receive time is the closest known.
		if doc.receivedAt == 0 {
			doc.receivedAt = p.now().Unix()
		}
		r.DataTimeStamp = doc.receivedAt
		p.noTimeStamp.Do(func() {
			p.logf(telegraf.Warn, "a response has no data_time_stamp: its metrics (and those of any later response without one) are stamped with the time it was received")
		})
	}
	if len(r.BadRows) > 0 {
		if doc.bad == 0 {
			doc.firstBad = r.BadRows[0]
		}
		doc.bad += len(r.BadRows)
	}
	n := 0
	for i := range r.Data {
		pt, err := r.Point(i, opt)
		if err != nil {
			doc.skipped++
			if doc.first == nil {
				doc.first = err
			}
			continue
		}
		if pace != nil {
			if err := pace(n); err != nil {
				return n, err
			}
		}
		acc.AddFields(pt.Measurement, pt.Fields, pt.Tags, pt.Time)
		n++
	}
	return n, nil
}

// report gives the warnings about the rows of a response that made no metric.
func (p *PurpleAir) report(doc *document) {
	if doc.bad > 0 {
		p.logf(telegraf.Warn, "skipped %d malformed rows of the response (first: %v)", doc.bad, doc.firstBad)
	}
	if doc.skipped > 0 {
		p.logf(telegraf.Warn, "skipped %d rows that make no metric (first: %v)", doc.skipped, doc.first)
	}
}

func (p *PurpleAir) runAPI(ctx context.Context, acc telegraf.Accumulator) {
	interval := time.Duration(p.PollInterval)
	var since int64
	for {
		q := p.query
		if p.Incremental && since > 0 {
			q.ModifiedSince = time.Unix(since, 0)
		}
		started := p.now()
		wait := interval
		// Rows become metrics as the body arrives: memory stays at a chunk of rows whatever the size
		// of the response, and the rows before a failure mid-body are not lost.
		var doc document
		n, rows := 0, 0
		r, err := p.client.SensorsFunc(ctx, q, func(chunk *purpleair.Response) error {
			k, _ := p.emit(acc, chunk, nil, nil, &doc)
			n += k
			rows += len(chunk.Data) + len(chunk.BadRows)
			return nil
		})
		p.report(&doc)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.addError(acc, err)
			var ae *purpleair.APIError
			if errors.As(err, &ae) && ae.RetryAfter > wait {
				wait = ae.RetryAfter
			}
		default:
			p.logf(telegraf.Debug, "poll: %d sensors, %d metrics", rows, n)
			// The server's clock, not a receive-time fallback, decides what modified_since asks for.
			if r.DataTimeStamp > since {
				since = r.DataTimeStamp
			}
		}
		// Keep the cadence: the next poll is interval after this one began.
		if err := p.sleep(ctx, wait-p.now().Sub(started)); err != nil {
			return
		}
	}
}

func (p *PurpleAir) runFile(ctx context.Context, acc telegraf.Accumulator) {
	f, err := os.Open(p.Path)
	if err != nil {
		acc.AddError(fmt.Errorf("path: %w", err))
		return
	}
	defer f.Close()
	dec := purpleair.NewDecoder(f)
	dec.SkipBadRows = true
	began := p.now()
	total := 0
	var pace func(k int) error
	if p.ReplayRate > 0 {
		pace = func(k int) error {
			due := began.Add(time.Duration(float64(total+k) / p.ReplayRate * float64(time.Second)))
			return p.sleep(ctx, due.Sub(p.now()))
		}
	}
	for n := 0; ; n++ {
		// Rows become metrics as they are decoded: a file of any size takes a chunk of rows in
		// memory, and the complete rows of a document cut short are emitted before its error.
		var doc document
		_, err := dec.DecodeFunc(func(chunk *purpleair.Response) error {
			var labels []purpleair.FaultKind
			if p.LabelFaults {
				labels = fileFaultLabels(chunk)
			}
			k, err := p.emit(acc, chunk, labels, pace, &doc)
			total += k
			return err
		})
		p.report(&doc)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				acc.AddError(fmt.Errorf("%s: document %d: %w", p.Path, n, err))
			}
			break
		}
	}
	p.logf(telegraf.Info, "replayed %d metrics from %s; idle until stopped", total, p.Path)
}

// FaultColumn is the text column in which a labelled simulation written as
// API JSON (`hazewatch simulate` with labels) carries each row's ground truth.
const FaultColumn = "fault"

// fileFaultLabels reads the fault column of a replayed response; rows
// without a label (or files without the column) are "none".
func fileFaultLabels(r *purpleair.Response) []purpleair.FaultKind {
	labels := make([]purpleair.FaultKind, len(r.Data))
	c := r.Column(FaultColumn)
	for i, row := range r.Data {
		labels[i] = purpleair.FaultNone
		if c >= 0 && row[c].Kind == purpleair.KindString && row[c].Str != "" {
			labels[i] = purpleair.FaultKind(row[c].Str)
		}
	}
	return labels
}

func (p *PurpleAir) runSimulate(ctx context.Context, acc telegraf.Accumulator) {
	sim, err := purpleair.NewSimulator(p.simCfg)
	if err != nil {
		acc.AddError(err)
		return
	}
	step := time.Duration(p.Step)
	for ctx.Err() == nil {
		// A step is emitted once the wall clock has reached its simulated
		// time: history before now runs at speedup, the present in real time.
		if t := sim.Time(); t.After(p.now()) {
			if err := p.sleep(ctx, t.Sub(p.now())); err != nil {
				return
			}
		}
		began := p.now()
		r, labels := sim.NextResponse()
		var doc document
		p.emit(acc, r, labels, nil, &doc)
		p.report(&doc)
		if p.Speedup > 0 && sim.Time().Before(p.now()) {
			pace := time.Duration(float64(step) / p.Speedup)
			if err := p.sleep(ctx, pace-p.now().Sub(began)); err != nil {
				return
			}
		}
	}
}

// optionNames are the options of this plugin that set a field of the API client or the simulator.
var optionNames = map[string]string{
	"Client.MaxRetries":         "max_retries",
	"SimulatorConfig.Sensors":   "sensors",
	"SimulatorConfig.Step":      "step",
	"SimulatorConfig.FaultRate": "fault_rate",
	"SimulatorConfig.Faults":    "faults",
	"SimulatorConfig.Start":     "start",
}

// optionError names a field the client or the simulator refuses as the option that sets it.
func optionError(err error) error {
	var oe *purpleair.OptionError
	if errors.As(err, &oe) {
		if name, ok := optionNames[oe.Config+"."+oe.Option]; ok {
			return fmt.Errorf("%s %s", name, oe.Reason)
		}
	}
	return err
}
