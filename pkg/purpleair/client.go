package purpleair

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/internal/ctxtime"
)

// DefaultBaseURL is the live PurpleAir API.
const DefaultBaseURL = "https://api.purpleair.com"

// APIError is an HTTP error answer of the API. It never contains the API key.
type APIError struct {
	StatusCode  int    // 0 when the error document came with a 2xx status
	Code        string // the API's "error", e.g. "ApiKeyInvalidError"
	Description string // the API's "description"
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("purpleair: API error")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString(" (the API key is missing or not valid: check api_key / api_key_env)")
	case http.StatusForbidden:
		b.WriteString(" (the API key is not allowed this request: a READ key is needed, and it may be restricted or disabled)")
	case http.StatusPaymentRequired:
		b.WriteString(" (the key's API points are used up)")
	case http.StatusTooManyRequests:
		b.WriteString(" (rate limited: poll less often)")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (Retry-After %s)", e.RetryAfter)
	}
	return b.String()
}

// Temporary reports whether retrying later can succeed (429 and 5xx).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// BoundingBox selects sensors inside a rectangle, by its north-west and
// south-east corners (degrees).
type BoundingBox struct {
	NWLng, NWLat, SELng, SELat float64
}

// Validate checks the corners are on the globe and in the right order.
func (b BoundingBox) Validate() error {
	for _, c := range []struct {
		name string
		v    float64
		lim  float64
	}{{"nwlng", b.NWLng, 180}, {"nwlat", b.NWLat, 90}, {"selng", b.SELng, 180}, {"selat", b.SELat, 90}} {
		if !(c.v >= -c.lim && c.v <= c.lim) {
			return fmt.Errorf("bounding box %s = %v is outside [-%v, %v]", c.name, c.v, c.lim, c.lim)
		}
	}
	if b.NWLat <= b.SELat {
		return fmt.Errorf("bounding box nwlat (%v) must be north of selat (%v)", b.NWLat, b.SELat)
	}
	return nil
}

// Location types as the API numbers them (location_type field and parameter).
const (
	LocationOutside = 0
	LocationInside  = 1
)

// SensorsQuery holds the parameters of GET /v1/sensors. Zero values are left
// out of the request (the API's defaults apply).
type SensorsQuery struct {
	Fields        []string     // required by the API
	LocationType  *int         // LocationOutside or LocationInside
	MaxAge        int64        // seconds; 0 = API default
	Box           *BoundingBox // nwlng, nwlat, selng, selat
	ShowOnly      []int64      // sensor indexes
	ModifiedSince time.Time    // incremental polls
}

// Values encodes the query string.
func (q SensorsQuery) Values() url.Values {
	v := url.Values{}
	if len(q.Fields) > 0 {
		v.Set("fields", strings.Join(q.Fields, ","))
	}
	if q.LocationType != nil {
		v.Set("location_type", strconv.Itoa(*q.LocationType))
	}
	if q.MaxAge != 0 {
		v.Set("max_age", strconv.FormatInt(q.MaxAge, 10))
	}
	if b := q.Box; b != nil {
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
		v.Set("nwlng", f(b.NWLng))
		v.Set("nwlat", f(b.NWLat))
		v.Set("selng", f(b.SELng))
		v.Set("selat", f(b.SELat))
	}
	if len(q.ShowOnly) > 0 {
		s := make([]string, len(q.ShowOnly))
		for i, x := range q.ShowOnly {
			s[i] = strconv.FormatInt(x, 10)
		}
		v.Set("show_only", strings.Join(s, ","))
	}
	if !q.ModifiedSince.IsZero() {
		v.Set("modified_since", strconv.FormatInt(q.ModifiedSince.Unix(), 10))
	}
	return v
}

// Client reads the PurpleAir API. Make one with NewClient and change what differs: every field is
// used as given.
type Client struct {
	BaseURL string // the API's root, DefaultBaseURL for the live API
	// APIKey is sent as the X-API-Key header only; it never appears in
	// errors or logs.
	APIKey string
	HTTP   *http.Client

	// MaxRetries is how many times a temporary failure (429, 5xx, network
	// error, truncated body) is retried within one call; 0 for none.
	MaxRetries int
	// MinBackoff is the first retry delay, doubled each retry up to
	// MaxBackoff. A Retry-After from the server is used instead when longer;
	// one longer than MaxBackoff ends the call with the *APIError (its
	// RetryAfter says when to come back).
	MinBackoff, MaxBackoff time.Duration
	// SkipBadRows keeps a poll going when some rows are unusable: they are
	// reported in Response.BadRows instead of failing the call.
	SkipBadRows bool
	// MaxBodyBytes bounds a response; a longer one is an error matching
	// ErrTooLarge, not retried.
	MaxBodyBytes int64
	// Logf receives retry notices; nil = silent.
	Logf func(format string, args ...any)
	// Sleep waits between retries; nil → a timer honouring ctx. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewClient returns a client of the API at baseURL ("" for DefaultBaseURL) that sends apiKey, with
// the defaults: a 60 s HTTP timeout, 4 retries backing off from 5 s to 5 min, responses up to
// DefaultMaxBodyBytes, bad rows failing the call.
func NewClient(baseURL, apiKey string) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Client{
		BaseURL:      baseURL,
		APIKey:       apiKey,
		HTTP:         &http.Client{Timeout: 60 * time.Second},
		MaxRetries:   4,
		MinBackoff:   5 * time.Second,
		MaxBackoff:   5 * time.Minute,
		MaxBodyBytes: DefaultMaxBodyBytes,
	}
}

// Check reports, as an *OptionError, a field a call cannot use. Every call checks; an edge calls it
// to fail at start, before the first poll.
func (c *Client) Check() error {
	switch {
	case c.BaseURL == "":
		return &OptionError{"Client", "BaseURL", "is empty (NewClient sets the live API's)"}
	case c.HTTP == nil:
		return &OptionError{"Client", "HTTP", "is nil (NewClient sets one)"}
	case c.MaxRetries < 0:
		return &OptionError{"Client", "MaxRetries", fmt.Sprintf("must not be negative, got %d", c.MaxRetries)}
	case c.MinBackoff <= 0:
		return &OptionError{"Client", "MinBackoff", fmt.Sprintf("must be positive, got %s", c.MinBackoff)}
	case c.MaxBackoff < c.MinBackoff:
		return &OptionError{"Client", "MaxBackoff", fmt.Sprintf("must be at least MinBackoff (%s), got %s", c.MinBackoff, c.MaxBackoff)}
	case c.MaxBodyBytes <= 0:
		return &OptionError{"Client", "MaxBodyBytes", fmt.Sprintf("must be positive, got %d", c.MaxBodyBytes)}
	}
	return nil
}

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// DefaultMaxBodyBytes is the largest response a Client reads by default: more
// than ten times a response listing every PurpleAir sensor in the world with
// the default fields (25,552 sensors: 2.7 MB).
const DefaultMaxBodyBytes = 64 << 20

// Sensors calls GET /v1/sensors, retrying temporary failures with exponential
// backoff. The body is decoded as it arrives: memory holds the decoded rows,
// never the body as well. Errors: *APIError for HTTP errors, *SyntaxError for
// malformed or truncated bodies (errors.Is(err, ErrTruncated)), *RowError for
// unusable rows unless SkipBadRows, ErrTooLarge beyond MaxBodyBytes.
func (c *Client) Sensors(ctx context.Context, q SensorsQuery) (*Response, error) {
	return c.sensors(ctx, q, nil)
}

// SensorsFunc is Sensors handing the rows to fn in chunks as they are decoded
// (see Decoder.DecodeFunc) instead of returning them, so that memory stays at
// about one chunk whatever the size of the response; the Response returned
// holds the members without the rows. A failure before fn got any row is
// retried as in Sensors; after that it is returned at once, as a retry would
// hand the same rows over again.
func (c *Client) SensorsFunc(ctx context.Context, q SensorsQuery, fn func(chunk *Response) error) (*Response, error) {
	if fn == nil {
		return nil, errors.New("purpleair: SensorsFunc needs a function")
	}
	return c.sensors(ctx, q, fn)
}

func (c *Client) sensors(ctx context.Context, q SensorsQuery, fn func(*Response) error) (*Response, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + "/v1/sensors")
	if err != nil {
		return nil, fmt.Errorf("purpleair: base URL: %w", err)
	}
	u.RawQuery = q.Values().Encode()

	retries, minB, maxB := c.MaxRetries, c.MinBackoff, c.MaxBackoff
	sleep := c.Sleep
	if sleep == nil {
		sleep = ctxtime.Sleep
	}
	backoff := minB
	delivered := false
	var deliver func(*Response) error
	if fn != nil {
		deliver = func(chunk *Response) error {
			delivered = true
			for _, re := range chunk.BadRows {
				c.redactInPlace(re)
			}
			return fn(chunk)
		}
	}
	for attempt := 0; ; attempt++ {
		resp, retryAfter, err := c.once(ctx, u, deliver)
		err = c.RedactError(err)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil || !temporary(err) || attempt >= retries || delivered {
			if attempt > 0 && temporary(err) {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
			}
			return nil, err
		}
		wait := backoff
		if retryAfter > wait {
			wait = retryAfter
		}
		if wait > maxB {
			if retryAfter > maxB {
				return nil, err // caller reschedules using APIError.RetryAfter
			}
			wait = maxB
		}
		c.logf("purpleair: %v; retrying in %s (attempt %d of %d)", err, wait, attempt+2, retries+1)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		backoff *= 2
		if backoff > maxB {
			backoff = maxB
		}
	}
}

// temporary: worth retrying.
func temporary(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	if errors.Is(err, ErrTruncated) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

func (c *Client) once(ctx context.Context, u *url.URL, fn func(*Response) error) (*Response, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("purpleair: %w", err)
	}
	req.Header.Set("X-API-Key", c.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hazewatch-purpleair/1")
	res, err := c.HTTP.Do(req)
	if err != nil {
		// Report the cause without url.Error's long query string (the key is
		// never in it: it travels as a header).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, fmt.Errorf("purpleair: GET %s://%s%s: %w", u.Scheme, u.Host, u.Path, err)
	}
	defer res.Body.Close()
	limit := c.MaxBodyBytes
	retryAfter := parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
	if res.StatusCode < 200 || res.StatusCode > 299 {
		ae := &APIError{StatusCode: res.StatusCode, RetryAfter: retryAfter}
		// The API explains itself in a JSON body; use it when it is one.
		if r, err := newStreamParser(res.Body, limit, true).document(); err != nil {
			var inner *APIError
			if errors.As(err, &inner) {
				ae.Code, ae.Description = inner.Code, inner.Description
			}
		} else if r != nil {
			ae.Description = "unexpected sensors document with an error status"
		}
		return nil, retryAfter, ae
	}
	p := newStreamParser(res.Body, limit, c.SkipBadRows)
	p.onRows = fn
	resp, err := p.document()
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, 0, err
	}
	for _, re := range resp.BadRows {
		c.redactInPlace(re)
	}
	return resp, 0, nil
}

// redactedText replaces the API key in error messages. The server may echo the key back (a 403's
// description repeating the X-API-Key header, or a proxy quoting the request), and every message
// built from a response ends up in a log.
const redactedText = "[redacted]"

// Redact returns s with every occurrence of the API key (in any letter case: an echo may change it)
// replaced by "[redacted]". Messages built from a response's content go through it before they are
// logged.
func (c *Client) Redact(s string) string { return redact(s, strings.TrimSpace(c.APIKey)) }

func redact(s, key string) string {
	if key == "" || len(s) < len(key) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+len(key) <= len(s); {
		if strings.EqualFold(s[i:i+len(key)], key) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(redactedText)
			i += len(key)
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// RedactError returns err with the API key removed from its message. The error types of this package
// are redacted in place, so that errors.As still finds them (with their fields redacted); anything
// else that still carries the key is wrapped so that its message does not.
func (c *Client) RedactError(err error) error {
	if err == nil {
		return nil
	}
	key := strings.TrimSpace(c.APIKey)
	if key == "" {
		return err
	}
	c.redactInPlace(err)
	if msg := err.Error(); redact(msg, key) != msg {
		return &redactedError{msg: redact(msg, key), err: err}
	}
	return err
}

func (c *Client) redactInPlace(err error) {
	key := strings.TrimSpace(c.APIKey)
	var ae *APIError
	if errors.As(err, &ae) {
		ae.Code, ae.Description = redact(ae.Code, key), redact(ae.Description, key)
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Msg = redact(se.Msg, key)
	}
	var re *RowError
	if errors.As(err, &re) {
		re.Msg, re.Field = redact(re.Msg, key), redact(re.Field, key)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.Member, fe.Msg = redact(fe.Member, key), redact(fe.Msg, key)
	}
}

// redactedError is an error whose message had to be redacted as a whole.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// parseRetryAfter reads delay-seconds or an HTTP date; 0 if absent or bad.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		// Bound it so a silly header cannot overflow the Duration.
		return time.Duration(min(s, 7*24*3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
