package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// PresetPurpleAir is the PurpleAir QA preset of stream and batch (pkg/purpleair/qa).
const PresetPurpleAir = "purpleair"

// presetColumns are the preset's output columns, the contract its users test against; -detail adds
// since and detail.
var presetColumns = []string{"sensor_index", "score", "anomaly", "kind", "reason", "pm2.5_epa"}

// presetRequested reports whether args ask for a preset (-preset NAME or -preset=NAME), so that
// stream and batch hand over to runPreset before parsing their own flags.
func presetRequested(args []string) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if name == "preset" || strings.HasPrefix(name, "preset=") {
			return true
		}
	}
	return false
}

// runPreset is `hazewatch stream -preset purpleair` (causal: a row's result uses only the rows
// before it) and `hazewatch batch -preset purpleair` (the same pass, then each flagged episode is
// marked back to where it began).
func runPreset(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := qa.DefaultOptions()
	preset := fs.String("preset", "", "detection preset: purpleair")
	threshold := fs.Float64("threshold", def.Threshold, "a row is an anomaly when its score is at least this, in (0, 1]")
	window := fs.Int("window-size", def.WindowSize, "readings per window of each sensor's learned model (River window_size)")
	correction := fs.String("correction", string(def.Correction), "EPA correction of pm2.5_epa: us_wide (Barkjohn 2021, on pm2.5_cf_1_a/_b) or extended (Barkjohn 2022, on pm2.5_atm)")
	neighbours := fs.Int("neighbours", def.Neighbours, "nearest sensors that count as neighbours, where latitude and longitude are given")
	only := fs.Bool("only-anomalies", false, "print only the rows flagged as anomalies")
	detail := fs.Bool("detail", false, "add the columns since (when the episode began, RFC 3339) and detail (a short text)")
	fs.Usage = func() {
		what := "Streaming (causal: a row's result uses only the rows before it), one model per sensor."
		if cmd == "batch" {
			what = "Batch: the streaming pass over the whole file, then each flagged episode is marked back to\nwhere it began (a flatline from its first repeat, a drift from its onset)."
		}
		fmt.Fprintf(fs.Output(), `Usage: hazewatch %s -preset purpleair [flags] FILE

PurpleAir quality assurance: which sensors are broken and how (kind sensor), where the air itself
is unusual (kind air). %s

Input: CSV or API JSON with sensor_index, a time (column time as RFC 3339 or Unix seconds; else the
response's data_time_stamp; else last_seen), and any of pm2.5_cf_1_a, pm2.5_cf_1_b, pm2.5_cf_1,
pm2.5_atm, humidity, temperature, pressure, last_seen, latitude, longitude (empty = missing). Rows
in time order; sensors may be interleaved.
Output: CSV, one row per input row in input order: %s
  score in [0, 1], higher is more anomalous; anomaly 1 or 0 (score ≥ -threshold); kind sensor, air
  or empty; reason one of %s, or empty.

Flags:
`, cmd, what, strings.Join(presetColumns, ","), reasonNames())
		fs.PrintDefaults()
	}
	path, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if *preset != PresetPurpleAir {
		return usageError{fmt.Sprintf("-preset: want %s, got %q", PresetPurpleAir, *preset)}
	}
	opt := qa.Options{Threshold: *threshold, WindowSize: *window, Correction: qa.Correction(*correction), Neighbours: *neighbours}
	det, err := qa.New(opt)
	if err != nil {
		var oe *qa.OptionError
		if errors.As(err, &oe) {
			return usageError{fmt.Sprintf("-%s %s", presetFlag[oe.Option], oe.Reason)}
		}
		return err
	}
	rr, err := openRows(path, os.Stdin)
	if err != nil {
		return err
	}
	defer rr.Close()
	in, err := newPresetInput(rr)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, outputBufferSize)
	out := presetWriter{w: w, only: *only, detail: *detail}
	out.header()
	if cmd == "batch" {
		err = presetBatch(in, det, &out)
	} else {
		err = presetStream(in, det, &out)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// presetFlag is the command-line name of each qa option.
var presetFlag = map[string]string{"Threshold": "threshold", "WindowSize": "window-size", "Correction": "correction", "Neighbours": "neighbours"}

func reasonNames() string {
	names := make([]string, len(qa.Reasons))
	for i, r := range qa.Reasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// presetInput turns input rows into qa readings.
type presetInput struct {
	rr                         rowReader
	row                        []float64
	id, tm, lastSeen, lat, lon int
	cols                       []int       // per qa.FieldNames
	fields                     []qa.Fields // the field of each of cols
	carried                    qa.Fields
	line                       int // data rows read
	prev                       map[int64]time.Time
}

func newPresetInput(rr rowReader) (*presetInput, error) {
	in := &presetInput{rr: rr, row: make([]float64, len(rr.Header())), prev: make(map[int64]time.Time)}
	in.tm = rr.UseTime("time")
	in.lastSeen = rr.UseTime("last_seen")
	idx := rr.Use("sensor_index", "latitude", "longitude")
	in.id, in.lat, in.lon = idx[0], idx[1], idx[2]
	names := qa.FieldNames()
	in.cols = make([]int, len(names))
	in.fields = make([]qa.Fields, len(names))
	for i, name := range names {
		in.fields[i], _ = qa.FieldByName(name)
		in.cols[i] = rr.Use(name)[0]
		if in.cols[i] >= 0 {
			in.carried |= in.fields[i]
		}
	}
	if in.carried&(qa.FieldA|qa.FieldB|qa.FieldCF1) == 0 {
		return nil, fmt.Errorf("no particle column in the input: want pm2.5_cf_1_a and pm2.5_cf_1_b, or pm2.5_cf_1 (columns: %s)", strings.Join(rr.Header(), ", "))
	}
	return in, nil
}

// next reads the next row as a reading of sensor id; io.EOF after the last.
func (in *presetInput) next() (id int64, r qa.Reading, err error) {
	if err = in.rr.Next(in.row); err != nil {
		return 0, r, err
	}
	in.line++
	at := func(c int) float64 {
		if c < 0 {
			return math.NaN()
		}
		return in.row[c]
	}
	unix := func(v float64) time.Time {
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	}
	ts := at(in.tm)
	if math.IsNaN(ts) {
		ts = in.rr.Stamp()
	}
	if math.IsNaN(ts) {
		ts = at(in.lastSeen)
	}
	if math.IsNaN(ts) {
		return 0, r, fmt.Errorf("data row %d: no time: want a time column (RFC 3339 or Unix seconds), an API response's data_time_stamp, or last_seen", in.line)
	}
	r = qa.NewReading(unix(ts))
	if v := at(in.id); !math.IsNaN(v) {
		id = int64(v)
	}
	if p, ok := in.prev[id]; ok && r.Time.Before(p) {
		return 0, r, fmt.Errorf("data row %d: sensor %d goes back in time (%s after %s): want rows in time order", in.line, id, r.Time.Format(time.RFC3339), p.Format(time.RFC3339))
	}
	in.prev[id] = r.Time
	if v := at(in.lastSeen); !math.IsNaN(v) && in.lastSeen != in.tm {
		r.LastSeen = unix(v)
	}
	r.Carried = in.carried
	for i, f := range in.fields {
		*r.Value(f) = at(in.cols[i])
	}
	r.Lat, r.Lon = at(in.lat), at(in.lon)
	return id, r, nil
}

func presetStream(in *presetInput, det *qa.Detector, out *presetWriter) error {
	for {
		id, r, err := in.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		res := det.Observe(strconv.FormatInt(id, 10), r)
		out.row(id, &res)
	}
}

// presetBatch runs the streaming pass, keeping a qa.Mark of each row, then qa.Backfill marks each
// flagged episode back to where it began.
func presetBatch(in *presetInput, det *qa.Detector, out *presetWriter) error {
	var marks []qa.Mark
	for {
		id, r, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		res := det.Observe(strconv.FormatInt(id, 10), r)
		marks = append(marks, qa.MarkOf(id, &r, &res, out.detail))
	}
	qa.Backfill(marks, det.Options().Threshold)
	for i := range marks {
		m := &marks[i]
		res := qa.Result{Score: float64(m.Score), Anomaly: m.Anomaly, Kind: m.Kind, Reason: m.Reason,
			EPA: float64(m.EPA), Detail: m.Detail}
		if m.Anomaly {
			res.Since = time.Unix(0, m.Since).UTC()
		}
		out.row(m.Sensor, &res)
	}
	return nil
}

// presetWriter writes the preset's CSV.
type presetWriter struct {
	w            *bufio.Writer
	only, detail bool
	buf          []byte
}

func (p *presetWriter) header() {
	p.w.WriteString(strings.Join(presetColumns, ","))
	if p.detail {
		p.w.WriteString(",since,detail")
	}
	p.w.WriteByte('\n')
}

func (p *presetWriter) row(id int64, res *qa.Result) {
	if p.only && !res.Anomaly {
		return
	}
	b := p.buf[:0]
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, res.Score, 'g', 6, 64)
	if res.Anomaly {
		b = append(b, ",1,"...)
	} else {
		b = append(b, ",0,"...)
	}
	b = append(b, res.Kind...)
	b = append(b, ',')
	b = append(b, res.Reason...)
	b = append(b, ',')
	if !math.IsNaN(res.EPA) {
		b = strconv.AppendFloat(b, res.EPA, 'f', 2, 64)
	}
	if p.detail {
		b = append(b, ',')
		if res.Anomaly {
			b = res.Since.AppendFormat(b, time.RFC3339)
		}
		b = append(b, ',')
		b = appendCSVField(b, res.Detail)
	}
	b = append(b, '\n')
	p.w.Write(b)
	p.buf = b
}

// appendCSVField appends s as one CSV field, quoted when it must be (RFC 4180).
func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}
