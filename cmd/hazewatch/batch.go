package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
	"github.com/hazewatch/hazewatch/pkg/impute"
)

// batchFlags are the flags batch and impute share: which columns, and how to impute them.
type batchFlags struct {
	features *string
	k        *int
	weights  *string
}

func addBatchFlags(fs *flag.FlagSet) batchFlags {
	return batchFlags{
		features: fs.String("features", "", "comma-separated feature columns (default: every numeric column except date_created)"),
		k:        fs.Int("k", 5, "neighbours of the KNN imputer (scikit-learn n_neighbors)"),
		weights:  fs.String("weights", "uniform", "KNN imputer weights: uniform or distance"),
	}
}

// batchReads tells a user of batch and impute what they hold, unlike stream, which holds a row.
const batchReads = `Reads all of FILE (every row, every byte) before it prints anything: imputation and the forest
need every row. It holds the feature columns and sensor_index, 8 bytes a value, and reads the other
columns only to know which are numeric (a PurpleAir API response is decoded one document at a time).`

// imputed is the input's feature matrix after KNN imputation.
type imputed struct {
	rows     int
	features []string
	x        []float64 // rows × len(features), imputed in place
	sensor   []float64 // the sensor_index column as read (NaN where missing); nil without one
}

func (b batchFlags) load(path string) (*imputed, error) {
	var w impute.KNNWeights
	switch *b.weights {
	case "uniform":
		w = impute.KNNUniform
	case "distance":
		w = impute.KNNDistance
	default:
		return nil, usageError{fmt.Sprintf("-weights: want uniform or distance, got %q", *b.weights)}
	}
	features := splitList(*b.features)
	var keep []string // nil: every column, as the default features are every numeric column
	if len(features) > 0 {
		keep = append([]string{"sensor_index"}, features...)
	}
	f, err := readFrame(path, os.Stdin, keep)
	if err != nil {
		return nil, err
	}
	id, err := f.idColumn()
	if err != nil {
		return nil, err
	}
	if id < 0 {
		f.sensor = nil // a sensor_index of text only: the output has no key
	}
	if len(features) == 0 {
		if features, err = defaultFeatures(&f.table); err != nil {
			return nil, err
		}
	}
	if len(features) == 0 {
		return nil, fmt.Errorf("%s: no numeric column to use as a feature", path)
	}
	x, err := f.matrix(features)
	if err != nil {
		return nil, err
	}
	imp := impute.DefaultKNNImputer()
	imp.NNeighbors, imp.Weights = *b.k, w
	if _, err := imp.ImputeInPlace(context.Background(), x, len(features)); err != nil {
		var oe *impute.OptionError
		if errors.As(err, &oe) && oe.Option == "NNeighbors" {
			return nil, usageError{"-k: " + oe.Msg}
		}
		if e, ok := err.(*impute.EmptyColumnError); ok {
			return nil, fmt.Errorf("column %q has no value at all: nothing to impute it from (leave it out with -features)", features[e.Col])
		}
		return nil, err
	}
	return &imputed{rows: f.rows, features: features, x: x, sensor: f.sensor}, nil
}

// defaultFeatures is the reference batch's feature set: every numeric column except date_created,
// which the reference turned into a timestamp (a registration date says nothing about a reading).
// For the PurpleAir snapshot these are its 15 numeric fields, sensor_index included. A text column
// (no value in it is a number, as in a name) is left out; a column of numbers with a value that is
// not one is an error, not a feature dropped without a word.
func defaultFeatures(t *table) ([]string, error) {
	for _, c := range t.text {
		if c.mixed && c.name != "date_created" {
			return nil, fmt.Errorf("%w (name the feature columns with -features to leave the column out)", c.err)
		}
	}
	var out []string
	for _, n := range t.names {
		if n != "date_created" {
			out = append(out, n)
		}
	}
	return out, nil
}

func runBatch(args []string, stdout, stderr io.Writer) error {
	if presetRequested(args) {
		return runPreset("batch", args, stdout, stderr)
	}
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	bf := addBatchFlags(fs)
	trees := fs.Int("trees", 100, "number of trees (scikit-learn n_estimators)")
	maxSamples := fs.String("max-samples", "auto", "rows each tree is grown on: auto (= min(256, rows)), a count, or a fraction in (0, 1]")
	contamination := fs.String("contamination", "0.01", "expected share of anomalies, in (0, 0.5], or auto (offset −0.5)")
	maxFeatures := fs.String("max-features", "1.0", "features each tree draws from: a count (a whole number: 1 is one feature) or a fraction in (0, 1] written with a decimal point (1.0 is all of them), as -max-samples")
	bootstrap := fs.Bool("bootstrap", false, "draw each tree's rows with replacement")
	seed := fs.Int64("seed", 42, "random seed (same seed, same data: same scores)")
	only := fs.Bool("only-anomalies", false, "print only the rows predicted anomalous, most anomalous first")
	raw := fs.Bool("raw", false, "print scikit-learn's outputs instead: score (score_samples), decision, anomaly (-1 or 1, as predict)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hazewatch batch [flags] FILE\n\nKNN imputation, then Isolation Forest (scikit-learn semantics).\nColumns: sensor_index (when the input has it), score (the Isolation Forest paper's anomaly score\ns(x, n) = −score_samples, in (0, 1], higher is more anomalous), anomaly (1 where scikit-learn's\npredict says −1: score above the threshold -contamination places, 0.5 with auto; else 0).\nWith -raw, scikit-learn's outputs: sensor_index, score (score_samples, in [−1, 0), lower is more\nanomalous), decision (decision_function = score_samples − offset, negative is anomalous),\nanomaly (predict: −1 anomalous, 1 normal).\n\n"+batchReads+"\n\nFlags:")
		fs.PrintDefaults()
	}
	path, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	opt := iforest.DefaultOptions()
	opt.NEstimators, opt.Bootstrap, opt.Seed = *trees, *bootstrap, *seed
	opt.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, "warning: "+format+"\n", a...) }
	if opt.MaxSamples, err = iforest.ParseMaxSamples(*maxSamples); err != nil {
		return forestFlagError(err)
	}
	if opt.Contamination, err = iforest.ParseContamination(*contamination); err != nil {
		return forestFlagError(err)
	}
	if opt.MaxFeatures, err = iforest.ParseMaxFeatures(*maxFeatures); err != nil {
		return forestFlagError(err)
	}
	if err := opt.Check(); err != nil {
		return forestFlagError(err)
	}
	in, err := bf.load(path)
	if err != nil {
		return err
	}
	res, err := scoreBatch(in, opt)
	if err != nil {
		return forestFlagError(err)
	}
	return writeBatch(in.sensor, res, *only, *raw, stdout)
}

// batchResult is score_samples of every row; decision_function and predict are derived from it
// and the offset where they are printed, rather than held as two more columns.
type batchResult struct {
	score  []float64
	offset float64
}

func (r *batchResult) anomalous(i int) bool { return r.score[i]-r.offset < 0 }

func scoreBatch(in *imputed, opt iforest.Options) (*batchResult, error) {
	res := &batchResult{score: make([]float64, in.rows)}
	forest, err := iforest.FitScore(context.Background(), in.x, len(in.features), opt, res.score)
	if err != nil {
		return nil, err
	}
	res.offset = forest.Offset()
	return res, nil
}

// writeBatch prints the scores of res in input order, or with only the anomalous rows, most
// anomalous first. By default score is −score_samples (the paper's s(x, n), in (0, 1], higher is
// more anomalous) and anomaly is 1 or 0; raw prints scikit-learn's score_samples, decision_function
// and predict (−1 or 1) instead.
//
// Every field is a number or empty, none needs CSV quoting, so the lines are formatted straight
// into the output buffer (what encoding/csv.Writer writes for them, byte for byte).
func writeBatch(sensor []float64, res *batchResult, only, raw bool, stdout io.Writer) error {
	var order []int // nil: every row in input order
	if only {
		for i := range res.score {
			if res.anomalous(i) {
				order = append(order, i)
			}
		}
		// Lowest score_samples first: the highest default score first.
		sort.SliceStable(order, func(a, b int) bool { return res.score[order[a]] < res.score[order[b]] })
	}
	bw := bufio.NewWriterSize(stdout, outputBufferSize)
	header := "score,anomaly\n"
	if raw {
		header = "score,decision,anomaly\n"
	}
	if sensor != nil {
		header = "sensor_index," + header
	}
	bw.WriteString(header)
	line := make([]byte, 0, 128)
	row := func(i int) error {
		line = line[:0]
		if sensor != nil {
			line = appendFloat(line, sensor[i])
			line = append(line, ',')
		}
		s := res.score[i]
		if raw {
			line = strconv.AppendFloat(line, s, 'g', -1, 64)
			line = append(line, ',')
			line = strconv.AppendFloat(line, s-res.offset, 'g', -1, 64)
			if res.anomalous(i) {
				line = append(line, ",-1\n"...)
			} else {
				line = append(line, ",1\n"...)
			}
		} else {
			line = strconv.AppendFloat(line, -s, 'g', -1, 64)
			if res.anomalous(i) {
				line = append(line, ",1\n"...)
			} else {
				line = append(line, ",0\n"...)
			}
		}
		_, err := bw.Write(line)
		return err
	}
	if only {
		for _, i := range order {
			if err := row(i); err != nil {
				return err
			}
		}
	} else {
		for i := range res.score {
			if err := row(i); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func runImpute(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("impute", flag.ContinueOnError)
	bf := addBatchFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hazewatch impute [flags] FILE\n\nThe feature columns after KNN imputation (scikit-learn KNNImputer semantics), same column names.\n\n"+batchReads+"\n\nFlags:")
		fs.PrintDefaults()
	}
	path, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	in, err := bf.load(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(stdout, outputBufferSize)
	// The values, numbers that need no quoting, formatted straight into the output buffer.
	if err := writeHeader(bw, in.features); err != nil {
		return err
	}
	cols := len(in.features)
	line := make([]byte, 0, 128)
	for r := 0; r < in.rows; r++ {
		line = line[:0]
		for j, v := range in.x[r*cols : (r+1)*cols] {
			if j > 0 {
				line = append(line, ',')
			}
			line = appendFloat(line, v)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// forestFlags are the command line's names of the core's options.
var forestFlags = map[string]string{
	"NEstimators":   "-trees",
	"MaxSamples":    "-max-samples",
	"Contamination": "-contamination",
	"MaxFeatures":   "-max-features",
}

// forestFlagError restates an option the core rejected (*iforest.OptionError) as a usage error
// naming the flag; other errors pass unchanged.
func forestFlagError(err error) error {
	var oe *iforest.OptionError
	if errors.As(err, &oe) {
		if flag, ok := forestFlags[oe.Option]; ok {
			return usageError{flag + ": " + oe.Msg}
		}
	}
	return err
}
