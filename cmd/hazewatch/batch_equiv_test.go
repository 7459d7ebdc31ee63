package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
	"github.com/hazewatch/hazewatch/pkg/impute"
)

// referenceBatch is batch as it was before rows streamed into one slice (4b6a932), written out
// plainly: encoding/csv reads every record, the feature columns are gathered into a matrix,
// impute.Impute fills a copy, the forest scores it and encoding/csv writes every field. It reads
// CSV of numbers and empty cells only, the inputs it is given here.
func referenceBatch(t *testing.T, path string, features []string, raw bool) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, recs := recs[0], recs[1:]
	col := func(name string) int {
		for c, h := range header {
			if h == name {
				return c
			}
		}
		t.Fatalf("no column %q", name)
		return -1
	}
	value := func(s string) float64 {
		if s == "" {
			return math.NaN()
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if features == nil {
		features = header
	}
	x := make([]float64, len(recs)*len(features))
	for r, rec := range recs {
		for j, name := range features {
			x[r*len(features)+j] = value(rec[col(name)])
		}
	}
	filled, _, err := impute.DefaultKNNImputer().Impute(context.Background(), x, len(features))
	if err != nil {
		t.Fatal(err)
	}
	opt := iforest.DefaultOptions()
	opt.Seed = 42
	if opt.Contamination, err = iforest.ParseContamination("0.01"); err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, len(recs))
	forest, err := iforest.FitScore(context.Background(), filled, len(features), opt, scores)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	if raw {
		w.Write([]string{"sensor_index", "score", "decision", "anomaly"})
	} else {
		w.Write([]string{"sensor_index", "score", "anomaly"})
	}
	for r, rec := range recs {
		s, d := scores[r], scores[r]-forest.Offset()
		// sensor_index as it was written before AppendInt (not appendFloat itself, which batch prints
		// it with): integers in full, empty where missing.
		id := ""
		if v := value(rec[col("sensor_index")]); v == math.Trunc(v) && math.Abs(v) < 1e15 {
			id = strconv.FormatFloat(v, 'f', -1, 64)
		} else if !math.IsNaN(v) {
			id = strconv.FormatFloat(v, 'g', -1, 64)
		}
		switch {
		case raw && d < 0:
			w.Write([]string{id, strconv.FormatFloat(s, 'g', -1, 64), strconv.FormatFloat(d, 'g', -1, 64), "-1"})
		case raw:
			w.Write([]string{id, strconv.FormatFloat(s, 'g', -1, 64), strconv.FormatFloat(d, 'g', -1, 64), "1"})
		case d < 0:
			w.Write([]string{id, strconv.FormatFloat(-s, 'g', -1, 64), "1"})
		default:
			w.Write([]string{id, strconv.FormatFloat(-s, 'g', -1, 64), "0"})
		}
	}
	w.Flush()
	return out.String()
}

// TestBatchIsTheReferencePipeline: batch prints, byte for byte, what the plain pipeline prints, on
// a file long enough for the size estimate and the reallocation past it (a first part of short
// lines, then longer ones), with holes for the imputer (some in sensor_index, printed empty), with
// the default features, with features in another order than the file's (compacted in place), and
// with one named twice (wider than what was read); read from the file and from standard input (no
// estimate).
func TestBatchIsTheReferencePipeline(t *testing.T) {
	var b strings.Builder
	b.WriteString("sensor_index,pm1.0_cf_1,pm2.5_cf_1,pm10.0_cf_1\n")
	for r := range 12000 {
		pm := float64(r%97) * 0.3
		if r >= estimateAfter {
			pm += 1000.123456 // longer lines than the first rows': more rows than estimated
		}
		fields := []string{strconv.Itoa(r % 700), strconv.FormatFloat(pm*0.7, 'f', -1, 64), strconv.FormatFloat(pm, 'f', -1, 64), strconv.FormatFloat(pm*1.3+float64(r%7), 'f', -1, 64)}
		if r%211 == 5 {
			fields[1+r%3] = ""
		}
		if r%1009 == 3 {
			fields[0] = ""
		}
		b.WriteString(strings.Join(fields, ",") + "\n")
	}
	path := writeFile(t, "fleet.csv", b.String())
	cases := []struct {
		name     string
		args     []string
		features []string
		raw      bool
	}{
		{"default features", nil, nil, false},
		{"raw", []string{"-raw"}, nil, true},
		{"reordered", []string{"-features", "pm10.0_cf_1,pm1.0_cf_1"}, []string{"pm10.0_cf_1", "pm1.0_cf_1"}, false},
		{"named twice", []string{"-features", "pm2.5_cf_1,pm2.5_cf_1,sensor_index,pm1.0_cf_1,pm10.0_cf_1"}, []string{"pm2.5_cf_1", "pm2.5_cf_1", "sensor_index", "pm1.0_cf_1", "pm10.0_cf_1"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := referenceBatch(t, path, c.features, c.raw)
			var got bytes.Buffer
			if err := runBatch(append(c.args, path), &got, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Errorf("batch %v differs from the reference pipeline:\n%s", c.args, firstDiff(got.String(), want))
			}
		})
	}
	t.Run("standard input", func(t *testing.T) {
		in, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		stdin := os.Stdin
		os.Stdin = in
		defer func() { os.Stdin = stdin }()
		var got bytes.Buffer
		if err := runBatch([]string{"-"}, &got, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if want := referenceBatch(t, path, nil, false); got.String() != want {
			t.Errorf("batch - differs from the reference pipeline:\n%s", firstDiff(got.String(), want))
		}
	})
}

// firstDiff shows the first line where two outputs differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ": got " + g[i] + ", want " + w[i]
		}
	}
	return "lengths " + strconv.Itoa(len(g)) + " and " + strconv.Itoa(len(w)) + " lines"
}

// TestAppendFloatIntegers: appendFloat's integers, written by AppendInt, read as strconv's
// shortest 'f' form writes them, up to the 1e15 bound and on both sides of zero; other values keep
// the 'g' form.
func TestAppendFloatIntegers(t *testing.T) {
	values := []float64{0, math.Copysign(0, -1), 1, -1, 7, 123456, 1e14, 1e15 - 1, -(1e15 - 1), 999999999999999, 1<<49 + 1, 0.5, 1e15, 2.5e-7, math.NaN()}
	for _, v := range values {
		want := ""
		switch {
		case math.IsNaN(v):
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			want = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			want = strconv.FormatFloat(v, 'g', -1, 64)
		}
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	for i := range 100000 {
		v := float64(int64(i) * 9876543211 % 1_000_000_000_000_000)
		if got, want := string(appendFloat(nil, v)), strconv.FormatFloat(v, 'f', -1, 64); got != want {
			t.Fatalf("appendFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestStreamLinesAreEncodingCSV: stream's rows, formatted without encoding/csv, are what
// encoding/csv.Writer writes for the same fields (read back and written again, byte for byte), with
// and without -raw, through holes (empty fields, a row with nothing to score), a missing
// sensor_index, negative zero and a field name that needs quoting.
func TestStreamLinesAreEncodingCSV(t *testing.T) {
	p := writeFile(t, "s.csv", "sensor_index,\"pm\"\"x\",pm2.5_cf_1\n1,2,3\n2,,\n3,-0,7.25\n,4,5.5\n4,1e-7,\n5,3,1e300\n")
	for _, args := range [][]string{
		{"stream", "-fields", "pm\"x,pm2.5_cf_1", "-limits", "pm\"x=-1:10,pm2.5_cf_1=0:1000", "-window-size", "2", p},
		{"stream", "-raw", "-impute", "none", "-fields", "pm\"x,pm2.5_cf_1", "-limits", "pm\"x=-1:10,pm2.5_cf_1=0:1000", "-window-size", "1", p},
	} {
		stdout, stderr, code := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var again bytes.Buffer
		w := csv.NewWriter(&again)
		if err := w.WriteAll(readCSV(t, stdout)); err != nil {
			t.Fatal(err)
		}
		if again.String() != stdout {
			t.Errorf("%v: output is not what encoding/csv writes for its fields:\n%s", args, firstDiff(stdout, again.String()))
		}
		if n := strings.Count(stdout, "\n"); n != 7 {
			t.Errorf("%v: %d lines, want the header and 6 rows:\n%s", args, n, stdout)
		}
	}
}
