package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// The memory budget bounds what one query may hold. The estimate is a sum
// of a few terms, each a count the engine knows at the moment it is charged
// times a flat per-item cost, rounded up from measurements so that the
// estimate errs on the side of refusing:
//
//   - every point fetched: BytesPerPoint (a decoded sample is 16 bytes; its
//     slice grows by doubling);
//   - every cell of the feature matrix (rows × features): BytesPerCell (the
//     value, the imputed flag, the outputs and the copy a shared forest or a
//     fleet step makes);
//   - KNN imputation: BytesPerKNNCell per cell of the matrices being imputed
//     at once (its output copy, mask and per-feature sorted indexes);
//   - forests held at once: trees × samples per tree × BytesPerTreeSample
//     (pkg/anomaly measured 31–40 bytes retained per tree and sample up to
//     1024 samples, 45–80 allocated while the trees are assembled).
//
// A query is charged as it goes and refused as soon as the sum exceeds the
// budget: before anything is fetched (the forest alone, for one entity and
// the training range's steps), while points are decoded, and once the
// entities and rows are known (matrix, imputation, forests). Charges are
// never returned within a query: memory that became garbage has not
// necessarily been collected, and the point is a bound, not an exact figure.
const (
	BytesPerPoint      = 24
	BytesPerCell       = 16
	BytesPerKNNCell    = 32
	BytesPerTreeSample = 48
)

// BudgetError is a query refused because it would exceed the memory budget.
// What names the part that did not fit, as the user spells the options that
// size it; Advice says what to change.
type BudgetError struct {
	What   string
	Need   int64 // bytes the part needs
	Used   int64 // bytes already charged to the query before it
	Budget int64
	Advice string
}

func (e *BudgetError) Error() string {
	already := ""
	if e.Used >= 1<<20 {
		already = fmt.Sprintf(" (on top of ~%s MiB already held by the query)", mib(e.Used))
	}
	return fmt.Sprintf("%s needs ~%s MiB%s, over the datasource's memory budget of %s MiB (setting memoryBudgetMiB); %s",
		e.What, mib(e.Need), already, mib(e.Budget), e.Advice)
}

func mib(b int64) string {
	if b < 10<<20 {
		return fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d", (b+(1<<19))>>20)
}

// queryBudget is one query's running charge.
type queryBudget struct {
	limit int64
	used  atomic.Int64
	// pool, when set, is the budget shared with the engine's other queries:
	// each charge is also taken from it, waiting while it is full.
	pool *memPool
	// waiting counts the query's goroutines waiting for the pool (guarded
	// by pool.mu).
	waiting int
}

// charge adds need bytes. Over the query's own limit it returns a
// *BudgetError and keeps nothing charged for this part; while the shared
// pool is full it waits for other queries to finish (or ctx to end).
func (b *queryBudget) charge(ctx context.Context, need int64, what, advice string) error {
	if b == nil || b.limit <= 0 || need <= 0 {
		return nil
	}
	if used := b.used.Add(need); used > b.limit {
		b.used.Add(-need)
		return &BudgetError{What: what, Need: need, Used: used - need, Budget: b.limit, Advice: advice}
	}
	if b.pool != nil {
		if err := b.pool.acquire(ctx, b, need); err != nil {
			b.used.Add(-need)
			return err
		}
	}
	return nil
}

// done returns the query's charges to the shared pool.
func (b *queryBudget) done() {
	if b != nil && b.pool != nil {
		b.pool.release(b)
	}
}

// Fetchers learn things the Fetcher signature has no room for — the
// upstream's infos, samples they did not keep, how many points they have
// decoded so far — and the signature is shared with the demo's in-memory
// fetcher. The engine therefore passes them a fetch scope in the context of
// each Fetch call; without one (a Fetch called directly) these are no-ops.
type fetchScope struct {
	feature string
	budget  *queryBudget
	charged atomic.Int64 // points charged through ChargePoints
	mu      sync.Mutex
	notices []Notice
}

type fetchScopeKey struct{}

func scopeOf(ctx context.Context) *fetchScope {
	s, _ := ctx.Value(fetchScopeKey{}).(*fetchScope)
	return s
}

// ReportNotice adds a notice to the result of the query being fetched in ctx.
func ReportNotice(ctx context.Context, sev Severity, text string) {
	if s := scopeOf(ctx); s != nil {
		s.mu.Lock()
		s.notices = append(s.notices, Notice{Severity: sev, Text: text})
		s.mu.Unlock()
	}
}

// ChargePoints charges n more decoded points to the memory budget of the
// query being fetched in ctx. A fetcher calls it as it decodes and stops with
// the error it returns (a *BudgetError), so that an answer too big for the
// budget is not held in full before it is refused.
func ChargePoints(ctx context.Context, n int) error {
	s := scopeOf(ctx)
	if s == nil || n <= 0 {
		return nil
	}
	s.charged.Add(int64(n))
	return s.budget.charge(ctx, int64(n)*BytesPerPoint, fmt.Sprintf("fetching feature %q", s.feature),
		"shorten the range or training.range, raise training.step, or narrow the expression to fewer series")
}

// forestSamples is how many rows each tree of a forest fitted on rows rows
// draws, as iforest.Fit decides it.
func forestSamples(p models.IsolationForest, rows int) int {
	opt, err := p.Options(1)
	if err != nil || rows <= 0 {
		return 0 // a query that does not parse fails before anything is fitted
	}
	return max(1, opt.SamplesPerTree(rows))
}

// forestBytes is the estimate for one forest fitted on rows rows.
func forestBytes(p models.IsolationForest, rows int) int64 {
	return int64(p.Trees) * int64(forestSamples(p, rows)) * BytesPerTreeSample
}

const forestAdvice = "lower isolationForest.trees or isolationForest.maxSamples, or shorten the range"

func forestWhat(forests int) string {
	if forests == 1 {
		return "isolationForest.trees × maxSamples"
	}
	return fmt.Sprintf("isolationForest.trees × maxSamples for %d forests", forests)
}

type budgetKey struct{}

func budgetOf(ctx context.Context) *queryBudget {
	b, _ := ctx.Value(budgetKey{}).(*queryBudget)
	return b
}

// precheck refuses, before anything is fetched, a query whose forest alone
// would exceed the budget for a single entity over the training range: the
// cost of 10,000 trees on every row does not depend on how many sensors
// answer.
func (e *Engine) precheck(q *models.Query, plan *models.Plan) error {
	if q.Mode != models.ModeSeries {
		return nil // a fleet forest's rows are the entities, known after the fetch
	}
	rows := min(plan.Train.Points(), e.limits.MaxTrainingRows)
	if need := forestBytes(q.IsolationForest, rows); need > e.limits.MemoryBudget {
		return &BudgetError{What: forestWhat(1) + fmt.Sprintf(" (%d rows for one entity)", rows), Need: need,
			Budget: e.limits.MemoryBudget, Advice: forestAdvice}
	}
	return nil
}

// knnBytes is the imputation's working memory: series mode imputes one
// entity at a time, so the largest entity decides.
func knnBytes(a *alignment) int64 {
	rows := 0
	for _, ent := range a.Entities {
		rows = max(rows, ent.Rows())
	}
	return int64(rows) * int64(a.Cols) * BytesPerKNNCell
}

// chargeSeriesForests charges the forests series mode is about to fit, on
// the rows fitSeries will use (after its subsampling).
func (e *Engine) chargeSeriesForests(ctx context.Context, q *models.Query, train *alignment) error {
	b := budgetOf(ctx)
	if b == nil {
		return nil
	}
	limit := e.limits.MaxTrainingRows
	if q.Forest == models.ForestShared {
		rows := min(train.totalRows(), limit)
		return b.charge(ctx, forestBytes(q.IsolationForest, rows), forestWhat(1)+fmt.Sprintf(" (%d rows)", rows), forestAdvice)
	}
	perEntity := max(limit/max(len(train.Entities), 1), 1)
	var need int64
	forests := 0
	for _, ent := range train.Entities {
		if ent.Rows() >= minTrainingRows {
			need += forestBytes(q.IsolationForest, min(ent.Rows(), perEntity))
			forests++
		}
	}
	if forests == 0 {
		return nil
	}
	return b.charge(ctx, need, forestWhat(forests)+" (one per entity)", forestAdvice+", or use forest \"shared\"")
}

// chargeFleet charges fleet mode's working set: a forest and an imputed
// cross-section per worker, each fitted on the largest step's entities.
func (e *Engine) chargeFleet(ctx context.Context, q *models.Query, steps []fleetStep, cols int) error {
	b := budgetOf(ctx)
	if b == nil {
		return nil
	}
	m := 0
	for i := range steps {
		m = max(m, len(steps[i].ents))
	}
	if m < 2 {
		return nil
	}
	workers := int64(min(e.workers, len(steps)))
	if q.Imputation.Method != models.ImputeNone {
		if err := b.charge(ctx, workers*int64(m)*int64(cols)*BytesPerKNNCell, "KNN imputation (imputation.method knn)",
			"narrow the expressions to fewer entities, or set imputation.method to none"); err != nil {
			return err
		}
	}
	return b.charge(ctx, workers*forestBytes(q.IsolationForest, m),
		fmt.Sprintf("isolationForest.trees × maxSamples for %d fleet forests of %d entities fitted at once", workers, m),
		"lower isolationForest.trees or isolationForest.maxSamples, or narrow the expressions to fewer entities")
}

func matrixPoints(m model.Matrix) int {
	n := 0
	for _, ss := range m {
		n += len(ss.Values)
	}
	return n
}
