package impute

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// knnFixture is one case of testdata/knn_fixtures.json (gen_knn_fixtures.py): scikit-learn
// 1.2.1's KNNImputer.fit_transform output. null stands for NaN.
type knnFixture struct {
	Name    string     `json:"name"`
	Note    string     `json:"note"`
	K       int        `json:"k"`
	Weights string     `json:"weights"`
	Cols    int        `json:"cols"`
	X       []*float64 `json:"x"`
	Want    []*float64 `json:"want"`
}

func nullsToNaN(v []*float64) []float64 {
	out := make([]float64, len(v))
	for i, p := range v {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	return out
}

func loadKNNFixtures(t *testing.T) []knnFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "knn_fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		SklearnVersion string       `json:"sklearn_version"`
		Cases          []knnFixture `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.SklearnVersion != "1.2.1" || len(f.Cases) == 0 {
		t.Fatalf("fixtures from scikit-learn %q with %d cases; want 1.2.1 and some", f.SklearnVersion, len(f.Cases))
	}
	return f.Cases
}

// closeTo is the agreement expected with scikit-learn, whose distances go through a
// dot-product expansion and so differ from ours in the last bits.
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func TestKNNImputerMatchesSklearn(t *testing.T) {
	for _, fx := range loadKNNFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			x, want := nullsToNaN(fx.X), nullsToNaN(fx.Want)
			w, err := ParseKNNWeights(fx.Weights)
			if err != nil {
				t.Fatal(err)
			}
			in := slices.Clone(x)
			got, missing, err := knn(KNNImputer{NNeighbors: fx.K, Weights: w, Workers: 2}).Impute(context.Background(), x, fx.Cols)
			if err != nil {
				t.Fatal(err)
			}
			for i := range x {
				if math.Float64bits(x[i]) != math.Float64bits(in[i]) {
					t.Fatalf("input modified at %d", i)
				}
				r, c := i/fx.Cols, i%fx.Cols
				if missing[i] != math.IsNaN(x[i]) {
					t.Errorf("missing[%d,%d] = %v, input %v", r, c, missing[i], x[i])
				}
				if !missing[i] && got[i] != x[i] {
					t.Errorf("present cell [%d,%d] changed: %v -> %v", r, c, x[i], got[i])
				}
				if !closeTo(got[i], want[i]) {
					t.Errorf("[%d,%d] = %.17g, scikit-learn %.17g", r, c, got[i], want[i])
				}
			}
		})
	}
}

func TestKNNImputerErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		imp   KNNImputer
		x     []float64
		cols  int
		check func(error) bool
	}{
		{"empty column", knn(KNNImputer{}), []float64{1, nan, 2, nan, nan, nan}, 2, func(err error) bool {
			var e *EmptyColumnError
			return errors.As(err, &e) && e.Col == 1
		}},
		{"lowest empty column reported", knn(KNNImputer{}), []float64{nan, 1, nan, nan, 2, nan}, 3, func(err error) bool {
			var e *EmptyColumnError
			return errors.As(err, &e) && e.Col == 0
		}},
		{"+Inf", knn(KNNImputer{}), []float64{1, 2, 3, math.Inf(1), nan, 4}, 2, func(err error) bool {
			var e *NonFiniteError
			return errors.As(err, &e) && e.Row == 1 && e.Col == 1 && math.IsInf(e.Value, 1)
		}},
		{"-Inf", knn(KNNImputer{}), []float64{math.Inf(-1), 2}, 2, func(err error) bool {
			var e *NonFiniteError
			return errors.As(err, &e) && e.Row == 0 && e.Col == 0
		}},
		{"zero cols", knn(KNNImputer{}), []float64{1}, 0, isPlainError},
		{"ragged length", knn(KNNImputer{}), []float64{1, 2, 3}, 2, isPlainError},
		{"no rows", knn(KNNImputer{}), nil, 3, isPlainError},
		{"negative k", knn(KNNImputer{NNeighbors: -1}), []float64{1, 2}, 2, isOptionError("NNeighbors")},
		{"unknown weights", knn(KNNImputer{Weights: 7}), []float64{1, 2}, 2, isOptionError("Weights")},
		{"negative workers", knn(KNNImputer{Workers: -2}), []float64{1, 2}, 2, isOptionError("Workers")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, missing, err := tc.imp.Impute(context.Background(), tc.x, tc.cols)
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if out != nil || missing != nil {
				t.Fatalf("results returned with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

// isOptionError is a check for an *OptionError naming option.
func isOptionError(option string) func(error) bool {
	return func(err error) bool {
		var oe *OptionError
		return errors.As(err, &oe) && oe.Option == option
	}
}

func isPlainError(err error) bool {
	var e1 *EmptyColumnError
	var e2 *NonFiniteError
	return !errors.As(err, &e1) && !errors.As(err, &e2)
}

func TestKNNImputerSmallCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		imp  KNNImputer
		x    []float64
		cols int
		want []float64
	}{
		// Rows 1 and 2 are both at distance sqrt(2·1/1) from row 0: the lower index wins.
		{"tie goes to lower row", knn(KNNImputer{NNeighbors: 1}),
			[]float64{0, nan, 1, 10, -1, 20}, 2, []float64{0, 10, 1, 10, -1, 20}},
		{"tie goes to lower row (swapped)", knn(KNNImputer{NNeighbors: 1}),
			[]float64{0, nan, -1, 20, 1, 10}, 2, []float64{0, 20, -1, 20, 1, 10}},
		{"nothing missing", knn(KNNImputer{}), []float64{1, 2, 3, 4}, 2, []float64{1, 2, 3, 4}},
		{"single row single value", knn(KNNImputer{}), []float64{5}, 1, []float64{5}},
		// Distance weights: row 1 is at distance 0, so it alone counts.
		{"zero distance dominates", knn(KNNImputer{NNeighbors: 2, Weights: KNNDistance}),
			[]float64{1, nan, 1, 7, 2, 100}, 2, []float64{1, 7, 1, 7, 2, 100}},
		// k larger than the number of rows: all donors.
		{"k above rows", knn(KNNImputer{NNeighbors: 50}),
			[]float64{0, nan, 1, 2, 5, 4}, 2, []float64{0, 3, 1, 2, 5, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := tc.imp.Impute(context.Background(), tc.x, tc.cols)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if len(tc.x) > 0 && &got[0] == &tc.x[0] {
				t.Fatal("output aliases the input")
			}
		})
	}
}

// randomMatrix draws a matrix with a few missing cells in clustered patterns (some rows miss
// several columns at once, like the snapshot's humidity/temperature/pressure), plus rare
// all-missing rows.
func randomMatrix(rng *rand.Rand, rows, cols int, pMissing float64) []float64 {
	x := make([]float64, rows*cols)
	for i := range x {
		x[i] = rng.NormFloat64()*float64(1+i%cols*3) + float64(i%cols)
	}
	for r := 0; r < rows; r++ {
		switch u := rng.Float64(); {
		case u < pMissing/4: // a run of columns
			c0 := rng.IntN(cols)
			for c := c0; c < min(cols, c0+3); c++ {
				x[r*cols+c] = math.NaN()
			}
		case u < pMissing:
			x[r*cols+rng.IntN(cols)] = math.NaN()
		case u < pMissing+0.002:
			for c := 0; c < cols; c++ {
				x[r*cols+c] = math.NaN()
			}
		}
	}
	return x
}

// bruteForceKNN is the textbook O(rows²) imputation with the same arithmetic (squared
// differences summed in columnOrder) and the same ordering rule (NaN last, then distance,
// then row index), to check the heaps, tiles, shuffled scan and early exits bit for bit.
func bruteForceKNN(x []float64, cols, k int, w KNNWeights) []float64 {
	rows := len(x) / cols
	out := slices.Clone(x)
	means := numpyMaskedColumnMeans(x, nanMask(x), rows, cols)
	order := columnOrder(x, nanMask(x), rows, cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if !math.IsNaN(x[r*cols+c]) {
				continue
			}
			var cand []knnEntry
			for j := 0; j < rows; j++ {
				if math.IsNaN(x[j*cols+c]) {
					continue
				}
				var s float64
				n := 0
				for _, cc := range order {
					u, v := x[r*cols+cc], x[j*cols+cc]
					if math.IsNaN(u) || math.IsNaN(v) {
						continue
					}
					s += float64((u - v) * (u - v))
					n++
				}
				e := knnEntry{q: math.NaN(), row: int32(j)}
				if n > 0 {
					e.q = float64(s * (float64(cols) / float64(n)))
				}
				cand = append(cand, e)
			}
			slices.SortFunc(cand, compareEntries)
			cand = cand[:min(k, len(cand))]
			if math.IsNaN(cand[0].q) {
				out[r*cols+c] = means[c]
				continue
			}
			p := &knnProblem{x: x, cols: cols, weights: w}
			out[r*cols+c] = p.average(cand, c)
		}
	}
	return out
}

func nanMask(x []float64) []bool {
	m := make([]bool, len(x))
	for i, v := range x {
		m[i] = math.IsNaN(v)
	}
	return m
}

func TestKNNImputerMatchesBruteForce(t *testing.T) {
	tests := []struct {
		rows, cols, k int
		pMissing      float64
	}{
		{700, 5, 5, 0.05},  // more complete rows than one tile; mixed patterns
		{300, 3, 1, 0.2},   // k=1, many incomplete donors
		{120, 4, 40, 0.3},  // k near the donor count
		{50, 6, 100, 0.4},  // k above the row count
		{600, 15, 5, 0.04}, // snapshot-like width
	}
	for i, tc := range tests {
		for _, w := range []KNNWeights{KNNUniform, KNNDistance} {
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			x := randomMatrix(rng, tc.rows, tc.cols, tc.pMissing)
			want := bruteForceKNN(x, tc.cols, tc.k, w)
			got, _, err := knn(KNNImputer{NNeighbors: tc.k, Weights: w, Workers: 2}).Impute(context.Background(), x, tc.cols)
			if err != nil {
				t.Fatal(err)
			}
			for j := range got {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
					t.Fatalf("case %d %v: cell [%d,%d] = %v, brute force %v", i, w, j/tc.cols, j%tc.cols, got[j], want[j])
				}
			}
		}
	}
}

func TestKNNImputerDeterministicAcrossWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const cols = 6
	x := randomMatrix(rng, 2000, cols, 0.1)
	for _, w := range []KNNWeights{KNNUniform, KNNDistance} {
		ref, _, err := knn(KNNImputer{Weights: w, Workers: 1}).Impute(context.Background(), x, cols)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{2, 3, 8, 0} {
			got, _, err := knn(KNNImputer{Weights: w, Workers: workers}).Impute(context.Background(), x, cols)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(ref[i]) {
					t.Fatalf("%v workers=%d: cell %d = %v, with 1 worker %v", w, workers, i, got[i], ref[i])
				}
			}
		}
	}
}

// countdownCtx reports cancellation after a number of Err calls, to prove the imputer looks
// at ctx between chunks and stops.
type countdownCtx struct {
	context.Context
	left  atomic.Int64
	calls atomic.Int64
}

func (c *countdownCtx) Err() error {
	c.calls.Add(1)
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestKNNImputerHonoursCancellation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := randomMatrix(rng, 3000, 4, 0.3) // hundreds of receivers → many chunks

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := knn(KNNImputer{}).Impute(ctx, x, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled: err = %v", err)
	}

	cd := &countdownCtx{Context: context.Background()}
	cd.left.Store(3) // the up-front check and two chunks, then cancelled
	out, _, err := knn(KNNImputer{Workers: 1}).Impute(cd, x, 4)
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Fatalf("cancelled mid-way: err = %v, out nil = %v", err, out == nil)
	}
	if cd.calls.Load() != 4 {
		t.Fatalf("ctx.Err called %d times, want 4 (start, two chunks, the cancelled check)", cd.calls.Load())
	}
}

// loadSnapshot reads the shared PurpleAir snapshot as a numeric matrix of every field except
// date_created. It is decoded here with encoding/json, so that the imputer's tests do not rest on
// pkg/purpleair's decoder.
func loadSnapshot(tb testing.TB) (x []float64, cols int, fields []string) {
	tb.Helper()
	path := repotest.SharedData(tb, repotest.SharedSnapshot)
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var resp struct {
		Fields []string     `json:"fields"`
		Data   [][]*float64 `json:"data"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	var keep []int
	for i, f := range resp.Fields {
		if f != "date_created" {
			keep = append(keep, i)
			fields = append(fields, f)
		}
	}
	x = make([]float64, 0, len(resp.Data)*len(keep))
	for r, row := range resp.Data {
		if len(row) != len(resp.Fields) {
			tb.Fatalf("%s: row %d has %d values for %d fields", path, r, len(row), len(resp.Fields))
		}
		for _, i := range keep {
			if row[i] == nil {
				x = append(x, math.NaN())
			} else {
				x = append(x, *row[i])
			}
		}
	}
	return x, len(keep), fields
}

func TestKNNImputerSnapshot(t *testing.T) {
	x, cols, fields := loadSnapshot(t)
	rows := len(x) / cols
	if rows != 25552 || cols != 15 {
		t.Fatalf("snapshot is %d×%d, want 25552×15", rows, cols)
	}
	nNaN, incomplete := 0, 0
	for r := 0; r < rows; r++ {
		any := false
		for c := 0; c < cols; c++ {
			if math.IsNaN(x[r*cols+c]) {
				nNaN++
				any = true
			}
		}
		if any {
			incomplete++
		}
	}
	for _, w := range []KNNWeights{KNNUniform, KNNDistance} {
		out, missing, err := knn(KNNImputer{Weights: w}).Impute(context.Background(), x, cols)
		if err != nil {
			t.Fatal(err)
		}
		imputed := 0
		for i, v := range out {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%v: cell [%d,%s] = %v after imputation", w, i/cols, fields[i%cols], v)
			}
			if missing[i] {
				imputed++
			} else if v != x[i] {
				t.Fatalf("%v: present cell [%d,%s] changed", w, i/cols, fields[i%cols])
			}
		}
		if imputed != nNaN {
			t.Fatalf("%v: %d cells imputed, %d were missing", w, imputed, nNaN)
		}
		t.Logf("%v: %d rows, %d incomplete, %d cells imputed", w, rows, incomplete, imputed)
	}
}

func BenchmarkKNNImputeSnapshot(b *testing.B) {
	x, cols, _ := loadSnapshot(b)
	imp := knn(KNNImputer{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := imp.Impute(context.Background(), x, cols); err != nil {
			b.Fatal(err)
		}
	}
}

// knn fills what a test leaves out with DefaultKNNImputer's values, so a test names only what it
// is about; the imputer itself takes every field as given.
func knn(k KNNImputer) KNNImputer {
	d := DefaultKNNImputer()
	if k.NNeighbors == 0 {
		k.NNeighbors = d.NNeighbors
	}
	if k.Workers == 0 {
		k.Workers = d.Workers
	}
	return k
}

// TestKNNImputerOptionsNamed: a bad option is an *OptionError naming the field, zeros included.
func TestKNNImputerOptionsNamed(t *testing.T) {
	for _, c := range []struct {
		imp    KNNImputer
		option string
	}{
		{KNNImputer{NNeighbors: 0, Workers: 1}, "NNeighbors"},
		{KNNImputer{NNeighbors: -3, Workers: 1}, "NNeighbors"},
		{KNNImputer{NNeighbors: 5, Workers: 0}, "Workers"},
		{KNNImputer{NNeighbors: 5, Workers: 1, Weights: 9}, "Weights"},
	} {
		_, _, err := c.imp.Impute(context.Background(), []float64{1, math.NaN(), 2, 3}, 2)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%+v: err = %v, want an *OptionError for %s", c.imp, err, c.option)
		}
	}
}
