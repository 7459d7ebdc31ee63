package engine

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// fleetStep is one step's cross-section: which entity row sits in each
// matrix row.
type fleetStep struct {
	grid int
	ents []int32 // entity index
	rows []int32 // row within that entity
}

// fleetModel is what fleet mode caches per step: not the forest but its
// scores. A fleet forest is fitted on one step's cross-section and only ever
// scores that same cross-section (scikit-learn's fit + score_samples on one
// snapshot), so its scores are all a re-evaluation needs — 100 sensors cost
// a few kB instead of the forest's ~350 kB, which kept fleet "each" over a
// day (720 steps) from filling the cache.
type fleetModel struct {
	scores map[string]float64 // entity key → score_samples
	offset float64
	size   int64
}

func newFleetModel(a *alignment, ents []int32, ss []float64, offset float64) *fleetModel {
	fm := &fleetModel{scores: make(map[string]float64, len(ents)), offset: offset, size: 64}
	for j, ei := range ents {
		k := a.Entities[ei].Key
		fm.scores[k] = ss[j]
		fm.size += int64(len(k)) + 48
	}
	return fm
}

// lookup fills out with the cached scores of ents; false if the cross-section
// changed since (an entity without a cached score), which means refitting.
func (fm *fleetModel) lookup(a *alignment, ents []int32, out []float64) bool {
	if len(ents) != len(fm.scores) {
		return false
	}
	for j, ei := range ents {
		v, ok := fm.scores[a.Entities[ei].Key]
		if !ok {
			return false
		}
		out[j] = v
	}
	return true
}

// fleetStepResult is the outcome for one step, merged into entities in order.
type fleetStepResult struct {
	ss      []float64
	offset  float64
	x       []float64
	imputed []bool
	skipped string // why the step was not scored ("" = scored)
}

// runFleet compares entities with each other at each step: one forest per
// step, fitted on that step's cross-section (fit_predict on a snapshot, as
// the reference batch did), every entity scored against it.
func (e *Engine) runFleet(ctx context.Context, q *models.Query, plan *models.Plan, res *Result) error {
	a, err := e.fetchAligned(ctx, q, plan, plan.Score, res)
	if err != nil {
		return err
	}
	if total := a.totalRows(); total > e.limits.MaxTrainingRows {
		return &models.QueryError{Msg: fmt.Sprintf("fleet mode would fit on %d rows over %d steps, above the datasource's maxTrainingRows %d; use fleetAt \"last\", a shorter range or a larger step",
			total, plan.Score.Points(), e.limits.MaxTrainingRows)}
	}
	steps, results, hits, err := e.fleetSteps(ctx, q, plan, a, plan.Score)
	if err != nil {
		return err
	}
	res.CacheHit = hits > 0 && hits == countScored(results)
	var calib *tailCalib
	if q.Calibration == models.CalibrationTail {
		if calib, err = e.fleetCalibration(ctx, q, plan, results, res); err != nil {
			return err
		}
	}
	ers, skipped, why := mergeFleetSteps(q, a, plan.Score, steps, results, calib)
	for _, er := range ers {
		if er != nil {
			res.Entities = append(res.Entities, er)
		}
	}
	if skipped > 0 {
		res.notice(SeverityWarning, "%d steps not scored (%s)", skipped, why)
	}
	res.Numeric = q.FleetAt == models.FleetAtLast
	return nil
}

// mergeFleetSteps turns the step results into per-entity series in time
// order (ers[i] is a.Entities[i]'s, nil if never scored), counting the steps
// not scored and the last reason why.
func mergeFleetSteps(q *models.Query, a *alignment, w models.Window, steps []fleetStep, results []fleetStepResult, calib *tailCalib) (ers []*EntityResult, skipped int, why string) {
	cols := a.Cols
	ers = make([]*EntityResult, len(a.Entities))
	for si := range steps {
		s, r := &steps[si], &results[si]
		if r.ss == nil {
			if r.skipped != "" {
				skipped++
				why = r.skipped
			}
			continue
		}
		t := w.At(s.grid)
		for j, ei := range s.ents {
			er := ers[ei]
			if er == nil {
				er = &EntityResult{Labels: a.Entities[ei].Labels}
				if q.IncludeFeatures {
					er.Features = make([][]float64, cols)
					er.Imputed = make([][]bool, cols)
				}
				ers[ei] = er
			}
			er.Times = append(er.Times, t)
			one := &EntityResult{}
			fillOutputs(q, r.offset, r.ss[j:j+1], one)
			calib.calibrateScores(one.Score)
			er.Score = appendIf(er.Score, one.Score)
			er.Decision = appendIf(er.Decision, one.Decision)
			er.Anomaly = appendIf(er.Anomaly, one.Anomaly)
			if q.IncludeFeatures {
				for c := 0; c < cols; c++ {
					er.Features[c] = append(er.Features[c], r.x[j*cols+c])
					er.Imputed[c] = append(er.Imputed[c], r.imputed != nil && r.imputed[j*cols+c])
				}
			}
		}
	}
	return ers, skipped, why
}

func countScored(rs []fleetStepResult) int {
	n := 0
	for i := range rs {
		if rs[i].ss != nil {
			n++
		}
	}
	return n
}

func appendIf(dst, v []float64) []float64 {
	if v == nil {
		return dst
	}
	return append(dst, v...)
}

func dropIncompleteRows(x []float64, cols int, ents, rows []int32) ([]float64, []int32, []int32) {
	keep := 0
	for j := range ents {
		row := x[j*cols : (j+1)*cols]
		ok := true
		for _, v := range row {
			if math.IsNaN(v) {
				ok = false
				break
			}
		}
		if ok {
			copy(x[keep*cols:], row)
			ents[keep], rows[keep] = ents[j], rows[j]
			keep++
		}
	}
	return x[:keep*cols], ents[:keep], rows[:keep]
}

// fleetSteps fits and scores every step of w's cross-sections (or takes the
// scores from the cache).
func (e *Engine) fleetSteps(ctx context.Context, q *models.Query, plan *models.Plan, a *alignment, w models.Window) ([]fleetStep, []fleetStepResult, int, error) {
	steps := make([]fleetStep, w.Points())
	for i := range steps {
		steps[i].grid = i
	}
	for ei, ent := range a.Entities {
		for r, gi := range ent.Index {
			s := &steps[gi]
			s.ents = append(s.ents, int32(ei))
			s.rows = append(s.rows, int32(r))
		}
	}
	if err := e.chargeFleet(ctx, q, steps, a.Cols); err != nil {
		return nil, nil, 0, err
	}
	results := make([]fleetStepResult, len(steps))
	var hits atomic.Int64
	fitStart := time.Now()
	err := parallel(ctx, len(steps), e.workers, func(si int) error {
		hit, err := e.scoreFleetStep(ctx, q, plan, a, w.At(steps[si].grid), &steps[si], &results[si])
		if hit {
			hits.Add(1)
		}
		return err
	})
	e.observe("fit+score", fitStart)
	return steps, results, int(hits.Load()), err
}

// scoreFleetStep scores the cross-section s at time t into out: imputed (or
// its incomplete rows dropped), then scored by the step's cached scores
// (hit) or a forest fitted on it. A step of fewer than two entities is
// skipped, with the reason in out.
func (e *Engine) scoreFleetStep(ctx context.Context, q *models.Query, plan *models.Plan, a *alignment, t time.Time, s *fleetStep, out *fleetStepResult) (hit bool, err error) {
	cols := a.Cols
	m := len(s.ents)
	if m < 2 {
		if m == 1 {
			out.skipped = "only one entity"
		}
		return false, nil
	}
	x := make([]float64, m*cols)
	for j := range s.ents {
		ent := a.Entities[s.ents[j]]
		copy(x[j*cols:(j+1)*cols], ent.X[int(s.rows[j])*cols:int(s.rows[j]+1)*cols])
	}
	if hasMissing(x) {
		if q.Imputation.Method == models.ImputeNone {
			x, s.ents, s.rows = dropIncompleteRows(x, cols, s.ents, s.rows)
			m = len(s.ents)
			if m < 2 {
				out.skipped = "fewer than two complete entities"
				return false, nil
			}
		} else {
			xi, missing, err := e.imputer(ctx, x, cols, q.Imputation.K, 1)
			if col, ok := emptyColumn(err); ok {
				out.skipped = fmt.Sprintf("no entity has %s", q.Features[col].Name)
				return false, nil
			}
			if err != nil {
				return false, err
			}
			x, out.imputed = xi, missing
		}
	}
	key := e.cacheKey(q, plan, models.Window{Start: t, End: t, Step: plan.Step})
	out.ss = make([]float64, m)
	if v, ok := e.cache.Get(key); ok && v.(*fleetModel).lookup(a, s.ents, out.ss) {
		out.offset = v.(*fleetModel).offset
		hit = true
	} else {
		f, err := e.fit(ctx, x, cols, q.IsolationForest, 1)
		if err != nil {
			return false, fmt.Errorf("step %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		if err := f.ScoreSamples(x, cols, out.ss); err != nil {
			return false, err
		}
		out.offset = f.Offset()
		fm := newFleetModel(a, s.ents, out.ss, out.offset)
		e.cache.Put(key, fm, fm.size)
	}
	out.x = x
	return hit, nil
}

// fleetCalibrationSteps is how many steps of the training range a calibrated
// fleet query fits for its null distribution: enough scores for the tail
// (64 × the fleet), few enough that a week costs ~64 small forests, and
// those cached per step like the scored ones.
const fleetCalibrationSteps = 64

// fleetCalibration is the null distribution of fleet scores: the fleet's own
// scores at up to fleetCalibrationSteps steps of the training range, spread
// evenly on a grid fixed in absolute time (so that the next evaluation finds
// them cached), or, when the training range is the panel's, the scored
// steps themselves.
func (e *Engine) fleetCalibration(ctx context.Context, q *models.Query, plan *models.Plan, scored []fleetStepResult, res *Result) (*tailCalib, error) {
	var null []float64
	rows := 0 // the largest cross-section: its forest's ceiling is the highest
	collect := func(rs []fleetStepResult) {
		for i := range rs {
			rows = max(rows, len(rs[i].ss))
			for _, v := range rs[i].ss {
				null = append(null, -v)
			}
		}
	}
	if plan.TrainIsScore {
		collect(scored)
	} else {
		tr := plan.Train
		stride := max(1, (tr.Points()+fleetCalibrationSteps-1)/fleetCalibrationSteps)
		big := time.Duration(stride) * plan.Step
		cw := models.Window{Start: tr.Start.Truncate(big), End: tr.End.Truncate(big), Step: big}
		if cw.Start.Before(tr.Start) {
			cw.Start = cw.Start.Add(big)
		}
		if cw.Points() > 0 {
			sub := &Result{}
			a, err := e.fetchAligned(ctx, q, plan, cw, sub)
			if err != nil {
				return nil, err
			}
			_, rs, _, err := e.fleetSteps(ctx, q, plan, a, cw)
			if err != nil {
				return nil, err
			}
			collect(rs)
		}
	}
	c := newTailCalib(null, forestSamples(q.IsolationForest, rows))
	if c == nil {
		res.notice(SeverityWarning, "calibration: no fleet scores in the training range, scores are raw")
	} else if c.tau == 0 {
		res.notice(SeverityInfo, "calibration: only %d fleet scores in the training range; a longer training.range calibrates the tail", c.n)
	}
	return c, nil
}
