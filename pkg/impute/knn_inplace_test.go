package impute

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestImputeInPlaceIsImpute: the values written into x are Impute's, bit for bit, on matrices whose
// incomplete rows donate to each other (were a filled value written before the other receivers were
// done, their distances would change), and the count is the number of holes.
func TestImputeInPlaceIsImpute(t *testing.T) {
	for i, pMissing := range []float64{0.05, 0.3, 0.6} {
		for _, w := range []KNNWeights{KNNUniform, KNNDistance} {
			rng := rand.New(rand.NewPCG(uint64(i), 14))
			x := randomMatrix(rng, 400, 4, pMissing)
			imp := knn(KNNImputer{NNeighbors: 3, Weights: w, Workers: 2})
			want, missing, err := imp.Impute(context.Background(), x, 4)
			if err != nil {
				t.Fatal(err)
			}
			holes := 0
			for _, m := range missing {
				if m {
					holes++
				}
			}
			n, err := imp.ImputeInPlace(context.Background(), x, 4)
			if err != nil {
				t.Fatal(err)
			}
			if n != holes || holes == 0 {
				t.Errorf("p=%v %v: filled %d cells, %d were missing", pMissing, w, n, holes)
			}
			for j := range x {
				if math.Float64bits(x[j]) != math.Float64bits(want[j]) {
					t.Fatalf("p=%v %v: cell [%d,%d] = %v in place, %v by Impute", pMissing, w, j/4, j%4, x[j], want[j])
				}
			}
		}
	}
}

// TestImputeInPlaceErrorsLeaveX: an error, whether found before any work (±Inf, an empty column) or
// by cancellation midway, returns Impute's error and leaves x as it was.
func TestImputeInPlaceErrorsLeaveX(t *testing.T) {
	nan := math.NaN()
	rng := rand.New(rand.NewPCG(3, 3))
	big := randomMatrix(rng, 3000, 4, 0.3)
	cd := &countdownCtx{Context: context.Background()}
	cd.left.Store(3) // the up-front check and two chunks, then cancelled
	cases := []struct {
		name string
		ctx  context.Context
		x    []float64
		cols int
		want func(error) bool
	}{
		{"infinity", context.Background(), []float64{1, nan, math.Inf(-1), 2}, 2, func(err error) bool {
			var e *NonFiniteError
			return errors.As(err, &e) && e.Row == 1 && e.Col == 0
		}},
		{"empty column", context.Background(), []float64{1, nan, 2, nan}, 2, func(err error) bool {
			var e *EmptyColumnError
			return errors.As(err, &e) && e.Col == 1
		}},
		{"cancelled midway", cd, big, 4, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := slices.Clone(c.x)
			n, err := knn(KNNImputer{Workers: 1}).ImputeInPlace(c.ctx, c.x, c.cols)
			if !c.want(err) || n != 0 {
				t.Fatalf("err %v, filled %d", err, n)
			}
			for j := range c.x {
				if math.Float64bits(c.x[j]) != math.Float64bits(before[j]) {
					t.Fatalf("cell %d changed from %v to %v", j, before[j], c.x[j])
				}
			}
		})
	}
}

// TestImputeInPlaceCompleteAllocatesNothing: a matrix without a hole is checked and left alone,
// with no allocation the size of the matrix (batch's common case, millions of complete rows).
func TestImputeInPlaceCompleteAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randomMatrix(rng, 10000, 3, 0)
	for i, v := range x {
		if v != v {
			x[i] = 1 // randomMatrix leaves a few all-missing rows even at pMissing 0
		}
	}
	before := slices.Clone(x)
	imp := knn(KNNImputer{Workers: 1})
	allocs := testing.AllocsPerRun(5, func() {
		if n, err := imp.ImputeInPlace(context.Background(), x, 3); err != nil || n != 0 {
			t.Fatalf("filled %d, err %v", n, err)
		}
	})
	if allocs > 1 { // the per-column counts
		t.Errorf("%v allocations for a complete matrix, want at most 1", allocs)
	}
	if !slices.Equal(x, before) {
		t.Error("a complete matrix was changed")
	}
}
