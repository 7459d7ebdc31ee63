package demo

import (
	"bufio"
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// The report is one self-contained HTML file: inline CSS and SVG, no script and nothing fetched, so
// it opens anywhere — offline, from a CI artifact, attached to a mail.

//go:embed templates/report.html.tmpl templates/report.css
var templateFiles embed.FS

var reportTemplate = template.Must(template.New("report.html.tmpl").ParseFS(templateFiles, "templates/report.html.tmpl"))

// reportCSS is inlined into the page's <style>.
var reportCSS = func() template.CSS {
	b, err := templateFiles.ReadFile("templates/report.css")
	if err != nil {
		panic(err) // embedded: present at build time or the build fails
	}
	return template.CSS(b)
}()

// WriteReport writes the report as one HTML document.
func (d *Result) WriteReport(w io.Writer) error {
	b := bufio.NewWriter(w)
	if err := reportTemplate.Execute(b, d.reportData()); err != nil {
		return err
	}
	return b.Flush()
}

// reportData is everything the template shows, formatted: the template only lays it out.
type reportData struct {
	CSS        template.CSS
	Lead       string
	Cards      []card
	Recall     template.HTML
	Preset     *presetTable
	Smoke      []smokeRow
	Score      scoreTable
	Rule       ruleSummary
	Strategies []swatch
	Fleet      template.HTML
	Examples   []closeUpView
	How        howMade
}

type swatch struct{ Name, Color string }

type card struct {
	swatch
	Title, Precision, Recall, Episodes, Flagged, Smoke string
}

type presetTable struct {
	Name        string
	Rows        []presetRow
	Total       presetRow
	FalseAlarms string
	Threshold   string // the score from which the preset flags
}

type presetRow struct {
	Label, Color, Episodes, Readings, Detected, Recall, ReasonPrecision, RightReason, Expected, Reasons string
}

type smokeRow struct {
	swatch
	Readings              int
	Flagged, Air, Reasons string
}

// scoreTable is every strategy per fault kind, and the alert rule beside them.
type scoreTable struct {
	Groups    []swatch
	Rows      []scoreRow
	Precision []string
}

type scoreRow struct {
	Label, Color       string
	Total              bool
	Episodes, Readings int
	Cells              []scoreCell
}

type scoreCell struct{ Detected, Recall string }

type ruleSummary struct {
	Threshold                    float64
	Steps                        int
	Firing, Faulty, Clean        int
	StuckDetected, StuckEpisodes int
	Present                      bool
}

type closeUpView struct {
	Sensor, Name, Kind, Caption string
	Chart                       template.HTML
}

type howMade struct {
	Seed                                int64
	FaultRate                           float64
	Profile, Fields, Contamination, Cmd string
	Window                              int
	StreamThreshold                     float64
	StreamSeed, Trees, ForestSeed, KNN  int
}

func (d *Result) reportData() reportData {
	r := reportData{
		CSS:    reportCSS,
		Lead:   d.lead(),
		Recall: recallChart(d),
		Fleet:  fleetChart(d),
	}
	for i, e := range d.evals {
		sw := swatch{e.s.name, strategyColor(i)}
		r.Strategies = append(r.Strategies, sw)
		r.Cards = append(r.Cards, card{sw, e.s.title, pct(e.all.precision()), pct(e.all.recall()),
			fmt.Sprintf("%d/%d", e.all.detected, e.all.episodes), fmt.Sprint(e.all.flagged), pct(ratio(e.smoke.flagged, e.smoke.readings))})
	}
	if p := presetEval(d.evals); p != nil {
		r.Preset = newPresetTable(*p)
	}
	if d.evals[0].smoke.readings > 0 {
		r.Smoke = d.smokeRows()
	}
	r.Score, r.Rule = d.scoreTable()
	for _, ex := range pickExamples(d) {
		r.Examples = append(r.Examples, closeUpView{d.sensors[ex.sensor], d.names[ex.sensor], strings.ReplaceAll(string(ex.kind), "_", " "),
			exampleCaption(d, ex), sensorChart(d, ex)})
	}
	r.How = d.howMade()
	return r
}

func (d *Result) lead() string {
	o, all := d.opt, d.evals[0].all
	return fmt.Sprintf("%d simulated PurpleAir sensors (%s profile), %s of readings every %s (%s – %s UTC, seed %d), with %d injected fault episodes covering %d of %d readings (%.1f%%); %s. "+
		"Every reading went through the PurpleAir QA detector (the preset), the streaming detector (the Telegraf processor) and both batch modes of the Grafana datasource's Isolation Forest; flags are compared with the faults the simulator injected.",
		o.Sensors, o.Profile, fmtHours(o.Hours), o.Step, d.start.Format("2006-01-02 15:04"), d.time(d.steps-1).Format("2006-01-02 15:04"), o.Seed,
		all.episodes, all.readings, d.readings(), 100*float64(all.readings)/float64(d.readings()), d.smokeSummary())
}

func newPresetTable(e evaluation) *presetTable {
	t := &presetTable{Name: e.s.name, FalseAlarms: orNone(reasonList(e.falseReasons)), Threshold: fmt.Sprint(e.s.threshold)}
	for _, k := range e.kinds {
		t.Rows = append(t.Rows, presetRow{string(k.kind), faultColors[k.kind], fmt.Sprint(k.episodes), fmt.Sprint(k.readings),
			fmt.Sprintf("%d/%d", k.detected, k.episodes), pct(k.recall()), pct(k.reasonPrecision()), pct(k.reasonShare()),
			expectedList(k.kind), reasonList(k.reasons)})
	}
	a := e.all
	t.Total = presetRow{"all faults", "", fmt.Sprint(a.episodes), fmt.Sprint(a.readings), fmt.Sprintf("%d/%d", a.detected, a.episodes),
		pct(a.recall()), pct(a.precision()), pct(a.reasonShare()), "", reasonList(a.reasons)}
	return t
}

func (d *Result) smokeRows() []smokeRow {
	var rows []smokeRow
	for i, e := range d.evals {
		air, reasons := "–", "–"
		if e.s.kind != nil {
			air, reasons = pct(ratio(e.smoke.air, e.smoke.readings)), orNone(reasonList(e.smoke.reasons))
		}
		rows = append(rows, smokeRow{swatch{e.s.name, strategyColor(i)}, e.smoke.readings,
			fmt.Sprintf("%s (%d)", pct(ratio(e.smoke.flagged, e.smoke.readings)), e.smoke.flagged), air, reasons})
	}
	return rows
}

// scoreTable lays out every strategy per fault kind and, where there is a fleet strategy, the
// provisioned alert rule on its scores as one more column group.
func (d *Result) scoreTable() (scoreTable, ruleSummary) {
	var t scoreTable
	for i, e := range d.evals {
		t.Groups = append(t.Groups, swatch{e.s.name, strategyColor(i)})
	}
	evals := d.evals
	rule, summary := d.alertRule()
	if rule != nil {
		evals = append(slices.Clip(evals), *rule) // a column of the table, not a strategy of the run
		t.Groups = append(t.Groups, swatch{rule.s.name, ruleColor})
	}
	for _, row := range d.kindRows() {
		k0 := row.get(evals[0])
		r := scoreRow{Label: row.label, Color: faultColors[row.kind], Total: row.kind == "", Episodes: k0.episodes, Readings: k0.readings}
		for _, e := range evals {
			k := row.get(e)
			r.Cells = append(r.Cells, scoreCell{fmt.Sprintf("%d/%d", k.detected, k.episodes), pct(k.recall())})
		}
		t.Rows = append(t.Rows, r)
	}
	for _, e := range evals {
		t.Precision = append(t.Precision, pct(e.all.precision()))
	}
	return t, summary
}

// alertRule evaluates the provisioned batch alert rule on the fleet strategy's scores as if it were
// one more strategy; nil without a fleet strategy.
func (d *Result) alertRule() (*evaluation, ruleSummary) {
	fleet := d.strategy("batch fleet")
	if fleet == nil {
		return nil, ruleSummary{}
	}
	e := d.evaluateStrategy(&strategy{name: "alert rule", flag: d.ruleFiring(fleet.score)})
	all, stuck := d.ruleScore(fleet)
	return &e, ruleSummary{ruleThreshold, ruleSteps, all.flagged, all.caught, all.falseFlags, stuck.detected, stuck.episodes, true}
}

func (d *Result) howMade() howMade {
	o := d.opt
	return howMade{
		Seed: o.Seed, FaultRate: o.FaultRate, Profile: o.Profile, Fields: strings.Join(features, ", "),
		Contamination: contaminationString(o.Contamination),
		Cmd: fmt.Sprintf("hazewatch demo -sensors %d -hours %g -step %s -seed %d -fault-rate %g -profile %s -smoke-episodes %d -contamination %s",
			o.Sensors, o.Hours, o.Step, o.Seed, o.FaultRate, o.Profile, o.SmokeEpisodes, contaminationString(o.Contamination)),
		Window: streamWindow, StreamThreshold: streamThreshold, StreamSeed: streamSeed, Trees: forestTrees, ForestSeed: forestSeed, KNN: knnNeighbors,
	}
}
