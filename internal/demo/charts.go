package demo

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

var strategyColors = []string{"#2563eb", "#d97706", "#7c3aed", "#0f766e"}

func strategyColor(i int) string { return strategyColors[i%len(strategyColors)] }

var faultColors = map[purpleair.FaultKind]string{
	purpleair.FaultSpike:        "#e11d48",
	purpleair.FaultStuckHigh:    "#9f1239",
	purpleair.FaultFlatline:     "#0891b2",
	purpleair.FaultDropout:      "#6b7280",
	purpleair.FaultABDivergence: "#16a34a",
	purpleair.FaultDrift:        "#ca8a04",
	purpleair.FaultEnvSentinel:  "#c026d3",
	purpleair.FaultDisconnect:   "#1e293b",
}

// smokeColor shades smoke (the air, not a fault) in grey, apart from every fault's colour; the
// preset's air verdicts are amber beside the red of flags. Thresholds share the flags' red: a dot
// above the dashed line is a flag. The alert rule's line is black, so as not to read as a threshold
// of its own panel's detector.
const (
	smokeColor     = "#94a3b8"
	airColor       = "#f59e0b"
	flagColor      = "#dc2626"
	thresholdColor = "#dc2626"
	ruleColor      = "#111827"
	axisText       = ` font-size="11.5" fill="#4b5563"`
)

// chartWidth is every chart's width in user units; the page scales them to its width.
const chartWidth = 1150.0

// ---- recall per fault kind ----

// recallChart is a grouped horizontal bar chart: for each fault kind, one bar per strategy.
func recallChart(d *Result) template.HTML {
	const (
		left, right, top = 130.0, 48.0, 34.0
		barH, gap        = 11.0, 14.0
	)
	groupH := float64(len(d.evals))*barH + gap
	rows := d.kindRows()
	height := top + float64(len(rows))*groupH + 26
	plotW := chartWidth - left - right
	s := newSVG(chartWidth, height, "Recall per fault kind for each detector")
	x := left
	for i, e := range d.evals {
		x = legendEntry(s, x, 8, strategyColor(i), e.s.name)
	}
	for p := 0; p <= 100; p += 20 {
		gx := left + plotW*float64(p)/100
		s.line(gx, top-4, gx, height-22, "#e5e7eb", "")
		s.text(gx, height-8, axisText+` text-anchor="middle"`, fmt.Sprintf("%d%%", p))
	}
	for r, row := range rows {
		y0 := top + float64(r)*groupH
		weight := ""
		if row.kind == "" {
			weight = ` font-weight="650"`
		}
		s.text(left-10, y0+float64(len(d.evals))*barH/2+4, ` font-size="12.5" text-anchor="end"`+weight, row.label)
		for i, e := range d.evals {
			recallBar(s, left, y0+float64(i)*barH, barH, plotW, strategyColor(i), e.s.name, row.label, row.get(e))
		}
	}
	return s.html()
}

// legendEntry draws a swatch and its label at (x, y) and returns where the next entry starts.
func legendEntry(s *svg, x, y float64, colour, label string) float64 {
	s.rect(x, y, 12, 12, colour, ` rx="2"`, "")
	s.text(x+17, y+10, ` font-size="12.5"`, label)
	return x + 40 + 7.5*float64(len(label))
}

// recallBar is one strategy's bars for one kind: episodes detected (outlined) behind readings
// flagged (solid), labelled with the recall.
func recallBar(s *svg, left, y, h, plotW float64, colour, strategy, label string, k kindScore) {
	er := k.episodeRecall()
	if !math.IsNaN(er) {
		s.rect(left, y+1, plotW*er, h-2, "none", attr(`stroke="%s" stroke-width="1" opacity="0.7"`, colour), "")
	}
	rc := k.recall()
	if math.IsNaN(rc) {
		s.text(left+4, y+h-2, ` font-size="10.5" fill="#9ca3af"`, "no such fault")
		return
	}
	s.rect(left, y+1, math.Max(plotW*rc, 0.5), h-2, colour, "",
		fmt.Sprintf("%s, %s: recall %s (%d/%d readings), %d/%d episodes", strategy, label, pct(rc), k.caught, k.readings, k.detected, k.episodes))
	s.text(left+plotW*math.Max(rc, zeroIfNaN(er))+4, y+h-2, ` font-size="10.5" fill="#374151"`, pct(rc))
}

func zeroIfNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// ---- the fleet at a glance ----

// fleetChart draws one row per sensor, labelled with its sensor_index: fault spans shaded by kind,
// and a lane of flag ticks per strategy. Hovering a row names the sensor and sums it up.
func fleetChart(d *Result) template.HTML {
	const (
		left, right, top = 84.0, 20.0, 10.0
		laneH            = 2.5
	)
	rowH := 7 + float64(len(d.strategies))*laneH + 3
	n := d.opt.Sensors
	height := top + float64(n)*rowH + 42
	plotW := chartWidth - left - right
	xOf := func(t int) float64 { return left + plotW*float64(t)/float64(d.steps) }
	s := newSVG(chartWidth, height, "Fault episodes and flags for every sensor")
	for sn := 0; sn < n; sn++ {
		d.fleetRow(s, sn, top+float64(sn)*rowH, rowH, laneH, left, plotW, xOf)
	}
	axisY := top + float64(n)*rowH
	timeAxis(s, d, 0, d.steps, left, plotW, axisY)
	x := left
	for _, k := range d.kinds {
		x = legendEntry(s, x, axisY+24, faultColors[k], string(k))
	}
	if slices.Contains(d.smoke, true) {
		legendEntry(s, x, axisY+24, smokeColor, "smoke (the air)")
	}
	return s.html()
}

// fleetRow draws sensor sn's row at y: its label, smoke, fault spans and each strategy's flags.
func (d *Result) fleetRow(s *svg, sn int, y, rowH, laneH, left, plotW float64, xOf func(int) float64) {
	fill := "#ffffff"
	if sn%2 == 0 {
		fill = "#f8fafc"
	}
	// One group per row, so that its tooltip covers the label, the background and every flag.
	s.openGroup(d.sensorSummary(sn))
	defer s.closeGroup()
	s.rect(0, y, left+plotW, rowH, fill, "", "")
	s.text(left-8, y+rowH/2+4, ` font-size="11" fill="#374151" text-anchor="end"`, d.sensors[sn])
	spanRect := func(sp span, colour, attrs, what string) {
		s.rect(xOf(sp.from), y+1, math.Max(xOf(sp.to)-xOf(sp.from), 1.2), 6, colour, attrs,
			fmt.Sprintf("sensor %s: %s, %s–%s", d.sensors[sn], what, d.time(sp.from).Format("Jan 2 15:04"), d.time(sp.to).Format("15:04")))
	}
	// Smoke under the faults: the air, not the sensor.
	for _, sp := range runs(d.steps, func(t int) string { return smokeKey(d.smoke[d.at(sn, t)]) }) {
		spanRect(sp, smokeColor, ` opacity="0.45"`, "smoke")
	}
	for _, sp := range d.faultSpans(sn) {
		spanRect(sp, faultColors[purpleair.FaultKind(sp.key)], "", sp.key)
	}
	for l, st := range d.strategies {
		ly := y + 7.5 + float64(l)*laneH
		for _, sp := range runs(d.steps, func(t int) string { return flagKey(st.flag[d.at(sn, t)]) }) {
			s.rect(xOf(sp.from), ly, math.Max(xOf(sp.to)-xOf(sp.from), 1), laneH-0.4, strategyColor(l), "", "")
		}
	}
}

func smokeKey(smoke bool) string {
	if smoke {
		return "smoke"
	}
	return ""
}

func flagKey(flag bool) string {
	if flag {
		return "x"
	}
	return ""
}

// sensorSummary is a row's tooltip: the sensor, its faults and how many readings each strategy
// flagged.
func (d *Result) sensorSummary(sn int) string {
	faults := map[string]int{}
	var order []string
	for _, sp := range d.faultSpans(sn) {
		if faults[sp.key] == 0 {
			order = append(order, sp.key)
		}
		faults[sp.key]++
	}
	text := fmt.Sprintf("sensor %s (%s): ", d.sensors[sn], d.names[sn])
	if len(order) == 0 {
		text += "no faults"
	}
	for i, k := range order {
		if i > 0 {
			text += ", "
		}
		text += fmt.Sprintf("%s ×%d", k, faults[k])
	}
	text += "; readings flagged:"
	for i, st := range d.strategies {
		n := 0
		for t := 0; t < d.steps; t++ {
			if st.flag[d.at(sn, t)] {
				n++
			}
		}
		if i > 0 {
			text += ","
		}
		text += fmt.Sprintf(" %s %d", st.name, n)
	}
	return text
}

// ---- time axis ----

// timeAxis draws ticks and labels for steps [from, to) along y.
func timeAxis(s *svg, d *Result, from, to int, left, plotW, y float64) {
	span := d.time(to).Sub(d.time(from))
	tick := time.Hour
	for _, c := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour} {
		tick = c
		if span/c <= 12 {
			break
		}
	}
	s.line(left, y, left+plotW, y, "#9ca3af", "")
	first := d.time(from).Truncate(tick)
	if first.Before(d.time(from)) {
		first = first.Add(tick)
	}
	for t := first; !t.After(d.time(to)); t = t.Add(tick) {
		x := left + plotW*float64(t.Sub(d.time(from)))/float64(span)
		label := t.Format("15:04")
		if t.Hour() == 0 && t.Minute() == 0 {
			label = t.Format("Jan 2")
		}
		s.line(x, y, x, y+4, "#9ca3af", "")
		s.text(x, y+17, axisText+` text-anchor="middle"`, label)
	}
}

// ---- one sensor up close ----

// closeUp is the geometry of one sensor's chart: the PM panel on top, a score panel per strategy
// below it, all on the time axis of the example's window.
type closeUp struct {
	d      *Result
	ex     example
	s      *svg
	left   float64
	plotW  float64
	top    float64
	bottom float64
}

const (
	closeUpPMHeight    = 170.0
	closeUpScoreHeight = 62.0
	closeUpGap         = 22.0
)

func (c *closeUp) x(t int) float64 {
	return c.left + c.plotW*(float64(t-c.ex.from)+0.5)/float64(c.ex.to-c.ex.from)
}

// series is the path of vals along the window, y mapping a value to its height.
func (c *closeUp) series(vals []float64, y func(float64) float64) string {
	return polyline(c.ex.from, c.ex.to, c.x, func(t int) float64 {
		if v := vals[c.d.at(c.ex.sensor, t)]; !math.IsNaN(v) {
			return y(v)
		}
		return math.NaN()
	})
}

// sensorChart draws PM2.5 with the channels on a log scale, then one score panel per strategy with
// its threshold, all on the same time axis, with the fault episodes shaded through every panel.
func sensorChart(d *Result, ex example) template.HTML {
	const left, right, top = 70.0, 150.0, 8.0
	panels := float64(len(d.strategies))
	bottom := top + closeUpPMHeight + panels*(closeUpScoreHeight+closeUpGap)
	c := &closeUp{d: d, ex: ex, left: left, plotW: chartWidth - left - right, top: top, bottom: bottom,
		s: newSVG(chartWidth, bottom+30, fmt.Sprintf("PM2.5 and anomaly scores of sensor %s around a %s fault", d.sensors[ex.sensor], ex.kind))}
	c.shadeEpisodes()
	c.pmPanel()
	for l, st := range d.strategies {
		c.scorePanel(st, strategyColor(l), top+closeUpPMHeight+closeUpGap+float64(l)*(closeUpScoreHeight+closeUpGap))
	}
	timeAxis(c.s, d, ex.from, ex.to, left, c.plotW, bottom)
	return c.s.html()
}

// shadeEpisodes shades the episodes through all panels, each labelled with its kind; a label that
// would run into the one before it goes a line lower.
func (c *closeUp) shadeEpisodes() {
	const lineH, charW = 12.0, 6.6 // 11-unit bold text
	stepW := c.plotW / float64(c.ex.to-c.ex.from)
	var ends []float64 // per label line, where its last label ends
	for _, sp := range c.ex.episodesInRange {
		x0, x1 := c.x(sp.from)-stepW/2, c.x(sp.to-1)+stepW/2
		colour := kindColor(purpleair.FaultKind(sp.key))
		c.s.rect(x0, c.top, math.Max(x1-x0, 2), c.bottom-c.top, colour, ` opacity="0.16"`, "")
		line := slices.IndexFunc(ends, func(end float64) bool { return end < x0+3 })
		if line < 0 {
			line = len(ends)
			ends = append(ends, 0)
		}
		ends[line] = x0 + 3 + charW*float64(len(sp.key)) + 4
		c.s.text(x0+3, c.top+12+lineH*float64(line), attr(`font-size="11" font-weight="600" fill="%s"`, colour), sp.key)
	}
}

// pmPanel draws PM2.5 and the A and B channels on a log scale, and marks missing readings.
func (c *closeUp) pmPanel() {
	d, ex := c.d, c.ex
	pm25 := d.features[1]
	vmax := 1.0
	for t := ex.from; t < ex.to; t++ {
		i := d.at(ex.sensor, t)
		for _, v := range []float64{pm25[i], d.chanA[i], d.chanB[i]} {
			if !math.IsNaN(v) {
				vmax = math.Max(vmax, v)
			}
		}
	}
	yPM := logAxis(c.s, c.left, c.plotW, c.top, closeUpPMHeight, vmax)
	c.s.text(14, c.top+closeUpPMHeight/2, attr(`font-size="11.5" fill="#374151" transform="rotate(-90 14 %s)" text-anchor="middle"`, num(c.top+closeUpPMHeight/2)), "PM2.5 µg/m³ (log)")
	c.s.path(c.series(d.chanA, yPM), "#f97316", 0.9, ` opacity="0.8"`)
	c.s.path(c.series(d.chanB, yPM), "#0ea5e9", 0.9, ` opacity="0.8"`)
	c.s.path(c.series(pm25, yPM), "#111827", 1.6, "")
	// Missing readings: small grey marks on the baseline.
	for t := ex.from; t < ex.to; t++ {
		if math.IsNaN(pm25[d.at(ex.sensor, t)]) {
			c.s.rect(c.x(t)-1, c.top+closeUpPMHeight-5, 2, 5, "#9ca3af", "", "")
		}
	}
	// The key sits right of the plot, where no episode's label or reading runs under it.
	key := lineKey{s: c.s, x: c.left + c.plotW + 8, y: c.top + 12}
	key.add("#111827", ` stroke-width="1.6"`, "pm2.5_cf_1")
	key.add("#f97316", "", "channel A")
	key.add("#0ea5e9", "", "channel B")
}

// logAxis draws the gridlines and labels of a log scale from 0 to at least vmax over [top,
// top+height] and returns the value → y mapping. The scale is log10(1 + v), so that a reading of 0
// (clean air) sits on the baseline instead of at minus infinity; the baseline gets no label, since
// a log axis has no 0. The labels are the decades, then as many of 2 and 5 times them as fit.
func logAxis(s *svg, left, plotW, top, height, vmax float64) func(float64) float64 {
	lmax := math.Ceil(math.Log10(1 + vmax))
	y := func(v float64) float64 { return top + height - height*math.Log10(1+math.Max(v, 0))/lmax }
	for _, v := range logTicks(math.Pow(10, lmax), y) {
		stroke := "#f1f3f6"
		if v == math.Pow(10, math.Round(math.Log10(v))) {
			stroke = "#e5e7eb"
		}
		s.line(left, y(v), left+plotW, y(v), stroke, "")
		s.text(left-6, y(v)+4, axisText+` text-anchor="end"`, logLabel(v))
	}
	return y
}

// logTicks are the decades from 1 to top, then each of 2 and 5 times a decade that keeps labels
// at least minLabelGap apart where y puts them. Below 1 µg/m³ the scale is too short to label.
func logTicks(top float64, y func(float64) float64) []float64 {
	const minLabelGap = 14.0
	var ticks []float64
	for decade := 1.0; decade <= top; decade *= 10 {
		ticks = append(ticks, decade)
	}
	for decade := 1.0; decade < top; decade *= 10 {
		for _, m := range []float64{2, 5} {
			v := m * decade
			if !slices.ContainsFunc(ticks, func(u float64) bool { return math.Abs(y(u)-y(v)) < minLabelGap }) {
				ticks = append(ticks, v)
			}
		}
	}
	slices.Sort(ticks)
	return ticks
}

// logLabel prints a tick value readably: 1, 20, 500, 1k, 20k.
func logLabel(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%gk", v/1000)
	}
	return fmt.Sprintf("%g", v)
}

// scorePanel draws one strategy's score at y0 with the boundary its flags are drawn at, flagged
// readings as dots (the preset's air verdicts amber) and, on the fleet panel, the alert rule's line.
// The panel's title sits above it and the key to its lines right of it, where no score hides them.
func (c *closeUp) scorePanel(st *strategy, colour string, y0 float64) {
	d, ex, s := c.d, c.ex, c.s
	yS := func(v float64) float64 {
		return y0 + closeUpScoreHeight - closeUpScoreHeight*math.Min(math.Max(v, 0), 1)
	}
	s.rect(c.left, y0, c.plotW, closeUpScoreHeight, "none", ` stroke="#e5e7eb"`, "")
	for _, v := range []float64{0, 0.5, 1} {
		s.text(c.left-6, yS(v)+4, axisText+` text-anchor="end"`, num(v))
	}
	s.text(c.left, y0-4, attr(`font-size="11.5" font-weight="600" fill="%s"`, colour), st.name+" "+st.scoreName)
	key := lineKey{s: s, x: c.left + c.plotW + 8, y: y0 + 12}
	if path, label := c.thresholdPath(st, yS); path != "" {
		s.path(path, thresholdColor, 1, thresholdDash)
		key.add(thresholdColor, thresholdDash, label)
	}
	if st.name == "batch fleet" {
		y := yS(ruleThreshold)
		s.line(c.left, y, c.left+c.plotW, y, ruleColor, ruleDash)
		key.add(ruleColor, ruleDash, fmt.Sprintf("alert rule > %g", ruleThreshold))
	}
	s.path(c.series(st.score, yS), colour, 1.3, "")
	for t := ex.from; t < ex.to; t++ {
		i := d.at(ex.sensor, t)
		switch {
		case st.flag[i]:
			s.circle(c.x(t), yS(st.score[i]), 2.6, flagColor)
		case st.kind != nil && st.kind[i] == qa.KindAir:
			s.circle(c.x(t), yS(st.score[i]), 2.6, airColor)
		}
	}
}

const (
	thresholdDash = ` stroke-dasharray="4 3" opacity="0.8"`
	ruleDash      = ` stroke-dasharray="1 2" stroke-width="1.4"`
)

// thresholdPath is where st starts flagging, and its name: one level for a detector with a fixed
// threshold, the forest's offset (per sensor in series mode, per step in fleet mode) for the batch
// strategies.
func (c *closeUp) thresholdPath(st *strategy, yS func(float64) float64) (path, label string) {
	switch {
	case !math.IsNaN(st.threshold):
		return fmt.Sprintf("M%s,%sH%s", num(c.left), num(yS(st.threshold)), num(c.left+c.plotW)), fmt.Sprintf("threshold %g", st.threshold)
	case st.thresholds != nil:
		return c.series(st.thresholds, yS), "forest threshold"
	}
	return "", ""
}

// lineKey stacks a key to a panel's lines: a sample of each line's stroke and its name.
type lineKey struct {
	s    *svg
	x, y float64
}

func (k *lineKey) add(colour, attrs, label string) {
	k.s.line(k.x, k.y-4, k.x+16, k.y-4, colour, attrs)
	k.s.text(k.x+20, k.y, attr(`font-size="11" fill="%s"`, colour), label)
	k.y += 16
}
