package impute

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// KNNWeights is how the k chosen donors of a missing cell are weighted (scikit-learn's
// `weights`).
type KNNWeights int

const (
	// KNNUniform averages the donors' values with equal weights ("uniform").
	KNNUniform KNNWeights = iota
	// KNNDistance weights each donor by 1/distance ("distance").
	KNNDistance
)

// String returns scikit-learn's name for w.
func (w KNNWeights) String() string {
	switch w {
	case KNNUniform:
		return "uniform"
	case KNNDistance:
		return "distance"
	}
	return fmt.Sprintf("KNNWeights(%d)", int(w))
}

// ParseKNNWeights parses scikit-learn's names "uniform" and "distance".
func ParseKNNWeights(s string) (KNNWeights, error) {
	switch strings.TrimSpace(s) {
	case "uniform":
		return KNNUniform, nil
	case "distance":
		return KNNDistance, nil
	}
	return 0, fmt.Errorf("impute: weights must be \"uniform\" or \"distance\", got %q", s)
}

// KNNImputer fills missing cells from the k nearest rows of the same matrix, as
// scikit-learn's KNNImputer(n_neighbors=NNeighbors, weights=Weights).fit_transform(X) does.
// See the package documentation for the exact rules.
// Start from DefaultKNNImputer and change what differs: every field is used as given.
type KNNImputer struct {
	NNeighbors int        // k, at least 1
	Weights    KNNWeights // KNNUniform or KNNDistance
	Workers    int        // goroutines, at least 1. Results are identical for any value.
}

// DefaultKNNImputer is scikit-learn's KNNImputer(): 5 neighbours, uniform weights; one worker per
// CPU.
func DefaultKNNImputer() KNNImputer {
	return KNNImputer{NNeighbors: 5, Weights: KNNUniform, Workers: runtime.GOMAXPROCS(0)}
}

// EmptyColumnError reports a column that has no value in any row: nothing can be imputed
// from it. scikit-learn drops such a column silently; we report it instead, because a
// pipeline that expects 15 columns must not get 14.
type EmptyColumnError struct{ Col int }

func (e *EmptyColumnError) Error() string {
	return fmt.Sprintf("impute: column %d has no value in any row (scikit-learn would drop it); nothing to impute from", e.Col)
}

// NonFiniteError reports ±Inf in the input: only NaN marks a missing value, and an infinite
// coordinate would make every distance to its row infinite or NaN.
type NonFiniteError struct {
	Row, Col int
	Value    float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("impute: row %d, column %d: %v is not a finite number (use NaN for a missing value)", e.Row, e.Col, e.Value)
}

// Tuning. A chunk of receivers is the unit of parallel work and of ctx checks.
// earlyExitCols is how many leading columns (largest variance first) are summed before a
// donor is compared with the receiver's current k-th best; most donors are rejected there
// without touching the other columns.
const (
	receiversPerChunk = 16
	earlyExitCols     = 3
)

// Impute fills the NaN cells of x (rows×cols, row-major) from the matrix itself and returns
// the filled copy; missing[i] reports whether cell i was imputed. x is not modified.
//
// Errors: cols < 1, a length that is not a multiple of cols, no rows, k < 0, unknown
// weights, Workers < 0, ±Inf (*NonFiniteError), a column without any value
// (*EmptyColumnError, the lowest such column), and ctx.Err() when ctx is cancelled (checked
// between chunks of receivers).
func (k KNNImputer) Impute(ctx context.Context, x []float64, cols int) (out []float64, missing []bool, err error) {
	nn, workers, err := k.check(ctx, x, cols)
	if err != nil {
		return nil, nil, err
	}
	missing = make([]bool, len(x))
	nIncomplete, err := survey(x, cols, missing)
	if err != nil {
		return nil, nil, err
	}
	out = slices.Clone(x)
	if nIncomplete == 0 {
		return out, missing, nil
	}
	if _, err := k.fill(ctx, out, missing, cols, nn, workers, nIncomplete); err != nil {
		return nil, nil, err
	}
	return out, missing, nil
}

// ImputeInPlace is Impute writing the imputed values into x itself, for a caller that has no use
// for the matrix with holes: it needs no copy of x, and no memory at all beyond x when no cell is
// missing. It returns how many cells it filled. On an error x is unchanged: the values are
// computed from x as it was (every distance and donor the same as Impute's) and written at the
// end.
func (k KNNImputer) ImputeInPlace(ctx context.Context, x []float64, cols int) (filled int, err error) {
	nn, workers, err := k.check(ctx, x, cols)
	if err != nil {
		return 0, err
	}
	nIncomplete, err := survey(x, cols, nil)
	if err != nil || nIncomplete == 0 {
		return 0, err
	}
	missing := make([]bool, len(x)) // survey has checked the rest: only the holes are left to mark
	for i, v := range x {
		missing[i] = v != v
	}
	return k.fill(ctx, x, missing, cols, nn, workers, nIncomplete)
}

// check validates the options and the matrix's shape, and returns k and the workers to use.
func (k KNNImputer) check(ctx context.Context, x []float64, cols int) (nn, workers int, err error) {
	nn, workers = k.NNeighbors, k.Workers
	if nn < 1 {
		return 0, 0, &OptionError{Option: "NNeighbors", Msg: fmt.Sprintf("must be at least 1, got %d", nn)}
	}
	if k.Weights != KNNUniform && k.Weights != KNNDistance {
		return 0, 0, &OptionError{Option: "Weights", Msg: fmt.Sprintf("must be KNNUniform or KNNDistance, got %v", k.Weights)}
	}
	if workers < 1 {
		return 0, 0, &OptionError{Option: "Workers", Msg: fmt.Sprintf("must be at least 1, got %d", workers)}
	}
	if cols < 1 {
		return 0, 0, fmt.Errorf("impute: cols must be >= 1, got %d", cols)
	}
	if len(x)%cols != 0 {
		return 0, 0, fmt.Errorf("impute: matrix length %d is not a multiple of %d columns", len(x), cols)
	}
	rows := len(x) / cols
	if rows == 0 {
		return 0, 0, fmt.Errorf("impute: empty matrix (0 rows)")
	}
	if rows > math.MaxInt32 {
		return 0, 0, fmt.Errorf("impute: %d rows is more than the %d supported", rows, math.MaxInt32)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	return nn, workers, nil
}

// survey counts the rows with a missing cell, marking the missing cells in missing when it is not
// nil, and reports the first ±Inf in row order, then the first column without any value.
func survey(x []float64, cols int, missing []bool) (nIncomplete int, err error) {
	present := make([]int, cols)
	rows := len(x) / cols
	for r := 0; r < rows; r++ {
		row := x[r*cols : r*cols+cols]
		incomplete := false
		for c, v := range row {
			if v != v {
				if missing != nil {
					missing[r*cols+c] = true
				}
				incomplete = true
				continue
			}
			if math.IsInf(v, 0) {
				return 0, &NonFiniteError{Row: r, Col: c, Value: v}
			}
			present[c]++
		}
		if incomplete {
			nIncomplete++
		}
	}
	for c, n := range present {
		if n == 0 {
			return 0, &EmptyColumnError{Col: c}
		}
	}
	return nIncomplete, nil
}

// fill imputes the missing cells of x, reading x as it is until every value is known, and returns
// how many it filled.
func (k KNNImputer) fill(ctx context.Context, x []float64, missing []bool, cols, nn, workers, nIncomplete int) (filled int, err error) {
	p := newKNNProblem(x, missing, len(x)/cols, cols, nn, k.Weights, nIncomplete)
	if err := p.run(ctx, workers); err != nil {
		return 0, err
	}
	// Only now: a value written earlier would be read as present by a later receiver's distances.
	i := 0
	for _, r := range p.incomplete {
		for c, m := range missing[int(r)*cols : int(r)*cols+cols] {
			if m {
				x[int(r)*cols+c] = p.fills[i]
				i++
			}
		}
	}
	return len(p.fills), nil
}

// knnProblem is the read-only state shared by the workers.
type knnProblem struct {
	x          []float64
	missing    []bool
	rows, cols int
	k          int
	weights    KNNWeights

	// order lists the columns by decreasing variance: distances are summed in this order
	// (for every pair, so each pair's distance is one well-defined number), which puts the
	// columns that decide most comparisons first.
	order []int

	completeID []int32 // the complete rows (donors to every column), ascending
	// byLead[c], for each column c that is some receiver's lead (its present column of
	// largest variance), is the complete rows sorted by their value in c.
	byLead     []*leadIndex
	incomplete []int32  // rows with a missing cell, ascending: the receivers, and donors to some columns
	presence   []uint64 // per incomplete row, a bit set of present columns (words per row: maskWords)
	maskWords  int
	colMean    []float64 // numpy's masked mean of each column (fallback when no distance is defined)

	// fills holds the imputed values, receiver after receiver (in incomplete's order), each
	// receiver's in ascending column order from fillStart[t] to fillStart[t+1]. They are written
	// into the matrix only after every receiver is done, as the matrix is read throughout.
	fills     []float64
	fillStart []int
}

func newKNNProblem(x []float64, missing []bool, rows, cols, k int, w KNNWeights, nIncomplete int) *knnProblem {
	p := &knnProblem{x: x, missing: missing, rows: rows, cols: cols, k: min(k, rows), weights: w}
	p.order = columnOrder(x, missing, rows, cols)
	p.maskWords = (cols + 63) / 64
	p.incomplete = make([]int32, 0, nIncomplete)
	p.fillStart = make([]int, 1, nIncomplete+1)
	p.presence = make([]uint64, nIncomplete*p.maskWords)
	var completeRows []int32
	for r := 0; r < rows; r++ {
		miss := missing[r*cols : r*cols+cols]
		if !slices.Contains(miss, true) {
			completeRows = append(completeRows, int32(r))
			continue
		}
		words := p.presence[len(p.incomplete)*p.maskWords:][:p.maskWords]
		p.incomplete = append(p.incomplete, int32(r))
		n := p.fillStart[len(p.fillStart)-1]
		for c, m := range miss {
			if !m {
				words[c/64] |= 1 << (c % 64)
			} else {
				n++
			}
		}
		p.fillStart = append(p.fillStart, n)
	}
	p.completeID = completeRows
	p.fills = make([]float64, p.fillStart[len(p.fillStart)-1])
	p.byLead = make([]*leadIndex, cols)
	for _, r := range p.incomplete {
		if lead := p.leadColumn(r); lead >= 0 && p.byLead[lead] == nil {
			p.byLead[lead] = p.newLeadIndex(lead)
		}
	}
	p.colMean = numpyMaskedColumnMeans(x, missing, rows, cols)
	return p
}

// leadIndex is the complete rows sorted by one column: vals ascending, row[i] the row
// holding vals[i] (ties by row index).
type leadIndex struct {
	vals []float64
	row  []int32
}

func (p *knnProblem) newLeadIndex(c int) *leadIndex {
	n := len(p.completeID)
	li := &leadIndex{vals: make([]float64, n), row: slices.Clone(p.completeID)}
	slices.SortStableFunc(li.row, func(a, b int32) int {
		va, vb := p.x[int(a)*p.cols+c], p.x[int(b)*p.cols+c]
		switch {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return 0
	})
	for i, r := range li.row {
		li.vals[i] = p.x[int(r)*p.cols+c]
	}
	return li
}

// leadColumn is row r's present column of largest variance (-1 if it has none).
func (p *knnProblem) leadColumn(r int32) int {
	for _, c := range p.order {
		if !p.missing[int(r)*p.cols+c] {
			return c
		}
	}
	return -1
}

// columnOrder sorts the columns by decreasing variance of their present values (ties by
// index).
func columnOrder(x []float64, missing []bool, rows, cols int) []int {
	variance := make([]float64, cols)
	for c := 0; c < cols; c++ {
		var sum float64
		n := 0
		for r := 0; r < rows; r++ {
			if !missing[r*cols+c] {
				sum += x[r*cols+c]
				n++
			}
		}
		if n == 0 {
			continue
		}
		mean := sum / float64(n)
		var ss float64
		for r := 0; r < rows; r++ {
			if !missing[r*cols+c] {
				d := x[r*cols+c] - mean
				ss += d * d
			}
		}
		variance[c] = ss / float64(n)
	}
	order := make([]int, cols)
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case variance[a] > variance[b]:
			return -1
		case variance[a] < variance[b]:
			return 1
		}
		return 0
	})
	return order
}

func (p *knnProblem) run(ctx context.Context, workers int) error {
	nChunks := (len(p.incomplete) + receiversPerChunk - 1) / receiversPerChunk
	workers = max(1, min(workers, nChunks))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &knnScratch{}
			for {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				i := int(next.Add(1)) - 1
				if i >= nChunks {
					return
				}
				lo := i * receiversPerChunk
				hi := min(lo+receiversPerChunk, len(p.incomplete))
				p.chunk(lo, hi, s)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// knnEntry is a candidate donor: its row and q, the squared nan_euclidean distance
// (cols/n_present · Σ squared differences; NaN when the rows share no present coordinate).
type knnEntry struct {
	q   float64
	row int32
}

// ranksAfter orders donors: NaN distances last, then by distance, then by row index.
// Comparing q rather than its square root also orders two distinct q whose roots round to
// the same float by q.
func (a knnEntry) ranksAfter(b knnEntry) bool {
	an, bn := a.q != a.q, b.q != b.q
	if an != bn {
		return an
	}
	if !an && a.q != b.q {
		return a.q > b.q
	}
	return a.row > b.row
}

func compareEntries(a, b knnEntry) int {
	switch {
	case a.ranksAfter(b):
		return 1
	case b.ranksAfter(a):
		return -1
	}
	return 0
}

// knnHeap keeps the k best candidates seen so far, worst at the root.
type knnHeap struct {
	e    []knnEntry // len ≤ k; cap k
	k    int
	thr  float64 // root's q once full and the root is finite; +Inf otherwise
	open bool    // not full yet, or the root has a NaN distance: any candidate may enter
}

func (h *knnHeap) reset(buf []knnEntry, k int) {
	h.e, h.k, h.thr, h.open = buf[:0], k, math.Inf(1), true
}

// offer considers a candidate; it enters if the heap is not full or it ranks before the root.
func (h *knnHeap) offer(c knnEntry) {
	if len(h.e) < h.k {
		h.push(c)
		return
	}
	if h.e[0].ranksAfter(c) {
		h.replaceRoot(c)
	}
}

func (h *knnHeap) push(e knnEntry) {
	h.e = append(h.e, e)
	i := len(h.e) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.e[i].ranksAfter(h.e[parent]) {
			break
		}
		h.e[i], h.e[parent] = h.e[parent], h.e[i]
		i = parent
	}
	h.refresh()
}

func (h *knnHeap) replaceRoot(e knnEntry) {
	h.e[0] = e
	n := len(h.e)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.e[r].ranksAfter(h.e[l]) {
			m = r
		}
		if !h.e[m].ranksAfter(h.e[i]) {
			break
		}
		h.e[i], h.e[m] = h.e[m], h.e[i]
		i = m
	}
	h.refresh()
}

func (h *knnHeap) refresh() {
	if len(h.e) < h.k || h.e[0].q != h.e[0].q {
		h.thr, h.open = math.Inf(1), true
		return
	}
	h.thr, h.open = h.e[0].q, false
}

// knnReceiver is the per-receiver working state inside a chunk.
type knnReceiver struct {
	row     int32
	present []int     // present columns, in p.order (largest variance first)
	vals    []float64 // the receiver's values in those columns
	scale   float64   // cols / n_present
	all     knnHeap   // best complete donors (they donate to every missing column)
	byCol   []knnHeap // best incomplete donors per missing column, indexed like cols
	missCol []int     // missing columns, ascending
	miss    []uint64  // bit set of missing columns
}

type knnScratch struct {
	recv    []knnReceiver
	entries []knnEntry
	merged  []knnEntry
}

// chunk imputes receivers p.incomplete[lo:hi].
func (p *knnProblem) chunk(lo, hi int, s *knnScratch) {
	cols, k := p.cols, p.k
	nRecv, nHeaps := hi-lo, 0
	for t := lo; t < hi; t++ {
		r := int(p.incomplete[t])
		nHeaps++
		for _, m := range p.missing[r*cols : r*cols+cols] {
			if m {
				nHeaps++
			}
		}
	}
	if cap(s.recv) < nRecv {
		s.recv = make([]knnReceiver, nRecv)
	}
	if cap(s.entries) < nHeaps*k {
		s.entries = make([]knnEntry, nHeaps*k)
	}
	recv, entries := s.recv[:nRecv], s.entries[:nHeaps*k]
	for i := range recv {
		rc := &recv[i]
		rc.row = p.incomplete[lo+i]
		r := int(rc.row)
		rc.present, rc.vals = rc.present[:0], rc.vals[:0]
		for _, c := range p.order {
			if !p.missing[r*cols+c] {
				rc.present = append(rc.present, c)
				rc.vals = append(rc.vals, p.x[r*cols+c])
			}
		}
		rc.scale = float64(cols) / float64(max(1, len(rc.present)))
		rc.all.reset(entries[:k:k], k)
		entries = entries[k:]
		if cap(rc.byCol) < cols {
			rc.byCol = make([]knnHeap, cols)
		}
		rc.byCol = rc.byCol[:cols]
		if cap(rc.miss) < p.maskWords {
			rc.miss = make([]uint64, p.maskWords)
		}
		rc.miss = rc.miss[:p.maskWords]
		clear(rc.miss)
		rc.missCol = rc.missCol[:0]
		for c := 0; c < cols; c++ {
			if p.missing[r*cols+c] {
				rc.missCol = append(rc.missCol, c)
				rc.miss[c/64] |= 1 << (c % 64)
				rc.byCol[c].reset(entries[:k:k], k)
				entries = entries[k:]
			}
		}
	}

	// Complete donors.
	for i := range recv {
		if len(recv[i].present) > 0 { // else every distance is NaN: column means, below
			p.scanComplete(&recv[i])
		}
	}
	// Incomplete donors (few, and each donates only to the columns it has).
	for i := range recv {
		if len(recv[i].present) > 0 {
			p.scanIncomplete(&recv[i])
		}
	}
	for i := range recv {
		p.fill(&recv[i], s, p.fills[p.fillStart[lo+i]:p.fillStart[lo+i+1]])
	}
}

// scanComplete offers the complete rows to one receiver, nearest first along its lead
// column (its present column of largest variance), and stops at the first row whose
// difference in that column alone already puts it beyond the receiver's k-th best.
//
// That stop is exact: the squared difference in the lead column is the first term of every
// distance sum, the sum only grows as terms are added and rounding is monotone, so
// cols/n·d_lead² > q_k implies q > q_k for that row and for every row farther along the lead
// column. The rows skipped can never be among the k nearest; the result is the one a full
// scan gives, which TestKNNImputerMatchesBruteForce checks bit for bit.
func (p *knnProblem) scanComplete(rc *knnReceiver) {
	cols := p.cols
	pc, vals := rc.present, rc.vals[:len(rc.present)]
	lead := min(earlyExitCols, len(pc))
	scale := rc.scale
	h := &rc.all
	li := p.byLead[pc[0]]
	v := vals[0]
	n := len(li.vals)
	hi, _ := slices.BinarySearch(li.vals, v)
	lo := hi - 1
	for lo >= 0 || hi < n {
		var t int
		if hi < n && (lo < 0 || li.vals[hi]-v <= v-li.vals[lo]) {
			t = hi
			hi++
		} else {
			t = lo
			lo--
		}
		// The conversions keep each product rounded on its own (no fused multiply-add), as
		// in the full distance below.
		if d := v - li.vals[t]; !h.open && float64(float64(d*d)*scale) > h.thr {
			break // every remaining row differs at least as much in the lead column
		}
		r := int(li.row[t])
		row := p.x[r*cols : r*cols+cols]
		var s float64
		for i, c := range pc[:lead] {
			d := vals[i] - row[c]
			s += float64(d * d)
		}
		if float64(s*scale) > h.thr {
			continue
		}
		for i := lead; i < len(pc); i++ {
			d := vals[i] - row[pc[i]]
			s += float64(d * d)
		}
		if q := float64(s * scale); q <= h.thr || h.open {
			h.offer(knnEntry{q: q, row: int32(r)})
		}
	}
}

// scanIncomplete offers the incomplete rows that have one of the receiver's missing columns
// to the receiver's per-column heaps.
func (p *knnProblem) scanIncomplete(rc *knnReceiver) {
	cols, words := p.cols, p.maskWords
	me := p.x[int(rc.row)*cols : int(rc.row)*cols+cols]
	for t, j := range p.incomplete {
		has := p.presence[t*words : t*words+words]
		useful := false
		for w, m := range rc.miss {
			if has[w]&m != 0 {
				useful = true
				break
			}
		}
		if !useful {
			continue // lacks every column the receiver needs (always true for the receiver itself)
		}
		other := p.x[int(j)*cols : int(j)*cols+cols]
		var s float64
		n := 0
		for _, c := range p.order {
			u, v := me[c], other[c]
			if u != u || v != v {
				continue
			}
			d := u - v
			s += float64(d * d) // rounded product, never fused: same sum as scanComplete
			n++
		}
		e := knnEntry{q: math.NaN(), row: j}
		if n > 0 {
			e.q = float64(s * (float64(cols) / float64(n)))
		}
		// A candidate that ranks after the k-th best complete donor cannot be among the k
		// nearest once the two heaps are merged.
		if !(e.q <= rc.all.thr || rc.all.open) {
			continue
		}
		for _, c := range rc.missCol {
			if h := &rc.byCol[c]; other[c] == other[c] && (e.q <= h.thr || h.open) {
				h.offer(e)
			}
		}
	}
}

// fill writes the imputed values of one receiver into out, one per missing column in ascending
// order.
func (p *knnProblem) fill(rc *knnReceiver, s *knnScratch, out []float64) {
	k := p.k
	for cell, c := range rc.missCol {
		if len(rc.present) == 0 {
			out[cell] = p.colMean[c]
			continue
		}
		m := append(s.merged[:0], rc.all.e...)
		m = append(m, rc.byCol[c].e...)
		s.merged = m
		slices.SortFunc(m, compareEntries)
		m = m[:min(k, len(m))]
		if m[0].q != m[0].q {
			out[cell] = p.colMean[c] // no donor at a defined distance
			continue
		}
		out[cell] = p.average(m, c)
	}
}

// average combines the chosen donors' values in column c the way scikit-learn's
// _calc_impute does (np.ma.average over the chosen donors).
func (p *knnProblem) average(m []knnEntry, c int) float64 {
	cols := p.cols
	if p.weights == KNNUniform {
		var sum float64
		for _, e := range m {
			sum += p.x[int(e.row)*cols+c]
		}
		return sum * 1.0 / float64(len(m))
	}
	// Weights 1/d; when some 1/d is infinite (d == 0), the zero-distance donors weigh 1 and
	// the others 0; NaN distances weigh 0.
	exact := false
	for _, e := range m {
		if math.IsInf(1/math.Sqrt(e.q), 1) {
			exact = true
			break
		}
	}
	var num, den float64
	for _, e := range m {
		var w float64
		switch inv := 1 / math.Sqrt(e.q); {
		case inv != inv:
			w = 0
		case exact:
			if math.IsInf(inv, 1) {
				w = 1
			}
		default:
			w = inv
		}
		num += float64(p.x[int(e.row)*cols+c] * w)
		den += w
	}
	return num / den
}

// numpyMaskedColumnMeans computes np.ma.array(col, mask=missing).mean() for every column:
// the column with missing cells set to 0, summed with numpy's pairwise summation, divided by
// the count of present cells. Matching numpy's summation order makes the fallback value the
// same number scikit-learn computes, not just a close one.
func numpyMaskedColumnMeans(x []float64, missing []bool, rows, cols int) []float64 {
	means := make([]float64, cols)
	col := make([]float64, rows)
	for c := 0; c < cols; c++ {
		n := 0
		for r := 0; r < rows; r++ {
			if missing[r*cols+c] {
				col[r] = 0
				continue
			}
			col[r] = x[r*cols+c]
			n++
		}
		if n > 0 {
			means[c] = (0 + numpyPairwiseSum(col)) * 1.0 / float64(n)
		} else {
			means[c] = math.NaN()
		}
	}
	return means
}

// numpyPairwiseSum is numpy's pairwise summation of a contiguous float64 array
// (numpy/core/src/umath/loops_utils.h.src, pairwise_sum): sequential below 8 elements,
// eight interleaved partial sums up to 128, halving (at a multiple of 8) above.
func numpyPairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		var res float64
		for _, v := range a {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return numpyPairwiseSum(a[:n2]) + numpyPairwiseSum(a[n2:])
	}
}
