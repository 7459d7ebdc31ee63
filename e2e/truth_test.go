package e2e

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
)

// Fault labels and the fields the comparisons read (names as the input and processor emit them).
const (
	faultTag      = "fault"
	noFault       = "none"
	sensorTag     = "sensor_index"
	scoreField    = "anomaly_score"
	anomalyField  = "anomaly"
	warmupField   = "anomaly_warmup"
	particleField = "pm2.5_cf_1"
)

// reading is one metric Telegraf wrote: a sensor's report after the anomaly processor.
type reading struct {
	Name   string
	Tags   map[string]string
	Fields map[string]any
	Time   time.Time
	metric telegraf.Metric
}

func (r reading) sensor() string { return r.Tags[sensorTag] }
func (r reading) fault() string  { return r.Tags[faultTag] }

// score returns the streaming score, if the metric was scored.
func (r reading) score() (float64, bool) {
	v, ok := r.Fields[scoreField].(float64)
	return v, ok
}

func (r reading) flag(name string) bool {
	b, _ := r.Fields[name].(bool)
	return b
}

// readReadings parses the outputs.file copy (line protocol) with Telegraf's own parser.
func readReadings(path string) ([]reading, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := parseReadings(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// parseReadings parses line protocol with Telegraf's own parser.
func parseReadings(b []byte) ([]reading, error) {
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		return nil, err
	}
	ms, err := p.Parse(b)
	if err != nil {
		return nil, err
	}
	out := make([]reading, len(ms))
	for i, m := range ms {
		out[i] = fromMetric(m)
	}
	return out, nil
}

func fromMetric(m telegraf.Metric) reading {
	return reading{Name: m.Name(), Tags: m.Tags(), Fields: m.Fields(), Time: m.Time(), metric: m}
}

// promMetricName is the name Telegraf's Prometheus serializers give a field: measurement_field with
// every character outside [a-zA-Z0-9_:] replaced by '_' (pm2.5_cf_1 → purpleair_pm2_5_cf_1).
func promMetricName(measurement, field string) string {
	return sanitizeProm(measurement+"_"+field, true)
}

func sanitizeProm(s string, colonOK bool) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') || (colonOK && r == ':')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// promValue is the sample value remote write carries for a field, and whether it carries one at all
// (numbers and booleans do; strings are dropped).
func promValue(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// labelKey identifies a series by its labels (without __name__), sorted.
func labelKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", sanitizeProm(k, false), labels[k])
	}
	return b.String()
}

// expectedSamples is what Prometheus should hold after remote write of the readings: for each metric
// name, each series' samples (Unix ms → value). conflicts counts samples sent twice for one series and
// timestamp with different values, which Prometheus must refuse.
func expectedSamples(rs []reading) (samples map[string]map[string]map[int64]float64, conflicts int) {
	out := map[string]map[string]map[int64]float64{}
	for _, r := range rs {
		key := labelKey(r.Tags)
		for f, v := range r.Fields {
			val, ok := promValue(v)
			if !ok {
				continue
			}
			name := promMetricName(r.Name, f)
			if out[name] == nil {
				out[name] = map[string]map[int64]float64{}
			}
			if out[name][key] == nil {
				out[name][key] = map[int64]float64{}
			}
			ts := r.Time.UnixMilli()
			if prev, dup := out[name][key][ts]; dup && prev != val {
				conflicts++
			}
			out[name][key][ts] = val
		}
	}
	return out, conflicts
}

// confusion counts predictions against the ground truth.
type confusion struct {
	TP, FP, FN, TN int
}

func (c *confusion) add(truth, predicted bool) {
	switch {
	case truth && predicted:
		c.TP++
	case truth:
		c.FN++
	case predicted:
		c.FP++
	default:
		c.TN++
	}
}

// Precision is TP/(TP+FP); NaN when nothing was flagged.
func (c confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN); NaN when there was nothing to find.
func (c confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// detection is one path's result: overall, and recall per fault kind.
type detection struct {
	Points    int                   `json:"points"`
	TP        int                   `json:"tp"`
	FP        int                   `json:"fp"`
	FN        int                   `json:"fn"`
	TN        int                   `json:"tn"`
	Precision jsonFloat             `json:"precision"`
	Recall    jsonFloat             `json:"recall"`
	ByKind    map[string]kindRecall `json:"recall_by_kind"`
	// ValueFaults* restrict the truth to the fault kinds that change the particle readings' values
	// (see valueFaults): a flag on a flat-line or drop-out reading counts neither way.
	ValueFaultsPrecision jsonFloat `json:"value_faults_precision"`
	ValueFaultsRecall    jsonFloat `json:"value_faults_recall"`
	// AUC is the area under the ROC curve of the scores themselves, whatever the threshold: the
	// chance that a faulty point scores above a clean one (0.5 = no better than chance).
	AUC            jsonFloat `json:"auc"`
	ValueFaultsAUC jsonFloat `json:"value_faults_auc"`

	Targeted confusion `json:"-"` // the counts behind ValueFaults*
	all      confusion
	kinds    map[string]*confusion
	scored   []scoredPoint
}

type scoredPoint struct {
	score float64
	kind  string
}

type kindRecall struct {
	Faulty   int       `json:"faulty"`
	Detected int       `json:"detected"`
	Recall   jsonFloat `json:"recall"`
}

// jsonFloat writes NaN (a ratio of nothing) as null, which encoding/json cannot do for float64.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'f', 4, 64), nil
}

func newDetection() *detection { return &detection{kinds: map[string]*confusion{}} }

// valueFaults are the simulator's fault kinds that change the values of the particle fields both
// detectors score. A flat-line repeats plausible values and a drop-out removes fields (imputed before
// scoring), so neither is visible to a value-based detector; they are reported, not targeted.
var valueFaults = map[string]bool{"spike": true, "stuck_high": true, "ab_divergence": true, "drift": true}

// addScore records a point's score for the AUC, besides its flag.
func (d *detection) addScore(kind string, score float64, predicted bool) {
	d.scored = append(d.scored, scoredPoint{score, kind})
	d.add(kind, predicted)
}

func (d *detection) add(kind string, predicted bool) {
	truth := kind != noFault
	d.all.add(truth, predicted)
	if truth {
		c := d.kinds[kind]
		if c == nil {
			c = &confusion{}
			d.kinds[kind] = c
		}
		c.add(true, predicted)
	}
	// Against the targeted kinds, a flag on a flat-line or drop-out is neither right nor wrong.
	if truth && !valueFaults[kind] {
		return
	}
	d.Targeted.add(truth, predicted)
}

// finish fills the exported figures.
func (d *detection) finish() *detection {
	c := d.all
	d.Points, d.TP, d.FP, d.FN, d.TN = c.TP+c.FP+c.FN+c.TN, c.TP, c.FP, c.FN, c.TN
	d.Precision, d.Recall = jsonFloat(c.Precision()), jsonFloat(c.Recall())
	d.ValueFaultsPrecision, d.ValueFaultsRecall = jsonFloat(d.Targeted.Precision()), jsonFloat(d.Targeted.Recall())
	d.AUC = jsonFloat(auc(d.scored, func(string) bool { return true }))
	d.ValueFaultsAUC = jsonFloat(auc(d.scored, func(k string) bool { return k == noFault || valueFaults[k] }))
	d.ByKind = map[string]kindRecall{}
	for k, kc := range d.kinds {
		d.ByKind[k] = kindRecall{Faulty: kc.TP + kc.FN, Detected: kc.TP, Recall: jsonFloat(kc.Recall())}
	}
	return d
}

// auc is the Mann–Whitney estimate of the ROC AUC over the points whose kind is included: faulty
// (kind ≠ none) against clean, ties counted as half.
func auc(points []scoredPoint, include func(kind string) bool) float64 {
	var ps []scoredPoint
	for _, p := range points {
		if include(p.kind) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b scoredPoint) int { return cmpFloat(a.score, b.score) })
	var pos, neg int
	rankSum := 0.0 // sum of the faulty points' ranks (1-based, ties averaged)
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].score == ps[i].score {
			j++
		}
		mid := float64(i+j+1) / 2 // average rank of positions i..j-1
		for _, p := range ps[i:j] {
			if p.kind != noFault {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (d *detection) String() string {
	kinds := make([]string, 0, len(d.ByKind))
	for k := range d.ByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "precision %.3f recall %.3f AUC %.3f (TP %d FP %d FN %d TN %d of %d points); value faults: precision %.3f recall %.3f AUC %.3f; recall by kind:",
		d.Precision, d.Recall, d.AUC, d.TP, d.FP, d.FN, d.TN, d.Points, d.ValueFaultsPrecision, d.ValueFaultsRecall, d.ValueFaultsAUC)
	for _, k := range kinds {
		kr := d.ByKind[k]
		fmt.Fprintf(&b, " %s %d/%d", k, kr.Detected, kr.Faulty)
	}
	return b.String()
}

// streamingDetection scores the processor's flags (anomaly = score > threshold) against the fault
// labels, over the metrics it scored (warm-up metrics carry no score and are left out).
func streamingDetection(rs []reading) *detection {
	d := newDetection()
	for _, r := range rs {
		v, ok := r.score()
		if !ok {
			continue
		}
		d.addScore(r.fault(), v, r.flag(anomalyField))
	}
	return d.finish()
}

// truthIndex answers "what does a PromQL instant selector of the particle readings see for this sensor
// at time g": the simulator's fault labels are a Prometheus label, so each sensor is several series (one
// per label value), and max by (sensor_index) (...) at g combines each series' latest sample within
// the lookback. The truth at g is faulty when any of those visible samples is from a faulty reading.
type truthIndex struct {
	lookback time.Duration
	series   map[string][]truthSeries // by sensor
}

type truthSeries struct {
	fault string
	times []int64 // Unix ms, ascending
}

// newTruthIndex indexes the readings that carry the particle field the batch features select.
func newTruthIndex(rs []reading, lookback time.Duration) *truthIndex {
	ix := &truthIndex{lookback: lookback, series: map[string][]truthSeries{}}
	type key struct{ sensor, fault string }
	bySeries := map[key][]int64{}
	for _, r := range rs {
		if _, ok := r.Fields[particleField]; !ok {
			continue
		}
		k := key{r.sensor(), r.fault()}
		bySeries[k] = append(bySeries[k], r.Time.UnixMilli())
	}
	for k, ts := range bySeries {
		slices.Sort(ts)
		ix.series[k.sensor] = append(ix.series[k.sensor], truthSeries{fault: k.fault, times: ts})
	}
	return ix
}

// at returns the fault kind visible for sensor at g (noFault when only clean readings are visible),
// and whether anything is visible at all.
func (ix *truthIndex) at(sensor string, g time.Time) (kind string, visible bool) {
	gm, lb := g.UnixMilli(), ix.lookback.Milliseconds()
	kind = noFault
	var latestFaulty int64 = math.MinInt64
	for _, s := range ix.series[sensor] {
		i := sort.Search(len(s.times), func(i int) bool { return s.times[i] > gm }) - 1
		if i < 0 || s.times[i] < gm-lb {
			continue
		}
		visible = true
		if s.fault != noFault && s.times[i] > latestFaulty {
			kind, latestFaulty = s.fault, s.times[i]
		}
	}
	return kind, visible
}

// expectedLastOverTimeMax is what `max by (sensor_index) (last_over_time(<metric>[window]))` evaluated
// at `at` should return, computed from the readings: per series, the latest value in (at-window, at];
// per sensor, the largest of those.
func expectedLastOverTimeMax(rs []reading, field string, at time.Time, window time.Duration) map[string]float64 {
	type latest struct {
		t int64
		v float64
	}
	perSeries := map[string]latest{}
	sensorOf := map[string]string{}
	lo, hi := at.Add(-window).UnixMilli(), at.UnixMilli()
	for _, r := range rs {
		v, ok := promValue(r.Fields[field])
		ts := r.Time.UnixMilli()
		if !ok || ts <= lo || ts > hi {
			continue
		}
		k := labelKey(r.Tags)
		if cur, seen := perSeries[k]; !seen || ts >= cur.t {
			perSeries[k] = latest{ts, v}
			sensorOf[k] = r.sensor()
		}
	}
	out := map[string]float64{}
	for k, l := range perSeries {
		s := sensorOf[k]
		if cur, ok := out[s]; !ok || l.v > cur {
			out[s] = l.v
		}
	}
	return out
}
