package demo

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// span is a run of consecutive steps [from, to) with the same non-empty key.
type span struct {
	from, to int
	key      string
}

func runs(steps int, key func(t int) string) []span {
	var out []span
	for t := 0; t < steps; {
		k := key(t)
		if k == "" {
			t++
			continue
		}
		e := t + 1
		for e < steps && key(e) == k {
			e++
		}
		out = append(out, span{t, e, k})
		t = e
	}
	return out
}

func faultKey(k purpleair.FaultKind) string {
	if k == purpleair.FaultNone {
		return ""
	}
	return string(k)
}

// faultSpans are sensor s's fault episodes.
func (d *Result) faultSpans(s int) []span {
	return runs(d.steps, func(t int) string { return faultKey(d.truth[d.at(s, t)]) })
}

// example is one sensor's episode shown up close, with the window [from, to) of steps around it.
type example struct {
	sensor          int
	kind            purpleair.FaultKind
	epFrom, epTo    int
	from, to        int
	episodesInRange []span
}

// pickExamples chooses, for each fault kind, the sensor with the longest episode of that kind (the
// first such sensor on ties, so the choice is deterministic). For dropouts, an episode in which the
// particle readings went missing is preferred over one that lost only the environment fields, which
// the PM chart would not show.
func pickExamples(d *Result) []example {
	var out []example
	for _, kind := range d.kinds {
		best := example{sensor: -1}
		bestRank := -1
		for s := 0; s < d.opt.Sensors; s++ {
			for _, sp := range d.faultSpans(s) {
				if sp.key != string(kind) {
					continue
				}
				rank := sp.to - sp.from
				if kind == purpleair.FaultDropout && math.IsNaN(d.features[1][d.at(s, sp.from)]) {
					rank += d.steps // any PM dropout beats every environment-only one
				}
				if rank > bestRank {
					best, bestRank = example{sensor: s, kind: kind, epFrom: sp.from, epTo: sp.to}, rank
				}
			}
		}
		if best.sensor < 0 {
			continue
		}
		// A window of 12 hours, or three times the episode, centred on it.
		best.window(d, (best.epTo-best.epFrom)*3/2)
		best.episodesInRange = d.faultSpansIn(best.sensor, best.from, best.to)
		out = append(out, best)
	}
	if ex, ok := d.smokeExample(); ok {
		out = append(out, ex)
	}
	return out
}

// smokeKind labels the smoke close-up; it is no fault kind.
const smokeKind purpleair.FaultKind = "smoke"

// smokeExample picks the sensor with the most smoke readings without a fault (the first on ties),
// around its smoke.
func (d *Result) smokeExample() (example, bool) {
	best, bestN := -1, 0
	for s := 0; s < d.opt.Sensors; s++ {
		n := 0
		for t := 0; t < d.steps; t++ {
			if i := d.at(s, t); d.smoke[i] && d.truth[i] == purpleair.FaultNone {
				n++
			}
		}
		if n > bestN {
			best, bestN = s, n
		}
	}
	if best < 0 {
		return example{}, false
	}
	ex := example{sensor: best, kind: smokeKind, epFrom: -1}
	for t := 0; t < d.steps; t++ {
		if d.smoke[d.at(best, t)] {
			if ex.epFrom < 0 {
				ex.epFrom = t
			}
			ex.epTo = t + 1
		}
	}
	ex.window(d, (ex.epTo-ex.epFrom)*3/4)
	ex.episodesInRange = append([]span{{max(ex.epFrom, ex.from), min(ex.epTo, ex.to), string(smokeKind)}}, d.faultSpansIn(best, ex.from, ex.to)...)
	return ex, true
}

// window centres the example's window on its episode, half steps either side and at least 6 hours.
func (ex *example) window(d *Result, half int) {
	half = max(int(6*time.Hour/d.opt.Step), half)
	mid := (ex.epFrom + ex.epTo) / 2
	ex.from, ex.to = max(0, mid-half), min(d.steps, mid+half)
}

// faultSpansIn are sensor s's fault episodes within steps [from, to), cut to it.
func (d *Result) faultSpansIn(s, from, to int) []span {
	var out []span
	for _, sp := range d.faultSpans(s) {
		if sp.to > from && sp.from < to {
			out = append(out, span{max(sp.from, from), min(sp.to, to), sp.key})
		}
	}
	return out
}

// kindColor is a fault kind's colour, or smoke's.
func kindColor(k purpleair.FaultKind) string {
	if k == smokeKind {
		return smokeColor
	}
	return faultColors[k]
}

// exampleCaption says what the example shows: the episode's times and length, how many of its
// readings lack PM2.5, and the warm-up when the window holds it.
func exampleCaption(d *Result, ex example) string {
	n := ex.epTo - ex.epFrom
	var c strings.Builder
	switch {
	case ex.kind == smokeKind:
		fmt.Fprintf(&c, "smoke over this sensor for %d readings, %s to %s UTC: both channels rise together, as at its neighbours. Dots on the preset's panel: red = flagged sensor, amber = flagged the air",
			n, d.time(ex.epFrom).Format("Jan 2 15:04"), d.time(ex.epTo-1).Format("Jan 2 15:04"))
	case n == 1:
		fmt.Fprintf(&c, "%s: one reading at %s UTC", ex.kind, d.time(ex.epFrom).Format("Jan 2 15:04"))
	default:
		fmt.Fprintf(&c, "%s: %d readings, %s to %s UTC", ex.kind, n, d.time(ex.epFrom).Format("Jan 2 15:04"), d.time(ex.epTo-1).Format("Jan 2 15:04"))
	}
	switch ex.kind {
	case purpleair.FaultEnvSentinel:
		c.WriteString("; the environment sensor reported its failure values (humidity 255 %, temperature −224 °F), which the PM chart does not show: PM kept arriving")
	case purpleair.FaultDisconnect:
		c.WriteString("; the API served the sensor's last report again and again, last_seen frozen, so PM2.5 is flat")
	case purpleair.FaultDropout:
		if missing := d.missingPM(ex.sensor, ex.epFrom, ex.epTo); missing == 0 {
			c.WriteString("; only the environment fields (humidity, temperature, pressure) were missing, PM kept arriving")
		} else {
			fmt.Fprintf(&c, "; PM2.5 missing in %d of them (grey marks)", missing)
		}
	}
	if ex.from < streamWindow {
		fmt.Fprintf(&c, ". The streaming detector scores nothing during each sensor's first %d readings (its warm-up window)", streamWindow)
	}
	c.WriteString(".")
	return c.String()
}

// missingPM counts sensor s's readings in steps [from, to) without PM2.5.
func (d *Result) missingPM(s, from, to int) int {
	n := 0
	for t := from; t < to; t++ {
		if math.IsNaN(d.features[1][d.at(s, t)]) {
			n++
		}
	}
	return n
}
