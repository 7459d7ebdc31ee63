package demo

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// precisionNote and reasonNote explain the preset table's columns, in the terminal and in the
// report.
const (
	precisionNote = "precision*: of all the preset's sensor flags that give one of the reasons this kind expects, the share that fell on a faulty reading (of any kind) — when it says \"stale\", how often something was wrong."
	reasonNote    = "right reason: of this kind's readings flagged sensor, the share whose reason is one the kind expects (spike: spike or out_of_range; stuck_high and env_sentinel: out_of_range; flatline: flatline; dropout: missing; ab_divergence: ab_divergence; drift: drift — ab_divergence counts as wrong; disconnect: stale)."
)

// Print writes what each strategy flagged against the injected faults, as text tables.
func (d *Result) Print(w io.Writer) {
	d.printHeader(w)
	d.printStrategies(w)
	if p := presetEval(d.evals); p != nil {
		printPreset(w, *p)
	}
	if d.evals[0].smoke.readings > 0 {
		d.printSmoke(w)
	}
	fmt.Fprintln(w, "\nEvery strategy, per fault kind: episodes with at least one flag, and the share of faulty readings flagged:")
	fmt.Fprintln(w)
	d.printScoreTable(w)
	d.printSummary(w)
	if fleet := d.strategy("batch fleet"); fleet != nil {
		d.printAlertRule(w, fleet)
	}
}

func (d *Result) printHeader(w io.Writer) {
	o, all := d.opt, d.evals[0].all
	fmt.Fprintf(w, "Hazewatch demo: %d simulated sensors × %s at a %s step (seed %d) = %d readings, %d faulty (%.1f%%) in %d episodes\n",
		o.Sensors, fmtHours(o.Hours), o.Step, o.Seed, d.readings(), all.readings, 100*float64(all.readings)/float64(d.readings()), all.episodes)
	fmt.Fprintf(w, "%s profile; %s\n", o.Profile, d.smokeSummary())
	fmt.Fprintf(w, "finished in %s\n\n", d.Elapsed.Round(10*time.Millisecond))
}

func (d *Result) printStrategies(w io.Writer) {
	for _, e := range d.evals {
		fmt.Fprintf(w, "%-16s %s: flagged %d readings on %d sensors in %s\n", e.s.name, e.s.title, e.all.flagged, e.sensor, e.s.elapsed.Round(time.Millisecond))
		if e.s.kind != nil {
			fmt.Fprintf(w, "%-16s and %d readings as the air\n", "", e.airFlags)
		}
		for _, n := range e.s.notices {
			fmt.Fprintf(w, "%-16s note: %s\n", "", n)
		}
	}
}

func printPreset(w io.Writer, e evaluation) {
	fmt.Fprintf(w, "\nThe %s, per fault kind (sensor flags against the injected faults):\n\n", e.s.name)
	const row = "%-14s %8s %8s %16s %7s %11s %13s  %s\n"
	fmt.Fprintf(w, row, "fault", "episodes", "readings", "episodes flagged", "recall", "precision*", "right reason", "reasons given")
	for _, k := range e.kinds {
		fmt.Fprintf(w, row, k.kind, fmt.Sprint(k.episodes), fmt.Sprint(k.readings), fmt.Sprintf("%d/%d", k.detected, k.episodes),
			pct(k.recall()), pct(k.reasonPrecision()), pct(k.reasonShare()), reasonList(k.reasons))
	}
	a := e.all
	fmt.Fprintf(w, row, "all faults", fmt.Sprint(a.episodes), fmt.Sprint(a.readings), fmt.Sprintf("%d/%d", a.detected, a.episodes),
		pct(a.recall()), pct(a.precision()), pct(a.reasonShare()), reasonList(a.reasons))
	fmt.Fprintf(w, "\n  %s\n  %s\n", precisionNote, reasonNote)
	fmt.Fprintf(w, "  False alarms (sensor flags on clean readings) by reason: %s\n", orNone(reasonList(e.falseReasons)))
}

func (d *Result) printSmoke(w io.Writer) {
	fmt.Fprintf(w, "\nSmoke: %d readings under a plume on sensors without a fault at the time:\n", d.evals[0].smoke.readings)
	for _, e := range d.evals {
		fmt.Fprintf(w, "  %-16s %s flagged", e.s.name, pct(ratio(e.smoke.flagged, e.smoke.readings)))
		if e.s.kind != nil {
			fmt.Fprintf(w, " as a sensor fault (%s), %s as the air", orNone(reasonList(e.smoke.reasons)), pct(ratio(e.smoke.air, e.smoke.readings)))
		}
		fmt.Fprintln(w)
	}
}

// printScoreTable prints the per-kind comparison with a header line naming each strategy above its
// two columns.
func (d *Result) printScoreTable(w io.Writer) {
	const cell = "%9s %7s"
	group := len(fmt.Sprintf(cell, "", ""))
	var h1, h2 strings.Builder
	fmt.Fprintf(&h1, "%-14s %8s %8s", "", "", "")
	fmt.Fprintf(&h2, "%-14s %8s %8s", "fault", "episodes", "readings")
	for _, e := range d.evals {
		name := e.s.name
		pad := max(0, group-len(name))
		fmt.Fprintf(&h1, " | %s%s%s", strings.Repeat("─", pad/2), name, strings.Repeat("─", pad-pad/2))
		fmt.Fprintf(&h2, " | "+cell, "episodes", "recall")
	}
	fmt.Fprintln(w, h1.String())
	fmt.Fprintln(w, h2.String())
	for _, r := range d.kindRows() {
		k0 := r.get(d.evals[0])
		fmt.Fprintf(w, "%-14s %8d %8d", r.label, k0.episodes, k0.readings)
		for _, e := range d.evals {
			k := r.get(e)
			fmt.Fprintf(w, " | "+cell, fmt.Sprintf("%d/%d", k.detected, k.episodes), pct(k.recall()))
		}
		fmt.Fprintln(w)
	}
}

// kindRow is one row of the per-kind tables and charts: a fault kind, or all faults.
type kindRow struct {
	label string
	kind  purpleair.FaultKind // "" for all faults
	get   func(e evaluation) kindScore
}

// kindRows are the rows of the per-kind comparisons: each kind the simulator draws from, then all
// faults.
func (d *Result) kindRows() []kindRow {
	rows := make([]kindRow, 0, len(d.kinds)+1)
	for k, kind := range d.kinds {
		rows = append(rows, kindRow{string(kind), kind, func(e evaluation) kindScore { return e.kinds[k] }})
	}
	return append(rows, kindRow{"all faults", "", func(e evaluation) kindScore { return e.all }})
}

func (d *Result) printSummary(w io.Writer) {
	fmt.Fprintln(w, "\nSummary lines (precision: the share of flags on faulty readings, smoke counting as clean; the preset's flags are its sensor flags):")
	for _, e := range d.evals {
		fmt.Fprintf(w, "%s: precision %s recall %s (%d of %d faulty readings; %d false alarms among %d clean readings)\n",
			e.s.name, pct(e.all.precision()), pct(e.all.recall()), e.all.caught, e.all.readings, e.all.falseFlags, e.clean)
	}
}

// ruleScore is what the provisioned batch alert rule would have done on the fleet's scores: all
// faults, and stuck_high, the fault it is meant to page on.
func (d *Result) ruleScore(fleet *strategy) (all, stuck kindScore) {
	all, kinds, _ := confusion(d.truth, d.ruleFiring(fleet.score), nil, d.steps)
	return all, kinds[slices.Index(purpleair.RealisticFaultKinds, purpleair.FaultStuckHigh)]
}

func (d *Result) printAlertRule(w io.Writer, fleet *strategy) {
	all, stuck := d.ruleScore(fleet)
	fmt.Fprintf(w, "\nThe batch alert rule (fleet score > %g at %d steps running, provisioning/alerting/rules.yaml) would be\n", ruleThreshold, ruleSteps)
	fmt.Fprintf(w, "firing at %d readings: %d on faulty readings, %d on clean ones; it caught %d of %d stuck_high episodes\n",
		all.flagged, all.caught, all.falseFlags, stuck.detected, stuck.episodes)
	fmt.Fprintln(w, "(it pages on gross faults only, and a threshold measured for this fleet size: see the README).")
}

// smokeSummary says how much smoke the run had.
func (d *Result) smokeSummary() string {
	n := 0
	for _, s := range d.smoke {
		if s {
			n++
		}
	}
	if n == 0 {
		return "no smoke"
	}
	return fmt.Sprintf("smoke over %d sensors (%d readings, %d of them on sensors without a fault)",
		d.sensorsWhere(func(i int) bool { return d.smoke[i] }), n, d.evals[0].smoke.readings)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func fmtHours(h float64) string {
	if h >= 24 && h == math.Trunc(h) && int(h)%24 == 0 {
		if h == 24 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", int(h)/24)
	}
	return fmt.Sprintf("%g h", h)
}
