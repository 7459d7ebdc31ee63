package purpleair

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// fakeClock is a wall clock that moves only when the plugin sleeps. After
// limit sleeps it blocks until Stop, so a test sees a bounded run.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
	limit  int
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	if len(c.sleeps) >= c.limit {
		c.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.t = c.t.Add(d)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func newPlugin(t *testing.T, clock *fakeClock, configure func(p *PurpleAir)) *PurpleAir {
	t.Helper()
	p := New()
	p.Log = testutil.Logger{}
	if clock != nil {
		p.now, p.sleep = clock.now, clock.sleep
	}
	configure(p)
	if err := p.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return p
}

// run starts the plugin, waits for n metrics and stops it.
func run(t *testing.T, p *PurpleAir, n int) *testutil.Accumulator {
	t.Helper()
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { acc.Wait(n); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.Stop()
		t.Fatalf("only %d of %d metrics arrived (errors: %v)", acc.NMetrics(), n, acc.Errors)
	}
	p.Stop()
	return acc
}

func TestInitErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.json")
	if err := os.WriteFile(file, []byte(`{"fields":[],"data":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HW_TEST_EMPTY_KEY", "")
	tests := []struct {
		name      string
		configure func(p *PurpleAir)
		wantErr   string
	}{
		{"defaults", func(*PurpleAir) {}, ""},
		{"bad source", func(p *PurpleAir) { p.Source = "mqtt" }, `source must be "api", "file" or "simulate", got "mqtt"`},
		{"bad tag", func(p *PurpleAir) { p.Tags = []string{"city"} }, `tags: unknown tag "city"`},
		{"bad timestamp", func(p *PurpleAir) { p.Timestamp = "now" }, `timestamp must be "data_time_stamp" or "last_seen"`},
		{"label_faults with the API", func(p *PurpleAir) { p.Source = "api"; p.APIKey = config.NewSecret([]byte("k")); p.LabelFaults = true }, `label_faults needs source = "simulate" or "file"`},
		{"api without key", func(p *PurpleAir) { p.Source = "api"; p.APIKeyEnv = "HW_TEST_EMPTY_KEY" }, `environment variable HW_TEST_EMPTY_KEY (api_key_env) is not set`},
		{"api without key or env", func(p *PurpleAir) { p.Source = "api"; p.APIKeyEnv = "" }, `needs api_key or api_key_env`},
		{"api poll too fast for live API", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.PollInterval = config.Duration(10 * time.Second)
		}, "poll_interval must be at least 1m0s against the live API"},
		{"api bad base_url", func(p *PurpleAir) { p.Source = "api"; p.APIKey = config.NewSecret([]byte("k")); p.BaseURL = "ftp://x" }, "base_url must be an http(s) URL"},
		{"api bad location_type", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.LocationType = "roof"
		}, `location_type must be "outside", "inside" or empty`},
		{"api bad bounding_box length", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.BoundingBox = []float64{1, 2}
		}, "bounding_box must be [nwlng, nwlat, selng, selat], got 2 numbers"},
		{"api bounding_box upside down", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.BoundingBox = []float64{-122, 37, -121, 38}
		}, "bounding_box: bounding box nwlat (37) must be north of selat (38)"},
		{"api bad show_only", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.ShowOnly = []int64{53, -1}
		}, "show_only: element 1 (-1)"},
		{"api bad field", func(p *PurpleAir) {
			p.Source = "api"
			p.APIKey = config.NewSecret([]byte("k"))
			p.Fields = []string{"a,b"}
		}, `fields: element 0 ("a,b")`},
		{"api negative max_retries", func(p *PurpleAir) { p.Source = "api"; p.APIKey = config.NewSecret([]byte("k")); p.MaxRetries = -2 }, "max_retries must not be negative, got -2"},
		{"file without path", func(p *PurpleAir) { p.Source = "file" }, "path must name an API-format JSON file"},
		{"file missing", func(p *PurpleAir) { p.Source = "file"; p.Path = filepath.Join(dir, "nope.json") }, "path: open"},
		{"file bad replay_rate", func(p *PurpleAir) { p.Source = "file"; p.Path = file; p.ReplayRate = -1 }, "replay_rate must be 0"},
		{"simulate sensors", func(p *PurpleAir) { p.Sensors = 0 }, "sensors must be in 1..1000000, got 0"},
		{"simulate fault_rate", func(p *PurpleAir) { p.FaultRate = 1 }, "fault_rate must be in [0, 1), got 1"},
		{"simulate faults", func(p *PurpleAir) { p.Faults = []string{"spike", "fire"} }, `faults has unknown fault kind "fire" (known: spike, stuck_high, flatline, dropout, ab_divergence, drift)`},
		{"simulate realistic fault", func(p *PurpleAir) { p.Faults = []string{"disconnect"} }, "faults has disconnect, which the realistic profile alone injects"},
		{"simulate zero start", func(p *PurpleAir) { p.StartAt = "0001-01-01T00:00:00Z" }, "start must be set"},
		{"simulate step", func(p *PurpleAir) { p.Step = config.Duration(time.Millisecond) }, "step must be at least 1s"},
		{"simulate speedup", func(p *PurpleAir) { p.Speedup = -2 }, "speedup must be 0 (as fast as possible) or positive"},
		{"simulate start", func(p *PurpleAir) { p.StartAt = "yesterday" }, `start: "yesterday" is neither RFC 3339`},
		{"simulate start duration", func(p *PurpleAir) { p.StartAt = "-24x" }, `start: "-24x" is neither`},
		{"simulate bounding_box", func(p *PurpleAir) { p.BoundingBox = []float64{10, 49, 11, 50} }, "bounding_box: bounding box"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			tt.configure(p)
			err := p.Init()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Init() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSampleConfigInREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```toml @sample.conf\n"+sampleConfig+"```") {
		t.Error("README.md's ```toml @sample.conf block differs from sample.conf")
	}
	// Every option in sample.conf is an option of the plugin, and the
	// documented defaults are New()'s.
	tags := map[string]reflect.Value{}
	var collect func(v reflect.Value)
	collect = func(v reflect.Value) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if tag := f.Tag.Get("toml"); tag != "" && tag != "-" {
				tags[tag] = v.Field(i)
			} else if f.Anonymous && f.Type.Kind() == reflect.Struct {
				collect(v.Field(i)) // Telegraf's embedded option structs (HTTP client, TLS, proxy)
			}
		}
	}
	collect(reflect.ValueOf(New()).Elem())
	// Accepted but deliberately not in sample.conf: the embedded HTTP client's OAuth2 and cookie
	// options, which Init refuses (TestHTTPOptionsRefused), and tls_enable, whose "unset" default
	// cannot be written as a value (an https base_url uses TLS either way).
	for _, name := range append([]string{"tls_enable"}, refusedHTTPOptions...) {
		if _, ok := tags[name]; !ok {
			t.Errorf("%q is not an option of the plugin", name)
		}
		if regexp.MustCompile(`(?m)^  # ` + name + ` =`).MatchString(sampleConfig) {
			t.Errorf("sample.conf documents %q, which the plugin refuses or leaves undocumented", name)
		}
		delete(tags, name)
	}
	option := regexp.MustCompile(`(?m)^  # ([a-z_]+) = (.*)$`)
	found := 0
	for _, m := range option.FindAllStringSubmatch(sampleConfig, -1) {
		found++
		field, ok := tags[m[1]]
		if !ok {
			t.Errorf("sample.conf documents %q, which the plugin does not have", m[1])
			continue
		}
		var def string
		switch x := field.Interface().(type) {
		case string:
			def = strconv.Quote(x)
		case config.Duration:
			def = m[2]
			if d, err := time.ParseDuration(strings.Trim(m[2], `"`)); err != nil || d != time.Duration(x) {
				def = strconv.Quote(time.Duration(x).String())
			}
		case config.Secret:
			def = `""`
		case float64:
			def = strconv.FormatFloat(x, 'f', -1, 64)
			if !strings.Contains(def, ".") {
				def += ".0"
			}
		case []string:
			if x == nil {
				def = "[]"
			} else {
				def = `["` + strings.Join(x, `", "`) + `"]`
			}
		case nil, []float64, []int64:
			def = "[]"
		default:
			def = fmt.Sprint(x)
		}
		if m[1] == "fields" {
			def = `["` + strings.Join(DefaultFields, `", "`) + `"]`
		}
		if def != m[2] {
			t.Errorf("sample.conf: %s = %s, but the default is %s", m[1], m[2], def)
		}
	}
	if found != len(tags) {
		t.Errorf("sample.conf documents %d options, the plugin has %d", found, len(tags))
	}
}

func TestStartTime(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tests := []struct{ in, want string }{
		{"", "2026-01-02T03:04:00Z"},
		{"-24h", "2026-01-01T03:04:00Z"},
		{"2024-04-11T00:00:00Z", "2024-04-11T00:00:00Z"},
		{"2024-04-11T02:00:00+02:00", "2024-04-11T00:00:00Z"},
	}
	for _, tt := range tests {
		p := newPlugin(t, clock, func(p *PurpleAir) { p.StartAt = tt.in })
		if got := p.simCfg.Start.Format(time.RFC3339); got != tt.want {
			t.Errorf("start %q → %s, want %s", tt.in, got, tt.want)
		}
	}
}

// The simulate source emits exactly the simulator's readings as metrics,
// paced by speedup until simulated time reaches the wall clock.
func TestSimulate(t *testing.T) {
	start := time.Date(2024, 4, 11, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start.Add(10 * time.Minute), limit: 8}
	p := newPlugin(t, clock, func(p *PurpleAir) {
		p.Sensors = 4
		p.Seed = 3
		p.FaultRate = 0.3
		p.LabelFaults = true
		p.StartAt = start.Format(time.RFC3339)
		p.Speedup = 60
		p.Tags = []string{"name", "location_type"}
	})
	const steps = 8
	acc := run(t, p, 4*steps)

	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.FaultRate, cfg.Start = 4, 3, 0.3, start
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []telegraf.Metric
	for range steps {
		r, labels := sim.NextResponse()
		for i := range r.Data {
			pt, err := r.Point(i, purpleair.PointOptions{TagName: true, TagLocationType: true, Faults: labels})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, metric.New(pt.Measurement, pt.Tags, pt.Fields, pt.Time))
		}
	}
	got := acc.GetTelegrafMetrics()[:4*steps]
	testutil.RequireMetricsEqual(t, want, got)
	for _, m := range got {
		if _, ok := m.GetTag("fault"); !ok {
			t.Fatalf("no fault tag: %v", m)
		}
		if m.Name() != "purpleair" || m.Tags()["location_type"] == "" || !strings.HasPrefix(m.Tags()["name"], "hazewatch-sim-") {
			t.Fatalf("metric %v", m)
		}
		if _, ok := m.GetField("sensor_index"); ok {
			t.Fatal("sensor_index is a field as well as a tag")
		}
		if _, ok := m.GetField("location_type"); ok {
			t.Fatal("location_type is a field as well as a tag")
		}
	}
	// 2 min steps at 60× are 2 s apart while behind the wall clock (10 min:
	// steps 0..5), then real time: step 6 at 12 min waits 2 min, and so on.
	sleeps := clock.recorded()
	wantSleeps := []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if len(sleeps) < 6 || fmt.Sprint(sleeps[:5]) != fmt.Sprint(wantSleeps) {
		t.Errorf("sleeps %v, want to start with %v", sleeps, wantSleeps)
	}
}

func TestSimulateWithoutLabels(t *testing.T) {
	clock := &fakeClock{t: time.Date(2024, 4, 11, 1, 0, 0, 0, time.UTC), limit: 1}
	p := newPlugin(t, clock, func(p *PurpleAir) { p.Sensors = 2; p.StartAt = "-1h"; p.Speedup = 0; p.Timestamp = "last_seen" })
	acc := run(t, p, 10)
	for _, m := range acc.GetTelegrafMetrics() {
		if _, ok := m.GetTag("fault"); ok {
			t.Fatal("fault tag without label_faults")
		}
		if len(m.Tags()) != 1 {
			t.Fatalf("tags %v, want only sensor_index", m.Tags())
		}
		seen, _ := m.GetField("last_seen")
		if m.Time().Unix() != int64(seen.(float64)) {
			t.Fatalf("time %v, last_seen %v", m.Time(), seen)
		}
	}
}

// The simulated fleet is placed inside bounding_box, as a user simulating
// their own region expects.
func TestSimulateBoundingBox(t *testing.T) {
	clock := &fakeClock{t: time.Date(2024, 4, 11, 1, 0, 0, 0, time.UTC), limit: 1}
	p := newPlugin(t, clock, func(p *PurpleAir) {
		p.Sensors = 20
		p.StartAt = "-2m"
		p.Speedup = 0
		p.BoundingBox = []float64{10.5, 50.25, 11, 49.75}
	})
	acc := run(t, p, 20)
	for _, m := range acc.GetTelegrafMetrics()[:20] {
		lng, _ := m.GetField("longitude")
		lat, _ := m.GetField("latitude")
		x, y := lng.(float64), lat.(float64)
		if x < 10.5 || x > 11 || y < 49.75 || y > 50.25 {
			t.Fatalf("sensor %s at (%v, %v), outside the bounding box", m.Tags()["sensor_index"], x, y)
		}
	}
}

// The snapshot read through the file source: 25,552 metrics, nulls absent,
// values exact, time = data_time_stamp.
func TestFileSnapshot(t *testing.T) {
	path := repotest.SharedData(t, repotest.SharedSnapshot)
	p := newPlugin(t, &fakeClock{t: time.Now(), limit: 1 << 30}, func(p *PurpleAir) { p.Source = "file"; p.Path = path })
	acc := run(t, p, 25552)
	ms := acc.GetTelegrafMetrics()
	if len(ms) != 25552 {
		t.Fatalf("%d metrics", len(ms))
	}
	bySensor := map[string]telegraf.Metric{}
	nullHumidity := 0
	for _, m := range ms {
		if m.Time().Unix() != 1712793665 {
			t.Fatalf("time %v, want data_time_stamp", m.Time())
		}
		bySensor[m.Tags()["sensor_index"]] = m
		if _, ok := m.GetField("humidity"); !ok {
			nullHumidity++
		}
	}
	if len(bySensor) != 25552 || nullHumidity != 965 {
		t.Errorf("%d distinct sensors, %d without humidity; want 25552, 965", len(bySensor), nullHumidity)
	}
	want := []telegraf.Metric{
		metric.New("purpleair", map[string]string{"sensor_index": "53"}, map[string]any{
			"date_created": 1454548891.0, "rssi": -50.0, "uptime": 10183.0, "latitude": 40.246742, "longitude": -111.7048,
			"pm1.0": 0.0, "pm2.5_alt": 2.1, "pm10.0": 0.0, "pm1.0_cf_1": 0.0, "pm2.5_atm": 0.0, "pm2.5_cf_1": 0.0, "pm10.0_cf_1": 0.0,
		}, time.Unix(1712793665, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "322"}, map[string]any{
			"date_created": 1473909821.0, "rssi": -68.0, "uptime": 17.0, "latitude": 35.224293, "longitude": -111.60618,
			"humidity": 36.0, "temperature": 39.0,
			"pm1.0": 0.3, "pm2.5_alt": 1.9, "pm10.0": 0.8, "pm1.0_cf_1": 0.3, "pm2.5_atm": 0.6, "pm2.5_cf_1": 0.6, "pm10.0_cf_1": 0.8,
		}, time.Unix(1712793665, 0)),
	}
	testutil.RequireMetricsEqual(t, want, []telegraf.Metric{bySensor["53"], bySensor["322"]})
}

func TestFileReplayAndBadRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replay.json")
	doc := func(ts int, rows string) string {
		return fmt.Sprintf(`{"data_time_stamp":%d,"fields":["sensor_index","name","pm2.5_cf_1"],"data":[%s]}`+"\n", ts, rows)
	}
	content := doc(100, `[1,"a",1.5],[2,"b"],[3,"c",{"x":1}],[4,"d",null]`) + doc(200, `[1,"a",2.5],[null,"e",3]`)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(0, 0), limit: 1 << 20}
	log := &testutil.CaptureLogger{}
	p := newPlugin(t, clock, func(p *PurpleAir) { p.Source = "file"; p.Path = path; p.ReplayRate = 2; p.Tags = []string{"name"} })
	p.Log = log
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	// Let the replay finish (it logs when done), then stop.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fmt.Sprint(log.Messages()), "replayed 2 metrics") {
		if time.Now().After(deadline) {
			t.Fatalf("replay did not finish: %v", log.Messages())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	want := []telegraf.Metric{
		metric.New("purpleair", map[string]string{"sensor_index": "1", "name": "a"}, map[string]any{"pm2.5_cf_1": 1.5}, time.Unix(100, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "1", "name": "a"}, map[string]any{"pm2.5_cf_1": 2.5}, time.Unix(200, 0)),
	}
	testutil.RequireMetricsEqual(t, want, acc.GetTelegrafMetrics())
	warnings := strings.Join(log.Warnings(), "\n")
	for _, w := range []string{
		"skipped 2 malformed rows of the response (first: purpleair: data row 1: 2 values, want 3",
		`skipped 1 rows that make no metric (first: purpleair: data row 3: no numeric field`,
		`skipped 1 rows that make no metric (first: purpleair: data row 1, column 0 ("sensor_index"): want an integer sensor index, got null`,
	} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, warnings)
		}
	}
	// Two metrics at 2 per second: the second is due 0.5 s after the first.
	if s := clock.recorded(); len(s) != 2 || s[0] != 0 || s[1] != 500*time.Millisecond {
		t.Errorf("replay sleeps %v, want [0s 500ms]", s)
	}
}

// A labelled simulation saved as API JSON (a text "fault" column) replays
// with its fault tags.
func TestFileFaultLabels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labelled.json")
	content := `{"data_time_stamp":100,"fields":["sensor_index","pm2.5_cf_1","fault"],"data":[[1,4999,"stuck_high"],[2,3,"none"],[3,4,null]]}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, nil, func(p *PurpleAir) { p.Source = "file"; p.Path = path; p.LabelFaults = true })
	acc := run(t, p, 3)
	want := []telegraf.Metric{
		metric.New("purpleair", map[string]string{"sensor_index": "1", "fault": "stuck_high"}, map[string]any{"pm2.5_cf_1": 4999.0}, time.Unix(100, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "2", "fault": "none"}, map[string]any{"pm2.5_cf_1": 3.0}, time.Unix(100, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "3", "fault": "none"}, map[string]any{"pm2.5_cf_1": 4.0}, time.Unix(100, 0)),
	}
	testutil.RequireMetricsEqual(t, want, acc.GetTelegrafMetrics())
}

func TestFileMalformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"fields":["sensor_index"],"data":[[1],[2]]}{"fields":["sensor_index","x"],"data":[[1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, nil, func(p *PurpleAir) { p.Source = "file"; p.Path = path })
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	acc.WaitError(1)
	p.Stop()
	if err := acc.FirstError(); err == nil || !strings.Contains(err.Error(), "bad.json: document 1: purpleair: truncated response") {
		t.Errorf("error %v", err)
	}
	if acc.NMetrics() != 0 {
		t.Errorf("%d metrics from rows without fields", acc.NMetrics())
	}
}

const apiKey = "SECRET-READ-KEY-1234"

// fakeAPI answers /v1/sensors from a script, recording requests.
type fakeAPI struct {
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter)
	requests []*http.Request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, r)
	a := f.answers[min(n, len(f.answers)-1)]
	f.mu.Unlock()
	if r.Header.Get("X-API-Key") != apiKey {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":"ApiKeyInvalidError","description":"The provided api_key was not valid."}`)
		return
	}
	a(w)
}

func (f *fakeAPI) got() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

func answer(status int, retryAfter, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestAPI(t *testing.T) {
	body := func(ts int, rows string) string {
		return fmt.Sprintf(`{"api_version":"V1.0.14-0.0.58","time_stamp":%d,"data_time_stamp":%d,"location_types":["outside","inside"],"max_age":604800,"firmware_default_version":"7.02","fields":["sensor_index","last_seen","name","location_type","pm2.5_cf_1","humidity"],"data":[%s]}`, ts+5, ts, rows)
	}
	api := &fakeAPI{answers: []func(http.ResponseWriter){
		answer(200, "", body(1000, `[53,990,"Provo",0,4.5,null],[77,995,"Inside",1,2.0,40]`)),
		answer(401, "", `{"error":"ApiKeyInvalidError","description":"bad key"}`),
		answer(429, "900", `{"error":"RateLimitExceededError","description":"slow"}`),
		answer(200, "", body(1600, `[53,1590,"Provo",0,5.5,30],[77,1595,"Inside",1]`)),
		answer(200, "", body(1900, ``)),
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("HW_TEST_PURPLEAIR_KEY", apiKey)
	clock := &fakeClock{t: time.Unix(5000, 0), limit: 4}
	log := &testutil.CaptureLogger{}
	p := newPlugin(t, clock, func(p *PurpleAir) {
		p.Source = "api"
		p.BaseURL = srv.URL
		p.APIKeyEnv = "HW_TEST_PURPLEAIR_KEY"
		p.PollInterval = config.Duration(5 * time.Minute)
		p.MaxRetries = 0 // retries are the client's business (tested there); here: one try per poll
		p.Fields = []string{"pm2.5_cf_1", "humidity"}
		p.Tags = []string{"name", "location_type"}
		p.Timestamp = "last_seen"
		p.LocationType = "outside"
		p.BoundingBox = []float64{-112, 41, -111, 40}
	})
	p.Log = log
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	// Wait for the 5th request (the loop then blocks in its 5th wait).
	deadline := time.Now().Add(10 * time.Second)
	for (len(api.got()) < 5 || len(clock.recorded()) < 4) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	reqs := api.got()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5 (waits %v, errors %v)", len(reqs), clock.recorded(), acc.Errors)
	}
	q := reqs[0].URL.Query()
	if q.Get("fields") != "pm2.5_cf_1,humidity,name,location_type,last_seen" || q.Get("location_type") != "0" ||
		q.Get("nwlng") != "-112" || q.Get("selat") != "40" || q.Has("modified_since") {
		t.Errorf("first query %v", q)
	}
	// Incremental polls ask for what changed since the last data_time_stamp.
	for i, want := range []string{"", "1000", "1000", "1000", "1600"} {
		if got := reqs[i].URL.Query().Get("modified_since"); got != want {
			t.Errorf("request %d modified_since = %q, want %q", i, got, want)
		}
	}
	want := []telegraf.Metric{
		metric.New("purpleair", map[string]string{"sensor_index": "53", "name": "Provo", "location_type": "outside"},
			map[string]any{"last_seen": 990.0, "pm2.5_cf_1": 4.5}, time.Unix(990, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "77", "name": "Inside", "location_type": "inside"},
			map[string]any{"last_seen": 995.0, "pm2.5_cf_1": 2.0, "humidity": 40.0}, time.Unix(995, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "53", "name": "Provo", "location_type": "outside"},
			map[string]any{"last_seen": 1590.0, "pm2.5_cf_1": 5.5, "humidity": 30.0}, time.Unix(1590, 0)),
	}
	testutil.RequireMetricsEqual(t, want, acc.GetTelegrafMetrics())
	// 401 and 429 are reported and polling goes on; the 429's Retry-After
	// (15 min) stretches that one wait beyond the 5 min interval.
	errs := fmt.Sprint(acc.Errors)
	if len(acc.Errors) != 2 || !strings.Contains(errs, "401 Unauthorized: ApiKeyInvalidError: bad key") || !strings.Contains(errs, "429 Too Many Requests") {
		t.Errorf("errors %v", acc.Errors)
	}
	if s := clock.recorded(); fmt.Sprint(s) != fmt.Sprint([]time.Duration{5 * time.Minute, 5 * time.Minute, 15 * time.Minute, 5 * time.Minute}) {
		t.Errorf("waits %v", s)
	}
	if w := strings.Join(log.Warnings(), "\n"); !strings.Contains(w, "skipped 1 malformed rows of the response (first: purpleair: data row 1: 4 values, want 6") {
		t.Errorf("warnings %q", w)
	}
	for _, s := range append(append([]string{errs}, log.Warnings()...), log.Errors()...) {
		if strings.Contains(s, apiKey) {
			t.Fatalf("the API key leaked: %s", s)
		}
	}
}

func TestAPIKeyFromConfig(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", `{"data_time_stamp":1,"fields":["sensor_index","pm2.5_cf_1"],"data":[[1,2]]}`)}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	p := newPlugin(t, &fakeClock{t: time.Unix(10, 0), limit: 0}, func(p *PurpleAir) {
		p.Source = "api"
		p.BaseURL = srv.URL
		p.APIKey = config.NewSecret([]byte(apiKey))
		p.APIKeyEnv = "HW_TEST_NOT_SET"
	})
	acc := run(t, p, 1)
	if v, ok := acc.FloatField("purpleair", "pm2.5_cf_1"); !ok || v != 2 {
		t.Errorf("pm2.5_cf_1 = %v, %v", v, ok)
	}
}

// The configuration as the execd command loads it (the shim's TOML
// decoding, api_key as a Telegraf secret) reaches the API as documented.
func TestConfigThroughShim(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", `{"data_time_stamp":1,"fields":["sensor_index","pm2.5_cf_1"],"data":[[1,2]]}`)}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	p, err := loadThroughShim(t, fmt.Sprintf(`  source = "api"
  api_key = %q
  base_url = %q
  poll_interval = "10s"
  fields = ["pm2.5_cf_1"]
  location_type = "inside"
  max_age = "1h"
  bounding_box = [-122.5, 38.0, -121.75, 37.25]
  show_only = [53, 77]
  incremental = false
  timeout = "5s"
  max_retries = 2
  tags = ["name"]
  timestamp = "last_seen"
`, apiKey, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	acc := run(t, p, 1)
	if acc.NMetrics() != 1 {
		t.Fatalf("%d metrics", acc.NMetrics())
	}
	req := api.got()[0]
	if req.Header.Get("X-API-Key") != apiKey {
		t.Error("configured api_key not sent")
	}
	want := "fields=pm2.5_cf_1%2Cname%2Clast_seen&location_type=1&max_age=3600&nwlat=38&nwlng=-122.5&selat=37.25&selng=-121.75&show_only=53%2C77"
	if got := req.URL.RawQuery; got != want {
		t.Errorf("query\n got %s\nwant %s", got, want)
	}
}

// The server may echo the key: a 403 repeating X-API-Key in its description, a body quoting it in a
// cell or a header. Nothing the input logs or reports may carry it.
func TestAPIKeyEchoedByServerIsRedacted(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){
		answer(403, "", `{"error":"ApiKeyRestrictedError","description":"The key `+apiKey+` may not read sensors."}`),
		answer(200, "", `{"data_time_stamp":1000,"fields":["sensor_index","pm2.5_cf_1"],"data":[["`+apiKey+`",1.5],[53,2.5]]}`),
		answer(200, "", `{"data_time_stamp":1000,"fields":["sensor_index","`+apiKey+`","`+apiKey+`"],"data":[]}`),
		answer(503, "", `{"error":"`+strings.ToLower(apiKey)+`","description":"x"}`),
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	clock := &fakeClock{t: time.Unix(5000, 0), limit: 3}
	log := &testutil.CaptureLogger{}
	p := newPlugin(t, clock, func(p *PurpleAir) {
		p.Source = "api"
		p.BaseURL = srv.URL
		p.APIKey = config.NewSecret([]byte(apiKey))
		p.MaxRetries = 0
	})
	p.Log = log
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for (len(api.got()) < 4 || len(clock.recorded()) < 3) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	var messages []string
	for _, e := range acc.Errors {
		messages = append(messages, e.Error())
	}
	messages = append(messages, log.Errors()...)
	messages = append(messages, log.Warnings()...)
	all := strings.Join(messages, "\n")
	if strings.Contains(strings.ToLower(all), strings.ToLower(apiKey)) {
		t.Errorf("the API key leaked:\n%s", all)
	}
	// The messages are still there, with the key replaced.
	for _, want := range []string{"ApiKeyRestrictedError: The key [redacted] may not read", `want an integer sensor index, got "[redacted]"`, `field "[redacted]" appears twice`, "503 Service Unavailable: [redacted]"} {
		if !strings.Contains(all, want) {
			t.Errorf("no message containing %q in:\n%s", want, all)
		}
	}
	if acc.NMetrics() != 1 {
		t.Errorf("%d metrics, want the one good row", acc.NMetrics())
	}
}

// A response without data_time_stamp gets the receive time, not Unix time 0, with one warning for
// however many such responses.
func TestMissingDataTimeStampFallsBackToReceiveTime(t *testing.T) {
	noStamp := `{"fields":["sensor_index","pm2.5_cf_1"],"data":[[53,2.5]]}`
	api := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", noStamp), answer(200, "", noStamp)}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	clock := &fakeClock{t: time.Unix(1712793665, 0), limit: 1}
	log := &testutil.CaptureLogger{}
	p := newPlugin(t, clock, func(p *PurpleAir) {
		p.Source = "api"
		p.BaseURL = srv.URL
		p.APIKey = config.NewSecret([]byte(apiKey))
		p.MaxRetries = 0
	})
	p.Log = log
	acc := run(t, p, 2)
	got := acc.GetTelegrafMetrics()
	if len(got) != 2 || !got[0].Time().Equal(time.Unix(1712793665, 0)) || !got[1].Time().Equal(time.Unix(1712793665+300, 0)) {
		for _, m := range got {
			t.Logf("%s %v", m.Name(), m.Time())
		}
		t.Fatalf("metrics not stamped with the receive times")
	}
	var warned int
	for _, w := range log.Warnings() {
		if strings.Contains(w, "no data_time_stamp") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings about the missing data_time_stamp, want 1: %q", warned, log.Warnings())
	}
	// modified_since follows the server's clock only: none was given.
	for _, r := range api.got() {
		if r.URL.Query().Has("modified_since") {
			t.Errorf("modified_since sent from a receive-time fallback: %s", r.URL.RawQuery)
		}
	}
}

// A file whose last document is cut short (a replay of a file still being written, a copy interrupted)
// gives every complete row of that document, then an error saying where the input ends.
func TestFileTruncatedLastDocumentKeepsCompleteRows(t *testing.T) {
	const rows = 12_800
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"data_time_stamp":1712793665,"fields":["sensor_index","pm2.5_cf_1"],"data":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "[%d,%d.5]", i+1, i%50)
		}
		b.WriteString("]}\n")
		return b.String()
	}
	full := doc(3)
	last := doc(rows)
	cut := strings.Index(last, fmt.Sprintf("[%d,", rows)) + 3 // inside the last row
	content := full + last[:cut]
	path := filepath.Join(t.TempDir(), "cut.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, nil, func(p *PurpleAir) { p.Source = "file"; p.Path = path })
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	acc.WaitError(1)
	p.Stop()
	if got, want := acc.NMetrics(), uint64(3+rows-1); got != want {
		t.Errorf("%d metrics, want %d (3 + every complete row of the cut document)", got, want)
	}
	err := acc.FirstError()
	if err == nil || !strings.Contains(err.Error(), "document 1: purpleair: truncated response: input ends at byte "+strconv.Itoa(len(content))) {
		t.Errorf("error %v, want it to say where the input ends (byte %d)", err, len(content))
	}
}
