package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// The metrics the PurpleAir preset reads: what Telegraf's Prometheus
// serializer makes of the purpleair input's fields (measurement "purpleair",
// field "pm2.5_cf_1_a" → purpleair_pm2_5_cf_1_a), labelled sensor_index.
const (
	MetricA           = "purpleair_pm2_5_cf_1_a"
	MetricB           = "purpleair_pm2_5_cf_1_b"
	MetricCF1         = "purpleair_pm2_5_cf_1"
	MetricATM         = "purpleair_pm2_5_atm"
	MetricHumidity    = "purpleair_humidity"
	MetricTemperature = "purpleair_temperature"
	MetricPressure    = "purpleair_pressure"
	MetricLastSeen    = "purpleair_last_seen"
	MetricLatitude    = "purpleair_latitude"
	MetricLongitude   = "purpleair_longitude"
)

type paChannel struct {
	metric string
	field  qa.Fields // 0: not a measurement (last_seen)
}

var paChannels = [...]paChannel{
	{MetricA, qa.FieldA}, {MetricB, qa.FieldB}, {MetricCF1, qa.FieldCF1}, {MetricATM, qa.FieldATM},
	{MetricHumidity, qa.FieldHumidity}, {MetricTemperature, qa.FieldTemperature}, {MetricPressure, qa.FieldPressure},
	{MetricLastSeen, 0},
}

const (
	chA = iota
	chB
	chCF1
	chATM
	chHumidity
	chTemperature
	chPressure
	chLastSeen
	nChannels
)

// paMaxWarmup bounds the warm-up before the scored range.
const paMaxWarmup = 24 * time.Hour

// paChunkPoints is how many steps are fetched at once while the detector warms
// up: six hours at the API's 2-minute cadence, so that a week of a large
// fleet is never held at once (1,000 sensors × 8 channels × 180 steps is
// ~23 MiB decoded).
const paChunkPoints = 180

// paState is what the preset caches: the detector, saved, after it observed
// every step before next. An alert rule's next evaluation restores it and
// observes only the steps since, instead of the whole training range again.
// The scored range itself is never saved into it, so that samples arriving
// late for the last steps are read again at the next evaluation.
type paState struct {
	saved   []byte
	next    time.Time
	carried qa.Fields
}

// paSensor is one sensor's samples over a chunk; NaN = no sample.
type paSensor struct {
	key      string
	vals     [nChannels][]float64
	present  []bool
	lat, lon float64
}

type paChunk struct {
	w       models.Window
	sensors []*paSensor // in key order
	carried qa.Fields
	notices []Notice // upstream warnings and what the fetch dropped
	err     error
}

func paExpr(metric, selector string) string {
	if selector == "" {
		return metric
	}
	return metric + "{" + selector + "}"
}

func (e *Engine) paCacheKey(q *models.Query, plan *models.Plan) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode([]any{"purpleair/1", q.PurpleAir.Selector, q.PurpleAir.Threshold, q.PurpleAir.Correction,
		plan.Step.Milliseconds(), q.Training.Lookback.Milliseconds()})
	return hex.EncodeToString(h.Sum(nil))
}

func paOptions(q *models.Query) (qa.Options, error) {
	opt := qa.DefaultOptions()
	opt.Threshold = q.PurpleAir.Threshold
	c, err := qa.ParseCorrection(q.PurpleAir.Correction)
	if err != nil {
		return opt, &models.QueryError{Msg: "purpleair.correction: " + err.Error()}
	}
	opt.Correction = c
	return opt, nil
}

// runPurpleAir runs the PurpleAir QA detector (pkg/purpleair/qa) over the
// whole fleet, step by step with the sensors interleaved as an API poll
// delivers them: the training range warms it up, the scored range is judged,
// and each episode is marked back to where it began (qa.Backfill). Both
// modes see the whole fleet, since neighbours decide sensor or air; series
// mode returns only the sensors purpleair.sensor selects.
func (e *Engine) runPurpleAir(ctx context.Context, q *models.Query, plan *models.Plan, res *Result) error {
	opt, err := paOptions(q)
	if err != nil {
		return err
	}
	det, err := qa.New(opt)
	if err != nil {
		return &models.QueryError{Msg: "preset purpleair: " + err.Error()}
	}
	res.Executed = paExecuted(q, plan)
	run := &paRun{det: det, res: res, sensors: map[string]int64{}, seenNotice: map[string]bool{}}
	if q.Mode == models.ModeSeries && q.PurpleAir.SensorRE != nil {
		run.keep = q.PurpleAir.SensorRE.MatchString
	}
	if err := e.paWarmUp(ctx, q, plan, run); err != nil {
		return err
	}

	start := time.Now()
	if err := e.paStream(ctx, q, plan.Score, func(c *paChunk) { run.observe(c, true) }); err != nil {
		return err
	}
	qa.Backfill(run.marks, opt.Threshold)
	e.observe("score", start)

	res.Entities = append(res.Entities, paResults(q, run.marks, run.keys)...)
	res.Numeric = q.Mode == models.ModeFleet && q.FleetAt == models.FleetAtLast
	if run.carried&(qa.FieldA|qa.FieldB|qa.FieldCF1) == 0 && len(run.keys) > 0 {
		res.notice(SeverityWarning, "none of %s, %s or %s has data for these sensors: the preset judges staleness and the environment sensor only",
			MetricA, MetricB, MetricCF1)
	}
	return nil
}

// paWarmStart is where the warm-up begins: the training range, but no more
// than paMaxWarmup of it. The detector forgets what lies further back than a
// day (its typical level and ratio are smoothed over 24 h, its learned model
// over 250 readings, 8 h at the API's cadence): a longer training range would
// cost time and change nothing worth it.
func paWarmStart(plan *models.Plan) time.Time {
	if plan.TrainIsScore {
		return plan.Score.Start
	}
	if limit := plan.Score.Start.Add(-paMaxWarmup); plan.Train.Start.Before(limit) {
		return limit
	}
	return plan.Train.Start
}

// paWarmUp brings run's detector to the scored range's start: restored from
// the cache where an earlier evaluation left it, then observing the steps
// not yet seen, and saved again for the next evaluation.
func (e *Engine) paWarmUp(ctx context.Context, q *models.Query, plan *models.Plan, run *paRun) error {
	score := plan.Score
	warmFrom := paWarmStart(plan)
	key := e.paCacheKey(q, plan)
	// Evaluations of one query at once (an alert rule and a dashboard, or
	// panels sharing it) warm up once: the others wait, then restore.
	lock := paWarmLock(e, key)
	lock.Lock()
	defer lock.Unlock()
	from := warmFrom
	if v, ok := e.cache.Get(key); ok {
		st := v.(*paState)
		if !st.next.After(score.Start) && !st.next.Before(warmFrom) {
			if err := run.det.UnmarshalBinary(st.saved); err == nil {
				from, run.carried = st.next, st.carried
				run.res.CacheHit = true
			}
		}
	}
	start := time.Now()
	if from.Before(score.Start) {
		warm := models.Window{Start: from, End: score.Start.Add(-plan.Step), Step: plan.Step}
		if err := e.paStream(ctx, q, warm, func(c *paChunk) { run.observe(c, false) }); err != nil {
			return err
		}
		saved, err := run.det.MarshalBinary()
		if err != nil {
			return err
		}
		e.cache.Put(key, &paState{saved: saved, next: score.Start, carried: run.carried}, int64(len(saved))+64)
	}
	e.observe("warmup", start)
	return nil
}

// paRun is one evaluation's detector and what it recorded of the scored range.
type paRun struct {
	det     *qa.Detector
	res     *Result
	carried qa.Fields
	sensors map[string]int64 // sensor key → Mark.Sensor, −1 for a sensor not kept
	keys    []string         // keys[Mark.Sensor]
	// keep selects the sensors whose verdicts are recorded (nil: all). Every sensor is observed, as
	// neighbours decide sensor or air, but series mode returns only those purpleair.sensor selects.
	keep       func(key string) bool
	marks      []qa.Mark
	seenNotice map[string]bool
}

// observe feeds chunk c to the detector, step by step with the sensors in
// key order as an API poll delivers them; record keeps the verdicts.
func (r *paRun) observe(c *paChunk, record bool) {
	r.carried |= c.carried
	for _, n := range c.notices {
		if !r.seenNotice[n.Text] { // the same warning for every chunk says nothing more
			r.seenNotice[n.Text] = true
			r.res.Notices = append(r.res.Notices, n)
		}
	}
	for i := 0; i < c.w.Points(); i++ {
		t := c.w.At(i)
		for _, s := range c.sensors {
			if !s.present[i] {
				continue
			}
			rd := s.reading(i, t, r.carried)
			out := r.det.Observe(s.key, rd)
			if record {
				id, ok := r.sensors[s.key]
				if !ok {
					id = -1
					if r.keep == nil || r.keep(s.key) {
						id = int64(len(r.keys))
						r.keys = append(r.keys, s.key)
					}
					r.sensors[s.key] = id
				}
				if id >= 0 {
					r.marks = append(r.marks, qa.MarkOf(id, &rd, &out, true))
				}
			}
		}
	}
}

// reading is the sensor's reading at step i (time t) of its chunk.
func (s *paSensor) reading(i int, t time.Time, carried qa.Fields) qa.Reading {
	r := qa.NewReading(t)
	r.A, r.B, r.CF1, r.ATM = s.vals[chA][i], s.vals[chB][i], s.vals[chCF1][i], s.vals[chATM][i]
	r.Humidity, r.Temperature, r.Pressure = s.vals[chHumidity][i], s.vals[chTemperature][i], s.vals[chPressure][i]
	if ls := s.vals[chLastSeen][i]; !math.IsNaN(ls) && ls > 0 {
		sec, frac := math.Modf(ls)
		r.LastSeen = time.Unix(int64(sec), int64(frac*1e9))
	}
	r.Carried = carried
	r.Lat, r.Lon = s.lat, s.lon
	return r
}

// paResults turns the scored range's marks into one result per sensor, in
// sensor order.
func paResults(q *models.Query, marks []qa.Mark, keys []string) []*EntityResult {
	ers := make([]*EntityResult, len(keys))
	for i := range marks {
		m := &marks[i]
		er := ers[m.Sensor]
		if er == nil {
			er = &EntityResult{Labels: map[string]string{models.DefaultEntity: keys[m.Sensor]}}
			ers[m.Sensor] = er
		}
		// Marks keep each score on its verdict's side (qa.MarkOf and qa.Backfill narrow the float32
		// so), so anomaly ⇔ score ≥ threshold holds in what Grafana compares. A verdict for the other
		// audience reads as none, its score capped under the threshold as the detector caps a score
		// no check backs.
		score := float64(m.Score)
		if m.Anomaly && q.PurpleAir.Kind != "" && string(m.Kind) != q.PurpleAir.Kind {
			m.Anomaly, m.Kind, m.Reason, m.Detail = false, qa.KindNone, qa.ReasonNone, ""
			score = min(score, math.Nextafter(q.PurpleAir.Threshold, 0))
		}
		er.Times = append(er.Times, time.Unix(0, m.Time).UTC())
		er.Score = append(er.Score, score)
		a := 0.0
		var since time.Time
		if m.Anomaly {
			a = 1
			since = time.Unix(0, m.Since).UTC()
		}
		er.Anomaly = append(er.Anomaly, a)
		er.Kind = append(er.Kind, string(m.Kind))
		er.Reason = append(er.Reason, string(m.Reason))
		er.Detail = append(er.Detail, m.Detail)
		er.Since = append(er.Since, since)
		er.EPA = append(er.EPA, float64(m.EPA))
	}
	// Every kept sensor has a mark: a key is added with its first one.
	out := ers
	slices.SortFunc(out, func(a, b *EntityResult) int {
		return compareSensorKeys(a.Labels[models.DefaultEntity], b.Labels[models.DefaultEntity])
	})
	return out
}

// compareSensorKeys orders sensor_index values as numbers where they are.
func compareSensorKeys(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func paExecuted(q *models.Query, plan *models.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "preset: purpleair (qa detector, threshold %g, correction %s", q.PurpleAir.Threshold, q.PurpleAir.Correction)
	if q.PurpleAir.Kind != "" {
		fmt.Fprintf(&b, ", %s verdicts only", q.PurpleAir.Kind)
	}
	b.WriteString(")\n")
	for _, c := range paChannels {
		fmt.Fprintf(&b, "%s\n", paExpr(c.metric, q.PurpleAir.Selector))
	}
	fmt.Fprintf(&b, "positions: last_over_time(%s[…]), last_over_time(%s[…])\n",
		paExpr(MetricLatitude, q.PurpleAir.Selector), paExpr(MetricLongitude, q.PurpleAir.Selector))
	fmt.Fprintf(&b, "score range: %s\n", plan.Score)
	if !plan.TrainIsScore {
		warm := plan.Train
		warm.Start = paWarmStart(plan)
		fmt.Fprintf(&b, "warm-up range: %s (of %s: at most the last %s)\n", warm, plan.Train, paMaxWarmup)
	}
	fmt.Fprintf(&b, "mode: %s", q.Mode)
	if q.Mode == models.ModeFleet {
		fmt.Fprintf(&b, ", at: %s", q.FleetAt)
	} else if q.PurpleAir.Sensor != "" {
		fmt.Fprintf(&b, ", sensor: %s", q.PurpleAir.Sensor)
	}
	return b.String()
}

// paStream fetches w in chunks, one ahead of the one being observed, and
// hands each to fn in time order.
func (e *Engine) paStream(ctx context.Context, q *models.Query, w models.Window, fn func(*paChunk)) error {
	if w.Points() <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan *paChunk, 1)
	go func() {
		defer close(chunks)
		for start := w.Start; !start.After(w.End); start = start.Add(paChunkPoints * w.Step) {
			end := start.Add((paChunkPoints - 1) * w.Step)
			if end.After(w.End) {
				end = w.End
			}
			c := e.paFetch(ctx, q, models.Window{Start: start, End: end, Step: w.Step})
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		fn(c)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// paFetch fetches every channel and the positions over w, concurrently.
func (e *Engine) paFetch(ctx context.Context, q *models.Query, w models.Window) *paChunk {
	start := time.Now()
	defer e.observe("fetch", start)
	c := &paChunk{w: w}
	answers, err := e.paFetchAnswers(ctx, q, w)
	if err != nil {
		c.err = err
		return c
	}
	for i, a := range answers {
		for _, w := range a.warns {
			c.notices = append(c.notices, Notice{Severity: SeverityWarning, Text: fmt.Sprintf("upstream warning for %s: %s", paName(i), w)})
		}
		c.notices = append(c.notices, a.sc.notices...)
	}
	c.sensors, c.carried = paSensors(answers, w)
	return c
}

// paAnswer is one expression's answer; paFetchAnswers' are in paName order.
type paAnswer struct {
	m     model.Matrix
	warns []string
	sc    *fetchScope
	err   error
}

// paFetchAnswers runs the channels' and the positions' queries at once; the
// first failure cancels the others, and is the error rather than their
// cancellations.
func (e *Engine) paFetchAnswers(ctx context.Context, q *models.Query, w models.Window) ([]paAnswer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var budget *queryBudget
	if e.limits.MemoryBudget > 0 {
		// Each chunk is held only while it is observed: it is charged on
		// its own, so that a long warm-up is bounded per chunk, not in sum.
		budget = &queryBudget{limit: e.limits.MemoryBudget}
	}
	exprs := make([]string, 0, nChannels+2)
	for _, ch := range paChannels {
		exprs = append(exprs, paExpr(ch.metric, q.PurpleAir.Selector))
	}
	// Positions do not move: their last value over the chunk (and the
	// scrape lookback before it) at its last step.
	span := model.Duration(w.End.Sub(w.Start) + 10*time.Minute).String()
	pos := models.Window{Start: w.End, End: w.End, Step: w.Step}
	exprs = append(exprs, "last_over_time("+paExpr(MetricLatitude, q.PurpleAir.Selector)+"["+span+"])",
		"last_over_time("+paExpr(MetricLongitude, q.PurpleAir.Selector)+"["+span+"])")
	answers := make([]paAnswer, len(exprs))
	var wg sync.WaitGroup
	for i, expr := range exprs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := paName(i)
			fw := w
			if i >= nChannels {
				fw = pos
			}
			sc := &fetchScope{feature: name, budget: budget}
			m, ws, err := e.up.Fetch(context.WithValue(ctx, fetchScopeKey{}, sc), name, expr, fw)
			if err != nil {
				cancel()
			}
			answers[i] = paAnswer{m, ws, sc, err}
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.err != nil && !isCanceled(a.err) {
			return nil, a.err
		}
	}
	for _, a := range answers {
		if a.err != nil {
			return nil, a.err
		}
	}
	return answers, nil
}

// paSensors gathers the answers by sensor_index onto w's steps (NaN where a
// channel has no sample), with the fields any sensor carried.
func paSensors(answers []paAnswer, w models.Window) ([]*paSensor, qa.Fields) {
	n := w.Points()
	var carried qa.Fields
	byKey := map[string]*paSensor{}
	get := func(key string) *paSensor {
		s := byKey[key]
		if s == nil {
			s = &paSensor{key: key, present: make([]bool, n), lat: math.NaN(), lon: math.NaN()}
			for ch := range s.vals {
				s.vals[ch] = make([]float64, n)
				for j := range s.vals[ch] {
					s.vals[ch][j] = math.NaN()
				}
			}
			byKey[key] = s
		}
		return s
	}
	for ch := 0; ch < nChannels; ch++ {
		m := answers[ch].m
		if len(m) > 0 {
			carried |= paChannels[ch].field
		}
		for _, ss := range m {
			key := string(ss.Metric[model.LabelName(models.DefaultEntity)])
			if key == "" {
				continue
			}
			s := get(key)
			for _, p := range ss.Values {
				j := w.Index(p.Timestamp.Time())
				if j < 0 {
					continue
				}
				v := float64(p.Value)
				if math.IsNaN(v) {
					continue
				}
				s.vals[ch][j] = v
				if ch != chLastSeen {
					s.present[j] = true
				}
			}
		}
	}
	for i, dst := range []func(*paSensor, float64){func(s *paSensor, v float64) { s.lat = v }, func(s *paSensor, v float64) { s.lon = v }} {
		for _, ss := range answers[nChannels+i].m {
			s := byKey[string(ss.Metric[model.LabelName(models.DefaultEntity)])]
			if s != nil && len(ss.Values) > 0 {
				dst(s, float64(ss.Values[len(ss.Values)-1].Value))
			}
		}
	}
	sensors := make([]*paSensor, 0, len(byKey))
	for _, s := range byKey {
		sensors = append(sensors, s)
	}
	slices.SortFunc(sensors, func(a, b *paSensor) int { return compareSensorKeys(a.key, b.key) })
	return sensors, carried
}

func paName(i int) string {
	switch {
	case i < nChannels:
		return paChannels[i].metric
	case i == nChannels:
		return MetricLatitude
	}
	return MetricLongitude
}

func isCanceled(err error) bool {
	return err == context.Canceled || strings.Contains(err.Error(), context.Canceled.Error())
}

// paWarmLocks serialize the warm-up of one preset query per engine; striped,
// so that they never grow.
var paWarmLocks [64]sync.Mutex

func paWarmLock(e *Engine, key string) *sync.Mutex {
	h := fnv.New32a()
	fmt.Fprintf(h, "%p/%s", e, key)
	return &paWarmLocks[h.Sum32()%uint32(len(paWarmLocks))]
}
