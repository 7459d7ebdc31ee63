package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// The batch strategies are the Grafana datasource's query engine itself (grafana-datasource/pkg/engine,
// what the backend runs for QueryData) evaluating the dashboard's batch queries at the demo's settings.
// It fetches from the simulated history held in memory the way Prometheus holds it after Telegraf
// wrote it: one series per sensor and field, a sample at each step the sensor reported the field,
// none where the API sent null. TestBatchStrategiesAreTheDatasource serves the same readings through
// a Prometheus API to the datasource plugin and requires the same scores and flags.

// metrics are features as Telegraf names them in Prometheus, the batch queries' expressions;
// featureNames are the names the dashboard's queries give them.
var (
	metrics      = []string{"purpleair_pm1_0_cf_1", "purpleair_pm2_5_cf_1", "purpleair_pm10_0_cf_1"}
	featureNames = []string{"pm1", "pm25", "pm10"}
)

// batchQuery is the JSON of the dashboard's batch query in mode: "series" with one forest per
// sensor, or "fleet" at each step. The forest settings are the dashboard's (100 trees, max_samples
// auto, seed 42, KNN imputation with k = 5) with the demo's contamination (0.01 by default: each
// forest flags about 1% of the rows it was fitted on; "auto" flags scores above 0.5, as the panels
// do); the step is the simulator's and the training range the scored one, the whole history. The
// decision output, which the panels do not ask for, gives the charts each forest's threshold.
func (d *Result) batchQuery(mode string) ([]byte, error) {
	fs := make([]map[string]string, len(features))
	for c := range features {
		fs[c] = map[string]string{"name": featureNames[c], "expr": metrics[c]}
	}
	q := map[string]any{
		"schemaVersion": 1, "mode": mode, "features": fs, "entity": []string{"sensor_index"},
		"training":        map[string]any{"range": models.TrainingPanel, "step": model.Duration(d.opt.Step).String()},
		"isolationForest": map[string]any{"trees": forestTrees, "maxSamples": "auto", "contamination": contaminationString(d.opt.Contamination), "seed": forestSeed},
		"imputation":      map[string]any{"method": models.ImputeKNN, "k": knnNeighbors},
		"output":          []string{models.OutputScore, models.OutputAnomaly, models.OutputDecision},
	}
	if mode == models.ModeFleet {
		q["fleetAt"] = models.FleetAtEach
	} else {
		q["forest"] = models.ForestPerEntity
	}
	return json.Marshal(q)
}

// runBatch evaluates the batch query of mode with the datasource's engine over the whole history, as
// a panel spanning it with the simulator's step as its interval.
func (d *Result) runBatch(ctx context.Context, mode, name, title string) (*strategy, error) {
	began := time.Now()
	q, plan, err := d.batchPlan(mode)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	eng := engine.New(engine.FetchFunc(d.fetch), engine.Options{
		MaxSeries:       max(models.DefaultMaxSeries, d.opt.Sensors),
		MaxTrainingRows: max(models.DefaultMaxTrainingRows, d.readings()),
		Workers:         d.opt.workers(),
	})
	res, err := eng.Run(ctx, q, plan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	st := d.newBatchStrategy(name, title)
	for _, n := range res.Notices {
		st.notices = append(st.notices, n.Text)
	}
	if err := d.keepBatchResult(st, res); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	st.elapsed = time.Since(began)
	return st, nil
}

// batchPlan parses and resolves the batch query of mode over the whole history.
func (d *Result) batchPlan(mode string) (*models.Query, *models.Plan, error) {
	raw, err := d.batchQuery(mode)
	if err != nil {
		return nil, nil, err
	}
	q, err := models.ParseQuery(raw)
	if err != nil {
		return nil, nil, err
	}
	// The in-memory history has no query_range point limit, and a demo run is one query: the
	// datasource's limits (Prometheus's 11,000 points per series, the training rows, the series)
	// are raised to the whole history so that nothing is subsampled.
	plan, err := models.Resolve(q, models.TimeContext{From: d.start, To: d.time(d.steps - 1), Interval: d.opt.Step, MaxDataPoints: int64(d.steps)},
		models.Limits{MaxPointsPerSeries: max(models.DefaultMaxPointsPerSeries, d.steps+1)})
	if err != nil {
		return nil, nil, err
	}
	if g := plan.Score; !g.Start.Equal(d.start) || g.Step != d.opt.Step || g.Points() != d.steps {
		return nil, nil, fmt.Errorf("the query's grid %s is not the simulator's (%d steps of %s from %s)",
			g, d.steps, d.opt.Step, d.start.Format(time.RFC3339))
	}
	return q, plan, nil
}

// keepBatchResult copies the engine's scores, flags and thresholds into st, by sensor and step.
func (d *Result) keepBatchResult(st *strategy, res *engine.Result) error {
	for _, er := range res.Entities {
		s := slices.Index(d.sensors, er.Labels["sensor_index"])
		if s < 0 {
			return fmt.Errorf("a result for sensor %q, not in the fleet", er.Labels["sensor_index"])
		}
		for k, tm := range er.Times {
			i := d.at(s, int(tm.Sub(d.start)/d.opt.Step))
			st.score[i] = er.Score[k]
			st.flag[i] = er.Anomaly[k] == 1
			// decision = score_samples − offset = −score − offset, and a reading is anomalous
			// below 0: above a score of −offset.
			st.thresholds[i] = er.Score[k] + er.Decision[k]
		}
	}
	return nil
}

// fetch answers the engine's query for one feature over w from the recorded readings: expr is one
// of metrics; one series per sensor that reported the field in w, labelled with its sensor_index, a
// sample at each step it did.
func (d *Result) fetch(_ context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	c := slices.Index(metrics, expr)
	if c < 0 {
		return nil, nil, fmt.Errorf("feature %q: the demo holds no metric %q (it holds %s)", feature, expr, strings.Join(metrics, ", "))
	}
	m := make(model.Matrix, 0, len(d.sensors))
	for s, id := range d.sensors {
		ss := &model.SampleStream{Metric: model.Metric{"sensor_index": model.LabelValue(id)}}
		for t := 0; t < d.steps; t++ {
			tm := d.time(t)
			v := d.features[c][d.at(s, t)]
			if math.IsNaN(v) || tm.Before(w.Start) || tm.After(w.End) {
				continue
			}
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(tm.UnixNano()), Value: model.SampleValue(v)})
		}
		if len(ss.Values) > 0 {
			m = append(m, ss)
		}
	}
	return m, nil, nil
}

func (d *Result) newBatchStrategy(name, title string) *strategy {
	n := d.readings()
	return &strategy{
		name:       name,
		title:      title,
		scoreName:  "score",
		threshold:  math.NaN(),
		thresholds: nanSlice(n),
		score:      nanSlice(n),
		flag:       make([]bool, n),
	}
}
