package iforest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// gaussianWithOutliers is n rows of a 2-D standard Gaussian followed by
// k rows far outside it (labels 1).
func gaussianWithOutliers(n, k int, seed uint64) (x []float64, labels []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for range n {
		x = append(x, rng.NormFloat64(), rng.NormFloat64())
		labels = append(labels, 0)
	}
	for range k {
		a := rng.Float64() * 2 * math.Pi
		r := 6 + 2*rng.Float64()
		x = append(x, r*math.Cos(a), r*math.Sin(a))
		labels = append(labels, 1)
	}
	return x, labels
}

func mustFit(t *testing.T, x []float64, cols int, opt Options) *Forest {
	t.Helper()
	f, err := Fit(context.Background(), x, cols, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func scoresOf(t *testing.T, f *Forest, x []float64, cols int) []float64 {
	t.Helper()
	out := make([]float64, len(x)/cols)
	if err := f.ScoreSamples(x, cols, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPlantedAnomaliesAUC(t *testing.T) {
	x, labels := gaussianWithOutliers(2000, 40, 5)
	for _, seed := range []int64{0, 1, 42} {
		f := mustFit(t, x, 2, withDefaults(Options{Seed: seed, Contamination: 0.02}))
		s := scoresOf(t, f, x, 2)
		if auc := rocAUC(labels, s); auc < 0.995 {
			t.Errorf("seed %d: AUC %.4f on planted anomalies, want ≥ 0.995", seed, auc)
		}
		pred := make([]int, len(labels))
		if err := f.Predict(x, 2, pred); err != nil {
			t.Fatal(err)
		}
		caught := 0
		for i, p := range pred {
			if labels[i] == 1 && p == -1 {
				caught++
			}
		}
		if caught < 38 {
			t.Errorf("seed %d: predict flags %d of 40 planted anomalies", seed, caught)
		}
	}
}

// TestSplitRuleLessOrEqualGoesLeft builds a one-split tree by hand: a
// value equal to the threshold goes left, the next float32 up goes right,
// and a float64 that rounds to the threshold in float32 goes left too,
// because scikit-learn compares float32 inputs.
func TestSplitRuleLessOrEqualGoesLeft(t *testing.T) {
	tr := tree{
		nodes: []treeNode{
			{thr: 0.5, feat: 1, left: 1},
			{thr: float32(math.Inf(1))}, // left leaf: 1 training row
			{thr: float32(math.Inf(1))}, // right leaf: 3 training rows
		},
		pathLen: []float64{0, leafPathLength(1, 1), leafPathLength(1, 3)},
		depth:   1,
	}
	f := &Forest{cols: 2, maxSamples: 4, offset: -0.5}
	f.assemble([]tree{tr})
	leftScore := -math.Pow(2, -(1+AveragePathLength(1))/AveragePathLength(4))
	rightScore := -math.Pow(2, -(1+AveragePathLength(3))/AveragePathLength(4))
	tests := []struct {
		name string
		v    float64
		want float64
	}{
		{"below", 0.25, leftScore},
		{"equal goes left", 0.5, leftScore},
		{"rounds to threshold in float32", 0.5 + 1e-12, leftScore},
		{"next float32 up", float64(math.Nextafter32(0.5, 1)), rightScore},
		{"above", 3, rightScore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, useHeap := range []bool{true, false} {
				g := *f
				if !useHeap {
					g.heapKey = nil
				}
				got := scoresOf(t, &g, []float64{99, tc.v}, 2)[0]
				if got != tc.want {
					t.Errorf("heap=%v: score(%v) = %.17g, want %.17g", useHeap, tc.v, got, tc.want)
				}
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([]float64, 5000)
	for i := range x {
		x[i] = rng.Float64()
	}
	tests := []struct {
		maxSamples int
		wantDepth  int
	}{
		{1, 1}, // ceil(log2(max(1, 2))) = 1, though one row cannot be split
		{2, 1},
		{3, 2},
		{64, 6},
		{256, 8},
		{257, 9},
		{2500, 12}, // deeper than the heap layout: exercises the pointer walk
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.maxSamples), func(t *testing.T) {
			f := mustFit(t, x, 2, withDefaults(Options{MaxSamples: Count(tc.maxSamples), NEstimators: 20, Seed: 1}))
			deepest := 0
			for _, d := range f.treeDepth {
				deepest = max(deepest, int(d))
			}
			if tc.maxSamples == 1 {
				if deepest != 0 {
					t.Errorf("one-row trees have depth %d, want 0", deepest)
				}
				// c(1) = 0: scikit-learn then sets the exponent to −1.
				for i, s := range scoresOf(t, f, x[:20], 2) {
					if s != -0.5 {
						t.Errorf("row %d: score %v with max_samples 1, want -0.5", i, s)
					}
				}
				return
			}
			// Random data of ≥ 2^limit rows always reaches the limit somewhere.
			if deepest != tc.wantDepth {
				t.Errorf("deepest leaf at %d, want the limit %d", deepest, tc.wantDepth)
			}
			if (f.heapKey != nil) != (tc.wantDepth <= heapMaxDepth) {
				t.Errorf("heap layout present = %v for depth %d", f.heapKey != nil, tc.wantDepth)
			}
			// Both walks agree.
			s := scoresOf(t, f, x[:400], 2)
			g := *f
			g.heapKey = nil
			s2 := scoresOf(t, &g, x[:400], 2)
			for i := range s {
				if s[i] != s2[i] {
					t.Fatalf("row %d: heap walk %v, pointer walk %v", i, s[i], s2[i])
				}
			}
		})
	}
}

func TestMaxSamples(t *testing.T) {
	x := make([]float64, 2*301)
	for i := range x {
		x[i] = float64(i % 97)
	}
	tests := []struct {
		name    string
		opt     Options
		want    int
		warning string
		err     string
	}{
		{name: "auto below 256", opt: DefaultOptions(), want: 256},
		{name: "count", opt: withDefaults(Options{MaxSamples: Count(100)}), want: 100},
		{name: "count capped", opt: withDefaults(Options{MaxSamples: Count(500)}), want: 301,
			warning: "max_samples (500) is greater than the total number of samples (301). max_samples will be set to n_samples for estimation."},
		{name: "fraction", opt: withDefaults(Options{MaxSamples: Fraction(0.5)}), want: 150},
		{name: "fraction one", opt: withDefaults(Options{MaxSamples: Fraction(1)}), want: 301},
		{name: "fraction too small", opt: withDefaults(Options{MaxSamples: Fraction(0.001)}), err: "less than one row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logged []string
			tc.opt.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
			tc.opt.NEstimators = 5
			f, err := Fit(context.Background(), x, 2, tc.opt)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.MaxSamples() != tc.want {
				t.Errorf("MaxSamples() = %d, want %d", f.MaxSamples(), tc.want)
			}
			if tc.warning == "" && len(logged) > 0 {
				t.Errorf("unexpected warnings %q", logged)
			}
			if tc.warning != "" && (len(logged) != 1 || !strings.Contains(logged[0], tc.warning)) {
				t.Errorf("warnings %q, want %q", logged, tc.warning)
			}
		})
	}
	small := x[:2*100]
	if f := mustFit(t, small, 2, withDefaults(Options{NEstimators: 3})); f.MaxSamples() != 100 {
		t.Errorf("auto on 100 rows: MaxSamples() = %d, want 100", f.MaxSamples())
	}
}

func TestOptionsChecked(t *testing.T) {
	tests := []struct {
		opt    Options
		option string // "" = valid
		msg    string
	}{
		{DefaultOptions(), "", ""},
		{withDefaults(Options{NEstimators: 100, MaxSamples: Count(256), Contamination: 0.01, MaxFeatures: Count(2), Seed: -5, Workers: 8}), "", ""},
		{withDefaults(Options{Contamination: 0.5, MaxSamples: Fraction(1), MaxFeatures: Fraction(1)}), "", ""},
		{Options{NEstimators: 0, MaxSamples: AutoSize(), MaxFeatures: Fraction(1), Workers: 1}, "NEstimators", "at least 1"},
		{withDefaults(Options{NEstimators: -1}), "NEstimators", "at least 1"},
		{Options{NEstimators: 100, MaxFeatures: Fraction(1), Workers: 1}, "MaxSamples", "positive count"},
		{withDefaults(Options{MaxSamples: Count(-1)}), "MaxSamples", "positive count"},
		{withDefaults(Options{MaxSamples: Fraction(1.5)}), "MaxSamples", "fraction must be in (0, 1], got 1.5"},
		{withDefaults(Options{MaxSamples: Fraction(math.NaN())}), "MaxSamples", "fraction"},
		{withDefaults(Options{Contamination: 0.7}), "Contamination", "must be in (0, 0.5], got 0.7"},
		{withDefaults(Options{Contamination: -0.1}), "Contamination", ""},
		{withDefaults(Options{Contamination: math.NaN()}), "Contamination", ""},
		{Options{NEstimators: 100, MaxSamples: AutoSize(), Workers: 1}, "MaxFeatures", "positive count"},
		{withDefaults(Options{MaxFeatures: Count(-2)}), "MaxFeatures", ""},
		{withDefaults(Options{MaxFeatures: Fraction(2)}), "MaxFeatures", "fraction"},
		{withDefaults(Options{MaxFeatures: AutoSize()}), "MaxFeatures", `"auto"`},
		{withDefaults(Options{Workers: -1}), "Workers", "at least 1"},
	}
	x, _ := gaussianWithOutliers(50, 2, 1)
	for _, tc := range tests {
		_, err := Fit(t.Context(), x, 2, tc.opt)
		if tc.option == "" {
			if err != nil {
				t.Errorf("%+v: unexpected error %v", tc.opt, err)
			}
			continue
		}
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: err = %v, want an *OptionError for %s mentioning %q", tc.opt, err, tc.option, tc.msg)
		}
	}
}

// checkSize is what Fit does with a parsed size before it sees data.
func checkSize(option string, s Size) error {
	o := DefaultOptions()
	if option == "MaxSamples" {
		o.MaxSamples = s
	} else {
		o.MaxFeatures = s
	}
	return o.Check()
}

func TestParseMaxSamples(t *testing.T) {
	tests := []struct {
		in   string
		want string // Size.String(); "" = rejected by the parser or by Fit's check
	}{
		{"auto", "auto"},
		{"256", "256"},
		{" 1 ", "1"},
		{"0.5", "0.5"},
		{"1.0", "1.0"}, // a fraction of 1: every sample
		{"1e-1", "0.1"},
		{"0", ""},
		{"-3", ""},
		{"1.5", ""},
		{"0.0", ""},
		{"NaN", ""},
		{"inf", ""},
		{"many", ""},
		{"", ""},
	}
	for _, tc := range tests {
		s, err := ParseMaxSamples(tc.in)
		if err == nil {
			err = checkSize("MaxSamples", s)
		}
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseMaxSamples(%q) = %v, want an error", tc.in, s)
			}
			continue
		}
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseMaxSamples(%q) = %v, %v; want %s", tc.in, s, err, tc.want)
		}
		if back, err := ParseMaxSamples(s.String()); err != nil || back != s {
			t.Errorf("%q read back from %q as %#v, %v; want %#v", tc.in, s.String(), back, err, s)
		}
	}
	if _, err := ParseMaxSamples("0.0"); err == nil || !strings.Contains(err.Error(), "fraction must be in (0, 1]") {
		t.Errorf(`"0.0": %v, want an error about the fraction`, err)
	}
	if s, _ := ParseMaxSamples("1.0"); s != Fraction(1) {
		t.Errorf(`"1.0" parsed as %#v, want Fraction(1) (every sample, not one)`, s)
	}
}

// TestParseMaxFeatures: as max_samples (and scikit-learn's int and float max_features), a whole
// number is a count and a number with a decimal point or an exponent is a fraction.
func TestParseMaxFeatures(t *testing.T) {
	cases := []struct {
		in   string
		want Size
		bad  bool
	}{
		{in: "1", want: Count(1)},
		{in: "3", want: Count(3)},
		{in: " 2 ", want: Count(2)},
		{in: "1.0", want: Fraction(1)},
		{in: "1.", want: Fraction(1)},
		{in: "0.5", want: Fraction(0.5)},
		{in: ".25", want: Fraction(0.25)},
		{in: "1e-1", want: Fraction(0.1)},
		{in: "0", bad: true},
		{in: "-1", bad: true},
		{in: "0.0", bad: true},
		{in: "1.5", bad: true},
		{in: "2.0", bad: true},
		{in: "nan", bad: true},
		{in: "inf", bad: true},
		{in: "all", bad: true},
		{in: "auto", bad: true}, // max_samples only
		{in: "", bad: true},
	}
	for _, c := range cases {
		s, err := ParseMaxFeatures(c.in)
		if err == nil {
			err = checkSize("MaxFeatures", s)
		}
		if c.bad {
			if err == nil {
				t.Errorf("%q: %#v, want an error", c.in, s)
			}
			continue
		}
		if err != nil || s != c.want {
			t.Errorf("%q: %#v, %v; want %#v", c.in, s, err, c.want)
		}
	}
}

func TestParseContamination(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"auto", ContaminationAuto, true},
		{"0.01", 0.01, true},
		{"0.5", 0.5, true},
		{"0", 0, false},
		{"0.51", 0, false},
		{"-0.1", 0, false},
		{"NaN", 0, false},
		{"1%", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseContamination(tc.in)
		if err == nil {
			o := DefaultOptions()
			o.Contamination = got
			err = o.Check()
		}
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseContamination(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// withDefaults fills what a test leaves out with scikit-learn's defaults, so a test names only
// what it is about; Fit itself takes every option as given.
func withDefaults(o Options) Options {
	d := DefaultOptions()
	if o.NEstimators == 0 {
		o.NEstimators = d.NEstimators
	}
	if o.MaxSamples == (Size{}) {
		o.MaxSamples = d.MaxSamples
	}
	if o.MaxFeatures == (Size{}) {
		o.MaxFeatures = d.MaxFeatures
	}
	if o.Workers == 0 {
		o.Workers = d.Workers
	}
	return o
}

// TestDeterminism: the same seed gives the same model bytes and scores
// whatever the number of workers or GOMAXPROCS; another seed does not.
func TestDeterminism(t *testing.T) {
	x, _ := gaussianWithOutliers(3000, 30, 9)
	opts := []Options{
		withDefaults(Options{Seed: 42, Contamination: 0.01}),
		withDefaults(Options{Seed: 7, MaxFeatures: Count(1), Bootstrap: true, MaxSamples: Count(1000)}),
		withDefaults(Options{Seed: -3, MaxSamples: Fraction(0.9), NEstimators: 10}), // partial Fisher–Yates path
	}
	for i, opt := range opts {
		var ref []byte
		var refScores []float64
		for _, procs := range []int{1, 2, 4} {
			prev := runtime.GOMAXPROCS(procs)
			for _, w := range []int{1, 2, 8, procs} {
				opt.Workers = w
				f := mustFit(t, x, 2, opt)
				b, err := f.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				s := scoresOf(t, f, x, 2)
				if ref == nil {
					ref, refScores = b, s
					continue
				}
				if !bytes.Equal(b, ref) {
					t.Errorf("options %d: model differs with GOMAXPROCS %d, Workers %d", i, procs, w)
				}
				for r := range s {
					if s[r] != refScores[r] {
						t.Fatalf("options %d: row %d score %v vs %v with GOMAXPROCS %d, Workers %d", i, r, s[r], refScores[r], procs, w)
					}
				}
			}
			runtime.GOMAXPROCS(prev)
		}
		opt.Seed++
		b, _ := mustFit(t, x, 2, opt).MarshalBinary()
		if bytes.Equal(b, ref) {
			t.Errorf("options %d: seed %d gives the same model as seed %d", i, opt.Seed, opt.Seed-1)
		}
	}
}

func TestPredictAndDecision(t *testing.T) {
	x, _ := gaussianWithOutliers(1000, 0, 4)
	for _, c := range []float64{0, 0.01, 0.1, 0.5} {
		f := mustFit(t, x, 2, withDefaults(Options{Seed: 1, Contamination: c}))
		n := len(x) / 2
		s, d, p := make([]float64, n), make([]float64, n), make([]int, n)
		if err := f.ScoreSamples(x, 2, s); err != nil {
			t.Fatal(err)
		}
		if err := f.DecisionFunction(x, 2, d); err != nil {
			t.Fatal(err)
		}
		if err := f.Predict(x, 2, p); err != nil {
			t.Fatal(err)
		}
		if c == 0 && f.Offset() != -0.5 {
			t.Errorf("contamination auto: offset %v, want -0.5", f.Offset())
		}
		if c > 0 {
			want := percentileLinear(append([]float64(nil), s...), 100*c)
			if f.Offset() != want {
				t.Errorf("contamination %v: offset %v, want the %v-th percentile %v", c, f.Offset(), 100*c, want)
			}
		}
		flagged := 0
		for i := range n {
			if d[i] != s[i]-f.Offset() {
				t.Fatalf("row %d: decision %v != score %v − offset %v", i, d[i], s[i], f.Offset())
			}
			want := 1
			if d[i] < 0 {
				want = -1
				flagged++
			}
			if p[i] != want {
				t.Fatalf("row %d: predict %d with decision %v", i, p[i], d[i])
			}
		}
		// Scores below the contamination percentile: at most c·n rows.
		if c > 0 && float64(flagged) > c*float64(n)+1 {
			t.Errorf("contamination %v: %d of %d rows flagged", c, flagged, n)
		}
		if c >= 0.1 && float64(flagged) < c*float64(n)*0.8 {
			t.Errorf("contamination %v: only %d of %d rows flagged", c, flagged, n)
		}
	}
}

func TestInputErrors(t *testing.T) {
	good, _ := gaussianWithOutliers(50, 0, 1)
	f := mustFit(t, good, 2, withDefaults(Options{NEstimators: 5}))
	with := func(row, col int, v float64) []float64 {
		x := append([]float64(nil), good...)
		x[row*2+col] = v
		return x
	}
	twoBad := with(4, 0, math.NaN())
	twoBad[9*2+1] = math.Inf(1)
	tests := []struct {
		name     string
		x        []float64
		row, col int
		msg      string
	}{
		{"NaN", with(2, 1, math.NaN()), 2, 1, "iforest: row 2, column 1: NaN (impute missing values first)"},
		{"+Inf", with(7, 0, math.Inf(1)), 7, 0, "iforest: row 7, column 0: +Inf is not a finite number"},
		{"-Inf", with(49, 1, math.Inf(-1)), 49, 1, "row 49, column 1"},
		{"beyond float32", with(3, 0, 1e300), 3, 0, "outside float32 range"},
		{"first of two", twoBad, 4, 0, "row 4, column 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("%s: err = %v, want *InputError", what, err)
				}
				if ie.Row != tc.row || ie.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("%s: %v (row %d col %d), want row %d col %d and %q", what, err, ie.Row, ie.Col, tc.row, tc.col, tc.msg)
				}
			}
			_, err := Fit(context.Background(), tc.x, 2, withDefaults(Options{NEstimators: 2}))
			check("fit", err)
			check("score", f.ScoreSamples(tc.x, 2, make([]float64, len(tc.x)/2)))
			check("decision", f.DecisionFunction(tc.x, 2, make([]float64, len(tc.x)/2)))
			check("predict", f.Predict(tc.x, 2, make([]int, len(tc.x)/2)))
		})
	}

	// A bad cell in a late chunk and one in an early chunk, scored in
	// parallel: the first in row order is reported.
	big := make([]float64, 2*5*chunkRows)
	big[2*(4*chunkRows+3)] = math.NaN()
	big[2*(chunkRows+10)+1] = math.Inf(1)
	err := f.ScoreSamples(big, 2, make([]float64, 5*chunkRows))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Row != chunkRows+10 || ie.Col != 1 {
		t.Errorf("parallel scoring error %v, want row %d column 1", err, chunkRows+10)
	}

	shape := []struct {
		name string
		run  func() error
		want string
	}{
		{"ragged fit", func() error {
			_, err := Fit(context.Background(), good[:5], 2, DefaultOptions())
			return err
		}, "5 values are not a whole number of rows of 2 columns"},
		{"zero columns", func() error {
			_, err := Fit(context.Background(), good, 0, DefaultOptions())
			return err
		}, "column count must be positive"},
		{"no rows", func() error {
			_, err := Fit(context.Background(), nil, 2, DefaultOptions())
			return err
		}, "no rows"},
		{"max_features above columns", func() error {
			_, err := Fit(context.Background(), good, 2, withDefaults(Options{MaxFeatures: Count(3)}))
			return err
		}, "MaxFeatures must be <= the 2 columns, got 3"},
		{"bad option", func() error {
			_, err := Fit(context.Background(), good, 2, withDefaults(Options{Contamination: 0.6}))
			return err
		}, "Contamination must be in (0, 0.5], got 0.6"},
		{"unfitted model", func() error { return new(Forest).ScoreSamples(nil, 0, nil) }, "not fitted"},
		{"width mismatch", func() error { return f.ScoreSamples(make([]float64, 9), 3, make([]float64, 3)) }, "model was fitted on 2 columns, got 3"},
		{"output length", func() error { return f.ScoreSamples(good, 2, make([]float64, 3)) }, "output has 3 elements for 50 rows"},
		{"scores length", func() error {
			_, err := FitScore(context.Background(), good, 2, DefaultOptions(), make([]float64, 3))
			return err
		}, "scores has 3 elements for 50 rows"},
	}
	for _, tc := range shape {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFitScoreEqualsFitThenScore(t *testing.T) {
	x, _ := gaussianWithOutliers(3000, 20, 2)
	for _, c := range []float64{0, 0.05} {
		opt := withDefaults(Options{Seed: 3, Contamination: c})
		got := make([]float64, 3020)
		g, err := FitScore(context.Background(), x, 2, opt, got)
		if err != nil {
			t.Fatal(err)
		}
		f := mustFit(t, x, 2, opt)
		want := scoresOf(t, f, x, 2)
		if g.Offset() != f.Offset() {
			t.Errorf("contamination %v: offset %v vs %v", c, g.Offset(), f.Offset())
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("contamination %v: row %d: %v vs %v (scores must stay in row order)", c, i, got[i], want[i])
			}
		}
	}
}

func TestConstantColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 500
	x := make([]float64, 0, 3*n)
	for range n {
		// Column 0 constant; column 2 varies by less than scikit-learn's
		// FEATURE_THRESHOLD (1e-7), so it counts as constant too.
		x = append(x, 3.25, rng.NormFloat64(), 1+5e-8*rng.Float64())
	}
	f := mustFit(t, x, 3, withDefaults(Options{Seed: 1}))
	splits := 0
	for _, nd := range f.nodes {
		if nd.left != 0 {
			splits++
			if nd.feat != 1 {
				t.Fatalf("split on column %d, which is constant", nd.feat)
			}
		}
	}
	if splits == 0 {
		t.Fatal("no splits at all")
	}

	// All columns constant: every tree is one leaf of max_samples rows, so
	// every score is −2^(−c(256)/c(256)) = −0.5 (up to the rounding of
	// scikit-learn's (1 + c) − 1).
	flat := make([]float64, 3*n)
	g := mustFit(t, flat, 3, withDefaults(Options{Seed: 1, Contamination: 0.1}))
	if len(g.nodes) != len(g.treeDepth) {
		t.Errorf("%d nodes for %d trees, want single-leaf trees", len(g.nodes), len(g.treeDepth))
	}
	for i, s := range scoresOf(t, g, flat[:30], 3) {
		if math.Abs(s+0.5) > 1e-15 {
			t.Fatalf("row %d: score %v, want -0.5", i, s)
		}
	}
	if math.Abs(g.Offset()+0.5) > 1e-15 {
		t.Errorf("offset %v, want -0.5", g.Offset())
	}
}

func TestMaxFeaturesPerTree(t *testing.T) {
	x, _ := gaussianWithOutliers(600, 0, 8)
	x3 := make([]float64, 0, 600*3)
	for r := range 600 {
		x3 = append(x3, x[2*r], x[2*r+1], x[2*r]-x[2*r+1])
	}
	for _, opt := range []Options{withDefaults(Options{MaxFeatures: Count(1)}), withDefaults(Options{MaxFeatures: Fraction(0.5)})} { // both: one column per tree
		f := mustFit(t, x3, 3, opt)
		seen := map[int32]bool{}
		for tr := range f.treeDepth {
			feat := int32(-1)
			for _, nd := range f.nodes[f.treeStart[tr]:f.treeStart[tr+1]] {
				if nd.left == 0 {
					continue
				}
				if feat >= 0 && nd.feat != feat {
					t.Fatalf("%+v: tree %d splits on columns %d and %d", opt, tr, feat, nd.feat)
				}
				feat = nd.feat
			}
			seen[feat] = true
		}
		if len(seen) != 3 {
			t.Errorf("%+v: trees used columns %v, want all three across the forest", opt, seen)
		}
	}
}

// TestBootstrapCountsDistinctRows: with bootstrap, a row drawn twice is
// one row of the tree (scikit-learn passes the draws as sample weights and
// leaf sizes count rows), so trees over distinct rows whose depth limit
// allows isolating each never have a leaf of 2+ rows, i.e. every leaf's
// path length is its depth. The normalisation still uses max_samples.
func TestBootstrapCountsDistinctRows(t *testing.T) {
	x := []float64{1, 2, 3}
	f := mustFit(t, x, 1, withDefaults(Options{Bootstrap: true, NEstimators: 200, Seed: 5}))
	if f.MaxSamples() != 3 {
		t.Fatalf("MaxSamples() = %d", f.MaxSamples())
	}
	sawSingleRowTree := false
	for i, nd := range f.nodes {
		if nd.left == 0 && f.pathLen[i] != math.Trunc(f.pathLen[i]) {
			t.Fatalf("leaf %d has path length %v: a duplicated row was counted twice", i, f.pathLen[i])
		}
	}
	for tr := range f.treeDepth {
		if f.treeStart[tr+1]-f.treeStart[tr] == 1 {
			sawSingleRowTree = true // all three draws hit the same row
		}
	}
	if !sawSingleRowTree {
		t.Error("200 bootstrap trees over 3 rows and none drew a single distinct row")
	}
}

func TestCancel(t *testing.T) {
	x := benchMatrix(200_000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, x, 3, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before fit: err = %v", err)
	}
	// Cancel during a fit that takes seconds (trees on all 200,000 rows,
	// then a scoring pass): it must stop well before finishing.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := Fit(ctx, x, 3, withDefaults(Options{MaxSamples: Fraction(1), NEstimators: 200, Contamination: 0.1}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during fit: err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("fit took %v to notice cancellation", d)
	}
}

func TestSizeBytes(t *testing.T) {
	x, _ := gaussianWithOutliers(1000, 0, 1)
	f := mustFit(t, x, 2, DefaultOptions())
	lo := len(f.nodes)*12 + len(f.pathLen)*8 + len(f.heapKey)*8 + len(f.heapLeaves)*8
	if s := f.SizeBytes(); s < lo || s > 2*lo {
		t.Errorf("SizeBytes() = %d, arrays alone hold %d", s, lo)
	}
}

func TestInputErrorMessage(t *testing.T) {
	tests := []struct {
		err  InputError
		want string
	}{
		{InputError{Row: 12, Col: 3, Value: math.NaN()}, "iforest: row 12, column 3: NaN (impute missing values first)"},
		{InputError{Row: 0, Col: 1, Value: math.Inf(-1)}, "iforest: row 0, column 1: -Inf is not a finite number"},
		{InputError{Row: 4, Col: -1, Msg: "has 2 values, want 3"}, "iforest: row 4: has 2 values, want 3"},
		{InputError{Row: -1, Col: 2, Msg: "no limits"}, "iforest: column 2: no limits"},
		{InputError{Row: -1, Col: -1, Msg: "no rows to fit on"}, "iforest: no rows to fit on"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
