package purpleair

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// simConfig is DefaultSimulatorConfig with set's changes.
func simConfig(set func(*SimulatorConfig)) SimulatorConfig {
	c := DefaultSimulatorConfig()
	set(&c)
	return c
}

func mustSim(t testing.TB, cfg SimulatorConfig) *Simulator {
	t.Helper()
	s, err := NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSimulatorDeterministic(t *testing.T) {
	cfg := simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 20, 42, 0.05 })
	var out [2]bytes.Buffer
	for k := range out {
		s := mustSim(t, cfg)
		for range 50 {
			r, labels := s.NextResponse()
			if err := WriteLineProtocol(&out[k], r, PointOptions{TagName: true, TagLocationType: true, Faults: labels}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Fatal("same seed, different output")
	}
	other := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 20, 43, 0.05 }))
	var buf bytes.Buffer
	for range 50 {
		r, labels := other.NextResponse()
		_ = WriteLineProtocol(&buf, r, PointOptions{TagName: true, TagLocationType: true, Faults: labels})
	}
	if bytes.Equal(out[0].Bytes(), buf.Bytes()) {
		t.Fatal("different seeds, same output")
	}
}

func TestSimulatorTime(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	s := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Start, c.Step = 2, start, 30*time.Second }))
	for i := range 3 {
		ts, rs := s.Next()
		if want := start.Add(time.Duration(i) * 30 * time.Second); !ts.Equal(want) {
			t.Errorf("step %d at %v, want %v", i, ts, want)
		}
		for _, r := range rs {
			seen := int64(r.Values[sfLastSeen].Num)
			if seen > ts.Unix() || seen < ts.Unix()-30 {
				t.Errorf("last_seen %d outside (%d-30s, %d]", seen, ts.Unix(), ts.Unix())
			}
		}
	}
	if d := mustSim(t, DefaultSimulatorConfig()); d.Config().Sensors != 50 || d.Config().Step != 2*time.Minute || !d.Time().Equal(time.Date(2024, 4, 11, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults %+v", d.Config())
	}
}

// The clean signal looks like PurpleAir data: plausible ranges, the API's
// CF=1 average of A and B, ATM ≤ CF=1, and a daily PM2.5 cycle.
func TestSimulatorRealistic(t *testing.T) {
	s := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed = 30, 7 }))
	hourly := make([]float64, 24)
	counts := make([]float64, 24)
	for step := 0; step < 7*24*30; step++ { // a week at 2 min
		ts, rs := s.Next()
		for _, r := range rs {
			v := r.Values
			if r.Fault != FaultNone {
				t.Fatalf("fault %s with fault_rate 0", r.Fault)
			}
			for c := range v {
				if c != sfName && v[c].Kind != KindNumber {
					t.Fatalf("%s is %v without a fault", SimulatorFields[c], v[c].Kind)
				}
			}
			hum, temp, press := v[sfHumidity].Num, v[sfTemperature].Num, v[sfPressure].Num
			if hum < 5 || hum > 100 || temp < 20 || temp > 110 || press < 950 || press > 1050 {
				t.Fatalf("implausible environment: humidity %v, temperature %v °F, pressure %v", hum, temp, press)
			}
			a, b, cf1 := v[sfPM25A].Num, v[sfPM25B].Num, v[sfPM25CF1].Num
			if math.Abs((a+b)/2-cf1) > 0.051 {
				t.Fatalf("pm2.5_cf_1 %v is not the mean of A %v and B %v", cf1, a, b)
			}
			if cf1 < 0 || cf1 > 500 || v[sfPM25ATM].Num > cf1+0.05 {
				t.Fatalf("pm2.5_cf_1 %v, atm %v", cf1, v[sfPM25ATM].Num)
			}
			if v[sfPM1CF1].Num > cf1+0.05 || v[sfPM10CF1].Num < cf1-0.05 {
				t.Fatalf("pm1 %v ≤ pm2.5 %v ≤ pm10 %v violated", v[sfPM1CF1].Num, cf1, v[sfPM10CF1].Num)
			}
			if v[sfLocationType].Num == LocationOutside {
				h := int(math.Mod(float64(ts.Unix()%86400)/3600+v[sfLongitude].Num/15+48, 24))
				hourly[h] += cf1
				counts[h]++
			}
		}
	}
	for h := range hourly {
		hourly[h] /= counts[h]
	}
	// Evening peak (21h) well above the afternoon minimum (15h).
	if hourly[21] < 1.3*hourly[15] {
		t.Errorf("no diurnal cycle: mean PM2.5 at 21h %.1f vs 15h %.1f", hourly[21], hourly[15])
	}
}

// Fault labels match what was injected: every reading labelled none equals
// the same reading of a fault-free fleet, and every labelled reading shows
// its fault.
func TestSimulatorFaultLabels(t *testing.T) {
	const sensors, steps, rate = 50, 2000, 0.2
	clean := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed = sensors, 9 }))
	faulty := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = sensors, 9, rate }))
	seen := map[FaultKind]int{}
	prev := make([][]Value, sensors)
	for step := range steps {
		_, cr := clean.Next()
		_, fr := faulty.Next()
		for i := range fr {
			c, f := cr[i].Values, fr[i].Values
			kind := fr[i].Fault
			seen[kind]++
			differs := func(cols ...int) bool {
				for _, col := range cols {
					if c[col] != f[col] {
						return true
					}
				}
				return false
			}
			switch kind {
			case FaultNone:
				if !slices.Equal(c, f) {
					t.Fatalf("step %d sensor %d labelled none but differs from the clean fleet", step, i)
				}
			case FaultSpike:
				if f[sfPM25CF1].Num < c[sfPM25CF1].Num*4+40 {
					t.Fatalf("spike: pm2.5_cf_1 %v vs clean %v", f[sfPM25CF1].Num, c[sfPM25CF1].Num)
				}
			case FaultStuckHigh:
				if math.Max(f[sfPM25A].Num, f[sfPM25B].Num) < 4800 || f[sfPM25CF1].Num < 2400 {
					t.Fatalf("stuck_high: A %v B %v", f[sfPM25A].Num, f[sfPM25B].Num)
				}
			case FaultFlatline:
				if !slices.Equal(f[sfHumidity:], prev[i][sfHumidity:]) {
					t.Fatalf("flatline: measurements changed")
				}
			case FaultDropout:
				nulls := 0
				for _, v := range f {
					if v.Kind == KindNull {
						nulls++
					}
				}
				if nulls < 3 {
					t.Fatalf("dropout with %d null fields", nulls)
				}
			case FaultABDivergence:
				if !differs(sfPM25A, sfPM25B) && c[sfPM25A].Num+c[sfPM25B].Num > 0 {
					t.Fatalf("ab_divergence left the channels unchanged")
				}
				ra, rb := f[sfPM25A].Num/max(c[sfPM25A].Num, 1e-9), f[sfPM25B].Num/max(c[sfPM25B].Num, 1e-9)
				if c[sfPM25A].Num > 1 && c[sfPM25B].Num > 1 && math.Abs(ra-rb) < 0.5 {
					t.Fatalf("ab_divergence ratios A %v B %v", ra, rb)
				}
			case FaultDrift:
				if !differs(sfPM25A, sfPM25B) && c[sfPM25A].Num > 0.5 && c[sfPM25B].Num > 0.5 {
					t.Fatalf("drift left the channels unchanged")
				}
			default:
				t.Fatalf("unknown label %q", kind)
			}
			prev[i] = f
		}
	}
	for _, k := range FaultKinds {
		if seen[k] == 0 {
			t.Errorf("no %s injected in %d readings", k, sensors*steps)
		}
	}
	// About FaultRate of the readings are faulty.
	if got := 1 - float64(seen[FaultNone])/(sensors*steps); math.Abs(got-rate) > 0.05 {
		t.Errorf("faulty fraction %.3f, want about %.2f", got, rate)
	}
	t.Logf("labels: %v", seen)
}

func TestSimulatorFaultSelection(t *testing.T) {
	s := mustSim(t, simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.FaultRate, c.Faults = 10, 1, 0.2, []FaultKind{FaultDropout}
	}))
	for range 100 {
		_, rs := s.Next()
		for _, r := range rs {
			if r.Fault != FaultNone && r.Fault != FaultDropout {
				t.Fatalf("fault %s not enabled", r.Fault)
			}
		}
	}
}

func TestSimulatorConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     SimulatorConfig
		wantErr string
	}{
		{DefaultSimulatorConfig(), ""},
		{simConfig(func(c *SimulatorConfig) { c.Sensors = -1 }), "SimulatorConfig.Sensors must be"},
		{simConfig(func(c *SimulatorConfig) { c.FaultRate = 1.5 }), "SimulatorConfig.FaultRate must be in [0, 1)"},
		{simConfig(func(c *SimulatorConfig) { c.FaultRate = 1 }), "SimulatorConfig.FaultRate must be in [0, 1)"},
		{simConfig(func(c *SimulatorConfig) { c.FaultRate = math.NaN() }), "SimulatorConfig.FaultRate"},
		{simConfig(func(c *SimulatorConfig) { c.Step = time.Millisecond }), "SimulatorConfig.Step must be at least 1s"},
		{simConfig(func(c *SimulatorConfig) { c.Faults = []FaultKind{"melted"} }), `SimulatorConfig.Faults has unknown fault kind "melted"`},
		{simConfig(func(c *SimulatorConfig) { c.FaultRate, c.Faults = 0.1, []FaultKind{} }), "SimulatorConfig.Faults is empty"},
		// A zero is refused, not read as a default.
		{simConfig(func(c *SimulatorConfig) { c.Sensors = 0 }), "SimulatorConfig.Sensors must be in 1..1000000, got 0"},
		{simConfig(func(c *SimulatorConfig) { c.Step = 0 }), "SimulatorConfig.Step must be at least 1s, got 0s"},
		{simConfig(func(c *SimulatorConfig) { c.Start = time.Time{} }), "SimulatorConfig.Start must be set"},
		{simConfig(func(c *SimulatorConfig) { c.FirstSensorIndex = 0 }), "SimulatorConfig.FirstSensorIndex must be at least 1"},
		{simConfig(func(c *SimulatorConfig) { c.Region = BoundingBox{} }), "SimulatorConfig.Region is not a valid box"},
		{simConfig(func(c *SimulatorConfig) { c.Profile = "" }), `SimulatorConfig.Profile must be basic or realistic, got ""`},
		{SimulatorConfig{}, "SimulatorConfig.Sensors must be"},
	}
	for _, tt := range tests {
		_, err := NewSimulator(tt.cfg)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.wantErr)
		}
		var oe *OptionError
		if err != nil && (!errors.As(err, &oe) || oe.Config != "SimulatorConfig") {
			t.Errorf("%v: not an *OptionError of SimulatorConfig", err)
		}
	}
}

func TestWriteLineProtocol(t *testing.T) {
	r := &Response{
		DataTimeStamp: 1712793665,
		LocationTypes: []string{"outside", "inside"},
		Fields:        []string{"sensor_index", "name", "last_seen", "location_type", "humidity", "pm2.5_cf_1"},
		Data: [][]Value{
			{Number(53), String("Provo, UT = home"), Number(1712793600), Number(1), Null, Number(0)},
			{Number(77), Null, Null, Number(0), Number(43), Number(15.8)},
		},
	}
	tests := []struct {
		name string
		opt  PointOptions
		want string
	}{
		{"plain", PointOptions{},
			"purpleair,sensor_index=53 last_seen=1712793600,location_type=1,pm2.5_cf_1=0 1712793665000000000\n" +
				"purpleair,sensor_index=77 humidity=43,location_type=0,pm2.5_cf_1=15.8 1712793665000000000\n"},
		{"tags, last_seen, faults", PointOptions{TagName: true, TagLocationType: true, UseLastSeen: true, Faults: []FaultKind{FaultSpike, FaultNone}},
			`purpleair,fault=spike,location_type=inside,name=Provo\,\ UT\ \=\ home,sensor_index=53 last_seen=1712793600,pm2.5_cf_1=0 1712793600000000000` + "\n" +
				"purpleair,fault=none,location_type=outside,sensor_index=77 humidity=43,pm2.5_cf_1=15.8 1712793665000000000\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := WriteLineProtocol(&buf, r, tt.opt); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, buf.String(), tt.want)
		}
	}
	bad := &Response{Fields: []string{"sensor_index", "x"}, Data: [][]Value{{Null, Number(1)}}}
	if err := WriteLineProtocol(&bytes.Buffer{}, bad, PointOptions{}); err == nil || !strings.Contains(err.Error(), `data row 0, column 0 ("sensor_index"): want an integer sensor index, got null`) {
		t.Errorf("row without sensor_index: %v", err)
	}
	empty := &Response{Fields: []string{"sensor_index", "x"}, Data: [][]Value{{Number(1), Null}}}
	if err := WriteLineProtocol(&bytes.Buffer{}, empty, PointOptions{}); err == nil || !strings.Contains(err.Error(), "no numeric field") {
		t.Errorf("row without fields: %v", err)
	}
	if err := WriteAPIJSON(&bytes.Buffer{}, &Response{Fields: []string{"a"}, Data: [][]Value{{Number(math.Inf(1))}}}); err == nil {
		t.Error("WriteAPIJSON wrote +Inf")
	}
}

func BenchmarkSimulatorStep1000(b *testing.B) {
	s := mustSim(b, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 1000, 1, 0.01 }))
	b.ReportAllocs()
	for b.Loop() {
		s.Next()
	}
}

func TestWriteSimulation(t *testing.T) {
	cfg := simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 3, 5, 0.2 })
	var js, lp bytes.Buffer
	if err := WriteSimulation(&js, mustSim(t, cfg), SimulationOutput{Format: FormatAPIJSON, Steps: 4}); err != nil {
		t.Fatal(err)
	}
	if err := WriteSimulation(&lp, mustSim(t, cfg), SimulationOutput{Format: FormatLineProtocol, Steps: 4, LabelFaults: true, Point: PointOptions{TagName: true}}); err != nil {
		t.Fatal(err)
	}
	// The JSON stream reads back as 4 documents whose metrics are the line protocol.
	sim := mustSim(t, cfg)
	d := NewDecoder(&js)
	var fromJSON bytes.Buffer
	for i := range 4 {
		r, err := d.Decode()
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		want, labels := sim.NextResponse()
		assertSameResponse(t, r, want)
		if err := WriteLineProtocol(&fromJSON, r, PointOptions{TagName: true, Faults: labels}); err != nil {
			t.Fatal(err)
		}
	}
	if fromJSON.String() != lp.String() {
		t.Errorf("line protocol differs from the JSON's metrics")
	}
	if n := strings.Count(lp.String(), "\n"); n != 12 || !strings.Contains(lp.String(), ",fault=none,") {
		t.Errorf("%d lines:\n%s", n, lp.String())
	}
	for _, bad := range []SimulationOutput{{Format: "csv", Steps: 1}, {Format: FormatAPIJSON}} {
		if err := WriteSimulation(&bytes.Buffer{}, mustSim(t, cfg), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// WriteLineProtocol's direct path writes exactly what AppendLineProtocol
// writes for the rows' Points, for every option combination.
func TestWriteLineProtocolMatchesPoints(t *testing.T) {
	sim := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 30, 11, 0.3 }))
	var responses []*Response
	var labels [][]FaultKind
	for range 40 {
		r, l := sim.NextResponse()
		responses = append(responses, r)
		labels = append(labels, l)
	}
	if snap, err := DecodeBytes(readSnapshotOrNil(t), false); err == nil && snap != nil {
		responses = append(responses, snap)
		labels = append(labels, nil)
	}
	for mask := range 16 {
		for k, r := range responses {
			if len(r.Data) > 1000 && mask != 0 {
				continue // the snapshot has no name, location_type or last_seen column: default options suffice
			}
			opt := PointOptions{TagName: mask&1 != 0, TagLocationType: mask&2 != 0, UseLastSeen: mask&4 != 0}
			if mask&8 != 0 {
				opt.Faults = labels[k]
				opt.Measurement = "pa test"
			}
			var direct bytes.Buffer
			if err := WriteLineProtocol(&direct, r, opt); err != nil {
				t.Fatal(err)
			}
			var viaPoints []byte
			for i := range r.Data {
				p, err := r.Point(i, opt)
				if err != nil {
					t.Fatal(err)
				}
				viaPoints = AppendLineProtocol(viaPoints, p)
			}
			if !bytes.Equal(direct.Bytes(), viaPoints) {
				t.Fatalf("options %+v, response %d: direct and Point line protocol differ", opt, k)
			}
		}
	}
}

// readSnapshotOrNil is the snapshot when available, for tests that also
// work without it.
func readSnapshotOrNil(t *testing.T) []byte {
	p, err := repotest.FindSharedData(repotest.SharedSnapshot)
	if err != nil {
		t.Log(err)
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkPointsSnapshot(b *testing.B) {
	r, err := DecodeBytes(readSnapshot(b), false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range r.Data {
			if _, err := r.Point(i, PointOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWriteLineProtocolSnapshot(b *testing.B) {
	r, err := DecodeBytes(readSnapshot(b), false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteLineProtocol(io.Discard, r, PointOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
