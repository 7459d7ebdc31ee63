package purpleair

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "TEST-KEY-5EC2E7"

// Bodies in the API's own formats.
const (
	okBody       = `{"api_version":"V1.0.14-0.0.58","time_stamp":1712793708,"data_time_stamp":1712793665,"location_type":0,"max_age":604800,"firmware_default_version":"7.02","fields":["sensor_index","name","pm2.5_cf_1"],"location_types":["outside","inside"],"data":[[53,"Provo",0.0],[77,"Sugarhouse",15.8]]}`
	mismatchBody = `{"api_version":"V1.0.14-0.0.58","time_stamp":1712793708,"data_time_stamp":1712793665,"fields":["sensor_index","name","pm2.5_cf_1"],"data":[[53,"Provo",0.0],[77,"Sugarhouse"],[81,"Orem",11.0]]}`
)

func apiErrorBody(code, desc string) string {
	return fmt.Sprintf(`{"api_version":"V1.0.14-0.0.58","time_stamp":1712793708,"error":%q,"description":%q}`, code, desc)
}

// step is one scripted answer of the fake API.
type step struct {
	status     int
	body       string
	retryAfter string
	cutBody    bool // declare the full length but send half, then drop the connection
}

type fakeAPI struct {
	mu       sync.Mutex
	steps    []step
	requests []*http.Request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, r)
	s := f.steps[min(n, len(f.steps)-1)]
	f.mu.Unlock()
	if r.Header.Get("X-API-Key") != testKey {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, apiErrorBody("ApiKeyMissingError", "No API key was found in the request."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
	}
	if s.cutBody {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.WriteHeader(s.status)
		io.WriteString(w, s.body[:len(s.body)/2])
		return // the server closes the connection short of Content-Length
	}
	w.WriteHeader(s.status)
	io.WriteString(w, s.body)
}

func TestClientSensors(t *testing.T) {
	ok := step{status: 200, body: okBody}
	tests := []struct {
		name        string
		steps       []step
		skipBadRows bool
		retries     int
		wantRows    int
		wantBadRows int
		wantErr     string
		wantStatus  int
		truncated   bool
		apiErr      bool // an *APIError even without wantStatus
		wantSleeps  []time.Duration
		wantCalls   int
	}{
		{name: "ok", steps: []step{ok}, wantRows: 2, wantCalls: 1},
		{name: "401", steps: []step{{status: 401, body: apiErrorBody("ApiKeyInvalidError", "The provided api_key was not valid.")}},
			wantErr: "401 Unauthorized: ApiKeyInvalidError: The provided api_key was not valid. (the API key is missing or not valid", wantStatus: 401, wantCalls: 1},
		{name: "403", steps: []step{{status: 403, body: apiErrorBody("ApiKeyTypeMismatchError", "The provided api_key was not a READ key.")}},
			wantErr: "403 Forbidden: ApiKeyTypeMismatchError", wantStatus: 403, wantCalls: 1},
		{name: "429 with Retry-After then ok", steps: []step{{status: 429, retryAfter: "3", body: apiErrorBody("RateLimitExceededError", "slow down")}, ok},
			wantRows: 2, wantSleeps: []time.Duration{3 * time.Second}, wantCalls: 2},
		{name: "429 with HTTP-date Retry-After in the past uses backoff", steps: []step{{status: 429, retryAfter: "Mon, 01 Jan 2001 00:00:00 GMT"}, ok},
			wantRows: 2, wantSleeps: []time.Duration{time.Second}, wantCalls: 2},
		{name: "500 twice then ok: exponential backoff", steps: []step{{status: 500, body: "oops"}, {status: 502, body: "<html>bad gateway</html>"}, ok},
			wantRows: 2, wantSleeps: []time.Duration{time.Second, 2 * time.Second}, wantCalls: 3},
		{name: "503 forever gives up", steps: []step{{status: 503}}, retries: 3,
			wantErr: "503 Service Unavailable (gave up after 4 attempts)", wantStatus: 503,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, wantCalls: 4},
		{name: "backoff is capped", steps: []step{{status: 500}}, retries: 5,
			wantErr: "gave up after 6 attempts", wantStatus: 500,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, wantCalls: 6},
		{name: "Retry-After beyond max backoff returns at once", steps: []step{{status: 429, retryAfter: "3600"}},
			wantErr: "Retry-After 1h0m0s", wantStatus: 429, wantCalls: 1},
		{name: "malformed JSON is not retried", steps: []step{{status: 200, body: `{"fields":["a"],"data":[[1,]]}`}},
			wantErr: "malformed JSON at byte 27 (in data row 0)", wantCalls: 1},
		{name: "truncated JSON is retried", steps: []step{{status: 200, body: okBody[:100]}, ok},
			wantRows: 2, wantSleeps: []time.Duration{time.Second}, wantCalls: 2},
		{name: "truncated JSON forever", steps: []step{{status: 200, body: okBody[:len(okBody)-3]}}, retries: 1,
			wantErr: "truncated response", truncated: true, wantSleeps: []time.Duration{time.Second}, wantCalls: 2},
		{name: "connection dropped mid-body is retried", steps: []step{{status: 200, body: okBody, cutBody: true}, ok},
			wantRows: 2, wantSleeps: []time.Duration{time.Second}, wantCalls: 2},
		{name: "row/field mismatch fails strictly", steps: []step{{status: 200, body: mismatchBody}},
			wantErr: "data row 1: 2 values, want 3", wantCalls: 1},
		{name: "row/field mismatch skipped and reported", steps: []step{{status: 200, body: mismatchBody}}, skipBadRows: true,
			wantRows: 2, wantBadRows: 1, wantCalls: 1},
		{name: "error document with 200", steps: []step{{status: 200, body: apiErrorBody("InvalidFieldValueError", "bad field")}},
			wantErr: "API error: InvalidFieldValueError: bad field", apiErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{steps: tt.steps}
			srv := httptest.NewServer(api)
			defer srv.Close()
			var sleeps []time.Duration
			c := NewClient(srv.URL, testKey)
			if tt.retries != 0 { // 0 in the table: the default
				c.MaxRetries = tt.retries
			}
			c.MinBackoff, c.MaxBackoff, c.SkipBadRows = time.Second, 5*time.Second, tt.skipBadRows
			c.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
			var logs []string
			c.Logf = func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
			r, err := c.Sensors(context.Background(), SensorsQuery{Fields: []string{"name", "pm2.5_cf_1"}})
			if len(api.requests) != tt.wantCalls {
				t.Errorf("%d requests, want %d", len(api.requests), tt.wantCalls)
			}
			if fmt.Sprint(sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("slept %v, want %v", sleeps, tt.wantSleeps)
			}
			for _, l := range logs {
				if strings.Contains(l, testKey) {
					t.Errorf("log leaks the API key: %s", l)
				}
			}
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("error leaks the API key: %v", err)
				}
				var ae *APIError
				if got := errors.As(err, &ae); got != (tt.wantStatus != 0 || tt.apiErr) || (got && ae.StatusCode != tt.wantStatus) {
					t.Errorf("APIError = %v (%+v), want status %d", got, ae, tt.wantStatus)
				}
				if errors.Is(err, ErrTruncated) != tt.truncated {
					t.Errorf("errors.Is(ErrTruncated) = %v", !tt.truncated)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Data) != tt.wantRows || len(r.BadRows) != tt.wantBadRows {
				t.Errorf("%d rows, %d bad rows; want %d, %d", len(r.Data), len(r.BadRows), tt.wantRows, tt.wantBadRows)
			}
		})
	}
}

func TestClientRequest(t *testing.T) {
	api := &fakeAPI{steps: []step{{status: 200, body: okBody}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	inside := LocationInside
	q := SensorsQuery{
		Fields:        []string{"name", "pm2.5_cf_1"},
		LocationType:  &inside,
		MaxAge:        3600,
		Box:           &BoundingBox{NWLng: -122.5, NWLat: 38, SELng: -121.75, SELat: 37.25},
		ModifiedSince: time.Unix(1712793000, 0),
	}
	c := NewClient(srv.URL+"/", testKey)
	if _, err := c.Sensors(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	req := api.requests[0]
	if req.URL.Path != "/v1/sensors" || req.Method != http.MethodGet {
		t.Errorf("request %s %s", req.Method, req.URL.Path)
	}
	want := map[string]string{
		"fields": "name,pm2.5_cf_1", "location_type": "1", "max_age": "3600",
		"nwlng": "-122.5", "nwlat": "38", "selng": "-121.75", "selat": "37.25", "modified_since": "1712793000",
	}
	got := req.URL.Query()
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, got.Get(k), v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("query %v has extra parameters", got)
	}
	if req.Header.Get("X-API-Key") != testKey {
		t.Error("X-API-Key header not sent")
	}
	if strings.Contains(req.URL.String(), testKey) {
		t.Error("key in the URL")
	}

	q2 := SensorsQuery{Fields: []string{"pm2.5_cf_1"}, ShowOnly: []int64{53, 77, 81}}
	if v := q2.Values().Encode(); v != "fields=pm2.5_cf_1&show_only=53%2C77%2C81" {
		t.Errorf("show_only query = %s", v)
	}
}

func TestClientContextCancel(t *testing.T) {
	api := &fakeAPI{steps: []step{{status: 500}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := NewClient(srv.URL, testKey)
	c.MinBackoff, c.MaxBackoff = time.Hour, 2*time.Hour
	done := make(chan error, 1)
	go func() { _, err := c.Sensors(ctx, SensorsQuery{Fields: []string{"name"}}); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Sensors did not return after cancel")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 4, 11, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"12", 12 * time.Second}, {"-5", 0}, {"soon", 0},
		{"Thu, 11 Apr 2024 00:01:30 GMT", 90 * time.Second},
		{"Wed, 10 Apr 2024 23:00:00 GMT", 0},
		{"99999999999999", 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBoundingBoxValidate(t *testing.T) {
	tests := []struct {
		b       BoundingBox
		wantErr string
	}{
		{BoundingBox{-122.5, 38, -121.75, 37.25}, ""},
		{BoundingBox{-190, 38, -121.75, 37.25}, "nwlng = -190"},
		{BoundingBox{-122.5, 37, -121.75, 38}, "must be north of"},
		{BoundingBox{-122.5, 91, -121.75, 37}, "nwlat = 91"},
	}
	for _, tt := range tests {
		err := tt.b.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: %v, want %q", tt.b, err, tt.wantErr)
		}
	}
}

// A server that echoes the key (a 403 repeating X-API-Key in its description, a proxy quoting the
// request in any member) must not get it into an error or a retry notice: those end up in logs.
func TestClientRedactsEchoedKey(t *testing.T) {
	lower := strings.ToLower(testKey)
	tests := []struct {
		name    string
		steps   []step
		wantErr string // a part of the message that must survive the redaction
	}{
		{"403 description", []step{{status: 403, body: apiErrorBody("ApiKeyRestrictedError", "The key "+testKey+" is restricted to other referrers.")}},
			"403 Forbidden: ApiKeyRestrictedError: The key [redacted] is restricted"},
		{"error code in another case", []step{{status: 400, body: apiErrorBody("Bad-"+lower, "x")}}, "Bad-[redacted]"},
		{"5xx echo retried then given up", []step{{status: 503, body: apiErrorBody("Unavailable", "request key="+testKey)}}, "request key=[redacted] (gave up"},
		{"error document with 200", []step{{status: 200, body: apiErrorBody("Err", testKey)}}, "API error: Err: [redacted]"},
		{"field named after the key", []step{{status: 200, body: `{"fields":["sensor_index","` + testKey + `","` + testKey + `"],"data":[]}`}}, `field "[redacted]" appears twice`},
		{"member of the wrong shape", []step{{status: 200, body: `{"api_version":["` + testKey + `"],"fields":[],"data":[]}`}}, `"api_version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&fakeAPI{steps: tt.steps})
			defer srv.Close()
			var logs []string
			c := NewClient(srv.URL, testKey)
			c.MaxRetries, c.MinBackoff = 1, time.Second
			c.Sleep = func(context.Context, time.Duration) error { return nil }
			c.Logf = func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
			_, err := c.Sensors(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range append(logs, err.Error()) {
				if strings.Contains(strings.ToLower(s), lower) {
					t.Errorf("the API key leaked: %s", s)
				}
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			var ae *APIError
			if errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Code+ae.Description), lower) {
				t.Errorf("APIError fields carry the key: %+v", ae)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ s, key, want string }{
		{"no key here", "K3Y", "no key here"},
		{"K3YK3Y k3y end K3", "K3Y", "[redacted][redacted] [redacted] end K3"},
		{"anything", "", "anything"},
	} {
		if got := redact(c.s, c.key); got != c.want {
			t.Errorf("redact(%q, %q) = %q, want %q", c.s, c.key, got, c.want)
		}
	}
}

// writeLargeBody writes an API response of rows sensors with the input's default 16 fields plus
// sensor_index, in the API's own formatting, and returns its length. It is generated as it is sent, so
// that the test process does not hold it: the heap measured is the client's.
func writeLargeBody(w io.Writer, rows int) int64 {
	bw := bufio.NewWriter(w)
	n := int64(0)
	add := func(s string) { k, _ := bw.WriteString(s); n += int64(k) }
	add(`{"api_version":"V1.0.14-0.0.58","time_stamp":1712793708,"data_time_stamp":1712793665,"max_age":604800,"fields":["sensor_index","rssi","uptime","latitude","longitude","humidity","temperature","pressure","pm1.0","pm2.5_alt","pm10.0","pm1.0_cf_1","pm2.5_atm","pm2.5_cf_1","pm10.0_cf_1","pm2.5_cf_1_a","pm2.5_cf_1_b"],"data":[`)
	for i := range rows {
		if i > 0 {
			add(",")
		}
		add(fmt.Sprintf("[%d,-%d,%d,%.5f,%.5f,%d,%d,%.2f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f,%.3f]",
			i+1, 40+i%50, 1000+i, 37+float64(i%1000)/1000, -122+float64(i%997)/1000, 30+i%40, 50+i%30, 1000+float64(i%500)/100,
			float64(i%90)/10, float64(i%80)/10, float64(i%70)/10, float64(i%60)/10, float64(i%50)/10, float64(i%40)/10, float64(i%30)/10, float64(i%20)/7, float64(i%10)/3))
	}
	add("]}")
	bw.Flush()
	return n
}

// peakHeap samples the heap in use while f runs and returns its highest value above the level before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			peak = max(peak, s.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	if peak < base {
		return 0
	}
	return peak - base
}

// BenchmarkClientLargeResponse: the heap a poll of a large response takes at its peak, against the
// size of the body (HAZEWATCH_BENCH_ROWS rows, default 300,000: about 30 MB, ten times the whole
// world's sensors). Reported as peak-MiB and peak/body.
func BenchmarkClientLargeResponse(b *testing.B) {
	rows := 300_000
	if s := os.Getenv("HAZEWATCH_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	bodyLen := writeLargeBody(io.Discard, rows)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeLargeBody(w, rows) }))
	defer srv.Close()
	c := NewClient(srv.URL, testKey)
	c.MaxRetries, c.MaxBodyBytes = 0, 1<<30
	b.Run("Sensors", func(b *testing.B) {
		var peak uint64
		for b.Loop() {
			peak = max(peak, peakHeap(func() {
				r, err := c.Sensors(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}})
				if err != nil || len(r.Data) != rows {
					b.Fatalf("%v", err)
				}
			}))
		}
		b.ReportMetric(float64(bodyLen)/(1<<20), "body-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		b.ReportMetric(float64(peak)/float64(bodyLen), "peak/body")
	})
	// As the input polls: rows handed over in chunks and turned into metrics, none kept.
	b.Run("SensorsFunc", func(b *testing.B) {
		var peak uint64
		for b.Loop() {
			peak = max(peak, peakHeap(func() {
				n := 0
				_, err := c.SensorsFunc(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}}, func(chunk *Response) error {
					n += len(chunk.Data)
					return nil
				})
				if err != nil || n != rows {
					b.Fatalf("%d rows: %v", n, err)
				}
			}))
		}
		b.ReportMetric(float64(bodyLen)/(1<<20), "body-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		b.ReportMetric(float64(peak)/float64(bodyLen), "peak/body")
	})
}

// TestClientCheckNamesTheField: a field no call can use is refused, by Check and by every call
// (before any request), as an *OptionError naming the field.
func TestClientCheckNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		field string
		set   func(*Client)
	}{
		{"BaseURL", func(c *Client) { c.BaseURL = "" }},
		{"HTTP", func(c *Client) { c.HTTP = nil }},
		{"MaxRetries", func(c *Client) { c.MaxRetries = -1 }},
		{"MinBackoff", func(c *Client) { c.MinBackoff = 0 }},
		{"MaxBackoff", func(c *Client) { c.MaxBackoff = c.MinBackoff - time.Second }},
		{"MaxBodyBytes", func(c *Client) { c.MaxBodyBytes = 0 }},
	} {
		t.Run(tt.field, func(t *testing.T) {
			c := NewClient("http://127.0.0.1:1", testKey)
			if err := c.Check(); err != nil {
				t.Fatalf("NewClient's defaults refused: %v", err)
			}
			tt.set(c)
			for _, err := range []error{c.Check(), func() error { _, err := c.Sensors(context.Background(), SensorsQuery{}); return err }()} {
				var oe *OptionError
				if !errors.As(err, &oe) || oe.Option != tt.field {
					t.Errorf("got %v, want an *OptionError for %s", err, tt.field)
				}
			}
		})
	}
}
