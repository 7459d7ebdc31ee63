package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/internal/promtest"
)

var purpleAir = sharedServer{name: "PurpleAir", dataset: promtest.PurpleAir}

func purpleAirServer(t *testing.T) *promtest.Server { return purpleAir.get(t) }

func presetQuery(from, to time.Time, q map[string]any) backend.DataQuery {
	q["schemaVersion"] = 2
	q["preset"] = "purpleair"
	dq := dataQuery("A", from, to, q)
	dq.Interval = 2 * time.Minute
	dq.MaxDataPoints = 11000
	return dq
}

// lastStep is what each sensor's numeric frame says: its labels and score.
type lastStep struct {
	labels data.Labels
	score  float64
}

func numericBySensor(t *testing.T, r backend.DataResponse) map[string]lastStep {
	t.Helper()
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	out := map[string]lastStep{}
	for _, f := range r.Frames {
		if f.Meta == nil || f.Meta.Type != data.FrameTypeNumericMulti {
			t.Fatalf("frame type %v, want numeric-multi", f.Meta)
		}
		for _, fl := range f.Fields {
			if fl.Name == "score" {
				out[fl.Labels["sensor_index"]] = lastStep{labels: fl.Labels, score: fl.At(0).(float64)}
			}
		}
	}
	return out
}

// TestPurpleAirPresetDivergence: the A/B divergence planted on one sensor is
// that sensor's fault, with its reason as labels on the alert frame, and no
// other sensor's.
func TestPurpleAirPresetDivergence(t *testing.T) {
	srv := purpleAirServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	at := promtest.PADivergeFrom.Add(time.Hour)
	r := queryOne(t, ds, presetQuery(at.Add(-time.Hour), at, map[string]any{
		"mode": "fleet", "fleetAt": "last", "training": map[string]any{"range": "1d", "step": "2m"},
		"purpleair": map[string]any{"detailLabel": true},
	}))
	got := numericBySensor(t, r)
	if len(got) != promtest.PASensors {
		t.Fatalf("%d sensors in the frames, want %d", len(got), promtest.PASensors)
	}
	bad := strconv.Itoa(promtest.PADivergeSensor)
	for s, ls := range got {
		if s == bad {
			if ls.labels["kind"] != "sensor" || ls.labels["reason"] != "ab_divergence" {
				t.Errorf("sensor %s (A at %.1f× B): labels %v, want kind sensor, reason ab_divergence", s, promtest.PADivergeFactor, ls.labels)
			}
			if !strings.Contains(ls.labels["detail"], "channel A") || ls.labels["since"] == "" {
				t.Errorf("sensor %s: detail %q / since %q do not say what and since when", s, ls.labels["detail"], ls.labels["since"])
			}
			if ls.score < 0.7 {
				t.Errorf("sensor %s: score %.3f below the threshold", s, ls.score)
			}
			continue
		}
		// The simulated air has its own episodes (kind air); a clean
		// sensor must only never be called broken.
		if ls.labels["kind"] == "sensor" {
			t.Errorf("clean sensor %s called faulty: %v", s, ls.labels)
		}
	}

	// Series mode, the same sensor, as a table: string fields, and the
	// episode marked back to where it began.
	r = queryOne(t, ds, presetQuery(at.Add(-2*time.Hour), at, map[string]any{
		"mode": "series", "training": map[string]any{"range": "1d", "step": "2m"},
		"purpleair": map[string]any{"sensor": bad},
		"output":    []string{"score", "anomaly", "kind", "reason", "detail", "since", "pm2.5_epa"},
	}))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if len(r.Frames) != 1 {
		t.Fatalf("%d frames, want the one sensor selected", len(r.Frames))
	}
	f := r.Frames[0]
	var names []string
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	if got, want := strings.Join(names, ","), "Time,score,anomaly,kind,reason,detail,since,pm2.5_epa"; got != want {
		t.Fatalf("fields %s, want %s", got, want)
	}
	reason, _ := f.FieldByName("reason")
	tf, _ := f.FieldByName("Time")
	var first time.Time
	for i := 0; i < reason.Len(); i++ {
		if reason.At(i).(string) == "ab_divergence" {
			first = tf.At(i).(time.Time)
			break
		}
	}
	// The detector sees the divergence within a few readings; batch use marks
	// it from the first faulty one.
	if first.IsZero() || first.Sub(promtest.PADivergeFrom) > 10*time.Minute || first.Before(promtest.PADivergeFrom) {
		t.Errorf("ab_divergence first at %v, want within 10 minutes from %v", first, promtest.PADivergeFrom)
	}

}

// TestPurpleAirPresetSmoke: a rise of every sensor's PM at once is the air,
// not a fault.
func TestPurpleAirPresetSmoke(t *testing.T) {
	srv := purpleAirServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	at := promtest.PASmokeFrom.Add(promtest.PASmokeRise)
	r := queryOne(t, ds, presetQuery(at.Add(-90*time.Minute), at, map[string]any{
		"mode": "fleet", "fleetAt": "each", "training": map[string]any{"range": "1d", "step": "2m"},
		"output": []string{"score", "kind", "reason"},
	}))
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	air, sensorKind := map[string]bool{}, map[string]string{}
	for _, f := range r.Frames {
		k, _ := f.FieldByName("kind")
		reason, _ := f.FieldByName("reason")
		tf, _ := f.FieldByName("Time")
		if k == nil {
			t.Fatal("no kind field")
		}
		s := k.Labels["sensor_index"]
		for i := 0; i < k.Len(); i++ {
			if tf.At(i).(time.Time).Before(promtest.PASmokeFrom) {
				continue
			}
			switch k.At(i).(string) {
			case "air":
				air[s] = true
			case "sensor":
				sensorKind[s] = fmt.Sprintf("%s at %v", reason.At(i), tf.At(i))
			}
		}
	}
	t.Logf("%d of %d sensors saw unusual air in the rise", len(air), promtest.PASensors)
	if len(sensorKind) > 0 {
		t.Errorf("the smoke was called a sensor fault: %v", sensorKind)
	}
	if len(air) < promtest.PASensors/2 {
		t.Errorf("%d of %d sensors saw unusual air in the rise, want at least half", len(air), promtest.PASensors)
	}
}

// TestPurpleAirPresetWarmCache: the second evaluation a step later restores
// the saved detector instead of observing the training range again, and
// judges the same.
func TestPurpleAirPresetWarmCache(t *testing.T) {
	srv := purpleAirServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	at := promtest.PADivergeFrom.Add(time.Hour)
	q := map[string]any{"mode": "fleet", "training": map[string]any{"range": "1d", "step": "2m"}}
	cold := numericBySensor(t, queryOne(t, ds, presetQuery(at.Add(-time.Hour), at, q)))
	r := queryOne(t, ds, presetQuery(at.Add(-time.Hour+2*time.Minute), at.Add(2*time.Minute), q))
	warm := numericBySensor(t, r)
	if hit, _ := r.Frames[0].Meta.Custom.(map[string]any)["forestCacheHit"].(bool); !hit {
		t.Errorf("the second evaluation did not restore the saved detector")
	}
	bad := strconv.Itoa(promtest.PADivergeSensor)
	if cold[bad].labels["reason"] != "ab_divergence" || warm[bad].labels["reason"] != "ab_divergence" {
		t.Errorf("cold %v, warm %v: want ab_divergence both times", cold[bad].labels, warm[bad].labels)
	}
}

// TestPurpleAirPresetInvalid: a bad preset option fails its query alone, as
// a 400 naming the option as the query spells it.
func TestPurpleAirPresetInvalid(t *testing.T) {
	ds := newTestInstance(t, "http://127.0.0.1:1", `{}`, nil)
	at := promtest.PAEnd
	for opt, q := range map[string]map[string]any{
		"purpleair.threshold":  {"purpleair": map[string]any{"threshold": 1.5}},
		"purpleair.correction": {"purpleair": map[string]any{"correction": "lrapa"}},
		"purpleair.kind":       {"purpleair": map[string]any{"kind": "both"}},
		`output "decision"`:    {"output": []string{"decision"}},
	} {
		r := queryOne(t, ds, presetQuery(at.Add(-time.Hour), at, q))
		if r.Error == nil || r.Status != backend.StatusBadRequest || !strings.Contains(r.Error.Error(), opt) {
			t.Errorf("%v: status %v, error %v; want 400 naming %s", q, r.Status, r.Error, opt)
		}
	}
}

// TestPurpleAirPresetKind: purpleair.kind keeps one audience's verdicts. In
// the smoke's rise (the air's verdicts) "sensor" leaves no anomaly and every
// score below the threshold, "air" keeps every one; at the divergence (a
// fault) "air" clears the faulty sensor's alert labels, "sensor" keeps them.
// Throughout, anomaly is 1 exactly where score ≥ the threshold, so that a
// rule on either pages alike (the detector's float32 marks broke it at the
// threshold: 4 of 1,092 readings at 0.7, 27 at 0.8 before).
func TestPurpleAirPresetKind(t *testing.T) {
	srv := purpleAirServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	at := promtest.PASmokeFrom.Add(promtest.PASmokeRise)
	verdicts := func(kind string, threshold float64, at time.Time) (flagged map[string]int, overThreshold int) {
		r := queryOne(t, ds, presetQuery(at.Add(-3*time.Hour), at, map[string]any{
			"mode": "fleet", "fleetAt": "each", "training": map[string]any{"range": "1d", "step": "2m"},
			"output": []string{"score", "anomaly", "kind"}, "purpleair": map[string]any{"kind": kind, "threshold": threshold},
		}))
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		flagged = map[string]int{}
		for _, f := range r.Frames {
			score, _ := f.FieldByName("score")
			anomaly, _ := f.FieldByName("anomaly")
			k, _ := f.FieldByName("kind")
			for i := 0; i < k.Len(); i++ {
				if (anomaly.At(i).(float64) == 1) != (k.At(i).(string) != "") {
					t.Errorf("kind %q: anomaly %v beside kind %q", kind, anomaly.At(i), k.At(i))
				}
				flagged[k.At(i).(string)]++
				if over := score.At(i).(float64) >= threshold; over != (anomaly.At(i).(float64) == 1) {
					t.Errorf("kind %q threshold %v: score %v beside anomaly %v", kind, threshold, score.At(i), anomaly.At(i))
				} else if over {
					overThreshold++
				}
			}
		}
		return flagged, overThreshold
	}
	all, _ := verdicts("", 0.7, at)
	if all["air"] == 0 {
		t.Fatalf("no air verdicts in the smoke's rise (%v): the test says nothing", all)
	}
	if got, over := verdicts("sensor", 0.7, at); got["air"] != 0 || got["sensor"] != all["sensor"] || over != all["sensor"] {
		t.Errorf("kind sensor: %v with %d scores at or over the threshold; want no air verdict and the %d sensor ones", got, over, all["sensor"])
	}
	if got, _ := verdicts("air", 0.7, at); got["sensor"] != 0 || got["air"] != all["air"] {
		t.Errorf("kind air: %v, want the %d air verdicts and no sensor one", got, all["air"])
	}
	verdicts("", 0.8, promtest.PADivergeFrom.Add(time.Hour)) // float32(0.8) > 0.8

	bad := strconv.Itoa(promtest.PADivergeSensor)
	last := func(kind string) data.Labels {
		at := promtest.PADivergeFrom.Add(time.Hour)
		return numericBySensor(t, queryOne(t, ds, presetQuery(at.Add(-time.Hour), at, map[string]any{
			"mode": "fleet", "training": map[string]any{"range": "1d", "step": "2m"}, "purpleair": map[string]any{"kind": kind},
		})))[bad].labels
	}
	if l := last("sensor"); l["reason"] != "ab_divergence" {
		t.Errorf("kind sensor: the faulty sensor's labels %v, want reason ab_divergence", l)
	}
	if l := last("air"); l["kind"] != "" || l["reason"] != "" {
		t.Errorf("kind air: the faulty sensor's labels %v, want no verdict", l)
	}
}

// TestPurpleAirPresetSelectionSeesTheFleet: purpleair.sensor only chooses what series mode returns;
// the detector still observes every sensor, whose neighbours decide sensor or air. Through the smoke's
// rise, each selected sensor's frame equals its frame in the same query over the whole fleet.
func TestPurpleAirPresetSelectionSeesTheFleet(t *testing.T) {
	srv := purpleAirServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	at := promtest.PASmokeFrom.Add(promtest.PASmokeRise)
	query := func(sel map[string]any) backend.DataResponse {
		r := queryOne(t, ds, presetQuery(at.Add(-90*time.Minute), at, map[string]any{
			"mode": "series", "training": map[string]any{"range": "1d", "step": "2m"},
			"purpleair": sel,
			"output":    []string{"score", "anomaly", "kind", "reason", "detail", "since", "pm2.5_epa"},
		}))
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		return r
	}
	bySensor := map[string]*data.Frame{}
	for _, fr := range query(map[string]any{}).Frames {
		if sc, _ := fr.FieldByName("score"); sc != nil {
			bySensor[sc.Labels["sensor_index"]] = fr
		}
	}
	if len(bySensor) != promtest.PASensors {
		t.Fatalf("%d sensors without a selection, want %d", len(bySensor), promtest.PASensors)
	}
	air := 0
	for s, whole := range bySensor {
		r := query(map[string]any{"sensor": s})
		if len(r.Frames) != 1 {
			t.Fatalf("sensor %s selected: %d frames, want 1", s, len(r.Frames))
		}
		for i, fl := range r.Frames[0].Fields {
			other := whole.Fields[i]
			if fl.Name != other.Name || fl.Len() != other.Len() {
				t.Fatalf("sensor %s: field %s with %d values selected, %s with %d over the fleet", s, fl.Name, fl.Len(), other.Name, other.Len())
			}
			for j := 0; j < fl.Len(); j++ {
				if a, b := printed(fl, j), printed(other, j); a != b {
					t.Fatalf("sensor %s: %s[%d] is %s selected, %s over the fleet", s, fl.Name, j, a, b)
				}
				if fl.Name == "kind" && fmt.Sprint(fl.At(j)) == "air" {
					air++
				}
			}
		}
	}
	if air == 0 {
		t.Errorf("no reading called unusual air through the smoke's rise: the comparison says nothing about neighbours")
	}
}

// printed is a field's value as text, so that NaN equals NaN, times compare by instant and a null
// reads "null".
func printed(f *data.Field, i int) string {
	v, ok := f.ConcreteAt(i)
	if !ok {
		return "null"
	}
	return fmt.Sprint(v)
}
