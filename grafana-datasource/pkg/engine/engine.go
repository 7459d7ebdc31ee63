package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// Fetcher returns one feature's series over a window, the way Prometheus's
// query_range answers expr: one SampleStream per series, samples on w's grid
// (samples off the grid are ignored, missing samples are missing cells).
// Warnings are passed on to the result as notices. The datasource fetches
// from the upstream Prometheus; the demo serves its simulator's readings.
type Fetcher interface {
	Fetch(ctx context.Context, feature, expr string, w models.Window) (m model.Matrix, warnings []string, err error)
}

// FetchFunc adapts a function to Fetcher.
type FetchFunc func(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error)

// Fetch calls f.
func (f FetchFunc) Fetch(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	return f(ctx, feature, expr, w)
}

// Options are the limits and resources of an Engine; the datasource derives
// them from its settings (models.Settings).
type Options struct {
	// MaxSeries bounds the entities one feature (and all features joined)
	// may return; 0 = no bound.
	MaxSeries int
	// MaxTrainingRows bounds the rows (entity × step) the forests of one
	// query are fitted on: series mode subsamples above it, fleet mode
	// refuses the query. 0 = models.DefaultMaxTrainingRows.
	MaxTrainingRows int
	// CacheMaxBytes bounds the fitted-forest cache; 0 disables it.
	CacheMaxBytes int64
	// CacheTTL is how long a cached forest is reused.
	CacheTTL time.Duration
	// Workers is how many fits run in parallel; 0 = runtime.GOMAXPROCS(0).
	// Results do not depend on it.
	Workers int
	// MemoryBudget bounds the memory queries hold, in bytes, as estimated
	// by the rules of budget.go: one query that would exceed it alone is
	// refused with a *BudgetError; concurrent queries share it, a query
	// waiting for room while the others hold it (mempool.go). Cached
	// forests count against it too, and are evicted to make room for a
	// running query. 0 = no bound.
	MemoryBudget int64
	// Observer, when set, is told how long each phase (fetch, impute, fit,
	// score, fit+score) took; benchmarks use it.
	Observer func(phase string, d time.Duration)
}

// Engine evaluates queries: fetch, align, impute, fit (or reuse), score. It
// is safe for concurrent use; concurrent identical queries fit once.
type Engine struct {
	up       Fetcher
	cache    *modelCache
	flights  flights
	limits   Options
	pool     *memPool // the memory budget shared by concurrent queries; nil without one
	workers  int
	fit      func(ctx context.Context, x []float64, cols int, p models.IsolationForest, workers int) (detector, error)
	imputer  func(ctx context.Context, x []float64, cols, k, workers int) ([]float64, []bool, error)
	observer func(phase string, d time.Duration)
}

// New returns an Engine fetching through up.
func New(up Fetcher, opt Options) *Engine {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxTrainingRows <= 0 {
		opt.MaxTrainingRows = models.DefaultMaxTrainingRows
	}
	cache, pool := newModelCache(opt.CacheMaxBytes, opt.CacheTTL), newMemPool(opt.MemoryBudget)
	if pool != nil {
		cache.onResize, cache.room, pool.reclaim = pool.cacheResized, pool.room, cache.shrink
	}
	return &Engine{
		up:       up,
		cache:    cache,
		limits:   opt,
		pool:     pool,
		workers:  workers,
		fit:      fitForest,
		imputer:  imputeKNN,
		observer: opt.Observer,
	}
}

// CacheStats reports the forest cache's size and counters.
func (e *Engine) CacheStats() (entries int, bytes int64, hits, misses uint64) {
	return e.cache.Stats()
}

func (e *Engine) observe(phase string, start time.Time) {
	if e.observer != nil {
		e.observer(phase, time.Since(start))
	}
}

// Severity grades a notice.
type Severity int

// Notice severities.
const (
	SeverityInfo Severity = iota
	SeverityWarning
)

// Notice tells the user about something that shaped the result without
// failing it: a limit that truncated or subsampled, data that was dropped or
// skipped, an upstream warning.
type Notice struct {
	Severity Severity
	Text     string
}

// Result is one query's outcome.
type Result struct {
	Entities []*EntityResult // in entity order (label values sorted)
	// Numeric is fleet mode at the last step: one value per entity rather
	// than a time series.
	Numeric bool
	// Executed says what ran: each feature's expanded PromQL, the ranges,
	// the mode and its options.
	Executed string
	Notices  []Notice
	// CacheHit reports that the forests (or fleet scores) came from the
	// cache rather than a fit.
	CacheHit bool
}

// EntityResult is one entity's scored points. Of Score, Decision and
// Anomaly only the query's outputs are set; Features and Imputed only with
// includeFeatures (Features[c][i] is feature c at Times[i]).
type EntityResult struct {
	Labels   map[string]string // the entity labels only
	Times    []time.Time
	Score    []float64 // −score_samples: higher = more anomalous
	Decision []float64 // decision_function: negative = anomalous
	Anomaly  []float64 // 1 anomalous, 0 normal
	Features [][]float64
	Imputed  [][]bool

	// The PurpleAir preset's outputs, per time: kind ("sensor", "air" or
	// ""), reason, detail, when the episode began (zero when not flagged)
	// and the EPA-corrected PM2.5 (NaN when it cannot be computed).
	Kind, Reason, Detail []string
	Since                []time.Time
	EPA                  []float64
}

func (r *Result) notice(sev Severity, format string, args ...any) {
	r.Notices = append(r.Notices, Notice{Severity: sev, Text: fmt.Sprintf(format, args...)})
}

// Run evaluates one parsed query against its plan.
func (e *Engine) Run(ctx context.Context, q *models.Query, plan *models.Plan) (*Result, error) {
	res := &Result{Executed: executedString(q, plan)}
	for _, n := range plan.Notices {
		res.notice(SeverityInfo, "%s", n)
	}
	if e.limits.MemoryBudget > 0 {
		if err := e.precheck(q, plan); err != nil {
			return res, err
		}
		b := &queryBudget{limit: e.limits.MemoryBudget, pool: e.pool}
		defer b.done()
		ctx = context.WithValue(ctx, budgetKey{}, b)
	}
	if q.Preset == models.PresetPurpleAir {
		return res, e.runPurpleAir(ctx, q, plan, res)
	}
	if q.Mode == models.ModeFleet {
		return res, e.runFleet(ctx, q, plan, res)
	}
	return res, e.runSeries(ctx, q, plan, res)
}

func executedString(q *models.Query, plan *models.Plan) string {
	var b strings.Builder
	for i, f := range q.Features {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, plan.Exprs[i])
	}
	fmt.Fprintf(&b, "score range: %s\n", plan.Score)
	if !plan.TrainIsScore {
		fmt.Fprintf(&b, "training range: %s\n", plan.Train)
	}
	fmt.Fprintf(&b, "mode: %s", q.Mode)
	if q.Mode == models.ModeSeries {
		fmt.Fprintf(&b, ", forest: %s", q.Forest)
	} else {
		fmt.Fprintf(&b, ", at: %s", q.FleetAt)
	}
	fmt.Fprintf(&b, ", entity: %s, imputation: %s", strings.Join(q.Entity, ","), q.Imputation.Method)
	return b.String()
}

// fetchAligned runs every feature's query concurrently over w and joins them.
func (e *Engine) fetchAligned(ctx context.Context, q *models.Query, plan *models.Plan, w models.Window, res *Result) (*alignment, error) {
	start := time.Now()
	defer e.observe("fetch", start)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mats := make([]model.Matrix, len(q.Features))
	warns := make([][]string, len(q.Features))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error // the first failure in time: the others are the cancellations it caused
	)
	budget := budgetOf(ctx)
	scopes := make([]*fetchScope, len(q.Features))
	for i, f := range q.Features {
		scopes[i] = &fetchScope{feature: f.Name, budget: budget}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx := context.WithValue(ctx, fetchScopeKey{}, scopes[i])
			m, ws, err := e.up.Fetch(fctx, f.Name, plan.Exprs[i], w)
			if err == nil {
				// A fetcher that does not count as it decodes (the demo's)
				// is charged for what it returned.
				err = ChargePoints(fctx, matrixPoints(m)-int(scopes[i].charged.Load()))
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel() // one failed feature fails the query: stop the others
				return
			}
			mats[i], warns[i] = m, ws
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	for i, ws := range warns {
		for _, w := range ws {
			res.notice(SeverityWarning, "upstream warning for feature %q: %s", q.Features[i].Name, w)
		}
		res.Notices = append(res.Notices, scopes[i].notices...)
	}
	names := make([]string, len(q.Features))
	for i, f := range q.Features {
		names[i] = f.Name
	}
	a, err := alignFeatures(w, q.Entity, names, mats, e.limits.MaxSeries)
	if err != nil {
		return nil, err
	}
	if rows := a.totalRows(); rows > 0 {
		if err := budget.charge(ctx, int64(rows)*int64(a.Cols)*BytesPerCell, fmt.Sprintf("the feature matrix (%d rows × %d features)", rows, a.Cols),
			"shorten the range or training.range, or raise training.step"); err != nil {
			return nil, err
		}
	}
	if a.OffGrid > 0 {
		res.notice(SeverityWarning, "%d samples off the step grid of %s (or outside it) were dropped: the upstream did not answer at the query's step",
			a.OffGrid, w)
	}
	if a.SkippedSeries > 0 {
		res.notice(SeverityWarning, "%d series without the entity label(s) %s were ignored; keep those labels in each expression (e.g. avg by (%s))",
			a.SkippedSeries, strings.Join(q.Entity, ","), strings.Join(q.Entity, ", "))
	}
	return a, nil
}

// prepare fills or drops missing cells of every entity in place, per entity
// (in series mode an entity's neighbours are its own other timestamps).
// Entities whose rows cannot be completed are removed with a notice.
func (e *Engine) prepare(ctx context.Context, q *models.Query, a *alignment, res *Result, what string) error {
	start := time.Now()
	defer e.observe("impute", start)
	if q.Imputation.Method != models.ImputeNone {
		if err := budgetOf(ctx).charge(ctx, knnBytes(a), "KNN imputation (imputation.method knn)",
			"shorten the range, raise training.step, or set imputation.method to none"); err != nil {
			return err
		}
	}
	var dropped int
	var emptyFeature []string
	kept := a.Entities[:0]
	for _, ent := range a.Entities {
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.Imputation.Method == models.ImputeNone {
			dropped += ent.dropIncomplete(a.Cols)
		} else if hasMissing(ent.X) {
			out, missing, err := e.imputer(ctx, ent.X, a.Cols, q.Imputation.K, e.workers)
			if col, ok := emptyColumn(err); ok {
				emptyFeature = append(emptyFeature, fmt.Sprintf("{%s} has no %s", ent.Key, q.Features[col].Name))
				continue
			}
			if err != nil {
				return err
			}
			ent.X, ent.Imputed = out, missing
		}
		if ent.Rows() > 0 {
			kept = append(kept, ent)
		}
	}
	a.Entities = kept
	if dropped > 0 {
		res.notice(SeverityInfo, "%s: %d incomplete points dropped (imputation: none)", what, dropped)
	}
	if len(emptyFeature) > 0 {
		res.notice(SeverityWarning, "%s: %d entities skipped because a feature has no value at all in the range: %s",
			what, len(emptyFeature), abbreviate(emptyFeature, 5))
	}
	return nil
}

func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; … (%d more)", len(items)-n)
}

// seriesModel is what series mode caches: a forest per entity key, or one
// shared forest under the key "".
type seriesModel struct {
	Forests map[string]detector
	// Calib is each forest's calibration (calibration "tail"), under the
	// same key: its training rows' scores.
	Calib   map[string]*tailCalib
	Size    int64
	Notices []Notice // notices of the fit, repeated on cache hits
}

// cacheKey identifies a fit: everything that determines it, with the
// training window as aligned grid bounds (so refreshes within one step hit).
func (e *Engine) cacheKey(q *models.Query, plan *models.Plan, train models.Window) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]any{q.Mode, q.Forest, plan.Exprs, q.Entity, q.IsolationForest, q.Imputation,
		train.Start.UnixMilli(), train.End.UnixMilli(), train.Step.Milliseconds(), e.limits.MaxTrainingRows})
	return hex.EncodeToString(h.Sum(nil))
}

func (e *Engine) runSeries(ctx context.Context, q *models.Query, plan *models.Plan, res *Result) error {
	key := e.cacheKey(q, plan, plan.Train)
	if q.Calibration == models.CalibrationTail {
		key += "/tail" // the same forests, with their training scores kept
	}
	var sm *seriesModel
	if v, ok := e.cache.Get(key); ok {
		sm = v.(*seriesModel)
	}
	// Concurrent evaluations of one query (panels sharing it, an alert rule
	// and a dashboard) fit once: the first leads, the others wait for it.
	var fl *flight
	leader := false
	if sm == nil {
		fl, leader = e.flights.join(key)
		if leader {
			defer func() { e.flights.finish(key, fl, sm) }()
		}
	}

	// Training data is fetched by whoever fits, alongside the scored range.
	var (
		train   *trainingData
		trainWG sync.WaitGroup
	)
	if leader && !plan.TrainIsScore {
		trainWG.Add(1)
		go func() { defer trainWG.Done(); train = e.fetchTraining(ctx, q, plan) }()
	}
	score, err := e.fetchAligned(ctx, q, plan, plan.Score, res)
	if err == nil {
		err = e.prepare(ctx, q, score, res, "scored range")
	}
	trainWG.Wait()
	if err != nil {
		return err
	}

	if sm == nil && fl != nil && !leader {
		select {
		case <-fl.done:
			sm = fl.sm // nil if the leader failed: then fit here
			if sm == nil && !plan.TrainIsScore {
				train = e.fetchTraining(ctx, q, plan)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if sm != nil {
		res.CacheHit = true
		res.Notices = append(res.Notices, sm.Notices...)
	} else if sm, err = e.fitAndCacheSeries(ctx, q, key, score, train, res); err != nil {
		return err
	}
	return e.scoreSeries(ctx, q, sm, score, res)
}

// trainingData is the training range, aligned and prepared, with the
// notices that doing so produced.
type trainingData struct {
	rows *alignment
	res  Result
	err  error
}

func (e *Engine) fetchTraining(ctx context.Context, q *models.Query, plan *models.Plan) *trainingData {
	t := &trainingData{}
	if t.rows, t.err = e.fetchAligned(ctx, q, plan, plan.Train, &t.res); t.err == nil {
		t.err = e.prepare(ctx, q, t.rows, &t.res, "training range")
	}
	return t
}

// fitAndCacheSeries fits the forests on train (nil: on the scored range
// itself) and caches them under key. The notices of the training data and
// the fit are kept with the model, so that cache hits repeat them.
func (e *Engine) fitAndCacheSeries(ctx context.Context, q *models.Query, key string, score *alignment, train *trainingData, res *Result) (*seriesModel, error) {
	mark := len(res.Notices)
	rows := score
	if train != nil {
		if train.err != nil {
			return nil, train.err
		}
		rows = train.rows
		res.Notices = append(res.Notices, train.res.Notices...)
	}
	if err := e.chargeSeriesForests(ctx, q, rows); err != nil {
		return nil, err
	}
	sm, err := e.fitSeries(ctx, q, rows, res)
	if err != nil {
		return nil, err
	}
	sm.Notices = append([]Notice(nil), res.Notices[mark:]...)
	e.cache.Put(key, sm, sm.Size)
	return sm, nil
}

// scoreSeries scores every entity of the scored range with its forest (or
// the shared one); entities without a forest are named in a notice.
func (e *Engine) scoreSeries(ctx context.Context, q *models.Query, sm *seriesModel, score *alignment, res *Result) error {
	start := time.Now()
	defer e.observe("score", start)
	var untrained []string
	res.Entities = make([]*EntityResult, 0, len(score.Entities))
	var mu sync.Mutex
	out := make([]*EntityResult, len(score.Entities))
	err := parallel(ctx, len(score.Entities), e.workers, func(i int) error {
		ent := score.Entities[i]
		k := ""
		if q.Forest == models.ForestPerEntity {
			k = ent.Key
		}
		f := sm.Forests[k]
		if f == nil {
			mu.Lock()
			untrained = append(untrained, ent.Key)
			mu.Unlock()
			return nil
		}
		er, err := scoreEntity(q, f, ent, score.Window, score.Cols)
		if er != nil && sm.Calib != nil {
			sm.Calib[k].calibrateScores(er.Score)
		}
		out[i] = er
		return err
	})
	if err != nil {
		return err
	}
	for _, er := range out {
		if er != nil {
			res.Entities = append(res.Entities, er)
		}
	}
	if len(untrained) > 0 {
		sort.Strings(untrained)
		res.notice(SeverityWarning, "%d entities have no (or fewer than %d) training points and were not scored: %s", len(untrained), minTrainingRows, abbreviate(untrained, 5))
	}
	return nil
}

// minTrainingRows is the fewest rows a per-entity forest is fitted on: a
// forest of one point isolates nothing, and scores against it would mislead.
const minTrainingRows = 8

// fitSeries fits the forests of series mode.
func (e *Engine) fitSeries(ctx context.Context, q *models.Query, train *alignment, res *Result) (*seriesModel, error) {
	start := time.Now()
	defer e.observe("fit", start)
	if q.Forest == models.ForestShared {
		return e.fitShared(ctx, q, train, res)
	}
	return e.fitPerEntity(ctx, q, train, res)
}

// fitShared fits one forest on every entity's rows, subsampled with an even
// stride over maxTrainingRows.
func (e *Engine) fitShared(ctx context.Context, q *models.Query, train *alignment, res *Result) (*seriesModel, error) {
	sm := &seriesModel{Forests: map[string]detector{}}
	limit := e.limits.MaxTrainingRows
	total := train.totalRows()
	x := make([]float64, 0, min(total, limit)*train.Cols)
	stride := 1
	if total > limit {
		stride = (total + limit - 1) / limit
		res.notice(SeverityInfo, "training subsampled: %d rows exceed maxTrainingRows %d, every %d-th row used", total, limit, stride)
	}
	n := 0
	for _, ent := range train.Entities {
		for r := 0; r < ent.Rows(); r++ {
			if n%stride == 0 {
				x = append(x, ent.X[r*train.Cols:(r+1)*train.Cols]...)
			}
			n++
		}
	}
	if len(x) == 0 {
		return sm, nil
	}
	f, c, err := e.fitCalibrated(ctx, q, x, train.Cols, e.workers)
	if err != nil {
		return nil, err
	}
	sm.Forests[""] = f
	sm.Size = int64(f.SizeBytes())
	if c != nil {
		sm.Calib = map[string]*tailCalib{"": c}
		sm.Size += calibBytes
	}
	return sm, nil
}

// fitPerEntity fits one forest per entity with at least minTrainingRows
// rows, each on its even share of maxTrainingRows.
func (e *Engine) fitPerEntity(ctx context.Context, q *models.Query, train *alignment, res *Result) (*seriesModel, error) {
	sm := &seriesModel{Forests: map[string]detector{}}
	limit := e.limits.MaxTrainingRows
	perEntity := limit
	if len(train.Entities) > 0 {
		perEntity = max(limit/len(train.Entities), 1)
	}
	forests := make([]detector, len(train.Entities))
	calibs := make([]*tailCalib, len(train.Entities))
	var subsampled int
	var mu sync.Mutex
	err := parallel(ctx, len(train.Entities), e.workers, func(i int) error {
		ent := train.Entities[i]
		if ent.Rows() < minTrainingRows {
			return nil // reported as "no training data" when scored
		}
		x := ent.X
		if ent.Rows() > perEntity {
			stride := (ent.Rows() + perEntity - 1) / perEntity
			x = make([]float64, 0, perEntity*train.Cols)
			for r := 0; r < ent.Rows(); r += stride {
				x = append(x, ent.X[r*train.Cols:(r+1)*train.Cols]...)
			}
			mu.Lock()
			subsampled++
			mu.Unlock()
		}
		var err error
		if forests[i], calibs[i], err = e.fitCalibrated(ctx, q, x, train.Cols, 1); err != nil {
			return fmt.Errorf("entity {%s}: %w", ent.Key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, f := range forests {
		if f == nil {
			continue
		}
		sm.Forests[train.Entities[i].Key] = f
		sm.Size += int64(f.SizeBytes()) + int64(len(train.Entities[i].Key)) + 64
		if calibs[i] != nil {
			if sm.Calib == nil {
				sm.Calib = map[string]*tailCalib{}
			}
			sm.Calib[train.Entities[i].Key] = calibs[i]
			sm.Size += calibBytes
		}
	}
	if subsampled > 0 {
		res.notice(SeverityInfo, "training subsampled for %d entities: more than %d rows each (maxTrainingRows %d split over %d entities)",
			subsampled, perEntity, limit, len(train.Entities))
	}
	return sm, nil
}

// fitCalibrated fits a forest on x and, with calibration "tail", its
// training scores' tail model (nil otherwise).
func (e *Engine) fitCalibrated(ctx context.Context, q *models.Query, x []float64, cols, workers int) (detector, *tailCalib, error) {
	f, err := e.fit(ctx, x, cols, q.IsolationForest, workers)
	if err != nil || q.Calibration != models.CalibrationTail {
		return f, nil, err
	}
	c, err := trainingCalib(f, x, cols, forestSamples(q.IsolationForest, len(x)/cols))
	if err != nil {
		return nil, nil, err
	}
	return f, c, nil
}

// scoreEntity scores one entity's rows with f.
func scoreEntity(q *models.Query, f detector, ent *entityRows, w models.Window, cols int) (*EntityResult, error) {
	n := ent.Rows()
	ss := make([]float64, n)
	if err := f.ScoreSamples(ent.X, cols, ss); err != nil {
		return nil, fmt.Errorf("entity {%s}: %w", ent.Key, err)
	}
	er := &EntityResult{Labels: ent.Labels, Times: make([]time.Time, n)}
	for r, i := range ent.Index {
		er.Times[r] = w.At(int(i))
	}
	fillOutputs(q, f.Offset(), ss, er)
	if q.IncludeFeatures {
		er.Features = make([][]float64, cols)
		er.Imputed = make([][]bool, cols)
		for c := 0; c < cols; c++ {
			er.Features[c] = make([]float64, n)
			er.Imputed[c] = make([]bool, n)
			for r := 0; r < n; r++ {
				er.Features[c][r] = ent.X[r*cols+c]
				if ent.Imputed != nil {
					er.Imputed[c][r] = ent.Imputed[r*cols+c]
				}
			}
		}
	}
	return er, nil
}

// fillOutputs turns score_samples into the requested outputs.
// decision = score_samples − offset; anomalous ⇔ decision < 0 (scikit-learn's predict).
func fillOutputs(q *models.Query, offset float64, ss []float64, er *EntityResult) {
	for _, o := range q.Output {
		v := make([]float64, len(ss))
		for i, s := range ss {
			switch o {
			case models.OutputScore:
				v[i] = -s
			case models.OutputDecision:
				v[i] = s - offset
			case models.OutputAnomaly:
				if s-offset < 0 {
					v[i] = 1
				}
			}
		}
		switch o {
		case models.OutputScore:
			er.Score = v
		case models.OutputDecision:
			er.Decision = v
		case models.OutputAnomaly:
			er.Anomaly = v
		}
	}
}

// flights tracks fits in progress by cache key.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	sm   *seriesModel // set before done is closed; nil if the fit failed
}

// join returns the flight for key and whether the caller leads it.
func (f *flights) join(key string) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[key]; ok {
		return fl, false
	}
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	return fl, true
}

// finish publishes the leader's model (nil on failure) to the waiters.
func (f *flights) finish(key string, fl *flight, sm *seriesModel) {
	f.mu.Lock()
	delete(f.m, key)
	f.mu.Unlock()
	fl.sm = sm
	close(fl.done)
}

// parallel runs fn(0..n-1) on up to workers goroutines, stopping at the
// first error or when ctx is done.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	workers = min(workers, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  int
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if first != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
