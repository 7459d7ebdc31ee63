package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// The report is one self-contained HTML file: inline CSS and SVG drawn here, no script and nothing
// fetched, so it opens anywhere — offline, from a CI artifact, attached to a mail.

var strategyColors = []string{"#2563eb", "#d97706", "#7c3aed", "#0f766e"}

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

// smokeColor shades smoke (the air, not a fault); airColor marks the preset's air flags.
const (
	smokeColor = "#94a3b8"
	airColor   = "#f59e0b"
)

const reportCSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;margin:0;background:#f8fafc}
main{max-width:1240px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 8px}h3{font-size:15px;margin:22px 0 4px}
p.lead{color:#4b5563;margin:0 0 18px}
.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{flex:1 1 300px;background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:14px 16px;border-top:5px solid var(--c)}
.card h3{margin:0 0 2px}.card .what{color:#6b7280;font-size:12.5px;min-height:34px}
.card .nums{display:flex;gap:18px;margin-top:8px}.card .num{font-size:26px;font-weight:650}.card .lbl{font-size:12px;color:#6b7280}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:4px 9px;text-align:right}th{background:#f1f5f9}td:first-child,th:first-child{text-align:left}
tr.total td{font-weight:650;background:#f8fafc}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
figure{margin:10px 0 0;background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:10px 12px}
figcaption{color:#4b5563;font-size:12.5px;margin-top:4px}
svg{display:block;width:100%;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.note{color:#6b7280;font-size:12.5px}
code{background:#eef2f7;padding:1px 4px;border-radius:4px}
`

// writeReport writes the demo's report as one HTML document.
func writeReport(w io.Writer, d *demoRun, evals []evaluation) error {
	b := bufio.NewWriter(w)
	o := d.opt
	end := d.time(d.steps - 1)
	fmt.Fprintf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Hazewatch demo report</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", reportCSS)
	fmt.Fprintf(b, "<h1>Hazewatch demo: which faults each detector catches</h1>\n")
	fmt.Fprintf(b, "<p class=\"lead\">%d simulated PurpleAir sensors (%s profile), %s of readings every %s (%s – %s UTC, seed %d), with %d injected fault episodes covering %d of %d readings (%.1f%%); %s. "+
		"Every reading went through the PurpleAir QA detector (the preset), the streaming detector (the Telegraf processor) and both batch modes of the Grafana datasource's Isolation Forest; flags are compared with the faults the simulator injected.</p>\n",
		o.sensors, esc(o.profile), esc(fmtHours(o.hours)), o.step, d.start.Format("2006-01-02 15:04"), end.Format("2006-01-02 15:04"), o.seed,
		evals[0].all.episodes, evals[0].all.readings, o.sensors*d.steps, 100*float64(evals[0].all.readings)/float64(o.sensors*d.steps), esc(smokeSummary(d, evals[0])))

	// Cards: one per strategy.
	b.WriteString("<div class=\"cards\">\n")
	for i, e := range evals {
		fmt.Fprintf(b, "<div class=\"card\" style=\"--c:%s\"><h3>%s</h3><div class=\"what\">%s</div><div class=\"nums\">"+
			"<div><div class=\"num\">%s</div><div class=\"lbl\">precision</div></div>"+
			"<div><div class=\"num\">%s</div><div class=\"lbl\">recall (readings)</div></div>"+
			"<div><div class=\"num\">%d/%d</div><div class=\"lbl\">episodes detected</div></div>"+
			"<div><div class=\"num\">%d</div><div class=\"lbl\">readings flagged</div></div>"+
			"<div><div class=\"num\">%s</div><div class=\"lbl\">smoke flagged</div></div></div></div>\n",
			strategyColors[i%len(strategyColors)], esc(e.s.name), esc(e.s.title), pct(e.all.precision()), pct(e.all.recall()),
			e.all.detected, e.all.episodes, e.all.flagged, pct(ratio(e.smoke.flagged, e.smoke.readings)))
	}
	b.WriteString("</div>\n")

	b.WriteString("<h2>Recall per fault kind</h2>\n<figure>\n")
	b.WriteString(recallChart(d, evals))
	b.WriteString("<figcaption>Share of each kind's faulty readings that were flagged (solid bars), and share of its episodes with at least one flagged reading (outlined bars).</figcaption>\n</figure>\n")

	if p := presetEval(evals); p != nil {
		fmt.Fprintf(b, "<h2>The %s: what it flagged and why</h2>\n", esc(p.s.name))
		writePresetTable(b, *p)
		fmt.Fprintf(b, "<p class=\"note\">Sensor flags only (the preset's air flags are in the smoke table). Episodes flagged: episodes with at least one reading flagged sensor. Recall: the share of the kind's readings flagged sensor. %s %s The all-faults row gives the overall precision of sensor flags (the share on faulty readings, smoke counting as clean). False alarms (sensor flags on clean readings) by reason: %s.</p>\n",
			esc(precisionNote), esc(reasonNote), esc(orNone(reasonList(p.falseReasons))))
	}
	if evals[0].smoke.readings > 0 {
		b.WriteString("<h2>Smoke: the air, not a fault</h2>\n")
		writeSmokeTable(b, evals)
		b.WriteString("<p class=\"note\">Readings under a smoke plume on sensors without a fault at the time: both channels rise together, and so do the neighbours'. A flag there is a false alarm for a detector of sensor faults; the preset may instead call it the air.</p>\n")
	}

	b.WriteString("<h2>Every strategy per fault kind</h2>\n")
	writeScoreTable(b, d, evals)
	b.WriteString("<p class=\"note\">Reading by reading. Episodes: episodes with at least one flagged reading (the preset: flagged sensor). Recall: the share of the kind's readings flagged. The last row's precision is the share of all flags that fell on faulty readings, smoke counting as clean. The reference strategies give no reason, so no per-kind precision can be said of them: a flag is not about any kind.</p>\n")

	b.WriteString("<h2>The fleet at a glance</h2>\n<figure>\n")
	b.WriteString(fleetChart(d))
	b.WriteString("<figcaption>One row per sensor. Shaded: injected faults, coloured by kind. Ticks below each row: readings flagged by each detector, in its colour (top to bottom: ")
	for i, e := range evals {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "<span class=\"swatch\" style=\"background:%s\"></span>%s", strategyColors[i%len(strategyColors)], esc(e.s.name))
	}
	b.WriteString(").</figcaption>\n</figure>\n")

	b.WriteString("<h2>Faulty sensors up close</h2>\n<p class=\"note\">One sensor per fault kind, around its longest episode of that kind. Top: PM2.5 (CF=1; thin lines are the A and B laser channels), on a log scale. Below: each detector's score, flagged readings as dots; the streaming detector flags above its threshold of 0.7, each Isolation Forest above its own fitted offset.</p>\n")
	for _, ex := range pickExamples(d) {
		fmt.Fprintf(b, "<h3>Sensor %s (%s): %s</h3>\n<figure>\n", esc(d.sensors[ex.sensor]), esc(d.names[ex.sensor]), esc(strings.ReplaceAll(string(ex.kind), "_", " ")))
		b.WriteString(sensorChart(d, ex))
		fmt.Fprintf(b, "<figcaption>%s</figcaption>\n</figure>\n", esc(exampleCaption(d, ex)))
	}

	b.WriteString("<h2>Reading the results</h2>\n<p class=\"note\">The preset knows what a PurpleAir sensor is: two laser channels that should agree, an environment sensor with its own failure values, a last_seen that should advance, neighbours that see the same air. Its checks name the fault (the reason), and a rise that both channels and the neighbours share is called the air, not the sensor. The reference detectors know none of that. ")
	b.WriteString("They score one reading at a time from its values, so they catch what puts a reading outside what is normal for the sensor or the fleet — spikes, a saturated channel. Faults that keep readings within the normal range — a flat-lined sensor, fields that stop arriving, a slow drift, a channel that reads a few times too low — leave little for them to see; they call for rules on staleness and on the share of missing readings, which the dashboard also shows. The streaming detector learns as it goes: after a long fault its reference window holds the faulty readings, so normal readings score higher for a while (see the stuck channel above). Series mode's false alarms tend to bunch where the whole region's PM peaks: against its own history, every sensor's highest readings look unusual. Fleet mode flags the most unusual sensors at every step, so a sensor that always reads higher or lower than the rest collects flags without a fault.</p>\n")

	b.WriteString("<h2>How this was made</h2>\n<ul class=\"note\">\n")
	fmt.Fprintf(b, "<li>Data: <code>pkg/purpleair</code>'s fleet simulator (seed %d, fault rate %g, profile %s; the Telegraf input runs its basic profile with <code>source = \"simulate\"</code>). The realistic profile's faults follow the documented failures of real sensors (<code>pkg/purpleair/simulator_realistic.go</code>).</li>\n", o.seed, o.faultRate, esc(o.profile))
	b.WriteString("<li>Preset: <code>qa.New(qa.DefaultOptions())</code>, then <code>Observe</code> on every reading in time order, sensors interleaved, keyed by sensor_index, from the API row's pm2.5_cf_1_a/_b, pm2.5_cf_1, pm2.5_atm, humidity, temperature, pressure, last_seen, latitude and longitude.</li>\n")
	fmt.Fprintf(b, "<li>Streaming: the <code>anomaly</code> processor from Telegraf's registry (<code>telegraf-processor</code>), configured as <code>deploy/telegraf/anomaly.conf</code>: fields %s, <code>key_tags = [\"sensor_index\"]</code>, window_size %d, threshold %g, seed %d, running-mean imputation; fed the metrics the input plugin emits.</li>\n",
		esc(strings.Join(demoFeatures, ", ")), demoStreamWindow, demoStreamThreshold, demoStreamSeed)
	fmt.Fprintf(b, "<li>Batch: the Grafana datasource's query engine (<code>grafana-datasource/pkg/engine</code>) on the dashboard's batch queries: Isolation Forest (%d trees, max_samples auto, contamination %s, seed %d) after KNN imputation (k = %d), over the same fields, in series mode (one forest per sensor) and fleet mode (one forest per step).</li>\n",
		demoForestTrees, contaminationString(o.contamination), demoForestSeed, demoKNNNeighbors)
	fmt.Fprintf(b, "<li>Command: <code>hazewatch demo -sensors %d -hours %g -step %s -seed %d -fault-rate %g -profile %s -smoke-episodes %d -contamination %s</code></li>\n</ul>\n",
		o.sensors, o.hours, o.step, o.seed, o.faultRate, esc(o.profile), o.smoke, contaminationString(o.contamination))
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.Flush()
}

func esc(s string) string { return html.EscapeString(s) }

func contaminationString(c float64) string {
	if c == 0 {
		return "auto"
	}
	return fmt.Sprintf("%g", c)
}

func writeScoreTable(b *bufio.Writer, d *demoRun, evals []evaluation) {
	b.WriteString("<table>\n<tr><th rowspan=\"2\">fault</th><th rowspan=\"2\">episodes</th><th rowspan=\"2\">readings</th>")
	for i, e := range evals {
		fmt.Fprintf(b, "<th colspan=\"2\"><span class=\"swatch\" style=\"background:%s\"></span>%s</th>", strategyColors[i%len(strategyColors)], esc(e.s.name))
	}
	b.WriteString("</tr>\n<tr>")
	for range evals {
		b.WriteString("<th>episodes</th><th>recall</th>")
	}
	b.WriteString("</tr>\n")
	row := func(label, swatch, class string, get func(e evaluation) kindScore) {
		k0 := get(evals[0])
		fmt.Fprintf(b, "<tr class=\"%s\"><td>", class)
		if swatch != "" {
			fmt.Fprintf(b, "<span class=\"swatch\" style=\"background:%s\"></span>", swatch)
		}
		fmt.Fprintf(b, "%s</td><td>%d</td><td>%d</td>", esc(label), k0.episodes, k0.readings)
		for _, e := range evals {
			k := get(e)
			fmt.Fprintf(b, "<td>%d/%d</td><td>%s</td>", k.detected, k.episodes, pct(k.recall()))
		}
		b.WriteString("</tr>\n")
	}
	for k, kind := range d.kinds {
		row(string(kind), faultColors[kind], "", func(e evaluation) kindScore { return e.kinds[k] })
	}
	row("all faults", "", "total", func(e evaluation) kindScore { return e.all })
	b.WriteString("<tr class=\"total\"><td>precision</td><td></td><td></td>")
	for _, e := range evals {
		fmt.Fprintf(b, "<td colspan=\"2\">%s</td>", pct(e.all.precision()))
	}
	b.WriteString("</tr>\n</table>\n")
}

// writePresetTable is the preset's per-kind table: episodes and readings flagged sensor, the
// precision of the kind's reasons, the share with the right reason, and the reasons given.
func writePresetTable(b *bufio.Writer, e evaluation) {
	b.WriteString("<table>\n<tr><th>fault</th><th>episodes</th><th>readings</th><th>episodes flagged</th><th>recall</th><th>precision*</th><th>right reason</th><th>expected</th><th>reasons given</th></tr>\n")
	for _, k := range e.kinds {
		fmt.Fprintf(b, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>%s</td><td>%d</td><td>%d</td><td>%d/%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			faultColors[k.kind], esc(string(k.kind)), k.episodes, k.readings, k.detected, k.episodes, pct(k.recall()), pct(k.reasonPrecision()), pct(k.reasonShare()),
			esc(expectedList(k.kind)), esc(reasonList(k.reasons)))
	}
	a := e.all
	fmt.Fprintf(b, "<tr class=\"total\"><td>all faults</td><td>%d</td><td>%d</td><td>%d/%d</td><td>%s</td><td>%s</td><td>%s</td><td></td><td>%s</td></tr>\n</table>\n",
		a.episodes, a.readings, a.detected, a.episodes, pct(a.recall()), pct(a.precision()), pct(a.reasonShare()), esc(reasonList(a.reasons)))
}

// writeSmokeTable says, per strategy, how much of the smoke it flagged (and, for the preset, how
// much it called the air).
func writeSmokeTable(b *bufio.Writer, evals []evaluation) {
	b.WriteString("<table>\n<tr><th>strategy</th><th>smoke readings</th><th>flagged (a sensor fault)</th><th>flagged as the air</th><th>reasons given</th></tr>\n")
	for i, e := range evals {
		air, reasons := "–", "–"
		if e.s.kind != nil {
			air, reasons = pct(ratio(e.smoke.air, e.smoke.readings)), orNone(reasonList(e.smoke.reasons))
		}
		fmt.Fprintf(b, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>%s</td><td>%d</td><td>%s (%d)</td><td>%s</td><td>%s</td></tr>\n",
			strategyColors[i%len(strategyColors)], esc(e.s.name), e.smoke.readings, pct(ratio(e.smoke.flagged, e.smoke.readings)), e.smoke.flagged, air, esc(reasons))
	}
	b.WriteString("</table>\n")
}

// svgOpen starts an SVG element with a white background; width and height are in user units.
func svgOpen(b *strings.Builder, w, h float64, label string) {
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %s %s\" width=\"%s\" height=\"%s\" role=\"img\" aria-label=\"%s\">\n",
		num(w), num(h), num(w), num(h), esc(label))
}

// num prints a coordinate compactly (two decimals at most).
func num(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// recallChart is a grouped horizontal bar chart: for each fault kind, one bar per strategy.
func recallChart(d *demoRun, evals []evaluation) string {
	var b strings.Builder
	const (
		left, right, top = 130.0, 48.0, 34.0
		width            = 1150.0
		barH, gap        = 11.0, 14.0
	)
	groupH := float64(len(evals))*barH + gap
	rows := len(d.kinds) + 1
	height := top + float64(rows)*groupH + 26
	plotW := width - left - right
	svgOpen(&b, width, height, "Recall per fault kind for each detector")
	// Legend.
	x := left
	for i, e := range evals {
		fmt.Fprintf(&b, "<rect x=\"%s\" y=\"8\" width=\"12\" height=\"12\" rx=\"2\" fill=\"%s\"/><text x=\"%s\" y=\"18\" font-size=\"12.5\">%s</text>\n",
			num(x), strategyColors[i%len(strategyColors)], num(x+17), esc(e.s.name))
		x += 40 + 7.5*float64(len(e.s.name))
	}
	// Grid.
	for p := 0; p <= 100; p += 20 {
		gx := left + plotW*float64(p)/100
		fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#e5e7eb\"/><text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"#6b7280\" text-anchor=\"middle\">%d%%</text>\n",
			num(gx), num(top-4), num(gx), num(height-22), num(gx), num(height-8), p)
	}
	for r := 0; r < rows; r++ {
		y0 := top + float64(r)*groupH
		label := "all faults"
		get := func(e evaluation) kindScore { return e.all }
		if r < len(d.kinds) {
			k := r
			label = string(d.kinds[k])
			get = func(e evaluation) kindScore { return e.kinds[k] }
		}
		weight := ""
		if r == rows-1 {
			weight = " font-weight=\"650\""
		}
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"12.5\" text-anchor=\"end\"%s>%s</text>\n", num(left-10), num(y0+float64(len(evals))*barH/2+4), weight, esc(label))
		for i, e := range evals {
			k := get(e)
			by := y0 + float64(i)*barH
			c := strategyColors[i%len(strategyColors)]
			if er := k.episodeRecall(); !math.IsNaN(er) {
				fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1\" opacity=\"0.7\"/>\n",
					num(left), num(by+1), num(plotW*er), num(barH-2), c)
			}
			rc := k.recall()
			if math.IsNaN(rc) {
				fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"10.5\" fill=\"#9ca3af\">no such fault</text>\n", num(left+4), num(by+barH-2))
				continue
			}
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>%s, %s: recall %s (%d/%d readings), %d/%d episodes</title></rect>\n",
				num(left), num(by+1), num(math.Max(plotW*rc, 0.5)), num(barH-2), c, esc(e.s.name), esc(label), pct(rc), k.caught, k.readings, k.detected, k.episodes)
			fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"10.5\" fill=\"#374151\">%s</text>\n", num(left+plotW*math.Max(rc, k.episodeRecallOr0())+4), num(by+barH-2), pct(rc))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (k kindScore) episodeRecallOr0() float64 {
	if v := k.episodeRecall(); !math.IsNaN(v) {
		return v
	}
	return 0
}

// fleetChart draws one row per sensor: fault spans shaded by kind, and a lane of flag ticks per strategy.
func fleetChart(d *demoRun) string {
	var b strings.Builder
	const (
		left, right, top = 70.0, 20.0, 10.0
		width            = 1150.0
		laneH            = 2.5
	)
	lanes := len(d.strategies)
	rowH := 7 + float64(lanes)*laneH + 3
	n := d.opt.sensors
	height := top + float64(n)*rowH + 42
	plotW := width - left - right
	xOf := func(t int) float64 { return left + plotW*float64(t)/float64(d.steps) }
	svgOpen(&b, width, height, "Fault episodes and flags for every sensor")
	for s := 0; s < n; s++ {
		y := top + float64(s)*rowH
		if s%2 == 0 {
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#f8fafc\"/>\n", num(left), num(y), num(plotW), num(rowH))
		}
		if s%5 == 0 || n <= 20 {
			fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"9.5\" fill=\"#6b7280\" text-anchor=\"end\">%s</text>\n", num(left-6), num(y+rowH-3), esc(d.sensors[s]))
		}
		// Smoke, under the faults: the air, not the sensor.
		for _, sp := range runs(d.steps, func(t int) string {
			if d.smoke[d.at(s, t)] {
				return "smoke"
			}
			return ""
		}) {
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"6\" fill=\"%s\" opacity=\"0.45\"><title>sensor %s: smoke, %s–%s</title></rect>\n",
				num(xOf(sp.from)), num(y+1), num(math.Max(xOf(sp.to)-xOf(sp.from), 1.2)), smokeColor, esc(d.sensors[s]),
				d.time(sp.from).Format("Jan 2 15:04"), d.time(sp.to).Format("15:04"))
		}
		// Fault spans.
		for _, sp := range runs(d.steps, func(t int) string { return faultKey(d.truth[d.at(s, t)]) }) {
			kind := purpleair.FaultKind(sp.key)
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"6\" fill=\"%s\"><title>sensor %s: %s, %s–%s</title></rect>\n",
				num(xOf(sp.from)), num(y+1), num(math.Max(xOf(sp.to)-xOf(sp.from), 1.2)), faultColors[kind], esc(d.sensors[s]), esc(sp.key),
				d.time(sp.from).Format("Jan 2 15:04"), d.time(sp.to).Format("15:04"))
		}
		// Flags.
		for l, st := range d.strategies {
			ly := y + 7.5 + float64(l)*laneH
			for _, sp := range runs(d.steps, func(t int) string {
				if st.flag[d.at(s, t)] {
					return "x"
				}
				return ""
			}) {
				fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n",
					num(xOf(sp.from)), num(ly), num(math.Max(xOf(sp.to)-xOf(sp.from), 1)), num(laneH-0.4), strategyColors[l%len(strategyColors)])
			}
		}
	}
	axisY := top + float64(n)*rowH
	timeAxis(&b, d, 0, d.steps, left, plotW, axisY)
	// Legend of fault kinds, and smoke.
	x := left
	legend := func(colour, label string) {
		fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"12\" height=\"8\" fill=\"%s\"/><text x=\"%s\" y=\"%s\" font-size=\"11.5\">%s</text>\n",
			num(x), num(axisY+26), colour, num(x+16), num(axisY+34), esc(label))
		x += 40 + 6.5*float64(len(label))
	}
	for _, k := range d.kinds {
		legend(faultColors[k], string(k))
	}
	if slices.Contains(d.smoke, true) {
		legend(smokeColor, "smoke (the air)")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func faultKey(k purpleair.FaultKind) string {
	if k == purpleair.FaultNone {
		return ""
	}
	return string(k)
}

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

// timeAxis draws ticks and labels for steps [from, to) along y.
func timeAxis(b *strings.Builder, d *demoRun, from, to int, left, plotW, y float64) {
	span := d.time(to).Sub(d.time(from))
	tick := time.Hour
	for _, c := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour} {
		tick = c
		if span/c <= 12 {
			break
		}
	}
	fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#9ca3af\"/>\n", num(left), num(y), num(left+plotW), num(y))
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
		fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#9ca3af\"/><text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"#4b5563\" text-anchor=\"middle\">%s</text>\n",
			num(x), num(y), num(x), num(y+4), num(x), num(y+16), label)
	}
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
func pickExamples(d *demoRun) []example {
	var out []example
	for _, kind := range d.kinds {
		best := example{sensor: -1}
		bestRank := -1
		for s := 0; s < d.opt.sensors; s++ {
			for _, sp := range runs(d.steps, func(t int) string { return faultKey(d.truth[d.at(s, t)]) }) {
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
		half := max(int(6*time.Hour/d.opt.step), (best.epTo-best.epFrom)*3/2)
		mid := (best.epFrom + best.epTo) / 2
		best.from, best.to = max(0, mid-half), min(d.steps, mid+half)
		for _, sp := range runs(d.steps, func(t int) string { return faultKey(d.truth[d.at(best.sensor, t)]) }) {
			if sp.to > best.from && sp.from < best.to {
				best.episodesInRange = append(best.episodesInRange, span{max(sp.from, best.from), min(sp.to, best.to), sp.key})
			}
		}
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
func (d *demoRun) smokeExample() (example, bool) {
	best, bestN := -1, 0
	for s := 0; s < d.opt.sensors; s++ {
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
	half := max(int(6*time.Hour/d.opt.step), (ex.epTo-ex.epFrom)*3/4)
	mid := (ex.epFrom + ex.epTo) / 2
	ex.from, ex.to = max(0, mid-half), min(d.steps, mid+half)
	ex.episodesInRange = append(ex.episodesInRange, span{max(ex.epFrom, ex.from), min(ex.epTo, ex.to), string(smokeKind)})
	for _, sp := range runs(d.steps, func(t int) string { return faultKey(d.truth[d.at(best, t)]) }) {
		if sp.to > ex.from && sp.from < ex.to {
			ex.episodesInRange = append(ex.episodesInRange, span{max(sp.from, ex.from), min(sp.to, ex.to), sp.key})
		}
	}
	return ex, true
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
func exampleCaption(d *demoRun, ex example) string {
	n := ex.epTo - ex.epFrom
	var c strings.Builder
	if ex.kind == smokeKind {
		fmt.Fprintf(&c, "smoke over this sensor for %d readings, %s to %s UTC: both channels rise together, as at its neighbours. Dots on the preset's panel: red = flagged sensor, amber = flagged the air",
			n, d.time(ex.epFrom).Format("Jan 2 15:04"), d.time(ex.epTo-1).Format("Jan 2 15:04"))
		if ex.from < demoStreamWindow {
			fmt.Fprintf(&c, ". The streaming detector scores nothing during each sensor's first %d readings (its warm-up window)", demoStreamWindow)
		}
		c.WriteString(".")
		return c.String()
	}
	if n == 1 {
		fmt.Fprintf(&c, "%s: one reading at %s UTC", ex.kind, d.time(ex.epFrom).Format("Jan 2 15:04"))
	} else {
		fmt.Fprintf(&c, "%s: %d readings, %s to %s UTC", ex.kind, n, d.time(ex.epFrom).Format("Jan 2 15:04"), d.time(ex.epTo-1).Format("Jan 2 15:04"))
	}
	missing := 0
	for t := ex.epFrom; t < ex.epTo; t++ {
		if math.IsNaN(d.features[1][d.at(ex.sensor, t)]) {
			missing++
		}
	}
	switch ex.kind {
	case purpleair.FaultEnvSentinel:
		c.WriteString("; the environment sensor reported its failure values (humidity 255 %, temperature −224 °F), which the PM chart does not show: PM kept arriving")
	case purpleair.FaultDisconnect:
		c.WriteString("; the API served the sensor's last report again and again, last_seen frozen, so PM2.5 is flat")
	}
	if ex.kind == purpleair.FaultDropout {
		if missing == 0 {
			c.WriteString("; only the environment fields (humidity, temperature, pressure) were missing, PM kept arriving")
		} else {
			fmt.Fprintf(&c, "; PM2.5 missing in %d of them (grey marks)", missing)
		}
	}
	if ex.from < demoStreamWindow {
		fmt.Fprintf(&c, ". The streaming detector scores nothing during each sensor's first %d readings (its warm-up window)", demoStreamWindow)
	}
	c.WriteString(".")
	return c.String()
}

// sensorChart draws PM2.5 with the channels on a log scale, then one score panel per strategy, all on
// the same time axis, with the fault episodes shaded through every panel.
func sensorChart(d *demoRun, ex example) string {
	var b strings.Builder
	const (
		left, right, top = 70.0, 20.0, 8.0
		width            = 1150.0
		pmH, scoreH, gap = 170.0, 62.0, 16.0
	)
	plotW := width - left - right
	panels := len(d.strategies)
	height := top + pmH + float64(panels)*(scoreH+gap) + 30
	steps := ex.to - ex.from
	xOf := func(t int) float64 { return left + plotW*(float64(t-ex.from)+0.5)/float64(steps) }
	svgOpen(&b, width, height, fmt.Sprintf("PM2.5 and anomaly scores of sensor %s around a %s fault", d.sensors[ex.sensor], ex.kind))

	// Shade the episodes through all panels.
	bottom := top + pmH + float64(panels)*(scoreH+gap)
	for _, sp := range ex.episodesInRange {
		x0, x1 := xOf(sp.from)-plotW/float64(steps)/2, xOf(sp.to-1)+plotW/float64(steps)/2
		fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" opacity=\"0.16\"/>\n",
			num(x0), num(top), num(math.Max(x1-x0, 2)), num(bottom-top), kindColor(purpleair.FaultKind(sp.key)))
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"11\" font-weight=\"600\" fill=\"%s\">%s</text>\n",
			num(x0+3), num(top+12), kindColor(purpleair.FaultKind(sp.key)), esc(sp.key))
	}

	// PM panel, log scale: y = log10(1 + v).
	vmax := 1.0
	pm25 := d.features[1]
	for t := ex.from; t < ex.to; t++ {
		i := d.at(ex.sensor, t)
		for _, v := range []float64{pm25[i], d.chanA[i], d.chanB[i]} {
			if !math.IsNaN(v) {
				vmax = math.Max(vmax, v)
			}
		}
	}
	lmax := math.Ceil(math.Log10(1 + vmax))
	yPM := func(v float64) float64 { return top + pmH - pmH*math.Log10(1+math.Max(v, 0))/lmax }
	for p := 0.0; p < lmax; p++ {
		v := 0.0 // the baseline; 1 µg/m³ would sit right above it, so the ticks start at 10
		if p > 0 {
			v = math.Pow(10, p)
		}
		y := yPM(v)
		fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#eef0f3\"/><text x=\"%s\" y=\"%s\" font-size=\"10.5\" fill=\"#6b7280\" text-anchor=\"end\">%s</text>\n",
			num(left), num(y), num(left+plotW), num(y), num(left-6), num(y+3.5), num(v))
	}
	fmt.Fprintf(&b, "<text x=\"12\" y=\"%s\" font-size=\"11\" fill=\"#374151\" transform=\"rotate(-90 12 %s)\" text-anchor=\"middle\">PM2.5 µg/m³</text>\n", num(top+pmH/2), num(top+pmH/2))
	series := func(vals []float64, y func(float64) float64) string {
		var p strings.Builder
		pen := false
		for t := ex.from; t < ex.to; t++ {
			v := vals[d.at(ex.sensor, t)]
			if math.IsNaN(v) {
				pen = false
				continue
			}
			if pen {
				p.WriteString("L")
			} else {
				p.WriteString("M")
			}
			p.WriteString(num(xOf(t)))
			p.WriteByte(',')
			p.WriteString(num(y(v)))
			pen = true
		}
		return p.String()
	}
	fmt.Fprintf(&b, "<path d=\"%s\" fill=\"none\" stroke=\"#f97316\" stroke-width=\"0.9\" opacity=\"0.8\"/>\n", series(d.chanA, yPM))
	fmt.Fprintf(&b, "<path d=\"%s\" fill=\"none\" stroke=\"#0ea5e9\" stroke-width=\"0.9\" opacity=\"0.8\"/>\n", series(d.chanB, yPM))
	fmt.Fprintf(&b, "<path d=\"%s\" fill=\"none\" stroke=\"#111827\" stroke-width=\"1.6\"/>\n", series(pm25, yPM))
	// Missing readings: small grey marks on the baseline.
	for t := ex.from; t < ex.to; t++ {
		if math.IsNaN(pm25[d.at(ex.sensor, t)]) {
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"2\" height=\"5\" fill=\"#9ca3af\"/>\n", num(xOf(t)-1), num(top+pmH-5))
		}
	}
	lx := left + plotW - 330
	fmt.Fprintf(&b, "<g font-size=\"11\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#111827\" stroke-width=\"1.6\"/><text x=\"%s\" y=\"%s\">pm2.5_cf_1</text>"+
		"<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#f97316\"/><text x=\"%s\" y=\"%s\">channel A</text>"+
		"<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#0ea5e9\"/><text x=\"%s\" y=\"%s\">channel B</text></g>\n",
		num(lx), num(top+10), num(lx+18), num(top+10), num(lx+22), num(top+14),
		num(lx+110), num(top+10), num(lx+128), num(top+10), num(lx+132), num(top+14),
		num(lx+210), num(top+10), num(lx+228), num(top+10), num(lx+232), num(top+14))

	// Score panels.
	for l, st := range d.strategies {
		y0 := top + pmH + gap + float64(l)*(scoreH+gap)
		c := strategyColors[l%len(strategyColors)]
		yS := func(v float64) float64 { return y0 + scoreH - scoreH*math.Min(math.Max(v, 0), 1) }
		fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"#e5e7eb\"/>\n", num(left), num(y0), num(plotW), num(scoreH))
		for _, v := range []float64{0, 0.5, 1} {
			fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"#6b7280\" text-anchor=\"end\">%s</text>\n", num(left-6), num(yS(v)+3.5), num(v))
		}
		if !math.IsNaN(st.threshold) {
			fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#dc2626\" stroke-dasharray=\"4 3\" opacity=\"0.7\"/>\n",
				num(left), num(yS(st.threshold)), num(left+plotW), num(yS(st.threshold)))
		}
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-size=\"11\" font-weight=\"600\" fill=\"%s\">%s <tspan font-weight=\"400\" fill=\"#6b7280\">%s</tspan></text>\n",
			num(left+6), num(y0+13), c, esc(st.name), esc(st.scoreName))
		fmt.Fprintf(&b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\"/>\n", series(st.score, yS), c)
		for t := ex.from; t < ex.to; t++ {
			i := d.at(ex.sensor, t)
			switch {
			case st.flag[i]:
				fmt.Fprintf(&b, "<circle cx=\"%s\" cy=\"%s\" r=\"2.6\" fill=\"#dc2626\"/>\n", num(xOf(t)), num(yS(st.score[i])))
			case st.kind != nil && st.kind[i] == qa.KindAir:
				fmt.Fprintf(&b, "<circle cx=\"%s\" cy=\"%s\" r=\"2.6\" fill=\"%s\"/>\n", num(xOf(t)), num(yS(st.score[i])), airColor)
			}
		}
	}
	timeAxis(&b, d, ex.from, ex.to, left, plotW, bottom)
	b.WriteString("</svg>\n")
	return b.String()
}
