package demo

import (
	"fmt"
	"math"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// presetStrategy feeds qa.Detector every reading in time order, sensors interleaved, keyed by
// sensor_index: what a processor keyed by sensor sees.
type presetStrategy struct {
	d   *Result
	det *qa.Detector
	s   *strategy
	col map[string]int // API field → column of the simulator's responses
}

// presetFields are the API fields a qa.Reading is filled from.
var presetFields = []string{"pm2.5_cf_1_a", "pm2.5_cf_1_b", "pm2.5_cf_1", "pm2.5_atm", "humidity", "temperature", "pressure", "last_seen", "latitude", "longitude"}

func newPresetStrategy(d *Result) (*presetStrategy, error) {
	opt := qa.DefaultOptions()
	det, err := qa.New(opt)
	if err != nil {
		return nil, err
	}
	n := d.readings()
	s := &strategy{
		name:      "purpleair preset",
		title:     fmt.Sprintf("PurpleAir QA detector (pkg/purpleair/qa, default options), streaming: every reading judged sensor or air fault with a reason; flag = sensor (threshold %g)", opt.Threshold),
		scoreName: "score",
		threshold: opt.Threshold,
		score:     nanSlice(n),
		flag:      make([]bool, n),
		kind:      make([]qa.Kind, n),
		reason:    make([]qa.Reason, n),
	}
	return &presetStrategy{d: d, det: det, s: s}, nil
}

func (p *presetStrategy) step(t int, tm time.Time, resp *purpleair.Response) error {
	if p.col == nil {
		p.col = make(map[string]int, len(presetFields))
		for _, f := range presetFields {
			c := resp.Column(f)
			if c < 0 {
				return fmt.Errorf("simulator response lacks %s", f)
			}
			p.col[f] = c
		}
	}
	for s, row := range resp.Data {
		res := p.det.Observe(p.d.sensors[s], p.reading(tm, row))
		i := p.d.at(s, t)
		p.s.score[i] = res.Score
		p.s.kind[i], p.s.reason[i] = res.Kind, res.Reason
		p.s.flag[i] = res.Kind == qa.KindSensor
	}
	return nil
}

// reading is one API row as the detector takes it.
func (p *presetStrategy) reading(tm time.Time, row []purpleair.Value) qa.Reading {
	num := func(f string) float64 {
		if v := row[p.col[f]]; v.Kind == purpleair.KindNumber {
			return v.Num
		}
		return math.NaN()
	}
	r := qa.NewReading(tm)
	r.A, r.B, r.CF1, r.ATM = num("pm2.5_cf_1_a"), num("pm2.5_cf_1_b"), num("pm2.5_cf_1"), num("pm2.5_atm")
	r.Humidity, r.Temperature, r.Pressure = num("humidity"), num("temperature"), num("pressure")
	r.Lat, r.Lon = num("latitude"), num("longitude")
	if ls := num("last_seen"); !math.IsNaN(ls) {
		r.LastSeen = time.Unix(int64(ls), 0).UTC()
	}
	return r
}
