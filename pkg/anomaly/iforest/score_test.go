package iforest

import (
	"math/bits"
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
				keys := make([]uint32, 1<<bits.Len(uint(chunkRows*cols-1)))
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
