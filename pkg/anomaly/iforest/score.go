package iforest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// chunkRows is the number of rows scored together. All trees are
// walked over one chunk before the next chunk, so each tree (a few KiB) is
// loaded into cache once per chunk rather than once per row, while the
// chunk's converted rows, node indices and sums (≈ 512·(4·cols+12) bytes)
// stay in L1/L2.
const chunkRows = 512

// ScoreSamples writes scikit-learn's score_samples for each row of x into
// out: −2^(−E[h(x)]/c(max_samples)), where h(x) is a tree's path length
// (edges to the row's leaf + c(rows in that leaf)). Scores lie in [−1, 0);
// the lower, the more anomalous, and −0.5 is the paper's boundary.
// Rows are converted to float32 like scikit-learn's; a cell it would
// reject (NaN, ±Inf, beyond float32) is an *InputError naming row and
// column, and then out is unspecified.
func (f *Forest) ScoreSamples(x []float64, cols int, out []float64) error {
	return f.run(context.Background(), x, cols, dest{scores: out})
}

// DecisionFunction writes ScoreSamples − Offset: negative for rows the
// model calls anomalous (scikit-learn's decision_function).
func (f *Forest) DecisionFunction(x []float64, cols int, out []float64) error {
	return f.run(context.Background(), x, cols, dest{scores: out, subtractOffset: true})
}

// Predict writes −1 for anomalies (decision < 0) and 1 for the rest, as
// scikit-learn's predict.
func (f *Forest) Predict(x []float64, cols int, out []int) error {
	return f.run(context.Background(), x, cols, dest{labels: out})
}

// scoreSamples is ScoreSamples with cancellation, used by Fit to score the
// training rows for the contamination offset.
func (f *Forest) scoreSamples(ctx context.Context, x []float64, cols int, out []float64) error {
	return f.run(ctx, x, cols, dest{scores: out})
}

// dest says what to write per row: scores (optionally minus the
// offset) or labels.
type dest struct {
	scores         []float64
	subtractOffset bool
	labels         []int
}

func (d dest) len() int {
	if d.labels != nil {
		return len(d.labels)
	}
	return len(d.scores)
}

// run scores x in chunks, in parallel, writing to dst. When several chunks
// hold bad cells, the error reported is the first bad cell in row order,
// whatever the scheduling.
func (f *Forest) run(ctx context.Context, x []float64, cols int, dst dest) error {
	if len(f.treeDepth) == 0 {
		return errors.New("iforest: isolation forest is not fitted")
	}
	if cols != f.cols {
		return &InputError{Row: -1, Col: -1, Msg: fmt.Sprintf("model was fitted on %d columns, got %d", f.cols, cols)}
	}
	if len(x)%cols != 0 {
		return shapeError(len(x), cols)
	}
	rows := len(x) / cols
	if dst.len() != rows {
		return fmt.Errorf("iforest: output has %d elements for %d rows", dst.len(), rows)
	}
	chunks := (rows + chunkRows - 1) / chunkRows
	if chunks == 0 {
		return nil
	}
	workers := f.numWorkers(chunks)
	if workers == 1 {
		s := f.newScorer()
		for c := range chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.chunk(x, c, rows, dst); err != nil {
				return err
			}
		}
		return nil
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		errChunk = chunks // lowest chunk that failed; later chunks need no work
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := f.newScorer()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks || ctx.Err() != nil {
					return
				}
				mu.Lock()
				skip := c > errChunk
				mu.Unlock()
				if skip {
					continue
				}
				if err := s.chunk(x, c, rows, dst); err != nil {
					mu.Lock()
					if c < errChunk {
						errChunk, firstErr = c, err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// scorer is one goroutine's scratch: the chunk's rows, column-major, as
// float32 or orderKey, each row's current node and its path-length sum.
// Allocated once per call and goroutine, never per row.
type scorer struct {
	f    *Forest
	rows []float32
	keys []uint32
	idx  []uint32
	sums []float64
}

func (f *Forest) newScorer() *scorer {
	s := &scorer{f: f, idx: make([]uint32, chunkRows), sums: make([]float64, chunkRows)}
	if f.heapKey != nil {
		s.keys = make([]uint32, chunkRows*f.cols)
	} else {
		s.rows = make([]float32, chunkRows*f.cols)
	}
	return s
}

// chunk scores rows [c·chunkRows, …) of x into dst.
func (s *scorer) chunk(x []float64, c, rows int, dst dest) error {
	f := s.f
	cols := f.cols
	r0 := c * chunkRows
	nr := min(chunkRows, rows-r0)
	src := x[r0*cols : (r0+nr)*cols]
	// Transpose to column-major while converting, as float32 for the
	// pointer walk or as orderKey for the heap walk.
	heap := f.heapKey != nil
	for r := range nr {
		for c, v := range src[r*cols : (r+1)*cols] {
			v32 := float32(v)
			if v-v != 0 || math.IsInf(float64(v32), 0) {
				return badCell(v, r0+r, c)
			}
			if heap {
				s.keys[c*chunkRows+r] = orderKey(v32)
			} else {
				s.rows[c*chunkRows+r] = v32
			}
		}
	}
	sums := s.sums[:nr]
	clear(sums)
	idx := s.idx[:nr]
	if heap {
		for t, depth := range f.treeDepth {
			lo, hi := f.heapStart[t], f.heapStart[t+1]
			leaves := f.heapLeaves[f.leafStart[t]:f.leafStart[t+1]]
			walkHeap(f.heapKey[lo:hi], f.heapOff[lo:hi], leaves, int(depth), s.keys, idx, sums)
		}
	} else {
		for t, depth := range f.treeDepth {
			nodes := f.nodes[f.treeStart[t]:f.treeStart[t+1]]
			pathLen := f.pathLen[f.treeStart[t]:f.treeStart[t+1]]
			walkTree(nodes, pathLen, int(depth), s.rows, idx, sums)
		}
	}

	denom := float64(len(f.treeDepth)) * AveragePathLength(f.maxSamples)
	for r, sum := range sums {
		// scikit-learn: 2 ** -(depths / denominator), with the exponent
		// taken as −1 when the denominator is 0 (max_samples = 1).
		e := -1.0
		if denom != 0 {
			e = -(sum / denom)
		}
		score := -math.Pow(2, e)
		switch {
		case dst.labels != nil:
			if score-f.offset < 0 {
				dst.labels[r0+r] = -1
			} else {
				dst.labels[r0+r] = 1
			}
		case dst.subtractOffset:
			dst.scores[r0+r] = score - f.offset
		default:
			dst.scores[r0+r] = score
		}
	}
	return nil
}

// walkTree adds each row's path length in one tree to sums. rows is
// the chunk column-major (column c of row r at c·chunkRows+r) and idx is
// scratch for each row's current node.
//
// The walk is level by level across all rows of the chunk rather than
// row by row: one step for every row, then the next step. The steps of
// different rows are independent, so the CPU overlaps their loads instead
// of waiting on one row's chain of dependent loads, and each row's state
// is one uint32 in idx rather than a register. Every row takes exactly
// depth steps (leaves loop to themselves), and the step is written so the
// compiler emits a flag-to-integer move, not a branch: whether a row goes
// left is a coin flip the branch predictor cannot learn.
func walkTree(nodes []treeNode, pathLen []float64, depth int, rows []float32, idx []uint32, sums []float64) {
	clear(idx)
	for range depth {
		for r, i := range idx {
			n := &nodes[i]
			v := rows[int(n.feat)*chunkRows+r]
			idx[r] = i + uint32(n.left) + uint32(right(v, n.thr))
		}
	}
	for r, i := range idx {
		sums[r] += pathLen[i]
	}
}

// walkHeap is walkTree over a tree in heap order (see heapKey):
// children of i at 2i and 2i+1, so after depth steps from the root (1),
// i−2^depth indexes leaves. Rows are compared as orderKey integers.
//
// It takes two levels per pass over the rows, which halves the loads and
// stores of idx and the loop overhead per step while leaving each row's
// chain of dependent loads short enough for the CPU to overlap many rows.
// The first pass starts every row at the root without reading idx.
func walkHeap(key, off []uint32, leaves []float64, depth int, keys []uint32, idx []uint32, sums []float64) {
	if depth == 0 { // a single leaf
		for r := range sums {
			sums[r] += leaves[0]
		}
		return
	}
	heapSteps(key, off, keys, idx, depth)
	first := uint32(1) << depth
	for r, i := range idx {
		sums[r] += leaves[i-first]
	}
}

// heapSteps is walkHeap's hot loop: depth steps from the root for every
// row of the chunk, leaving each row's final heap index in idx.
//
// It is written for the fewest instructions per step, as the loop is
// bound by how many the core can issue, not by memory (a tree is a few
// KiB and stays in L1 for the whole chunk): a step is a load of the
// node's column offset, a load of its key, a load of the row's key at
// that offset from the row's own base, a subtraction whose sign is the
// direction, and the child's index. Memory is read through unsafe.Add
// without bounds checks or masks; every index is in range by
// construction, which heapStepsSafe states with checked indexing and
// TestHeapStepsMatchesSafe holds this loop to:
//
//   - i < len(key) = len(off): a heap index after s < depth steps from
//     the root is below 2^(s+1) ≤ 2^depth, and key holds 2^(depth+1)
//     slots (buildHeap);
//   - off[i] + 4r < 4·len(keys): off holds column·chunkRows·4 for a
//     column below the forest's (checked by Fit and UnmarshalBinary),
//     r < chunkRows, and keys holds chunkRows values per column.
func heapSteps(key, off []uint32, keys []uint32, idx []uint32, depth int) {
	if depth < 1 || len(key) < 1<<(depth+1) || len(off) < len(key) || len(idx) > chunkRows || len(keys) < chunkRows {
		panic(fmt.Sprintf("iforest: heapSteps(%d keys, %d offsets, %d row keys, %d rows, depth %d): outside what buildHeap and the scorer make", len(key), len(off), len(keys), len(idx), depth))
	}
	kp, op := unsafe.Pointer(unsafe.SliceData(key)), unsafe.Pointer(unsafe.SliceData(off))
	rp := unsafe.Pointer(unsafe.SliceData(keys))
	// step is one level down from node i for the row whose keys start at
	// row: the child 2i, or 2i+1 when the row's key is above the node's
	// (t − k then wraps to a value with the top bit set).
	step := func(i uintptr, row unsafe.Pointer) uintptr {
		t := uint64(*(*uint32)(unsafe.Add(kp, i*4)))
		k := uint64(*(*uint32)(unsafe.Add(row, uintptr(*(*uint32)(unsafe.Add(op, i*4))))))
		return 2*i + uintptr((t-k)>>63)
	}
	// Two levels per pass over the rows (one when depth is odd, first),
	// the first pass starting at the root without reading idx.
	if depth%2 == 1 {
		for r := range idx {
			idx[r] = uint32(step(1, unsafe.Add(rp, uintptr(r)*4)))
		}
	} else {
		for r := range idx {
			row := unsafe.Add(rp, uintptr(r)*4)
			idx[r] = uint32(step(step(1, row), row))
		}
		depth--
	}
	for depth--; depth >= 2; depth -= 2 {
		for r, i := range idx {
			row := unsafe.Add(rp, uintptr(r)*4)
			idx[r] = uint32(step(step(uintptr(i), row), row))
		}
	}
}

// heapStepsSafe is heapSteps with every index checked: the reference its
// test compares it with.
func heapStepsSafe(key, off []uint32, keys []uint32, idx []uint32, depth int) {
	for r := range idx {
		i := uint32(1)
		for range depth {
			i = 2*i + above(keys[int(off[i])/4+r], key[i])
		}
		idx[r] = i
	}
}

// above is 1 when key k lies above threshold key t (the row goes right).
func above(k, t uint32) uint32 {
	var b uint32
	if k > t {
		b = 1
	}
	return b
}

// right is 1 when a value goes to the right child (v > thr), else 0.
func right(v, thr float32) int32 {
	var b int32
	if v > thr {
		b = 1
	}
	return b
}

// percentileLinear is numpy.percentile(a, q) with the default "linear"
// method, computed the way numpy 1.22+ does (virtual index (n−1)·q/100,
// then its _lerp, which interpolates from the upper neighbour when the
// fraction is ≥ 0.5) so that the offset matches numpy's to the bit.
// It reorders a.
func percentileLinear(a []float64, q float64) float64 {
	return numpyPercentile(len(a), q, func(lo int) (float64, float64) {
		below := selectKth(a, lo)
		if lo+1 == len(a) {
			return below, below
		}
		// After selection everything right of lo is >= a[lo]; the next
		// order statistic is their minimum.
		return below, slices.Min(a[lo+1:])
	})
}

// percentileInPlace is percentileLinear leaving a as it is, for scores
// the caller keeps in row order: instead of selecting in a copy of a (8
// bytes a row), it finds the two order statistics by their bits
// (orderStatistic), reading a eight times.
func percentileInPlace(a []float64, q float64) float64 {
	hist := new([1 << radixBits]int)
	return numpyPercentile(len(a), q, func(lo int) (float64, float64) {
		below := orderStatistic(a, lo, hist)
		if lo+1 == len(a) {
			return below, below
		}
		return below, orderStatistic(a, lo+1, hist)
	})
}

// numpyPercentile is the percentile of n values from the lo-th and
// (lo+1)-th smallest, which pair returns (the lo-th twice for the last).
func numpyPercentile(n int, q float64, pair func(lo int) (below, above float64)) float64 {
	if n == 0 {
		return math.NaN()
	}
	virtual := float64(n-1) * (q / 100)
	if virtual >= float64(n-1) {
		v, _ := pair(n - 1)
		return v
	}
	if virtual < 0 {
		v, _ := pair(0)
		return v
	}
	lo := int(math.Floor(virtual))
	below, above := pair(lo)
	return numpyLerp(below, above, virtual-float64(lo))
}

// radixBits is the digit orderStatistic narrows the key by per pass.
const radixBits = 16

// orderStatistic is the k-th smallest (0-based) of a, a not NaN, found by
// the bits of its order key (float64Key) radixBits at a time: each pass
// counts the values whose key starts as the k-th's is known to, by their
// next digit, and keeps the digit where the count passes k.
func orderStatistic(a []float64, k int, hist *[1 << radixBits]int) float64 {
	var prefix, mask uint64
	for shift := 64 - radixBits; shift >= 0; shift -= radixBits {
		clear(hist[:])
		for _, v := range a {
			if key := float64Key(v); key&mask == prefix {
				hist[key>>shift&(1<<radixBits-1)]++
			}
		}
		d := 0
		for ; k >= hist[d]; d++ {
			k -= hist[d]
		}
		prefix |= uint64(d) << shift
		mask |= (1<<radixBits - 1) << shift
	}
	return float64FromKey(prefix)
}

// float64Key maps a float64 to a uint64 in the same order, as orderKey
// does float32s; −0 maps like +0, which compares equal to it.
func float64Key(v float64) uint64 {
	b := math.Float64bits(v)
	switch {
	case b == 1<<63:
		return 1 << 63
	case b&(1<<63) != 0:
		return ^b
	default:
		return b | 1<<63
	}
}

// float64FromKey is float64Key's inverse (−0 comes back as +0).
func float64FromKey(k uint64) float64 {
	if k&(1<<63) != 0 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// numpyLerp is numpy's _lerp.
func numpyLerp(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// selectKth moves the k-th smallest element of a to a[k], smaller or equal
// ones before it and greater or equal ones after, and returns it. Hoare
// partitioning around a median of three copes with the many equal scores
// an isolation forest produces; pathological inputs fall back to sorting.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for iter := 0; lo < hi; iter++ {
		if iter > 64 {
			slices.Sort(a[lo : hi+1])
			break
		}
		mid := lo + (hi-lo)/2
		p := median3(a[lo], a[mid], a[hi])
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

func median3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
