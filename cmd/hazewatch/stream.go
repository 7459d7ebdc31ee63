package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// streamConfig holds the streaming pipeline's parameters; the defaults are the reference flow's
// (bytewax/ml-iot): River's HalfSpaceTrees(n_trees=10, height=8, window_size=72,
// limits={'pm1.0_cf_1': (0, 1200)}, seed=11) behind a running-mean StatImputer, threshold 0.7.
type streamConfig struct {
	fields    []string
	hst       hst.Options
	impute    string
	alpha     float64
	threshold float64
	perSensor bool // one model and imputers per sensor_index, not one global stream
	raw       bool // anomaly as the reference prints it, true/false, instead of 1/0
}

func runStream(args []string, stdout, stderr io.Writer) error {
	if presetRequested(args) {
		return runPreset("stream", args, stdout, stderr)
	}
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	fields := fs.String("fields", "pm1.0_cf_1", "comma-separated fields that form the feature vector")
	limits := fs.String("limits", "pm1.0_cf_1=0:1200", "per-field Half-Space Trees limits, FIELD=MIN:MAX[,FIELD=MIN:MAX...]; a field\nwithout limits takes its PurpleAir range (particle mass 0:1000, humidity 0:100, temperature -40:185 °F,\npressure 300:1100 hPa); any other field must be given one")
	trees := fs.Int("trees", 10, "number of Half-Space Trees (River n_trees)")
	height := fs.Int("height", 8, "height of each tree")
	window := fs.Int("window-size", 72, "records per reference window (River window_size)")
	seed := fs.Int64("seed", 11, "seed of the trees (same stream as Python's random.Random(seed))")
	threshold := fs.Float64("threshold", 0.7, "a record is an anomaly when its score is above this")
	imp := fs.String("impute", "mean", "how a missing field is filled before scoring: mean (River stats.Mean), ewma, last, none")
	alpha := fs.Float64("alpha", 0.5, "smoothing factor of -impute ewma, in (0, 1]: the weight of the newest value")
	only := fs.Bool("only-anomalies", false, "print only the records scored above -threshold")
	raw := fs.Bool("raw", false, "print the reference flow's anomaly column, true or false, instead of 1 or 0 (score is the same)")
	perSensor := fs.Bool("per-sensor", false, "one model and one set of imputers per sensor_index (as the Telegraf processor with key_tags = [\"sensor_index\"]); the default is one global model, as the reference")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hazewatch stream [flags] FILE\n\nRunning-mean imputation, then Half-Space Trees: each record is scored, then learned.\nColumns: sensor_index (when the input has it), the scored fields (after imputation), score (in [0, 1],\nhigher is more anomalous), anomaly (1 when score > -threshold, else 0; -raw: true or false).\nscore and anomaly are empty for a record with no value to score.\n\nFILE is read a row at a time and each row is printed once scored, so it may be of any length\n(a PurpleAir API response is decoded one document at a time).\n\nFlags:")
		fs.PrintDefaults()
	}
	path, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	cfg := streamConfig{
		fields:    splitList(*fields),
		impute:    *imp,
		alpha:     *alpha,
		threshold: *threshold,
		perSensor: *perSensor,
		raw:       *raw,
		hst:       hst.Options{Trees: *trees, Height: *height, WindowSize: *window, Seed: *seed},
	}
	if cfg.hst.Limits, err = parseLimits(*limits); err != nil {
		return usageError{err.Error()}
	}
	if !flagSet(fs, "limits") {
		// The default limits are the reference field's; they do not apply to other -fields.
		for name := range cfg.hst.Limits {
			if !slices.Contains(cfg.fields, name) {
				delete(cfg.hst.Limits, name)
			}
		}
	}
	if len(cfg.fields) == 0 {
		return usageError{"-fields: at least one field is needed"}
	}
	if err := fieldLimits(cfg.fields, cfg.hst.Limits); err != nil {
		return err
	}
	rr, err := openRows(path, os.Stdin)
	if err != nil {
		return err
	}
	defer rr.Close()
	return streamRows(rr, cfg, *only, stdout)
}

// outputBufferSize is the output buffer of stream, batch and impute: output goes out in blocks of
// this size, stream's as its rows are scored.
const outputBufferSize = 1 << 16

// streamRows scores the input's rows as they are read, as one stream through one global model or,
// with perSensor, as one stream per sensor_index (the trees are shared; each sensor has its own
// masses). It holds one row and, per stream, the model's masses and the imputers' statistics: the
// input can be of any length. A row that cannot be read stops the run; the output then ends at a
// row before it (the scores of earlier rows do not depend on later ones), or is empty when the
// failure comes before the first output buffer was full.
func streamRows(rr rowReader, cfg streamConfig, only bool, stdout io.Writer) error {
	sc, err := newStreamScorer(rr, cfg)
	if err != nil {
		return err
	}
	// Not flushed on an error: what is buffered of a failing run is dropped, so that an input that
	// fails early prints nothing.
	bw := bufio.NewWriterSize(stdout, outputBufferSize)
	header := make([]string, 0, len(cfg.fields)+3)
	if sc.sensor >= 0 {
		header = append(header, "sensor_index")
	}
	header = append(header, cfg.fields...)
	header = append(header, "score", "anomaly")
	// The rows, whose fields are numbers, empty or true/false and need no quoting, are formatted
	// straight into the output buffer as writeBatch's (what encoding/csv.Writer writes for them,
	// byte for byte), without a string per value.
	if err := writeHeader(bw, header); err != nil {
		return err
	}

	in := make([]float64, len(rr.Header()))
	line := make([]byte, 0, 128)
	for r := 0; ; r++ {
		if err := rr.Next(in); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		score, scored, err := sc.score(in, r)
		if err != nil {
			return err
		}
		anomalous := scored && score > cfg.threshold
		if only && !anomalous {
			continue
		}
		line = line[:0]
		if sc.sensor >= 0 {
			line = append(appendFloat(line, in[sc.sensor]), ',')
		}
		for _, v := range sc.x {
			line = append(appendFloat(line, v), ',')
		}
		if scored {
			line = append(strconv.AppendFloat(line, score, 'g', -1, 64), ',')
			switch {
			case cfg.raw:
				line = strconv.AppendBool(line, anomalous)
			case anomalous:
				line = append(line, '1')
			default:
				line = append(line, '0')
			}
		} else {
			line = append(line, ',') // nothing to score: the reference leaves anomaly_score as None
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// streamScorer is the reference flow over rows: per stream (global, or per sensor_index), the
// imputers' statistics and the trees' masses on one shared model.
type streamScorer struct {
	cfg     streamConfig
	model   *hst.Model
	cols    []int // input column of each field
	sensor  int   // input column of sensor_index, -1 without one
	kinds   []string
	streams map[float64]*stream
	x       []float64 // the row's fields after imputation
}

type stream struct {
	state    *hst.State
	imputers impute.Record
}

func newStreamScorer(rr rowReader, cfg streamConfig) (*streamScorer, error) {
	model, err := hst.New(cfg.fields, cfg.hst)
	if err != nil {
		return nil, hstFlagError(err)
	}
	sc := &streamScorer{cfg: cfg, model: model, cols: rr.Use(cfg.fields...), kinds: make([]string, len(cfg.fields)),
		streams: map[float64]*stream{}, x: make([]float64, len(cfg.fields))}
	for j, f := range cfg.fields {
		if sc.cols[j] < 0 {
			return nil, fmt.Errorf("no numeric field %q in the input (fields: %s)", f, strings.Join(rr.Header(), ", "))
		}
		sc.kinds[j] = cfg.impute
	}
	if _, err := sc.newImputers(); err != nil { // a bad -impute is a usage error before any output
		return nil, err
	}
	// The output is keyed by sensor_index, so a value in it that is not a number is an error: the
	// output would otherwise lose the key silently. (A file read whole could leave out a
	// sensor_index column of text only; a stream cannot know what the column holds further on.)
	sc.sensor = rr.Use("sensor_index")[0]
	if cfg.perSensor && sc.sensor < 0 {
		return nil, usageError{"-per-sensor: the input has no sensor_index column"}
	}
	return sc, nil
}

func (sc *streamScorer) newImputers() (impute.Record, error) {
	r, err := impute.NewRecord(sc.kinds, sc.cfg.alpha)
	var oe *impute.OptionError
	if errors.As(err, &oe) {
		flag := "-impute"
		if oe.Option == "alpha" {
			flag = "-alpha"
		}
		return nil, usageError{flag + ": " + oe.Msg}
	}
	return r, err
}

// score imputes data row r (input values in) into sc.x and scores then learns it in its stream;
// scored is false when no field has a value, and then nothing is learned.
func (sc *streamScorer) score(in []float64, r int) (score float64, scored bool, err error) {
	key := 0.0 // the global stream
	if sc.cfg.perSensor {
		if key = in[sc.sensor]; math.IsNaN(key) {
			return 0, false, fmt.Errorf("data row %d: no sensor_index to keep -per-sensor models apart", r+1)
		}
	}
	st := sc.streams[key]
	if st == nil {
		imputers, err := sc.newImputers()
		if err != nil {
			return 0, false, err
		}
		st = &stream{state: sc.model.NewState(), imputers: imputers}
		sc.streams[key] = st
	}
	for j, c := range sc.cols {
		sc.x[j] = in[c]
	}
	st.imputers.Fill(sc.x)
	for _, v := range sc.x {
		if !math.IsNaN(v) {
			return sc.model.ScoreLearn(st.state, sc.x), true, nil
		}
	}
	return 0, false, nil
}

// hstFlags are the command line's names of the core's options.
var hstFlags = map[string]string{
	"Trees":      "-trees",
	"Height":     "-height",
	"WindowSize": "-window-size",
	"Limits":     "-limits",
	"features":   "-fields",
}

// hstFlagError restates an option the core rejected (*hst.OptionError) as a usage error naming
// the flag.
func hstFlagError(err error) error {
	var oe *hst.OptionError
	if errors.As(err, &oe) {
		if flag, ok := hstFlags[oe.Option]; ok {
			what := oe.Msg
			if oe.Key != "" {
				what = fmt.Sprintf("%s: %s", oe.Key, oe.Msg)
			}
			return usageError{flag + ": " + what}
		}
	}
	return usageError{err.Error()}
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// fieldLimits gives each field that limits does not name its PurpleAir range
// (purpleair.FieldLimits), and refuses a field with neither: Half-Space Trees need a field's span
// before the first record, and River's default of 0..1 would flag most readings of a field that
// spans more (29 % of the snapshot's pm2.5_cf_1).
func fieldLimits(fields []string, limits map[string][2]float64) error {
	for _, f := range fields {
		if _, ok := limits[f]; ok {
			continue
		}
		lo, hi, ok := purpleair.FieldLimits(f)
		if !ok {
			return usageError{fmt.Sprintf("-fields: %q has no known range (it is not a PurpleAir reading with one): give it with -limits %s=MIN:MAX", f, f)}
		}
		limits[f] = [2]float64{lo, hi}
	}
	return nil
}

// parseLimits reads FIELD=MIN:MAX[,FIELD=MIN:MAX...].
func parseLimits(s string) (map[string][2]float64, error) {
	out := map[string][2]float64{}
	for _, item := range splitList(s) {
		name, rng, ok := strings.Cut(item, "=")
		lo, hi, ok2 := strings.Cut(rng, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("-limits: %q: want FIELD=MIN:MAX", item)
		}
		a, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if err1 != nil || err2 != nil || !(a < b) {
			return nil, fmt.Errorf("-limits: %q: want two numbers MIN < MAX", item)
		}
		out[strings.TrimSpace(name)] = [2]float64{a, b}
	}
	return out, nil
}
