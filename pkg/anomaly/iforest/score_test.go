package iforest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHeapStepsMatchesSafe: the unchecked walk ends every row at the node the checked one does, for
// every depth the heap layout takes, odd and even, chunks full and short, and keys that tie with a
// threshold (left) or sit at the ends of the uint32 range, where t − k must not be misread.
func TestHeapStepsMatchesSafe(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	edge := []uint32{0, 1, 1 << 31, 1<<32 - 2, 1<<32 - 1}
	draw := func(pool []uint32) uint32 {
		if rng.IntN(3) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		if rng.IntN(2) == 0 {
			return pool[rng.IntN(len(pool))]
		}
		return rng.Uint32()
	}
	for depth := 1; depth <= heapMaxDepth; depth++ {
		for _, cols := range []int{1, 3, 15} {
			for _, rows := range []int{1, 37, chunkRows} {
				key := make([]uint32, 1<<(depth+1))
				off := make([]uint32, len(key))
				keys := make([]uint32, chunkRows*cols) // as the scorer makes them: heapStepsSafe checks every read
				for i := range keys {
					keys[i] = draw(edge)
				}
				for i := range key {
					key[i] = draw(keys) // often a row's own key: the tie goes left
					off[i] = uint32(rng.IntN(cols)) * chunkRows * 4
				}
				got, want := make([]uint32, rows), make([]uint32, rows)
				heapSteps(key, off, keys, got, depth)
				heapStepsSafe(key, off, keys, want, depth)
				if !slices.Equal(got, want) {
					t.Fatalf("depth %d, %d columns, %d rows: heapSteps ends at %v, the checked walk at %v", depth, cols, rows, got[:min(8, rows)], want[:min(8, rows)])
				}
				lo, hi := slices.Min(got), slices.Max(got)
				if lo < 1<<depth || hi >= 1<<(depth+1) {
					t.Fatalf("depth %d: leaves %d..%d outside level %d", depth, lo, hi, depth)
				}
			}
		}
	}
}

// TestPercentileInPlaceIsPercentileLinear: the percentile found by order keys, without reordering
// its input, is the one selection in a copy finds, to the bit, on scores with the many ties an
// isolation forest gives, on values of both signs and zeros of both signs, at the ends and in
// between (fractions below and above one half, numpy's two lerp branches), and leaves the input as
// it was.
func TestPercentileInPlaceIsPercentileLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	arrays := [][]float64{{-0.5}, {0.25, -0.25}, {0, math.Copysign(0, -1), 1, -1, 0}}
	for _, n := range []int{3, 10, 1000, 30000} {
		ties := make([]float64, n)
		spread := make([]float64, n)
		for i := range ties {
			ties[i] = -0.3 - float64(rng.IntN(40))/97 // few distinct values
			spread[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
		}
		arrays = append(arrays, ties, spread)
	}
	for _, a := range arrays {
		for _, q := range []float64{0, 0.1, 1, 2.5, 25, 50, 99.9, 100} {
			before := slices.Clone(a)
			got := percentileInPlace(a, q)
			want := percentileLinear(slices.Clone(a), q)
			if math.Float64bits(got) != math.Float64bits(want) && !(got == 0 && want == 0) {
				t.Fatalf("%d values, q %v: %v in place, %v by selection", len(a), q, got, want)
			}
			if !slices.Equal(a, before) {
				t.Fatalf("%d values, q %v: the input was reordered", len(a), q)
			}
		}
	}
}
