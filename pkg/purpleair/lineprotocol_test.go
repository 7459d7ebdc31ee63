package purpleair

import (
	"bytes"
	"io"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/hazewatch/hazewatch/internal/cputime"
)

// parseLines reads line protocol with Telegraf's own parser, as outputs and processors.execd do.
func parseLines(t *testing.T, b []byte) []telegraf.Metric {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse(b)
	if err != nil {
		t.Fatalf("Telegraf cannot parse %q: %v", b, err)
	}
	return ms
}

// Names, tags and string fields with line protocol's special characters come back from Telegraf's
// parser as they went in. Not among them: a backslash right before a space, comma or equals sign in
// a name, key or tag, which no line reads back as written (Telegraf's parser takes "\\," as an
// escaped backslash and a separator, and unescapes only "\,", "\=", "\ " and "\"").
func TestLineProtocolRoundTrip(t *testing.T) {
	tm := time.Unix(1712793665, 123)
	awkward := []string{
		"plain", "with space", "comma,inside", "equals=inside", `a "quoted" name`, `back\slash`,
		`two\\back\slashes`, "all , = \" \\x mixed", "trailing space ", " leading", "Zürich ☁",
	}
	for _, s := range awkward {
		p := Point{
			Measurement: "m " + s,
			Tags:        map[string]string{"sensor_index": "1", "k " + s: s, "name": s},
			Fields: map[string]any{
				"f " + s: 1.5,
				"text":   s + "\nsecond line\r\n\ttabbed \\\" end\\",
				"count":  int64(-3),
				"big":    uint64(math.MaxUint64),
			},
			Time: tm,
		}
		line := AppendLineProtocol(nil, p)
		if bytes.Count(line, []byte("\n")) != 3 || !bytes.HasSuffix(line, []byte("\n")) {
			// The string field carries two newlines; the line ends with the third.
			t.Errorf("%q: line %q", s, line)
		}
		ms := parseLines(t, line)
		if len(ms) != 1 {
			t.Fatalf("%q: %d metrics from %q", s, len(ms), line)
		}
		m := ms[0]
		if m.Name() != p.Measurement {
			t.Errorf("measurement %q came back as %q (line %q)", p.Measurement, m.Name(), line)
		}
		if !maps.Equal(m.Tags(), p.Tags) {
			t.Errorf("tags %q came back as %q (line %q)", p.Tags, m.Tags(), line)
		}
		if !maps.Equal(m.Fields(), p.Fields) {
			t.Errorf("fields %#v came back as %#v (line %q)", p.Fields, m.Fields(), line)
		}
		if !m.Time().Equal(tm) {
			t.Errorf("%q: time %v, want %v", s, m.Time(), tm)
		}
	}
}

// What line protocol cannot carry is left out as Telegraf leaves it out, never written as a broken
// line: an empty tag value, a trailing backslash in a tag (the escape would swallow the separator),
// NaN; a Point with nothing to write is an error of WriteLineProtocol and appends nothing.
func TestLineProtocolLeavesOutWhatItCannotCarry(t *testing.T) {
	p := Point{
		Measurement: "purpleair",
		Tags:        map[string]string{"sensor_index": "7", "empty": "", "name": `ends in \`},
		Fields:      map[string]any{"pm": 2.0, "bad": math.NaN()},
		Time:        time.Unix(10, 0),
	}
	line := AppendLineProtocol(nil, p)
	want := `purpleair,name=ends\ in\ ,sensor_index=7 pm=2 10000000000` + "\n"
	if string(line) != want {
		t.Errorf("got %q\nwant %q", line, want)
	}
	parseLines(t, line)
	if b := AppendLineProtocol([]byte("x"), Point{Measurement: "m", Fields: map[string]any{"nan": math.NaN()}}); string(b) != "x" {
		t.Errorf("a point without a writable field appended %q", b)
	}
	r := &Response{Fields: []string{"sensor_index", "nan"}, Data: [][]Value{{Number(1), Number(1)}, {Number(2), Number(math.NaN())}}}
	var buf bytes.Buffer
	err := WriteLineProtocol(&buf, r, PointOptions{})
	if err == nil || !strings.Contains(err.Error(), "data row 1") || !strings.Contains(err.Error(), "no field that line protocol can carry") {
		t.Errorf("row with only NaN: %v", err)
	}
}

// WriteLineProtocol of a simulated fleet reads back through Telegraf's parser as the rows' Points.
func TestWriteLineProtocolParsesAsPoints(t *testing.T) {
	sim := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 50, 3, 0.2 }))
	r, labels := sim.NextResponse()
	opt := PointOptions{TagName: true, TagLocationType: true, UseLastSeen: true, Faults: labels, Measurement: "pa, sim"}
	var buf bytes.Buffer
	if err := WriteLineProtocol(&buf, r, opt); err != nil {
		t.Fatal(err)
	}
	ms := parseLines(t, buf.Bytes())
	if len(ms) != len(r.Data) {
		t.Fatalf("%d metrics for %d rows", len(ms), len(r.Data))
	}
	for i, m := range ms {
		p, err := r.Point(i, opt)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() != p.Measurement || !m.Time().Equal(p.Time) || !maps.Equal(m.Tags(), p.Tags) || !maps.Equal(m.Fields(), p.Fields) {
			t.Errorf("row %d: %s %v %v %v, want %+v", i, m.Name(), m.Tags(), m.Fields(), m.Time(), p)
		}
	}
}

// awkwardStrings have every byte that line protocol escapes or cannot carry, alone and together.
var awkwardStrings = []string{
	"", "plain", "with space", "comma,inside", "equals=inside", `a "quoted" name`, `back\slash`,
	`ends in \`, `ends in \\`, `\`, "tab\there", "new\nline", "cr\rlf\n", "form\ffeed", " ,=\"\\",
	"Zürich ☁", "\x00nul", "trailing space ", `back\,slash`,
}

// telegrafLine is what Telegraf's influx serializer writes for p, configured as the execd children
// write the input's and the processor's metrics (internal/execd), with fields sorted.
func telegrafLine(t *testing.T, p Point) (string, error) {
	t.Helper()
	s := &serializer.Serializer{SortFields: true, UintSupport: true}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	b, err := s.Serialize(metric.New(p.Measurement, p.Tags, p.Fields, p.Time))
	return string(b), err
}

// The hand-written writer is Telegraf's serializer, byte for byte, for names, tag keys and values,
// field keys and string values made of every awkward string, and for the values line protocol
// cannot carry; where the serializer refuses a point, AppendLineProtocol appends nothing.
func TestLineProtocolMatchesTelegraf(t *testing.T) {
	tm := time.Unix(1712793665, 5)
	var points []Point
	for _, s := range awkwardStrings {
		points = append(points,
			Point{Measurement: s, Tags: map[string]string{"sensor_index": "1"}, Fields: map[string]any{"x": 1.0}, Time: tm},
			Point{Measurement: "m", Tags: map[string]string{s: "v", "name": s}, Fields: map[string]any{"x": 1.0}, Time: tm},
			Point{Measurement: "m", Fields: map[string]any{s: 2.5, "s": s, "z": 0.1}, Time: tm},
		)
	}
	points = append(points,
		Point{Measurement: "m", Fields: map[string]any{"nan": math.NaN(), "inf": math.Inf(-1), "ok": -1e-7}, Time: tm},
		Point{Measurement: "m", Fields: map[string]any{"nan": math.NaN()}, Time: tm},
		Point{Measurement: "m", Fields: map[string]any{"i": int64(math.MinInt64), "u": uint64(math.MaxUint64), "b": true, "f": 1e21, "g": 123456789.125}, Time: tm},
		Point{Measurement: "m", Fields: map[string]any{"unknown": []int{1}, "ok": 1.0}, Time: tm},
		Point{Measurement: "m", Fields: map[string]any{}, Time: tm},
	)
	for _, p := range points {
		want, werr := telegrafLine(t, p)
		got := string(AppendLineProtocol([]byte("prefix:"), p))
		if werr != nil {
			if got != "prefix:" {
				t.Errorf("%+v: Telegraf refuses it (%v); appended %q", p, werr, got)
			}
			continue
		}
		if got != "prefix:"+want {
			t.Errorf("%+v:\n got %q\nwant %q (Telegraf)", p, got, want)
		}
	}

	// The column path too, with awkward names and measurement.
	r := &Response{DataTimeStamp: 1712793665, Fields: []string{"sensor_index", "name", "a b,c=d", "nan"}}
	for i, s := range awkwardStrings {
		r.Data = append(r.Data, []Value{Number(float64(i)), String(s), Number(float64(i) / 3), Number(math.NaN())})
	}
	opt := PointOptions{TagName: true, Measurement: "pa, test", Faults: make([]FaultKind, len(r.Data))}
	for i := range opt.Faults {
		opt.Faults[i] = FaultKind(awkwardStrings[len(awkwardStrings)-1-i])
	}
	var got bytes.Buffer
	if err := WriteLineProtocol(&got, r, opt); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range r.Data {
		p, err := r.Point(i, opt)
		if err != nil {
			t.Fatal(err)
		}
		line, err := telegrafLine(t, p)
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(line)
	}
	if got.String() != want.String() {
		t.Errorf("WriteLineProtocol:\n got %q\nwant %q (Telegraf)", got.String(), want.String())
	}
}

// BenchmarkWriteLineProtocol writes the snapshot (skipped, saying why, when the shared data is
// absent) and a large simulated response with every tag option, the shape `hazewatch simulate
// -format lp -label-faults` writes step after step.
func BenchmarkWriteLineProtocol(b *testing.B) {
	b.Run("doc=snapshot", func(b *testing.B) {
		r, err := DecodeBytes(readSnapshot(b), false)
		if err != nil {
			b.Fatal(err)
		}
		benchmarkWriteLineProtocol(b, r, PointOptions{})
	})
	b.Run("doc=simulated", func(b *testing.B) {
		r, labels := mustSim(b, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 5000, 1, 0.05 })).NextResponse()
		benchmarkWriteLineProtocol(b, r, PointOptions{TagName: true, TagLocationType: true, Faults: labels})
	})
}

func benchmarkWriteLineProtocol(b *testing.B, r *Response, opt PointOptions) {
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		if err := WriteLineProtocol(io.Discard, r, opt); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
