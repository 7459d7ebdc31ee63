package hst

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"unsafe"

	"github.com/hazewatch/hazewatch/internal/pyrand"
)

// Half-Space Trees with River's semantics (river/anomaly/hst.py), bit for bit.
//
// The model is split in two so that thousands of series can share one forest:
//   - Model holds the immutable tree structure (split feature and threshold per node),
//     built from the seed exactly as River builds it on its first learn_one;
//   - State holds one series' masses (l_mass, r_mass per node), its window counter and whether
//     the first window is complete.
//
// Storage (why it looks nothing like River's node objects): with one state per sensor, 10,000
// sensors' states do not fit in any cache, so a record costs the cache misses of its walk and a
// series costs its masses' bytes. Three choices cut both:
//
//   - Only left children are stored. Every learned record adds one to each node of a root-to-leaf
//     path, so a branch's mass is the sum of its children's: the right child's mass is the
//     parent's minus the left one's, and the root's is known (l_mass = the window counter,
//     r_mass = window_size once the first window is complete). A tree of height h then stores
//     2^h − 1 (l, r) pairs, one per branch (the masses of its left child), instead of 2^(h+1) − 1,
//     and learning writes only when the walk goes left.
//   - Masses are uint8 when window_size ≤ 255 (River's default 250 included), else uint16: a
//     node's mass never exceeds window_size.
//   - Branches are grouped in blocks of 4 levels (15 pairs, padded to 16: 32 bytes with uint8
//     masses, 64 with uint16), each block contiguous and at a multiple of its size in the array
//     (the allocator aligns the default sizes' arrays to 64 bytes), and each level of blocks holds
//     every tree's blocks side by side (all the trees' top blocks first). A walk down a tree of
//     height 8 then touches two blocks, so 1.5–2 cache lines per tree instead of 6–7 for a
//     tree-major breadth-first array, and the trees' top blocks share lines.
//
// The split features and thresholds (shared, per branch) use the same layout, so one slot index
// serves the structure and the masses.

const (
	defaultTrees  = 10
	defaultHeight = 8
	defaultWindow = 250
	maxTrees      = 10000
	maxHeight     = 20
	maxNodes      = 1 << 26 // all trees together: a state of at most 128 MiB; keeps sums exact in float64
	maxWindow     = 65535   // masses are at most uint16 and never exceed window_size
	maxWindow8    = 255     // up to this window_size masses are uint8
	blockLevels   = 4       // branch levels per block: 15 pairs, padded to 16
	maxFeatures   = 65535   // split features are stored as uint16
	padding       = 0.15    // River's make_padded_tree padding
)

// Options configures Half-Space Trees with River's parameters. Start from DefaultOptions: every
// field is used as given, and New rejects a value River would not take.
type Options struct {
	Trees      int                   // River n_trees, 1..10,000
	Height     int                   // River height, 1..20: each tree has height+1 levels
	WindowSize int                   // River window_size, 1..65535
	Limits     map[string][2]float64 // per-feature (min, max), min < max, finite; features without limits use (0, 1) like River
	// Seed is River's seed: trees are drawn from CPython's random.Random(Seed) stream (a negative
	// seed acts as its absolute value, as in CPython). River's seed=None (OS entropy) has no
	// equivalent: a model here is always reproducible.
	Seed int64
}

// DefaultOptions returns River's defaults: n_trees=10, height=8, window_size=250, no limits
// (every feature in (0, 1)), seed 0.
func DefaultOptions() Options {
	return Options{Trees: defaultTrees, Height: defaultHeight, WindowSize: defaultWindow}
}

// OptionError reports an option New cannot take. Option is the field's name in Options
// ("WindowSize", "Limits"); Key is the feature for Limits. Edges translate Option into their
// own spelling (window_size in TOML, -window-size on the command line) with errors.As.
type OptionError struct {
	Option string
	Key    string
	Msg    string
}

func (e *OptionError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("hst: %s[%q] %s", e.Option, e.Key, e.Msg)
	}
	return fmt.Sprintf("hst: %s %s", e.Option, e.Msg)
}

// check reports the first option that is out of range.
func (o Options) check(features []string) error {
	if o.Trees < 1 || o.Trees > maxTrees {
		return &OptionError{Option: "Trees", Msg: fmt.Sprintf("must be in [1, %d], got %d", maxTrees, o.Trees)}
	}
	if o.Height < 1 || o.Height > maxHeight {
		return &OptionError{Option: "Height", Msg: fmt.Sprintf("must be in [1, %d], got %d", maxHeight, o.Height)}
	}
	if nodes := o.Trees << (o.Height + 1); nodes > maxNodes {
		return &OptionError{Option: "Trees", Msg: fmt.Sprintf("%d with a height of %d makes %d nodes (trees × 2^(height+1)), at most %d", o.Trees, o.Height, nodes, maxNodes)}
	}
	if o.WindowSize < 1 || o.WindowSize > maxWindow {
		return &OptionError{Option: "WindowSize", Msg: fmt.Sprintf("must be in [1, %d], got %d", maxWindow, o.WindowSize)}
	}
	names := make([]string, 0, len(o.Limits))
	for name := range o.Limits {
		names = append(names, name)
	}
	sort.Strings(names) // report the same error every run
	for _, name := range names {
		l := o.Limits[name]
		if !slices.Contains(features, name) {
			return &OptionError{Option: "Limits", Key: name, Msg: fmt.Sprintf("names a feature that is not among the features %q", features)}
		}
		if math.IsNaN(l[0]) || math.IsNaN(l[1]) || math.IsInf(l[0], 0) || math.IsInf(l[1], 0) {
			return &OptionError{Option: "Limits", Key: name, Msg: fmt.Sprintf("must be finite, got (%v, %v)", l[0], l[1])}
		}
		if !(l[0] < l[1]) {
			return &OptionError{Option: "Limits", Key: name, Msg: fmt.Sprintf("min must be less than max, got (%v, %v)", l[0], l[1])}
		}
		if math.IsInf(l[1]-l[0], 0) {
			return &OptionError{Option: "Limits", Key: name, Msg: fmt.Sprintf("range overflows float64, got (%v, %v)", l[0], l[1])}
		}
	}
	return nil
}

// Model is the shared, immutable structure of a Half-Space Trees forest. It is safe for
// concurrent use; each goroutine/series brings its own *State.
type Model struct {
	features []string
	limits   [][2]float64 // effective limits per feature, in feature order
	opt      Options

	branches int // branches per tree: 2^height − 1
	nodes    int // nodes per tree: 2^(height+1) − 1

	level    [maxHeight]level // how a walk steps down from each branch level
	topSlots int              // slots of a tree's top block: tree t's root is in slot t·topSlots
	slots    int              // slots in all (branches plus block padding), the length of on, at and a state's masses
	on       []uint16         // split feature per branch slot
	at       []float64        // split threshold per branch slot (a value < at goes left)

	stopBelow uint32  // scoring stops after a node whose r_mass < stopBelow (= ceil(size_limit))
	maxScore  float64 // n_trees · window_size · (2^(height+1) − 1)
	fp        uint64
}

// New builds the forest River builds on its first learn_one of a record whose keys
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
func New(features []string, opt Options) (*Model, error) {
	if len(features) == 0 {
		return nil, &OptionError{Option: "features", Msg: "must not be empty"}
	}
	if len(features) > maxFeatures {
		return nil, &OptionError{Option: "features", Msg: fmt.Sprintf("has %d names, at most %d supported", len(features), maxFeatures)}
	}
	seen := make(map[string]bool, len(features))
	for _, f := range features {
		if seen[f] {
			return nil, &OptionError{Option: "features", Msg: fmt.Sprintf("lists %q twice", f)}
		}
		seen[f] = true
	}
	if err := opt.check(features); err != nil {
		return nil, err
	}

	h := &Model{
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

	h.layout()
	// Built tree by tree in the implicit order River's recursion gives (node i has children 2i+1
	// and 2i+2), then placed in the block layout.
	on := make([]uint16, opt.Trees*h.branches)
	at := make([]float64, opt.Trees*h.branches)
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
		b.on = on[t*h.branches : (t+1)*h.branches]
		b.at = at[t*h.branches : (t+1)*h.branches]
		if err := b.build(0, opt.Height); err != nil {
			return nil, err
		}
	}
	h.on = make([]uint16, h.slots)
	h.at = make([]float64, h.slots)
	slots := make([]int, h.branches)
	for t := 0; t < opt.Trees; t++ {
		h.treeSlots(t, slots)
		for i, slot := range slots {
			h.on[slot] = on[t*h.branches+i]
			h.at[slot] = at[t*h.branches+i]
		}
	}

	// River: size_limit = 0.1 * window_size (a float) and the walk stops after r_mass < size_limit.
	// For an integer r, r < s ⇔ r < ceil(s), so the comparison can stay in integers.
	h.stopBelow = uint32(math.Ceil(0.1 * float64(opt.WindowSize)))
	// River's _max_score is an exact Python int; it is below 2^53 within our limits, so exact here.
	h.maxScore = float64(opt.Trees) * float64(opt.WindowSize) * float64(h.nodes)
	h.fp = fingerprint(h.features, h.limits, opt)
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
		return fmt.Errorf("hst: feature ranges too narrow to split (total weight %v)", total)
	}
	on := b.order[b.rng.ChoiceWeighted(b.weights, b.cum)]

	// Split point: rng.uniform(a + padding·(b−a), b − padding·(b−a)). Conversions stop FMA fusion.
	lo, hi := b.limits[on][0], b.limits[on][1]
	pad := float64(padding * (hi - lo))
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

func fingerprint(features []string, limits [][2]float64, opt Options) uint64 {
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
func (h *Model) Features() []string { return slices.Clone(h.features) }

// Options returns the options New was given, with limits for every feature ((0, 1) where none
// was given).
func (h *Model) Options() Options {
	o := h.opt
	o.Limits = make(map[string][2]float64, len(h.opt.Limits))
	for k, v := range h.opt.Limits {
		o.Limits[k] = v
	}
	return o
}

// Fingerprint identifies the options and features. A state saved under another fingerprint was
// made for different trees and cannot be used with these.
func (h *Model) Fingerprint() uint64 { return h.fp }

// level is how a walk steps from a branch at one level to its child's slot. Blocks are
// aligned to their size (every block level's first slot is a multiple of 16), so a slot i's entry
// inside its block is i&lm, and a walk needs no other state than the slot: the child's slot is
// (i + i&lm + right)·mul + add, right being 1 for the right child. Inside a block that is
// i − i&lm + 2·(i&lm) + 1 + right, the implicit child (mul 1, add 1); at a block's last level it
// is the first slot of the child block below (mul the next blocks' size, add that block level's
// first slot less the rest); at the tree's last level it is unused (mul 0, add 0).
type level struct {
	lm, mul, add int
}

// layout fills h.level, h.topSlots and h.slots for h.opt's trees and height.
func (h *Model) layout() {
	height, trees := h.opt.Height, h.opt.Trees
	levels := func(j int) int { return min(blockLevels, height-j*blockLevels) } // in block level j's blocks
	base := 0
	for j := 0; j*blockLevels < height; j++ {
		q := levels(j)
		next := base + trees<<(j*blockLevels)<<q // trees × 16^j blocks of 2^q slots
		for e := 0; e < q; e++ {
			lv := level{lm: 1<<q - 1, mul: 1, add: 1}
			switch {
			case (j+1)*blockLevels >= height && e == q-1: // the leaves' parents
				lv.mul, lv.add = 0, 0
			case e == q-1:
				// i = base + b·2^q + entry, entry = 2^(q−1) − 1 + k at the block's last level; the
				// child block is b·2^q + 2k + right below, at slot next + that·2^q'.
				lv.mul = 1 << levels(j+1)
				lv.add = next - (base+1<<q-2)*lv.mul
			}
			h.level[j*blockLevels+e] = lv
		}
		base = next
	}
	h.topSlots = 1 << levels(0)
	h.slots = base
}

// next is the slot of the child of the branch in slot i at level d (right: 0 left, 1 right).
func (h *Model) next(d, i, right int) int {
	lv := &h.level[d]
	return (i+i&lv.lm+right)*lv.mul + lv.add
}

// mass is the integer type of a state's masses, the narrowest the window allows.
type mass interface{ ~uint8 | ~uint16 }

// massPair is the masses of a branch's left child: l is the mass being counted in the current
// window (River l_mass), r the mass of the last complete window (River r_mass), used for scoring.
type massPair[T mass] struct{ l, r T }

// State is one series' mutable part of a Half-Space Trees model: the masses of every node,
// the position in the window and whether the first window is complete. It is not safe for
// concurrent use; use one state per series.
type State struct {
	// The masses, one pair per branch slot (the left child's; see the layout at the top): m8
	// when window_size ≤ 255, m16 otherwise. Exactly one is set.
	m8      []massPair[uint8]
	m16     []massPair[uint16]
	counter uint32 // records learned in the current window (River counter): every root's l_mass
	warm    bool   // first window complete (River: not _first_window); every root's r_mass is window_size
	fp      uint64 // fingerprint of the model that made it
}

// NewState returns an empty state, as River's model right after construction.
func (h *Model) NewState() *State {
	s := &State{fp: h.fp}
	if h.opt.WindowSize <= maxWindow8 {
		s.m8 = make([]massPair[uint8], h.slots)
	} else {
		s.m16 = make([]massPair[uint16], h.slots)
	}
	return s
}

// Warm reports whether the first window is complete; until then Score returns 0, as River does.
func (s *State) Warm() bool { return s.warm }

// SizeBytes is the memory the state holds.
func (s *State) SizeBytes() int {
	return int(unsafe.Sizeof(*s)) + len(s.m8)*int(unsafe.Sizeof(massPair[uint8]{})) + len(s.m16)*int(unsafe.Sizeof(massPair[uint16]{}))
}

// Clone returns an independent copy of the state.
func (s *State) Clone() *State {
	c := *s
	c.m8 = slices.Clone(s.m8)
	c.m16 = slices.Clone(s.m16)
	return &c
}

// pair returns the pair in slot i, whatever the mass type.
func (s *State) pair(i int) (l, r uint32) {
	if s.m8 != nil {
		return uint32(s.m8[i].l), uint32(s.m8[i].r)
	}
	return uint32(s.m16[i].l), uint32(s.m16[i].r)
}

// setPair sets the pair in slot i; l and r must fit the state's mass type (≤ window_size does).
func (s *State) setPair(i int, l, r uint32) {
	if s.m8 != nil {
		s.m8[i] = massPair[uint8]{uint8(l), uint8(r)}
	} else {
		s.m16[i] = massPair[uint16]{uint16(l), uint16(r)}
	}
}

// rootMasses is every tree's root (l_mass, r_mass): they are not stored (see the layout).
func (h *Model) rootMasses(s *State) (l, r uint32) {
	if s.warm {
		r = uint32(h.opt.WindowSize)
	}
	return s.counter, r
}

// treeSlots writes the slots of tree t's branches in River's implicit order (node i's children
// are 2i+1 and 2i+2) into dst, h.branches long: the slot walk of every path at once.
func (h *Model) treeSlots(t int, dst []int) {
	dst[0] = t * h.topSlots
	for i, d := 0, 0; 2*i+2 < len(dst); i++ {
		if i+1 == 2<<d { // i+1 a power of two: the first node of the next level
			d++
		}
		dst[2*i+1] = h.next(d, dst[i], 0)
		dst[2*i+2] = h.next(d, dst[i], 1)
	}
}

// treeMasses writes tree t's (l_mass, r_mass) per node in River's implicit order into dst,
// h.nodes long, given slots from treeSlots(t, slots). For serialization and tests, not for walks.
func (h *Model) treeMasses(s *State, slots []int, dst [][2]uint32) {
	l, r := h.rootMasses(s)
	dst[0] = [2]uint32{l, r}
	for i, slot := range slots {
		l, r := s.pair(slot)
		dst[2*i+1] = [2]uint32{l, r}
		dst[2*i+2] = [2]uint32{dst[i][0] - l, dst[i][1] - r}
	}
}

func (h *Model) check(s *State, x []float64) {
	if s.fp != h.fp || len(s.m8)+len(s.m16) != h.slots {
		panic(fmt.Sprintf("hst: state made by model %016x used with model %016x", s.fp, h.fp))
	}
	if len(x) != len(h.features) {
		panic(fmt.Sprintf("hst: record has %d values, model has %d features %q", len(x), len(h.features), h.features))
	}
}

// Score returns River's score_one(x): 0 until the first window is complete, otherwise
// 1 − Σ r_mass·2^depth / (n_trees·window_size·(2^(height+1)−1)), each tree's sum stopping after
// the first node (the leaf included) whose r_mass is below 0.1·window_size. High means anomalous.
// x holds one value per feature, NaN for missing; another length panics.
func (h *Model) Score(s *State, x []float64) float64 {
	h.check(s, x)
	if !s.warm {
		return 0
	}
	return h.normalize(h.walk(s, x, true, false))
}

// Learn is River's learn_one(x): every node on each tree's path (leaf included) gains one l_mass;
// after window_size records the masses pivot (r_mass = l_mass, l_mass = 0).
// x holds one value per feature, NaN for missing; another length panics.
func (h *Model) Learn(s *State, x []float64) {
	h.check(s, x)
	h.walk(s, x, false, true)
	h.advance(s)
}

// ScoreLearn returns Score(s, x) and then does Learn(s, x), in one walk per tree: the reference
// flow's score_one-then-learn_one. The result is identical to the two calls: the walks follow
// the same path, because a missing-value choice at a node reads the children's l_mass, which the
// learning part has not touched yet when the choice is made (River increments a node before
// choosing its child, never the child before).
func (h *Model) ScoreLearn(s *State, x []float64) float64 {
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
func (h *Model) normalize(sum uint64) float64 {
	return 1 - float64(sum)/h.maxScore
}

// advance counts a learned record and pivots the masses at the end of a window. The roots need
// nothing: their masses follow from counter and warm.
func (h *Model) advance(s *State) {
	s.counter++
	if s.counter == uint32(h.opt.WindowSize) {
		pivot(s.m8)
		pivot(s.m16)
		s.warm = true
		s.counter = 0
	}
}

func pivot[T mass](m []massPair[T]) {
	for i := range m {
		m[i] = massPair[T]{r: m[i].l}
	}
}

// walk sends x down every tree, summing r_mass·2^depth up to the scoring cut-off when score is
// set and adding one l_mass to every node of the path when learn is set.
func (h *Model) walk(s *State, x []float64, score, learn bool) uint64 {
	rootL, rootR := h.rootMasses(s)
	for _, v := range x {
		if v != v {
			if s.m8 != nil {
				return walkMissing(h, s.m8, x, rootL, rootR, score, learn)
			}
			return walkMissing(h, s.m16, x, rootL, rootR, score, learn)
		}
	}
	// Without missing values the dense walk always computes the sum (cheaper than testing score)
	// and, when learning, adds one to the l_mass of every left child it goes to.
	switch {
	case len(x) == 1 && s.m8 != nil:
		return walkDense1(h, s.m8, x[0], rootR, learn)
	case len(x) == 1:
		return walkDense1(h, s.m16, x[0], rootR, learn)
	case s.m8 != nil:
		return walkDense(h, s.m8, x, rootR, learn)
	}
	return walkDense(h, s.m16, x, rootR, learn)
}

// block trees are walked side by side by walkDense: their walks are independent, so the
// CPU overlaps their cache misses instead of waiting on one chain of dependent loads per tree.
const block = 16

// walkDense is walk for a record without a missing value, the hot path. The trees go down
// level by level side by side, so the first level's loads (every tree's top block) are issued
// together, and so are the loads of the blocks below; the child choice, the right child's masses
// (parent − left) and the scoring cut-off compile to conditional moves, not branches the CPU would
// mispredict on about every other level. root is the roots' r_mass.
//
// Measured alternatives (10 trees, height 8, CPU time): four trees at a time in registers, as a
// cache-resident state prefers, is ~15 % faster on one hot state but ~25 % slower over 10,000
// states, where each group of four waits for its own misses; finding all paths first from the
// thresholds and then touching the masses was slower on both.
//
// River's score counts a path's nodes down to the first whose r_mass is below the cut-off. r_mass
// never grows down a path (a child holds part of its parent's records), so a node is counted iff
// its parent's r_mass is not below the cut-off: no per-tree "still scoring" state is needed, and a
// walk that goes on to the leaf (as learning must) adds zeros past the cut-off.
func walkDense[T mass](h *Model, m []massPair[T], x []float64, root uint32, learn bool) uint64 {
	var (
		slot [block]int    // each tree's current branch
		r    [block]uint32 // r_mass of each tree's current node
	)
	height, stop, on, at := h.opt.Height, h.stopBelow, h.on, h.at
	var sum uint64
	for t0 := 0; t0 < h.opt.Trees; t0 += block {
		n := min(block, h.opt.Trees-t0)
		slot, r := slot[:n], r[:n]
		for k := range slot {
			slot[k], r[k] = (t0+k)*h.topSlots, root
		}
		sum += uint64(root) * uint64(n) // depth 0: the roots always count
		w := uint64(1)                  // 2^depth of the children
		for d := 0; d < height; d++ {
			lv := h.level[d]
			w <<= 1
			for k, i := range slot {
				right := 0 // no NaN, so v >= at is River's not (v < at)
				if x[on[i]] >= at[i] {
					right = 1
				}
				c := &m[i]
				pr, cr := r[k], uint32(c.r)
				if rr := pr - cr; right != 0 {
					cr = rr
				}
				// Learning adds to the left child only: the right one's mass is derived. Score
				// alone writes nothing, so it leaves the state's cache lines clean.
				if learn {
					c.l += T(1 &^ right)
				}
				add := uint64(cr) * w
				if pr < stop {
					add = 0
				}
				sum += add
				r[k] = cr
				slot[k] = (i+i&lv.lm+right)*lv.mul + lv.add
			}
		}
	}
	return sum
}

// walkDense1 is walkDense for one feature (the reference flow), with no split feature to
// look up: fewer live values, so the loop keeps more of them in registers.
func walkDense1[T mass](h *Model, m []massPair[T], v float64, root uint32, learn bool) uint64 {
	var (
		slot [block]int
		r    [block]uint32
	)
	height, stop, at := h.opt.Height, h.stopBelow, h.at
	var sum uint64
	for t0 := 0; t0 < h.opt.Trees; t0 += block {
		n := min(block, h.opt.Trees-t0)
		slot, r := slot[:n], r[:n]
		for k := range slot {
			slot[k], r[k] = (t0+k)*h.topSlots, root
		}
		sum += uint64(root) * uint64(n)
		w := uint64(1)
		for d := 0; d < height; d++ {
			lv := h.level[d]
			w <<= 1
			for k, i := range slot {
				right := 0
				if v >= at[i] {
					right = 1
				}
				c := &m[i]
				pr, cr := r[k], uint32(c.r)
				if rr := pr - cr; right != 0 {
					cr = rr
				}
				if learn {
					c.l += T(1 &^ right)
				}
				add := uint64(cr) * w
				if pr < stop {
					add = 0
				}
				sum += add
				r[k] = cr
				slot[k] = (i+i&lv.lm+right)*lv.mul + lv.add
			}
		}
	}
	return sum
}

// walkMissing is walk for a record with missing values, tree by tree as River walks. A
// present value < threshold goes left, otherwise right; a missing one goes to the child with more
// l_mass, the left one on ties (River's HSTBranch.next). The walk carries the current node's
// masses from before this record (l for the choice, r for the score) to derive the right child's.
func walkMissing[T mass](h *Model, m []massPair[T], x []float64, rootL, rootR uint32, score, learn bool) uint64 {
	var sum uint64
	height, stop := h.opt.Height, h.stopBelow
	for t := 0; t < h.opt.Trees; t++ {
		l, r := rootL, rootR
		scoring := score
		if scoring {
			sum += uint64(r)
			scoring = r >= stop
		}
		i := t * h.topSlots
		for d := 0; d < height && (learn || scoring); d++ { // River's score walk stops at the cut-off
			c := &m[i]
			cl, cr := uint32(c.l), uint32(c.r)
			v := x[h.on[i]]
			var right bool
			switch {
			case v < h.at[i]:
			case v == v:
				right = true
			default:
				right = cl < l-cl
			}
			next := 0
			if right {
				l, r = l-cl, r-cr
				next = 1
			} else {
				l, r = cl, cr
				if learn {
					c.l++
				}
			}
			i = h.next(d, i, next)
			if scoring {
				sum += uint64(r) << (d + 1)
				scoring = r >= stop
			}
		}
	}
	return sum
}
