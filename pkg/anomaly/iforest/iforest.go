package iforest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Forest is a fitted isolation forest with scikit-learn 1.x
// semantics (sklearn.ensemble.IsolationForest): the same options, the same
// tree-growing rules and the same meaning of every score, offset and
// prediction. It is immutable after fitting and safe for concurrent use.
//
// All trees live in one flat node slice so that scoring walks compact,
// cache-resident arrays instead of pointer-linked nodes.
type Forest struct {
	cols          int
	maxSamples    int
	offset        float64
	contamination float64 // 0 = "auto"; kept so a loaded model can say how offset was chosen
	workers       int     // not serialized: a property of the machine, not the model

	// nodes holds every tree, tree t at nodes[treeStart[t]:treeStart[t+1]],
	// its root first.
	nodes []treeNode
	// pathLen[i] is, for leaf i, the path-length term scikit-learn adds for
	// a row ending there: edges from the root + c(rows in the leaf). It is 0
	// for internal nodes and sits in its own slice because it is read once
	// per tree and row, while nodes are read once per level.
	pathLen   []float64
	treeStart []int32
	// treeDepth[t] is the depth of tree t's deepest leaf: walking that many
	// levels from the root reaches the row's leaf, because leaves loop to
	// themselves (see treeNode). A fixed trip count keeps the scoring loop free
	// of unpredictable "is this a leaf?" branches.
	treeDepth []uint8

	// heapKey and heapOff are the same trees in heap order, derived from
	// nodes when every tree is at most heapMaxDepth deep (always so for
	// max_samples ≤ 1024); nil if the trees are deeper, as a complete tree
	// of depth d has 2^(d+1)−1 nodes. Tree t of depth d is at
	// [heapStart[t], heapStart[t+1]): 2^(d+1) slots, slot 0 unused, the
	// root at 1 and node i's children at 2i and 2i+1, so a step needs no
	// child index from memory. heapKey holds orderKey of the threshold and
	// heapOff the column's offset in a scoring chunk's keys, in bytes
	// (column·chunkRows·4).
	// A leaf shallower than d becomes a chain of +Inf thresholds (every row
	// goes left) down to level d, where slot 2^d+j is leaf j, whose path
	// length is heapLeaves[leafStart[t]+j].
	heapKey    []uint32
	heapOff    []uint32
	heapLeaves []float64
	heapStart  []int32
	leafStart  []int32
}

// orderKey maps a float32 to a uint32 with the same order, so the scoring
// loop compares integers: flip the sign bit of non-negative values, all
// bits of negative ones. −0 maps like +0 since the two compare equal.
// (NaN never reaches it: inputs are checked.)
func orderKey(v float32) uint32 {
	b := math.Float32bits(v)
	switch {
	case b == 0x80000000:
		return 0x80000000
	case b&0x80000000 != 0:
		return ^b
	default:
		return b | 0x80000000
	}
}

// heapMaxDepth bounds the depth for which trees are also kept in heap
// order: 2^11 nodes (16 KiB) per tree at most.
const heapMaxDepth = 10

// treeNode is one tree node, 12 bytes. The children are adjacent; left is
// the distance from this node to the first. A row goes left when
// float32(x[feat]) <= thr and to the right child otherwise, which is
// scikit-learn's rule: its trees compare float32 features against a
// float64 threshold t, and for any float32 v, v <= t exactly when v <= the
// largest float32 not above t, which is what thr stores.
//
// A leaf has thr = +Inf and left = 0, so a walk that has reached it
// stays there for any finite input.
type treeNode struct {
	thr  float32
	feat int32
	left int32
}

// eulerGamma is the Euler–Mascheroni constant, numpy's np.euler_gamma.
const eulerGamma = 0.5772156649015329

// AveragePathLength is c(n) of Liu et al., scikit-learn's
// _average_path_length: the expected path length of an unsuccessful search
// in a binary search tree of n keys, i.e. how much deeper an isolation tree
// would have grown below a leaf still holding n rows.
func AveragePathLength(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	f := float64(n)
	return 2.0*(math.Log(f-1.0)+eulerGamma) - 2.0*(f-1.0)/f
}

// leafPathLength is the term scikit-learn adds for a row reaching a leaf
// at the given depth (edges from the root) holding n training rows. It is
// written as scikit-learn evaluates it, (nodes on path + c(n)) − 1, so the
// float64 rounding is the same and sums over trees agree to the bit.
func leafPathLength(depth, n int) float64 {
	return (float64(depth+1) + AveragePathLength(n)) - 1.0
}

// float32Below returns the largest float32 not greater than t. See treeNode.
func float32Below(t float64) float32 {
	f := float32(t)
	if float64(f) > t {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// featureThreshold is scikit-learn's FEATURE_THRESHOLD: a feature whose
// range in a node is at most this (in float32 arithmetic) counts as
// constant there and cannot be split on.
const featureThreshold float32 = 1e-7

// NumFeatures is the number of columns the forest was fitted on.
func (f *Forest) NumFeatures() int { return f.cols }

// MaxSamples is scikit-learn's max_samples_: the rows drawn per tree,
// which also sets the score's normalisation c(max_samples).
func (f *Forest) MaxSamples() int { return f.maxSamples }

// Offset is scikit-learn's offset_: DecisionFunction = ScoreSamples − Offset.
func (f *Forest) Offset() float64 { return f.offset }

// NumTrees is the number of trees (n_estimators).
func (f *Forest) NumTrees() int { return len(f.treeDepth) }

// SizeBytes approximates the memory the model holds, for caches that
// bound their total size.
func (f *Forest) SizeBytes() int {
	return 160 + len(f.nodes)*12 + len(f.pathLen)*8 + len(f.treeStart)*4 + len(f.treeDepth) +
		len(f.heapKey)*4 + len(f.heapOff)*4 + len(f.heapLeaves)*8 + len(f.heapStart)*4 + len(f.leafStart)*4
}

// Fit grows an isolation forest on x, a row-major matrix of
// len(x)/cols rows, with scikit-learn's rules:
//
//   - each tree is grown on max_samples rows drawn without replacement
//     (with replacement if Bootstrap; duplicates then count once in leaf
//     sizes, because scikit-learn passes bootstrap draws as sample weights
//     and a tree's n_node_samples counts distinct rows), over MaxFeatures
//     columns drawn per tree;
//   - growth stops at depth ceil(log2(max(max_samples, 2))), at a single
//     row, or where every column is constant in the node;
//   - a split column is uniform among the columns not constant in the
//     node, its threshold uniform in [min, max) of that column there.
//
// Values are converted to float32 first, as scikit-learn does, so a value
// outside float32 range is an error like NaN and ±Inf (*InputError).
// Trees are grown in parallel, each from its own random stream derived
// from Seed and its index, so the model does not depend on Workers.
// Cancelling ctx stops the work between trees and score chunks and returns
// ctx.Err().
func Fit(ctx context.Context, x []float64, cols int, opt Options) (*Forest, error) {
	return fitIsolationForest(ctx, x, cols, opt, nil, false)
}

// FitScore is Fit followed by ScoreSamples
// of the training rows into scores (len(scores) = rows), the batch job's
// fit-then-score. With a Contamination set, fitting already scores every
// training row to place the offset, so this saves a whole scoring pass.
func FitScore(ctx context.Context, x []float64, cols int, opt Options, scores []float64) (*Forest, error) {
	return fitIsolationForest(ctx, x, cols, opt, scores, true)
}

// fitIsolationForest fits, and with callerScores also scores the training
// rows into scores.
func fitIsolationForest(ctx context.Context, x []float64, cols int, opt Options, scores []float64, callerScores bool) (*Forest, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	if cols <= 0 || len(x)%cols != 0 {
		return nil, shapeError(len(x), cols)
	}
	if cols > math.MaxInt32/chunkRows {
		return nil, &InputError{Row: -1, Col: -1, Msg: fmt.Sprintf("%d columns exceed the %d an isolation forest can index", cols, math.MaxInt32/chunkRows)}
	}
	n := len(x) / cols
	if n == 0 {
		return nil, &InputError{Row: -1, Col: -1, Msg: "no rows to fit on"}
	}
	if callerScores && len(scores) != n {
		return nil, fmt.Errorf("iforest: scores has %d elements for %d rows", len(scores), n)
	}
	if n > math.MaxInt32 {
		return nil, &InputError{Row: -1, Col: -1, Msg: fmt.Sprintf("%d rows exceed the %d an isolation forest can index", n, math.MaxInt32)}
	}
	if err := checkCells(x, cols); err != nil {
		return nil, err
	}

	nTrees := opt.NEstimators
	maxSamples := opt.SamplesPerTree(n)
	switch {
	case maxSamples < 1:
		return nil, &OptionError{Option: "MaxSamples", Msg: fmt.Sprintf("fraction %v of %d rows is less than one row", opt.MaxSamples.fraction, n)}
	case !opt.MaxSamples.auto && opt.MaxSamples.count > n && opt.Logf != nil:
		opt.Logf("iforest: max_samples (%d) is greater than the total number of samples (%d). max_samples will be set to n_samples for estimation.", opt.MaxSamples.count, n)
	}
	maxDepth := int(math.Ceil(math.Log2(float64(max(maxSamples, 2)))))

	nFeat := max(1, opt.MaxFeatures.of(cols))
	if nFeat > cols {
		return nil, &OptionError{Option: "MaxFeatures", Msg: fmt.Sprintf("must be <= the %d columns, got %d", cols, nFeat)}
	}

	f := &Forest{
		cols:          cols,
		maxSamples:    maxSamples,
		contamination: opt.Contamination,
		workers:       opt.Workers,
	}
	workers := f.numWorkers(nTrees)
	trees := make([]tree, nTrees)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBuilder(x, cols, n, maxSamples, maxDepth, nFeat, opt.Bootstrap)
			for {
				t := int(next.Add(1) - 1)
				if t >= nTrees || ctx.Err() != nil {
					return
				}
				trees[t] = b.grow(treeSeed(opt.Seed, t))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.assemble(trees)

	f.offset = -0.5
	if opt.Contamination == 0 && !callerScores {
		return f, nil
	}
	if !callerScores {
		scores = make([]float64, n)
	}
	if err := f.scoreSamples(ctx, x, cols, scores); err != nil {
		return nil, err
	}
	switch {
	case opt.Contamination == 0:
	case callerScores: // they stay in row order
		f.offset = percentileInPlace(scores, 100.0*opt.Contamination)
	default:
		f.offset = percentileLinear(scores, 100.0*opt.Contamination)
	}
	return f, nil
}

// numWorkers is how many goroutines share jobs units of work: the Workers
// the forest was fitted with, or GOMAXPROCS for one decoded into a new
// Forest (workers is not serialized), but never more than there are units.
func (f *Forest) numWorkers(jobs int) int {
	w := f.workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(1, min(w, jobs))
}

// checkCells rejects cells scikit-learn would reject after its
// float32 conversion: NaN, ±Inf and finite values that overflow float32.
func checkCells(x []float64, cols int) error {
	for i, v := range x {
		if v-v != 0 || math.IsInf(float64(float32(v)), 0) {
			return badCell(v, i/cols, i%cols)
		}
	}
	return nil
}

func badCell(v float64, row, col int) error {
	e := &InputError{Row: row, Col: col, Value: v}
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		e.Msg = fmt.Sprintf("%v is outside float32 range (scikit-learn's trees compute in float32)", v)
	}
	return e
}

// treeSeed derives tree t's PCG seed from the forest seed. Each tree owns
// its stream, so which goroutine grows it cannot change it.
func treeSeed(seed int64, t int) [2]uint64 {
	s := mix64(uint64(seed) ^ 0x6a09e667f3bcc909)
	return [2]uint64{mix64(s + uint64(t)*0x9e3779b97f4a7c15), mix64(s ^ mix64(uint64(t)+0xbb67ae8584caa73b))}
}

// mix64 is the SplitMix64 finalizer: it spreads nearby inputs (seed 1,
// seed 2; tree 0, tree 1) over unrelated 64-bit states.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// tree is one tree as its builder produced it, before the forest
// concatenates all trees into one slice.
type tree struct {
	nodes   []treeNode
	pathLen []float64
	depth   int
}

func (f *Forest) assemble(trees []tree) {
	total := 0
	for _, t := range trees {
		total += len(t.nodes)
	}
	f.nodes = make([]treeNode, 0, total)
	f.pathLen = make([]float64, 0, total)
	f.treeStart = make([]int32, 0, len(trees)+1)
	f.treeDepth = make([]uint8, 0, len(trees))
	for _, t := range trees {
		f.treeStart = append(f.treeStart, int32(len(f.nodes)))
		f.treeDepth = append(f.treeDepth, uint8(t.depth))
		f.nodes = append(f.nodes, t.nodes...)
		f.pathLen = append(f.pathLen, t.pathLen...)
	}
	f.treeStart = append(f.treeStart, int32(len(f.nodes)))
	f.buildHeap()
}

// buildHeap derives the heap-order copy of the trees (see heapKey).
func (f *Forest) buildHeap() {
	f.heapKey, f.heapOff, f.heapLeaves, f.heapStart, f.leafStart = nil, nil, nil, nil, nil
	if f.cols > math.MaxUint32/(chunkRows*4) {
		return // a column's byte offset in a chunk would not fit heapOff's uint32
	}
	nh, nl := 0, 0
	for _, d := range f.treeDepth {
		if d > heapMaxDepth {
			return
		}
		nh += 1 << (d + 1)
		nl += 1 << d
	}
	f.heapKey = make([]uint32, nh)
	f.heapOff = make([]uint32, nh)
	f.heapLeaves = make([]float64, nl)
	f.heapStart = make([]int32, 0, len(f.treeDepth)+1)
	f.leafStart = make([]int32, 0, len(f.treeDepth)+1)
	inf := orderKey(float32(math.Inf(1)))
	nh, nl = 0, 0
	for t, d := range f.treeDepth {
		f.heapStart = append(f.heapStart, int32(nh))
		f.leafStart = append(f.leafStart, int32(nl))
		size, leaves := 1<<(d+1), 1<<d
		tree := f.nodes[f.treeStart[t]:f.treeStart[t+1]]
		pathLen := f.pathLen[f.treeStart[t]:f.treeStart[t+1]]
		key, off := f.heapKey[nh:nh+size], f.heapOff[nh:nh+size]
		leafLen := f.heapLeaves[nl : nl+leaves]
		var fill func(p int32, h, depth int)
		fill = func(p int32, h, depth int) {
			if depth == int(d) {
				leafLen[h-leaves] = pathLen[p]
				return
			}
			n := tree[p]
			if n.left == 0 { // a leaf above the bottom: route everything left
				key[h] = inf
				fill(p, 2*h, depth+1)
				return
			}
			key[h], off[h] = orderKey(n.thr), uint32(n.feat)*chunkRows*4
			fill(p+n.left, 2*h, depth+1)
			fill(p+n.left+1, 2*h+1, depth+1)
		}
		fill(0, 1, 0)
		nh += size
		nl += leaves
	}
	f.heapStart = append(f.heapStart, int32(nh))
	f.leafStart = append(f.leafStart, int32(nl))
}

// builder holds one goroutine's scratch space, reused for every tree
// it grows so that growing allocates only the finished tree.
type builder struct {
	x          []float64
	cols, n    int
	k          int // max_samples
	maxDepth   int
	nFeat      int
	bootstrap  bool
	rng        *rand.Rand
	pcg        *rand.PCG
	allCols    []int32   // 0..cols-1, shuffled to draw a tree's columns
	treeCols   []int32   // the tree's columns: position j in block is column treeCols[j]
	taken      []uint64  // bitset over rows, marks rows already drawn
	perm       []int32   // 0..n-1, for drawing most of the rows
	rows       []int32   // the tree's (distinct) rows
	block      []float32 // the sample, column-major: block[j*len(rows)+s]
	samp       []int32   // positions into rows, permuted as nodes split
	vals       []float32 // the split column's values, aligned with samp
	candidates [][]int32 // per depth: block columns not known constant
	nodes      []treeNode
	pathLen    []float64
	depth      int
}

func newBuilder(x []float64, cols, n, k, maxDepth, nFeat int, bootstrap bool) *builder {
	b := &builder{x: x, cols: cols, n: n, k: k, maxDepth: maxDepth, nFeat: nFeat, bootstrap: bootstrap}
	b.pcg = rand.NewPCG(0, 0)
	b.rng = rand.New(b.pcg)
	b.allCols = make([]int32, cols)
	b.treeCols = make([]int32, nFeat)
	b.taken = make([]uint64, (n+63)/64)
	b.rows = make([]int32, 0, k)
	b.block = make([]float32, nFeat*k)
	b.samp = make([]int32, k)
	b.vals = make([]float32, k)
	b.candidates = make([][]int32, maxDepth+1)
	for d := range b.candidates {
		b.candidates[d] = make([]int32, nFeat)
	}
	return b
}

// grow draws a tree's columns and rows and grows it.
func (b *builder) grow(seed [2]uint64) tree {
	b.pcg.Seed(seed[0], seed[1])

	// Columns: a uniform subset, as scikit-learn's bagging draws per tree.
	for i := range b.allCols {
		b.allCols[i] = int32(i)
	}
	if b.nFeat < b.cols {
		for i := 0; i < b.nFeat; i++ {
			j := i + b.rng.IntN(b.cols-i)
			b.allCols[i], b.allCols[j] = b.allCols[j], b.allCols[i]
		}
	}
	copy(b.treeCols, b.allCols[:b.nFeat])

	b.drawRows()
	m := len(b.rows)
	for j, c := range b.treeCols {
		col := b.block[j*m : (j+1)*m]
		for s, r := range b.rows {
			col[s] = float32(b.x[int(r)*b.cols+int(c)])
		}
	}
	for s := range m {
		b.samp[s] = int32(s)
	}
	for j := range b.candidates[0] {
		b.candidates[0][j] = int32(j)
	}

	// A tree has at most 2m−1 nodes and at most 2^(maxDepth+1)−1.
	capNodes := 2*m - 1
	if b.maxDepth < 30 {
		capNodes = min(capNodes, 1<<(b.maxDepth+1)-1)
	}
	b.nodes = make([]treeNode, 1, capNodes)
	b.pathLen = make([]float64, 1, capNodes)
	b.depth = 0
	b.split(0, 0, m, 0, b.nFeat)
	return tree{nodes: b.nodes, pathLen: b.pathLen, depth: b.depth}
}

// drawRows fills b.rows with the tree's distinct rows.
func (b *builder) drawRows() {
	n, k := b.n, b.k
	b.rows = b.rows[:0]
	switch {
	case b.bootstrap:
		// k draws with replacement; a row drawn twice is one row of the
		// tree (see Fit).
		for range k {
			r := b.rng.IntN(n)
			if b.taken[r>>6]&(1<<(r&63)) == 0 {
				b.taken[r>>6] |= 1 << (r & 63)
				b.rows = append(b.rows, int32(r))
			}
		}
	case k == n:
		for r := range n {
			b.rows = append(b.rows, int32(r))
		}
		return
	case 2*k <= n:
		// Rejection: fewer than two tries per row on average, and no O(n)
		// work per tree, which matters for 256 of 567,000 rows.
		for len(b.rows) < k {
			r := b.rng.IntN(n)
			if b.taken[r>>6]&(1<<(r&63)) == 0 {
				b.taken[r>>6] |= 1 << (r & 63)
				b.rows = append(b.rows, int32(r))
			}
		}
	default:
		// Most rows: a partial Fisher–Yates shuffle.
		if b.perm == nil {
			b.perm = make([]int32, n)
		}
		for i := range b.perm {
			b.perm[i] = int32(i)
		}
		for i := range k {
			j := i + b.rng.IntN(n-i)
			b.perm[i], b.perm[j] = b.perm[j], b.perm[i]
		}
		b.rows = append(b.rows, b.perm[:k]...)
		return
	}
	for _, r := range b.rows {
		b.taken[r>>6] &^= 1 << (r & 63)
	}
}

// split grows node (already allocated) from the samples samp[start:end] at
// the given depth; candidates[depth][:nCand] are the block columns not yet
// found constant on the way down (a column constant in a node is constant
// in its children, so it is never examined again, as in scikit-learn).
func (b *builder) split(node int32, start, end, depth, nCand int) {
	n := end - start
	if depth < b.maxDepth && n >= 2 {
		cand := b.candidates[depth]
		m := len(b.rows)
		for nCand > 0 {
			// Draw uniformly among the untried candidates; a constant one is
			// dropped and the draw repeated, so the column used is uniform
			// among those not constant in this node.
			j := b.rng.IntN(nCand)
			c := cand[j]
			col := b.block[int(c)*m : int(c+1)*m]
			lo := col[b.samp[start]]
			hi := lo
			for p := start; p < end; p++ {
				v := col[b.samp[p]]
				b.vals[p] = v
				lo = min(lo, v)
				hi = max(hi, v)
			}
			if hi <= lo+featureThreshold {
				nCand--
				cand[j], cand[nCand] = cand[nCand], cand[j]
				continue
			}
			t := (float64(hi)-float64(lo))*b.rng.Float64() + float64(lo)
			if t == float64(hi) {
				t = float64(lo)
			}
			thr := float32Below(t)
			// Partition: rows with value <= thr first.
			p, q := start, end
			for p < q {
				if b.vals[p] <= thr {
					p++
				} else {
					q--
					b.vals[p], b.vals[q] = b.vals[q], b.vals[p]
					b.samp[p], b.samp[q] = b.samp[q], b.samp[p]
				}
			}
			left := int32(len(b.nodes))
			b.nodes = append(b.nodes, treeNode{}, treeNode{})
			b.pathLen = append(b.pathLen, 0, 0)
			b.nodes[node] = treeNode{thr: thr, feat: b.treeCols[c], left: left - node}
			// Both children start from the candidates left here; the left
			// subtree only writes deeper levels, so the right child can copy
			// them again afterwards.
			next := b.candidates[depth+1]
			copy(next, cand[:nCand])
			b.split(left, start, p, depth+1, nCand)
			copy(next, cand[:nCand])
			b.split(left+1, p, end, depth+1, nCand)
			return
		}
	}
	b.nodes[node] = treeNode{thr: float32(math.Inf(1)), feat: 0, left: 0}
	b.pathLen[node] = leafPathLength(depth, n)
	b.depth = max(b.depth, depth)
}
