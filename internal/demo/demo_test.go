package demo

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/plugin"
	"github.com/hazewatch/hazewatch/internal/provisioningtest"
	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

const (
	none = purpleair.FaultNone
	spk  = purpleair.FaultSpike
	stk  = purpleair.FaultStuckHigh
	flt  = purpleair.FaultFlatline
)

// kindOf returns the score of one kind from confusion's output.
func kindOf(t *testing.T, kinds []kindScore, k purpleair.FaultKind) kindScore {
	t.Helper()
	for _, ks := range kinds {
		if ks.kind == k {
			return ks
		}
	}
	t.Fatalf("no score for kind %s", k)
	return kindScore{}
}

func TestConfusionByHand(t *testing.T) {
	// Two sensors of 8 readings each. Sensor 0: a stuck episode of 3 readings (2 flagged), a clean
	// flagged reading (a false alarm), a spike that is missed. Sensor 1: a flatline episode that
	// starts at its first reading and continues an episode-looking run across the sensor boundary —
	// the boundary must split episodes — then two separate spikes, one flagged.
	truth := []purpleair.FaultKind{
		none, stk, stk, stk, none, spk, none, none,
		flt, flt, none, spk, none, none, spk, none,
	}
	flag := []bool{
		false, true, false, true, true, false, false, false,
		false, false, false, true, true, false, false, true,
	}
	all, kinds, clean := confusion(truth, flag, nil, 8)

	if clean != 8 {
		t.Errorf("clean readings = %d, want 8", clean)
	}
	cases := []struct {
		kind                                 purpleair.FaultKind
		readings, caught, episodes, detected int
		precision, recall                    float64
	}{
		// 3 false alarms: sensor 0 step 4, sensor 1 steps 12 and 15.
		{stk, 3, 2, 1, 1, 2.0 / 5, 2.0 / 3},
		{spk, 3, 1, 3, 1, 1.0 / 4, 1.0 / 3},
		{flt, 2, 0, 1, 0, 0, 0},
	}
	for _, c := range cases {
		k := kindOf(t, kinds, c.kind)
		if k.readings != c.readings || k.caught != c.caught || k.episodes != c.episodes || k.detected != c.detected {
			t.Errorf("%s: readings %d caught %d episodes %d detected %d, want %d %d %d %d",
				c.kind, k.readings, k.caught, k.episodes, k.detected, c.readings, c.caught, c.episodes, c.detected)
		}
		if math.Abs(k.precision()-c.precision) > 1e-12 || math.Abs(k.recall()-c.recall) > 1e-12 {
			t.Errorf("%s: precision %v recall %v, want %v %v", c.kind, k.precision(), k.recall(), c.precision, c.recall)
		}
	}
	if all.readings != 8 || all.caught != 3 || all.falseFlags != 3 || all.flagged != 6 || all.episodes != 5 || all.detected != 2 {
		t.Errorf("all faults: %+v", all)
	}
	if all.precision() != 0.5 || all.recall() != 3.0/8 || all.episodeRecall() != 0.4 {
		t.Errorf("all faults: precision %v recall %v episode recall %v, want 0.5 0.375 0.4", all.precision(), all.recall(), all.episodeRecall())
	}
	// A kind that never occurred has no recall, not a recall of zero.
	if k := kindOf(t, kinds, purpleair.FaultDrift); !math.IsNaN(k.recall()) || pct(k.recall()) != "–" {
		t.Errorf("drift never occurred: recall %v (%s), want NaN (–)", k.recall(), pct(k.recall()))
	}
}

// TestEpisodesSplitAtSensorBoundary: the same kind at the end of one sensor and the start of the next
// is two episodes.
func TestEpisodesSplitAtSensorBoundary(t *testing.T) {
	truth := []purpleair.FaultKind{none, flt, flt, flt, flt, none}
	flag := []bool{false, false, false, true, false, false}
	_, kinds, _ := confusion(truth, flag, nil, 3)
	if k := kindOf(t, kinds, flt); k.episodes != 2 || k.detected != 1 {
		t.Errorf("flatline episodes %d detected %d, want 2 and 1", k.episodes, k.detected)
	}
}

// TestConfusionReasons: with reasons, a kind counts its flagged readings by reason and those with
// a right one, and every flag naming one of its reasons, on a faulty reading or not.
func TestConfusionReasons(t *testing.T) {
	const (
		oor   = qa.ReasonOutOfRange
		drift = qa.ReasonDrift
		abd   = qa.ReasonABDivergence
		stale = qa.ReasonStale
	)
	dft, dis := purpleair.FaultDrift, purpleair.FaultDisconnect
	truth := []purpleair.FaultKind{stk, stk, dft, dft, dft, none, dis, none}
	flag := []bool{true, true, true, true, false, true, true, true}
	reason := []qa.Reason{oor, oor, drift, abd, "", abd, stale, oor}
	all, kinds, _ := confusion(truth, flag, reason, 8)
	stuck, drifting, disc, spike := kindOf(t, kinds, stk), kindOf(t, kinds, dft), kindOf(t, kinds, dis), kindOf(t, kinds, spk)
	// stuck_high: both flagged out_of_range, right; out_of_range was named 3 times, twice on a fault.
	if stuck.rightReason != 2 || stuck.reasons[oor] != 2 || stuck.named != 3 || stuck.namedFaulty != 2 {
		t.Errorf("stuck_high: right %d reasons %v named %d on faults %d", stuck.rightReason, stuck.reasons, stuck.named, stuck.namedFaulty)
	}
	// drift: two flagged, one called drift (right), one ab_divergence (wrong).
	if drifting.caught != 2 || drifting.rightReason != 1 || drifting.reasonShare() != 0.5 || drifting.reasons[abd] != 1 {
		t.Errorf("drift: caught %d right %d (%v) reasons %v", drifting.caught, drifting.rightReason, drifting.reasonShare(), drifting.reasons)
	}
	// spike expects spike or out_of_range: the three out_of_range flags, two on faults.
	if spike.named != 3 || spike.namedFaulty != 2 || math.Abs(spike.reasonPrecision()-2.0/3) > 1e-12 || !math.IsNaN(spike.reasonShare()) {
		t.Errorf("spike: named %d on faults %d, precision %v share %v", spike.named, spike.namedFaulty, spike.reasonPrecision(), spike.reasonShare())
	}
	if disc.rightReason != 1 || disc.reasonPrecision() != 1 {
		t.Errorf("disconnect: right %d precision %v", disc.rightReason, disc.reasonPrecision())
	}
	if all.caught != 5 || all.rightReason != 4 || all.falseFlags != 2 || all.reasons[oor] != 2 {
		t.Errorf("all: caught %d right %d false %d reasons %v", all.caught, all.rightReason, all.falseFlags, all.reasons)
	}
}

// TestEvaluateSmoke: smoke is scored on readings without a fault only; a flag there is a false
// alarm, an air verdict is counted apart.
func TestEvaluateSmoke(t *testing.T) {
	d := &Result{opt: Options{Sensors: 1}, steps: 6, kinds: purpleair.RealisticFaultKinds,
		truth: []purpleair.FaultKind{none, none, none, stk, none, none},
		smoke: []bool{true, true, true, true, false, false}}
	d.strategies = []*strategy{{name: "p", flag: []bool{true, false, false, true, false, false},
		kind:   []qa.Kind{qa.KindSensor, qa.KindAir, qa.KindNone, qa.KindSensor, qa.KindAir, qa.KindNone},
		reason: []qa.Reason{qa.ReasonSpike, qa.ReasonAir, "", qa.ReasonOutOfRange, qa.ReasonAir, ""}}}
	e := d.evaluate()[0]
	if e.smoke.readings != 3 || e.smoke.flagged != 1 || e.smoke.air != 1 || e.smoke.reasons[qa.ReasonSpike] != 1 || e.airFlags != 2 {
		t.Errorf("smoke %+v, air flags %d", e.smoke, e.airFlags)
	}
	if e.falseReasons[qa.ReasonSpike] != 1 || len(e.falseReasons) != 1 {
		t.Errorf("false alarms by reason %v, want the smoke's spike only", e.falseReasons)
	}
}

// smallDemo is a fleet small enough for a unit test that still has faults of several kinds and smoke.
func smallDemo(seed int64) Options {
	o := DefaultOptions()
	o.Sensors, o.Hours, o.Seed = 12, 8, seed
	return o
}

// TestPresetIsTheDetector replays the demo's fleet into a fresh qa.Detector straight from the
// simulator — every reading in time order, sensors interleaved, keyed by sensor_index — and
// requires the demo's preset verdicts to be exactly its results.
func TestPresetIsTheDetector(t *testing.T) {
	opt := smallDemo(6)
	d, err := runPipelines(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	preset := d.strategy("purpleair preset")
	sim, err := purpleair.NewSimulator(opt.simulatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	det, err := qa.New(qa.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(purpleair.SimulatorFields, name) }
	num := func(v purpleair.Value) float64 {
		if v.Kind != purpleair.KindNumber {
			return math.NaN()
		}
		return v.Num
	}
	kinds := map[qa.Kind]int{}
	for step := 0; step < d.steps; step++ {
		tm, rs := sim.Next()
		for s, rd := range rs {
			v := rd.Values
			r := qa.NewReading(tm)
			r.A, r.B, r.CF1, r.ATM = num(v[col("pm2.5_cf_1_a")]), num(v[col("pm2.5_cf_1_b")]), num(v[col("pm2.5_cf_1")]), num(v[col("pm2.5_atm")])
			r.Humidity, r.Temperature, r.Pressure = num(v[col("humidity")]), num(v[col("temperature")]), num(v[col("pressure")])
			r.Lat, r.Lon = num(v[col("latitude")]), num(v[col("longitude")])
			r.LastSeen = time.Unix(int64(v[col("last_seen")].Num), 0)
			res := det.Observe(strconv.FormatInt(rd.SensorIndex, 10), r)
			i := d.at(s, step)
			if preset.kind[i] != res.Kind || preset.reason[i] != res.Reason || preset.score[i] != res.Score || preset.flag[i] != (res.Kind == qa.KindSensor) {
				t.Fatalf("sensor %d step %d: demo %s/%s score %v flag %v, detector %s/%s score %v",
					s, step, preset.kind[i], preset.reason[i], preset.score[i], preset.flag[i], res.Kind, res.Reason, res.Score)
			}
			kinds[res.Kind]++
		}
	}
	if kinds[qa.KindSensor] == 0 || kinds[qa.KindNone] == 0 {
		t.Errorf("verdicts %v: the comparison did not exercise both flagged and clean readings", kinds)
	}
}

// TestStreamingIsTheProcessorAsConfigured recomputes every streaming score with the core packages —
// one Half-Space Trees state and one running mean per field per sensor, score before learn, nothing
// during warm-up — and requires the processor's scores to be exactly these: the demo's streaming
// path is the processor with the documented settings, keyed per sensor.
func TestStreamingIsTheProcessorAsConfigured(t *testing.T) {
	d, err := runPipelines(context.Background(), smallDemo(3))
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string][2]float64{}
	for _, f := range features {
		limits[f] = [2]float64{0, 1000}
	}
	model, err := hst.New(features, hst.Options{Trees: 10, Height: 8, WindowSize: streamWindow, Limits: limits, Seed: streamSeed})
	if err != nil {
		t.Fatal(err)
	}
	stream := d.strategy("streaming")
	scored, flagged := 0, 0
	x := make([]float64, len(features))
	for s := 0; s < d.opt.Sensors; s++ {
		state := model.NewState()
		means := make([]impute.Mean, len(features))
		for step := 0; step < d.steps; step++ {
			i := d.at(s, step)
			for c := range features {
				if v := d.features[c][i]; !math.IsNaN(v) {
					means[c].Update(v)
					x[c] = v
				} else {
					x[c] = means[c].Value()
				}
			}
			warm := state.Warm()
			score := model.ScoreLearn(state, x)
			got := stream.score[i]
			switch {
			case !warm && !math.IsNaN(got):
				t.Fatalf("sensor %d step %d: scored %v during warm-up", s, step, got)
			case warm && got != score:
				t.Fatalf("sensor %d step %d: processor score %v, core %v", s, step, got, score)
			case warm && stream.flag[i] != (score > streamThreshold):
				t.Fatalf("sensor %d step %d: flag %v for score %v", s, step, stream.flag[i], score)
			}
			if warm {
				scored++
				if stream.flag[i] {
					flagged++
				}
			}
		}
	}
	if want := d.opt.Sensors * (d.steps - streamWindow); scored != want {
		t.Errorf("%d readings scored, want %d (all but each sensor's warm-up)", scored, want)
	}
	if flagged == 0 {
		t.Error("nothing flagged: the comparison did not exercise the flag")
	}
}

// TestBatchSeriesIsKNNThenIsolationForest: the demo's series mode scores a sensor as the core
// packages score that sensor's history alone — KNN imputation, then Isolation Forest with the
// dashboard's settings — which is what `hazewatch batch` runs (the CLI's tests hold it to the core).
func TestBatchSeriesIsKNNThenIsolationForest(t *testing.T) {
	d, err := runPipelines(context.Background(), smallDemo(5))
	if err != nil {
		t.Fatal(err)
	}
	series := d.strategy("batch series")
	cols := len(features)
	flagged := 0
	for _, s := range []int{0, d.opt.Sensors - 1} {
		// The rows the datasource aligns: the steps at which the sensor reported any feature.
		var steps []int
		var x []float64
		for step := 0; step < d.steps; step++ {
			i := d.at(s, step)
			row := make([]float64, cols)
			for c := range features {
				row[c] = d.features[c][i]
			}
			if slices.ContainsFunc(row, func(v float64) bool { return !math.IsNaN(v) }) {
				steps = append(steps, step)
				x = append(x, row...)
			}
		}
		xi, _, err := impute.KNNImputer{NNeighbors: knnNeighbors, Workers: 1}.Impute(context.Background(), x, cols)
		if err != nil {
			t.Fatal(err)
		}
		scores := make([]float64, len(steps))
		opt := iforest.DefaultOptions()
		opt.NEstimators, opt.Seed, opt.Workers, opt.Contamination = forestTrees, forestSeed, 1, d.opt.Contamination
		forest, err := iforest.FitScore(context.Background(), xi, cols, opt, scores)
		if err != nil {
			t.Fatal(err)
		}
		for r, step := range steps {
			i := d.at(s, step)
			// score_samples is negative, lower worse; the datasource's score is its negation.
			if series.score[i] != -scores[r] || series.flag[i] != (scores[r] < forest.Offset()) {
				t.Fatalf("sensor %d step %d: demo score %v flag %v, core score %v offset %v", s, step, series.score[i], series.flag[i], -scores[r], forest.Offset())
			}
			if series.flag[i] {
				flagged++
			}
		}
	}
	if flagged == 0 {
		t.Error("nothing flagged: the comparison did not exercise the flag")
	}
}

// TestDemoDetectsFaultsAboveFloors runs the demo as the README runs it (default flags: the
// realistic profile at a 10 % fault rate, 61 episodes, one smoke episode over 17 sensors) and holds
// each strategy to floors a little below what it measured at seed 1. A change to the simulator, a
// detector or their settings that loses detection fails here.
//
// The preset measured: every kind's episodes all flagged sensor (5–11 episodes a kind), right
// reason 99.5–100 % for every kind, precision 0.997, recall 0.83 (drift 0.62: a creeping gain is
// invisible at its start), smoke 0 % flagged sensor and 74 % air. These meet the targets
// (episodes ≥ 90 %, right reason ≥ 80 %, precision ≥ 0.9, recall ≥ 0.8, smoke ≤ 1 %), so the
// targets are the floors, except precision, held at 0.95 (measured less 0.05), and the air share (no
// target; measured less 0.14). Seed 1 is a good fleet for the preset, not a typical one: seeds 2–4
// measured recall 0.78–0.90, drift called drift for 43–81 % of its flagged readings (the rest
// ab_divergence) and 9 of 12 drift episodes caught at seed 2; precision ≥ 0.996 and smoke ≤ 0.1 %
// flagged sensor on all four.
//
// The reference strategies measured: streaming precision 0.42 recall 0.07, stuck_high recall 0.89,
// 11/11 episodes, spikes 5/5; series 0.28 / 0.04, stuck_high 0.48, 11/11, spikes 4/5; fleet 0.34 /
// 0.08, stuck_high 0.85, 10/11, spikes 5/5. Their floors are those less about 0.05–0.1 (a few
// readings' or one episode's worth).
func TestDemoDetectsFaultsAboveFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the full default demo (a few seconds)")
	}
	d, err := runPipelines(context.Background(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	evals := d.evaluate()
	byName := map[string]evaluation{}
	for _, e := range evals {
		byName[e.s.name] = e
	}
	names := []string{"purpleair preset", "streaming", "batch series", "batch fleet"}
	if len(evals) != len(names) {
		t.Fatalf("%d strategies, want %d", len(evals), len(names))
	}
	for i, n := range names {
		if evals[i].s.name != n {
			t.Fatalf("strategy %d is %q, want %q", i, evals[i].s.name, n)
		}
	}

	// The preset.
	p := byName["purpleair preset"]
	t.Logf("preset: precision %.3f recall %.3f; smoke %d readings, %.3f flagged sensor, %.3f air", p.all.precision(), p.all.recall(),
		p.smoke.readings, ratio(p.smoke.flagged, p.smoke.readings), ratio(p.smoke.air, p.smoke.readings))
	if len(p.kinds) != len(purpleair.RealisticFaultKinds) {
		t.Fatalf("preset scored %d kinds, want all %d", len(p.kinds), len(purpleair.RealisticFaultKinds))
	}
	for _, k := range p.kinds {
		t.Logf("preset %-13s episodes %d/%d recall %.3f right reason %.3f (%s)", k.kind, k.detected, k.episodes, k.recall(), k.reasonShare(), reasonList(k.reasons))
		if k.episodes < 3 {
			t.Errorf("%s: %d episodes; the default demo should show several of every kind", k.kind, k.episodes)
			continue
		}
		if k.episodeRecall() < 0.9 || k.reasonShare() < 0.8 {
			t.Errorf("preset %s: episodes flagged %.2f (floor 0.9), right reason %.2f (floor 0.8)", k.kind, k.episodeRecall(), k.reasonShare())
		}
	}
	if p.all.precision() < 0.95 || p.all.recall() < 0.8 {
		t.Errorf("preset: precision %.3f recall %.3f, floors 0.95 0.8", p.all.precision(), p.all.recall())
	}
	if p.smoke.readings < 1000 {
		t.Errorf("only %d smoke readings on sensors without a fault", p.smoke.readings)
	}
	if r := ratio(p.smoke.flagged, p.smoke.readings); !(r <= 0.01) {
		t.Errorf("preset flagged %.3f of the smoke as a sensor fault, at most 0.01", r)
	}
	if r := ratio(p.smoke.air, p.smoke.readings); !(r >= 0.6) {
		t.Errorf("preset called %.3f of the smoke the air, floor 0.6", r)
	}

	// The reference strategies.
	type floor struct {
		strategy                 string
		precision, recall        float64 // all faults
		stuckRecall, stuckEpisod float64
		spikeEpisodes            float64
	}
	for _, f := range []floor{
		{"streaming", 0.35, 0.05, 0.8, 0.9, 0.8},
		{"batch series", 0.2, 0.03, 0.4, 0.9, 0.6},
		{"batch fleet", 0.25, 0.06, 0.75, 0.8, 0.8},
	} {
		e := byName[f.strategy]
		stuck := kindOf(t, e.kinds, stk)
		spike := kindOf(t, e.kinds, spk)
		t.Logf("%s: precision %.3f recall %.3f; stuck_high recall %.3f episodes %d/%d; spike episodes %d/%d; smoke flagged %.3f",
			f.strategy, e.all.precision(), e.all.recall(), stuck.recall(), stuck.detected, stuck.episodes, spike.detected, spike.episodes, ratio(e.smoke.flagged, e.smoke.readings))
		if e.all.precision() < f.precision || e.all.recall() < f.recall {
			t.Errorf("%s: precision %.3f recall %.3f, floors %.2f %.2f", f.strategy, e.all.precision(), e.all.recall(), f.precision, f.recall)
		}
		if stuck.recall() < f.stuckRecall || stuck.episodeRecall() < f.stuckEpisod {
			t.Errorf("%s: stuck_high recall %.3f episode recall %.3f, floors %.2f %.2f", f.strategy, stuck.recall(), stuck.episodeRecall(), f.stuckRecall, f.stuckEpisod)
		}
		if spike.episodeRecall() < f.spikeEpisodes {
			t.Errorf("%s: spike episode recall %.3f, floor %.2f", f.strategy, spike.episodeRecall(), f.spikeEpisodes)
		}
	}

	// The batch alert rule on the same fleet pages on stuck channels and on nothing clean (measured:
	// no clean firing, 9 of 11 stuck_high episodes).
	rule, kinds, _ := confusion(d.truth, d.ruleFiring(d.strategy("batch fleet").score), nil, d.steps)
	stuck := kindOf(t, kinds, stk)
	t.Logf("alert rule: firing at %d readings, %d clean; stuck_high episodes %d/%d", rule.flagged, rule.falseFlags, stuck.detected, stuck.episodes)
	if rule.falseFlags > 1 || stuck.episodeRecall() < 0.75 {
		t.Errorf("alert rule: %d firings on clean readings (at most 1), stuck_high episode recall %.2f (at least 0.75)", rule.falseFlags, stuck.episodeRecall())
	}
}

// TestRuleFiring: the rule fires from the ruleSteps-th consecutive step above the threshold; an
// unscored step (NaN) or one at the threshold breaks the run.
func TestRuleFiring(t *testing.T) {
	d := &Result{opt: Options{Sensors: 2}, steps: 6}
	n := math.NaN()
	hi, at := ruleThreshold+0.01, ruleThreshold
	score := []float64{hi, hi, hi, n, hi, hi /* sensor 1: */, hi, at, hi, 0, hi, 0}
	want := []bool{false, true, true, false, false, true, false, false, false, false, false, false}
	if got := d.ruleFiring(score); !slices.Equal(got, want) {
		t.Fatalf("firing %v, want %v", got, want)
	}
}

// TestRuleIsTheProvisionedOne: the demo's rule is the batch rule Grafana is provisioned with.
func TestRuleIsTheProvisionedOne(t *testing.T) {
	r := provisioningtest.LoadAlertRules(t).Rule("hazewatch-batch-fleet-anomaly")
	if r == nil {
		t.Fatalf("%s has no rule hazewatch-batch-fleet-anomaly", provisioningtest.AlertRulesFile)
	}
	if r.For != "2m" || ruleSteps != 2 {
		t.Errorf("rule holds for %s; the demo models %d two-minute steps", r.For, ruleSteps)
	}
	conditions := 0
	for _, q := range r.Data {
		if q.DatasourceUID == "hazewatch" {
			output, _ := q.Model["output"].([]any)
			if q.Model["mode"] != "fleet" || len(output) != 1 || output[0] != "score" {
				t.Errorf("rule query: mode %v output %v, the demo models fleet scores", q.Model["mode"], output)
			}
		}
		if _, evaluator, v, ok := q.Threshold(); ok && q.RefID == r.Condition {
			conditions++
			if evaluator != "gt" || v != ruleThreshold {
				t.Errorf("rule condition %s %v, the demo models > %g", evaluator, v, ruleThreshold)
			}
		}
	}
	if conditions != 1 {
		t.Errorf("rule has %d threshold conditions, want 1", conditions)
	}
}

// promFake answers Prometheus's query_range for the demo's metrics from its recorded readings, the
// way Prometheus would hold them after Telegraf wrote them: one series per sensor, a sample at each
// step where the sensor reported the field, none where it was null.
func promFake(t *testing.T, d *Result) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, "unexpected request "+r.URL.Path, http.StatusNotFound)
			return
		}
		col := slices.Index(metrics, r.Form.Get("query"))
		start, err1 := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, err2 := strconv.ParseFloat(r.Form.Get("end"), 64)
		if col < 0 || err1 != nil || err2 != nil {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unknown query"}`, http.StatusBadRequest)
			return
		}
		type series struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		var result []series
		for s, idx := range d.sensors {
			se := series{Metric: map[string]string{"sensor_index": idx}}
			for step := 0; step < d.steps; step++ {
				ts := float64(d.time(step).Unix())
				v := d.features[col][d.at(s, step)]
				if ts < start || ts > end || math.IsNaN(v) {
					continue
				}
				se.Values = append(se.Values, [2]any{ts, strconv.FormatFloat(v, 'g', -1, 64)})
			}
			if len(se.Values) > 0 {
				result = append(result, se)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
	}))
}

// TestBatchStrategiesAreTheDatasource runs the Grafana datasource backend itself — NewDatasource and
// QueryData, as Grafana calls them — with the demo's batch queries over the demo's readings served by
// a Prometheus API on loopback, and requires its scores and anomaly flags to be exactly the demo's.
// The demo runs the datasource's engine in-process on its readings; this covers the rest of the way
// a dashboard's numbers come: query_range over HTTP, its decoding, the frames.
func TestBatchStrategiesAreTheDatasource(t *testing.T) {
	d, err := runPipelines(context.Background(), smallDemo(4))
	if err != nil {
		t.Fatal(err)
	}
	srv := promFake(t, d)
	defer srv.Close()
	inst, err := plugin.NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "demo", Type: plugin.PluginID, URL: srv.URL, JSONData: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*plugin.Datasource)

	query := func(mode string) backend.DataQuery {
		raw, err := d.batchQuery(mode)
		if err != nil {
			t.Fatal(err)
		}
		return backend.DataQuery{RefID: mode, JSON: raw, Interval: d.opt.Step, MaxDataPoints: int64(d.steps),
			TimeRange: backend.TimeRange{From: d.start, To: d.time(d.steps - 1)}}
	}
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{query("series"), query("fleet")}})
	if err != nil {
		t.Fatal(err)
	}
	for ref, st := range map[string]*strategy{"series": d.strategy("batch series"), "fleet": d.strategy("batch fleet")} {
		r := resp.Responses[ref]
		if r.Error != nil {
			t.Fatalf("%s: %v", ref, r.Error)
		}
		compared, flagged := 0, 0
		seen := map[int]bool{}
		for _, f := range r.Frames {
			var times []time.Time
			var score, anom []float64
			sensor := ""
			for _, fld := range f.Fields {
				switch fld.Name {
				case "Time", "time":
					times = fieldValues[time.Time](t, fld)
				case "score":
					score = fieldValues[float64](t, fld)
					sensor = fld.Labels["sensor_index"]
				case "anomaly":
					anom = fieldValues[float64](t, fld)
				}
			}
			s := slices.Index(d.sensors, sensor)
			if s < 0 || len(times) != len(score) || len(times) != len(anom) {
				t.Fatalf("%s: frame for sensor %q with %d times, %d scores, %d flags", ref, sensor, len(times), len(score), len(anom))
			}
			for k, tm := range times {
				step := int(tm.Sub(d.start) / d.opt.Step)
				i := d.at(s, step)
				if seen[i] {
					t.Fatalf("%s: sensor %s step %d twice", ref, sensor, step)
				}
				seen[i] = true
				if score[k] != st.score[i] || (anom[k] == 1) != st.flag[i] {
					t.Fatalf("%s: sensor %s at %s: datasource score %v anomaly %v, demo %v %v", ref, sensor, tm.Format(time.RFC3339), score[k], anom[k], st.score[i], st.flag[i])
				}
				compared++
				if st.flag[i] {
					flagged++
				}
			}
		}
		// Every reading the demo scored, the datasource scored too.
		want := 0
		for _, v := range st.score {
			if !math.IsNaN(v) {
				want++
			}
		}
		if compared != want || flagged == 0 {
			t.Errorf("%s: compared %d readings (%d flagged), the demo scored %d", ref, compared, flagged, want)
		}
	}
}

func fieldValues[T any](t *testing.T, f *data.Field) []T {
	t.Helper()
	out := make([]T, f.Len())
	for i := range out {
		v, ok := f.At(i).(T)
		if !ok {
			t.Fatalf("field %s holds %T, want %T", f.Name, f.At(i), *new(T))
		}
		out[i] = v
	}
	return out
}

// BenchmarkDemoDefault is the README's demo at its default size (50 sensors × 48 h at 2 min): the
// simulation, both paths, the evaluation and the report. It must stay well under a minute.
func BenchmarkDemoDefault(b *testing.B) {
	opt := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Run(context.Background(), opt)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.WriteReport(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(opt.Sensors*opt.steps()*b.N)/b.Elapsed().Seconds(), "readings/s")
}
