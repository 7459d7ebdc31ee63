package anomaly

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"

	"github.com/hazewatch/hazewatch/internal/pyrand"
)

// Half-Space Trees with River's semantics (river/anomaly/hst.py), bit for bit.
//
// The model is split in two so that thousands of series can share one forest:
//   - HalfSpaceTrees holds the immutable tree structure (split feature and threshold per node),
//     built from the seed exactly as River builds it on its first learn_one;
//   - HSTState holds one series' masses (l_mass, r_mass per node), its window counter and whether
//     the first window is complete.
//
// Trees are stored as implicit complete binary trees: node i has children 2i+1 and 2i+2, the
// 2^height−1 branches come first and the 2^height leaves last. River's padded trees are always
// complete, so no pointers are needed and a walk is a few array reads.

const (
	hstDefaultTrees  = 10
	hstDefaultHeight = 8
	hstDefaultWindow = 250
	hstMaxTrees      = 10000
	hstMaxHeight     = 20
	hstMaxNodes      = 1 << 26 // all trees together: a state of 256 MiB; keeps sums exact in float64
	hstMaxWindow     = 65535   // masses are uint16 and never exceed window_size
	hstMaxFeatures   = 65535   // split features are stored as uint16
	hstPadding       = 0.15    // River's make_padded_tree padding
)

// HalfSpaceTreesOptions configures Half-Space Trees; zero values take River's defaults (so a
// River height or n_trees of 0, which would be degenerate, cannot be asked for).
type HalfSpaceTreesOptions struct {
	Trees      int                   // River n_trees (default 10), up to 10,000
	Height     int                   // River height (default 8), up to 20: each tree has height+1 levels
	WindowSize int                   // River window_size (default 250), 1..65535
	Limits     map[string][2]float64 // per-feature (min, max), min < max, finite; features without limits use (0, 1) like River
	// Seed is River's seed: trees are drawn from CPython's random.Random(Seed) stream (a negative
	// seed acts as its absolute value, as in CPython). River's seed=None (OS entropy) has no
	// equivalent: a model here is always reproducible.
	Seed int64
}

func (o HalfSpaceTreesOptions) withDefaults() HalfSpaceTreesOptions {
	if o.Trees == 0 {
		o.Trees = hstDefaultTrees
	}
	if o.Height == 0 {
		o.Height = hstDefaultHeight
	}
	if o.WindowSize == 0 {
		o.WindowSize = hstDefaultWindow
	}
	return o
}

// Validate reports the first option that is out of range, naming it.
func (o HalfSpaceTreesOptions) Validate() error {
	o = o.withDefaults()
	if o.Trees < 1 || o.Trees > hstMaxTrees {
		return fmt.Errorf("anomaly: half-space trees: Trees (n_trees) must be in [1, %d], got %d", hstMaxTrees, o.Trees)
	}
	if o.Height < 1 || o.Height > hstMaxHeight {
		return fmt.Errorf("anomaly: half-space trees: Height must be in [1, %d], got %d", hstMaxHeight, o.Height)
	}
	if nodes := o.Trees << (o.Height + 1); nodes > hstMaxNodes {
		return fmt.Errorf("anomaly: half-space trees: Trees × 2^(Height+1) = %d nodes, at most %d (Trees %d, Height %d)", nodes, hstMaxNodes, o.Trees, o.Height)
	}
	if o.WindowSize < 1 || o.WindowSize > hstMaxWindow {
		return fmt.Errorf("anomaly: half-space trees: WindowSize (window_size) must be in [1, %d], got %d", hstMaxWindow, o.WindowSize)
	}
	names := make([]string, 0, len(o.Limits))
	for name := range o.Limits {
		names = append(names, name)
	}
	sort.Strings(names) // report the same error every run
	for _, name := range names {
		l := o.Limits[name]
		if math.IsNaN(l[0]) || math.IsNaN(l[1]) || math.IsInf(l[0], 0) || math.IsInf(l[1], 0) {
			return fmt.Errorf("anomaly: half-space trees: Limits[%q] must be finite, got (%v, %v)", name, l[0], l[1])
		}
		if !(l[0] < l[1]) {
			return fmt.Errorf("anomaly: half-space trees: Limits[%q] min must be less than max, got (%v, %v)", name, l[0], l[1])
		}
		if math.IsInf(l[1]-l[0], 0) {
			return fmt.Errorf("anomaly: half-space trees: Limits[%q] range overflows float64, got (%v, %v)", name, l[0], l[1])
		}
	}
	return nil
}

// HalfSpaceTrees is the shared, immutable structure of a Half-Space Trees forest. It is safe for
// concurrent use; each goroutine/series brings its own *HSTState.
type HalfSpaceTrees struct {
	features []string
	limits   [][2]float64 // effective limits per feature, in feature order
	opt      HalfSpaceTreesOptions

	branches int // branches per tree: 2^height − 1
	nodes    int // nodes per tree: 2^(height+1) − 1

	on []uint16  // split feature per branch, tree-major: on[t*branches+i]
	at []float64 // split threshold per branch (a value < at goes left)

	stopBelow uint32  // scoring stops after a node whose r_mass < stopBelow (= ceil(size_limit))
	maxScore  float64 // n_trees · window_size · (2^(height+1) − 1)
	fp        uint64
}

// NewHalfSpaceTrees builds the forest River builds on its first learn_one of a record whose keys
// are features: for each tree, make_padded_tree over those features' limits with River's random
// stream for opt.Seed. As in current River (learn_one passes sorted(x)), the features are offered
// to the random choice in sorted name order, so their order here only fixes positions in x;
// River releases before that change used the record's key order, which differs only for several
// features not listed in sorted order.
//
// River builds the trees over the keys of whichever record comes first; here the feature list is
// declared up front and a missing value is NaN, which is the same whenever the first record has all
// features (as in the reference flow). Limits naming a feature not in features are rejected:
// River would silently ignore them, which hides typos.
func NewHalfSpaceTrees(features []string, opt HalfSpaceTreesOptions) (*HalfSpaceTrees, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	if len(features) == 0 {
		return nil, fmt.Errorf("anomaly: half-space trees: no features")
	}
	if len(features) > hstMaxFeatures {
		return nil, fmt.Errorf("anomaly: half-space trees: %d features, at most %d supported", len(features), hstMaxFeatures)
	}
	seen := make(map[string]bool, len(features))
	for _, f := range features {
		if seen[f] {
			return nil, fmt.Errorf("anomaly: half-space trees: feature %q listed twice", f)
		}
		seen[f] = true
	}
	for name := range opt.Limits {
		if !seen[name] {
			return nil, fmt.Errorf("anomaly: half-space trees: Limits[%q] names a feature that is not among the features %q", name, features)
		}
	}

	h := &HalfSpaceTrees{
		features: slices.Clone(features),
		limits:   make([][2]float64, len(features)),
		branches: 1<<opt.Height - 1,
		nodes:    1<<(opt.Height+1) - 1,
	}
	for i, f := range features {
		if l, ok := opt.Limits[f]; ok {
			h.limits[i] = l
		} else {
			h.limits[i] = [2]float64{0, 1}
		}
	}
	h.opt = opt
	h.opt.Limits = make(map[string][2]float64, len(features))
	for i, f := range features {
		h.opt.Limits[f] = h.limits[i]
	}

	h.on = make([]uint16, opt.Trees*h.branches)
	h.at = make([]float64, opt.Trees*h.branches)
	b := treeBuilder{
		rng:     pyrand.New(opt.Seed),
		order:   make([]int, len(features)),
		limits:  slices.Clone(h.limits),
		weights: make([]float64, len(features)),
		cum:     make([]float64, len(features)),
	}
	// Current River builds over sorted(x), the feature names in code-point order (Go's byte
	// order of UTF-8 strings is the same), whatever their order in the record.
	for i := range b.order {
		b.order[i] = i
	}
	sort.SliceStable(b.order, func(i, j int) bool { return features[b.order[i]] < features[b.order[j]] })
	for t := 0; t < opt.Trees; t++ {
		b.on = h.on[t*h.branches : (t+1)*h.branches]
		b.at = h.at[t*h.branches : (t+1)*h.branches]
		if err := b.build(0, opt.Height); err != nil {
			return nil, err
		}
	}

	// River: size_limit = 0.1 * window_size (a float) and the walk stops after r_mass < size_limit.
	// For an integer r, r < s ⇔ r < ceil(s), so the comparison can stay in integers.
	h.stopBelow = uint32(math.Ceil(0.1 * float64(opt.WindowSize)))
	// River's _max_score is an exact Python int; it is below 2^53 within our limits, so exact here.
	h.maxScore = float64(opt.Trees) * float64(opt.WindowSize) * float64(h.nodes)
	h.fp = hstFingerprint(h.features, h.limits, opt)
	return h, nil
}

// treeBuilder transliterates River's make_padded_tree into the implicit layout.
type treeBuilder struct {
	rng     *pyrand.Rand
	order   []int        // feature indices in the order River lists them to rng.choices
	limits  [][2]float64 // current (narrowed) limits, restored after each subtree as River does
	weights []float64
	cum     []float64
	on      []uint16
	at      []float64
}

func (b *treeBuilder) build(node, height int) error {
	if height == 0 {
		return nil // a leaf: masses only, held by the state
	}
	// Feature drawn by rng.choices(population=features, weights=[max−min per feature])[0].
	total := 0.0
	for k, f := range b.order {
		b.weights[k] = b.limits[f][1] - b.limits[f][0]
		total += b.weights[k]
	}
	if !(total > 0) || math.IsInf(total, 0) {
		// CPython raises ValueError here; only reachable when limits collapse to nothing.
		return fmt.Errorf("anomaly: half-space trees: feature ranges too narrow to split (total weight %v)", total)
	}
	on := b.order[b.rng.ChoiceWeighted(b.weights, b.cum)]

	// Split point: rng.uniform(a + padding·(b−a), b − padding·(b−a)). Conversions stop FMA fusion.
	lo, hi := b.limits[on][0], b.limits[on][1]
	pad := float64(hstPadding * (hi - lo))
	at := b.rng.Uniform(lo+pad, hi-pad)
	b.on[node] = uint16(on)
	b.at[node] = at

	saved := b.limits[on]
	b.limits[on] = [2]float64{saved[0], at}
	if err := b.build(2*node+1, height-1); err != nil {
		return err
	}
	b.limits[on] = [2]float64{at, saved[1]}
	if err := b.build(2*node+2, height-1); err != nil {
		return err
	}
	b.limits[on] = saved
	return nil
}

func hstFingerprint(features []string, limits [][2]float64, opt HalfSpaceTreesOptions) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		for i := range buf {
			buf[i] = byte(v >> (8 * i))
		}
		h.Write(buf[:])
	}
	h.Write([]byte("hazewatch/anomaly/hst/v1")) // bump if tree construction ever changes
	put(uint64(opt.Trees))
	put(uint64(opt.Height))
	put(uint64(opt.WindowSize))
	put(uint64(opt.Seed))
	put(uint64(len(features)))
	for i, f := range features {
		put(uint64(len(f)))
		h.Write([]byte(f))
		put(math.Float64bits(limits[i][0]))
		put(math.Float64bits(limits[i][1]))
	}
	return h.Sum64()
}

// Features returns the feature names, in the positional order Score and Learn expect.
func (h *HalfSpaceTrees) Features() []string { return slices.Clone(h.features) }

// Options returns the effective options (defaults filled in, limits for every feature).
func (h *HalfSpaceTrees) Options() HalfSpaceTreesOptions {
	o := h.opt
	o.Limits = make(map[string][2]float64, len(h.opt.Limits))
	for k, v := range h.opt.Limits {
		o.Limits[k] = v
	}
	return o
}

// Fingerprint identifies the options and features. A state saved under another fingerprint was
// made for different trees and cannot be used with these.
func (h *HalfSpaceTrees) Fingerprint() uint64 { return h.fp }

// nodeMass is one node's masses: l is the mass being counted in the current window (River
// l_mass), r the mass of the last complete window (River r_mass), used for scoring.
type nodeMass struct{ l, r uint16 }

// HSTState is one series' mutable part of a Half-Space Trees model: the masses of every node,
// the position in the window and whether the first window is complete. It is not safe for
// concurrent use; use one state per series.
type HSTState struct {
	mass    []nodeMass // tree-major, implicit layout, like HalfSpaceTrees.on/at but with leaves
	counter uint32     // records learned in the current window (River counter)
	warm    bool       // first window complete (River: not _first_window)
	fp      uint64     // fingerprint of the model that made it
}

// NewState returns an empty state, as River's model right after construction.
func (h *HalfSpaceTrees) NewState() *HSTState {
	return &HSTState{mass: make([]nodeMass, h.opt.Trees*h.nodes), fp: h.fp}
}

// Warm reports whether the first window is complete; until then Score returns 0, as River does.
func (s *HSTState) Warm() bool { return s.warm }

// SizeBytes is the memory the state holds.
func (s *HSTState) SizeBytes() int { return len(s.mass)*4 + 40 }

// Clone returns an independent copy of the state.
func (s *HSTState) Clone() *HSTState {
	c := *s
	c.mass = slices.Clone(s.mass)
	return &c
}

func (h *HalfSpaceTrees) check(s *HSTState, x []float64) {
	if s.fp != h.fp {
		panic(fmt.Sprintf("anomaly: half-space trees: state made by model %016x used with model %016x", s.fp, h.fp))
	}
	if len(x) != len(h.features) {
		panic(fmt.Sprintf("anomaly: half-space trees: record has %d values, model has %d features %q", len(x), len(h.features), h.features))
	}
}

// Score returns River's score_one(x): 0 until the first window is complete, otherwise
// 1 − Σ r_mass·2^depth / (n_trees·window_size·(2^(height+1)−1)), each tree's sum stopping after
// the first node (the leaf included) whose r_mass is below 0.1·window_size. High means anomalous.
// x holds one value per feature, NaN for missing; another length panics.
func (h *HalfSpaceTrees) Score(s *HSTState, x []float64) float64 {
	h.check(s, x)
	if !s.warm {
		return 0
	}
	return h.normalize(h.walk(s, x, true, false))
}

// Learn is River's learn_one(x): every node on each tree's path (leaf included) gains one l_mass;
// after window_size records the masses pivot (r_mass = l_mass, l_mass = 0).
// x holds one value per feature, NaN for missing; another length panics.
func (h *HalfSpaceTrees) Learn(s *HSTState, x []float64) {
	h.check(s, x)
	h.walk(s, x, false, true)
	h.advance(s)
}

// ScoreLearn returns Score(s, x) and then does Learn(s, x), in one walk per tree: the reference
// flow's score_one-then-learn_one. The result is identical to the two calls: the walks follow
// the same path, because a missing-value choice at a node reads the children's l_mass, which the
// learning part has not touched yet when the choice is made (River increments a node before
// choosing its child, never the child before).
func (h *HalfSpaceTrees) ScoreLearn(s *HSTState, x []float64) float64 {
	h.check(s, x)
	score := 0.0
	if s.warm {
		score = h.normalize(h.walk(s, x, true, true))
	} else {
		h.walk(s, x, false, true)
	}
	h.advance(s)
	return score
}

// normalize turns the mass sum into River's score. River adds integer products to a float; they
// and their sum are exact integers below 2^53, so summing integers and converting once gives the
// identical float, and the division and subtraction are River's.
func (h *HalfSpaceTrees) normalize(sum uint64) float64 {
	return 1 - float64(sum)/h.maxScore
}

// advance counts a learned record and pivots the masses at the end of a window.
func (h *HalfSpaceTrees) advance(s *HSTState) {
	s.counter++
	if s.counter == uint32(h.opt.WindowSize) {
		for i := range s.mass {
			s.mass[i] = nodeMass{r: s.mass[i].l}
		}
		s.warm = true
		s.counter = 0
	}
}

// walk sends x down every tree, summing r_mass·2^depth up to the scoring cut-off when score is
// set and adding one l_mass to every node of the path when learn is set.
func (h *HalfSpaceTrees) walk(s *HSTState, x []float64, score, learn bool) uint64 {
	for _, v := range x {
		if v != v {
			return h.walkMissing(s, x, score, learn)
		}
	}
	// Without missing values the walks below always compute the sum: cheaper than testing score.
	if len(x) == 1 {
		return h.walkDense1(s, x[0], learn)
	}
	var inc uint16 // walkDense adds 0 instead of 1 to l_mass when not learning
	if learn {
		inc = 1
	}
	return h.walkDense(s, x, inc)
}

// hstBlock trees are walked side by side by walkDense: their walks are independent, so the CPU
// overlaps them instead of waiting on one chain of dependent loads per tree.
const hstBlock = 16

// walkDense1 is walk for one feature without a missing value, the hot path of the reference flow.
// Four trees go down side by side in plain variables, which the compiler keeps in registers, so
// the CPU overlaps four independent chains of loads instead of waiting on one; the child choice
// and the scoring cut-off compile to conditional moves, not branches the CPU would mispredict on
// about every other level. Past River's scoring cut-off the mask makes the sum add zeros, so a
// walk that goes on to the leaf gives River's sum.
func (h *HalfSpaceTrees) walkDense1(s *HSTState, v float64, learn bool) uint64 {
	height, stop := h.opt.Height, h.stopBelow
	nb, nn := h.branches, h.nodes
	var sum uint64
	t := 0
	for ; t+4 <= h.opt.Trees; t += 4 {
		at := h.at[t*nb : (t+4)*nb]
		m := s.mass[t*nn : (t+4)*nn]
		i0, i1, i2, i3 := 0, 0, 0, 0                                     // node of each tree
		k0, k1, k2, k3 := ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0) // all ones while scoring
		for depth := 0; depth < height; depth++ {
			p0, p1, p2, p3 := &m[i0], &m[nn+i1], &m[2*nn+i2], &m[3*nn+i3]
			r0, r1, r2, r3 := uint32(p0.r), uint32(p1.r), uint32(p2.r), uint32(p3.r)
			sum += (uint64(r0)&k0 + uint64(r1)&k1 + uint64(r2)&k2 + uint64(r3)&k3) << depth
			if r0 < stop {
				k0 = 0
			}
			if r1 < stop {
				k1 = 0
			}
			if r2 < stop {
				k2 = 0
			}
			if r3 < stop {
				k3 = 0
			}
			if learn {
				p0.l++
				p1.l++
				p2.l++
				p3.l++
			}
			b0, b1, b2, b3 := 0, 0, 0, 0 // 1 = right: v is not NaN, so v >= at is River's not (v < at)
			if v >= at[i0] {
				b0 = 1
			}
			if v >= at[nb+i1] {
				b1 = 1
			}
			if v >= at[2*nb+i2] {
				b2 = 1
			}
			if v >= at[3*nb+i3] {
				b3 = 1
			}
			i0, i1, i2, i3 = 2*i0+1+b0, 2*i1+1+b1, 2*i2+1+b2, 2*i3+1+b3
		}
		p0, p1, p2, p3 := &m[i0], &m[nn+i1], &m[2*nn+i2], &m[3*nn+i3]
		sum += (uint64(p0.r)&k0 + uint64(p1.r)&k1 + uint64(p2.r)&k2 + uint64(p3.r)&k3) << height
		if learn {
			p0.l++
			p1.l++
			p2.l++
			p3.l++
		}
	}
	for ; t < h.opt.Trees; t++ { // the trees left over when n_trees is not a multiple of 4
		at := h.at[t*nb : (t+1)*nb]
		m := s.mass[t*nn : (t+1)*nn]
		i, keep := 0, ^uint64(0)
		for depth := 0; depth < height; depth++ {
			p := &m[i]
			r := uint32(p.r)
			sum += uint64(r) << depth & keep
			if r < stop {
				keep = 0
			}
			if learn {
				p.l++
			}
			right := 0
			if v >= at[i] {
				right = 1
			}
			i = 2*i + 1 + right
		}
		p := &m[i]
		sum += uint64(p.r) << height & keep
		if learn {
			p.l++
		}
	}
	return sum
}

// walkDense is walkDense1 for several features (no missing value among them), hstBlock trees
// side by side, level by level.
func (h *HalfSpaceTrees) walkDense(s *HSTState, x []float64, inc uint16) uint64 {
	var (
		sum  uint64
		node [hstBlock]int    // current node of each tree in the block
		keep [hstBlock]uint64 // all ones while the tree is still scoring, then zero
	)
	height, stop := h.opt.Height, h.stopBelow
	nb, nn := h.branches, h.nodes
	for t0 := 0; t0 < h.opt.Trees; t0 += hstBlock {
		n := min(hstBlock, h.opt.Trees-t0)
		on := h.on[t0*nb : (t0+n)*nb]
		at := h.at[t0*nb : (t0+n)*nb]
		m := s.mass[t0*nn : (t0+n)*nn]
		for k := 0; k < n; k++ {
			node[k] = 0
			keep[k] = ^uint64(0)
		}
		for depth := 0; depth <= height; depth++ {
			for k := 0; k < n; k++ {
				i := node[k]
				p := &m[k*nn+i]
				r := uint32(p.r)
				sum += uint64(r) << depth & keep[k]
				if r < stop {
					keep[k] = 0
				}
				p.l += inc
				if depth < height {
					right := 0
					if x[on[k*nb+i]] >= at[k*nb+i] { // no NaN: River's not (value < threshold)
						right = 1
					}
					node[k] = 2*i + 1 + right
				}
			}
		}
	}
	return sum
}

// walkMissing is walk for a record with missing values, tree by tree as River walks. A present
// value < threshold goes left, otherwise right; a missing one goes to the child with more
// l_mass, the left one on ties (River's HSTBranch.next).
func (h *HalfSpaceTrees) walkMissing(s *HSTState, x []float64, score, learn bool) uint64 {
	var sum uint64
	height, stop := h.opt.Height, h.stopBelow
	for t := 0; t < h.opt.Trees; t++ {
		on := h.on[t*h.branches : (t+1)*h.branches]
		at := h.at[t*h.branches : (t+1)*h.branches]
		m := s.mass[t*h.nodes : (t+1)*h.nodes]
		node := 0
		scoring := score
		for depth := 0; ; depth++ {
			if scoring {
				r := uint32(m[node].r)
				sum += uint64(r) << depth
				scoring = r >= stop
			}
			if learn {
				m[node].l++
			} else if !scoring {
				break // River's score walk stops here
			}
			if depth == height {
				break
			}
			v := x[on[node]]
			switch {
			case v < at[node]:
				node = 2*node + 1
			case v == v:
				node = 2*node + 2
			case m[2*node+1].l < m[2*node+2].l:
				node = 2*node + 2
			default:
				node = 2*node + 1
			}
		}
	}
	return sum
}
