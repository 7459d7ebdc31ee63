package demo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// checkReport requires a well-formed, self-contained report: an HTML document with the score table
// and one inline SVG per chart — the recall chart, the fleet chart and one per "Sensor …" heading —
// each SVG strictly well-formed XML with something drawn in it, and nothing that would be fetched.
func checkReport(t *testing.T, report []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(report))
	if err != nil {
		t.Fatalf("report is not HTML: %v", err)
	}
	counts := map[string]int{}
	var sensorHeadings int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			counts[n.Data]++
			for _, a := range n.Attr {
				if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) {
					t.Errorf("report references <%s %s=%q>: it must be self-contained", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "h3" && n.FirstChild != nil && strings.HasPrefix(n.FirstChild.Data, "Sensor ") {
				sensorHeadings++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if counts["script"] > 0 || counts["link"] > 0 || counts["img"] > 0 {
		t.Errorf("report has script/link/img elements: %v", counts)
	}
	if counts["table"] != 3 || !bytes.Contains(report, []byte("<head>\n<meta charset=\"utf-8\">")) || !bytes.Contains(report, []byte("<title>Hazewatch demo report</title>")) {
		t.Errorf("want three tables (the preset's, the smoke's, every strategy's), a UTF-8 head and the document title; got %d tables", counts["table"])
	}
	if sensorHeadings == 0 {
		t.Error("no sensor shown up close")
	}
	if want := 2 + sensorHeadings; counts["svg"] != want {
		t.Errorf("%d <svg> elements, want %d (recall chart, fleet chart, %d sensors)", counts["svg"], want, sensorHeadings)
	}
	for _, k := range purpleair.RealisticFaultKinds {
		if n := bytes.Count(report, []byte("</span>"+string(k)+"</td>")); n != 2 {
			t.Errorf("%d table rows for %s, want 2 (the preset's table, every strategy's)", n, k)
		}
	}
	for _, want := range []string{"Precision of its reasons: of all the preset", "Right reason: of this kind", "<th>flagged as the air</th>", ">smoke (the air)</text>",
		"Precision: the share of all the strategy's flags", "<dt>alert rule</dt>"} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}

	// Each SVG, as XML.
	rest := report
	n := 0
	for {
		i := bytes.Index(rest, []byte("<svg"))
		if i < 0 {
			break
		}
		j := bytes.Index(rest[i:], []byte("</svg>"))
		if j < 0 {
			t.Fatal("unterminated <svg>")
		}
		frag := rest[i : i+j+len("</svg>")]
		rest = rest[i+j:]
		n++
		dec := xml.NewDecoder(bytes.NewReader(frag))
		dec.Strict = true
		drawn := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("svg %d is not well-formed XML: %v", n, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				switch se.Name.Local {
				case "rect", "path", "circle", "line":
					drawn++
				}
			}
		}
		if drawn < 10 {
			t.Errorf("svg %d draws only %d shapes", n, drawn)
		}
	}
	if n != counts["svg"] {
		t.Errorf("found %d svg fragments, html parser %d", n, counts["svg"])
	}
	if bytes.Contains(report, []byte("NaN")) || bytes.Contains(report, []byte("Inf")) {
		t.Error("report contains NaN or Inf (a coordinate or number that was not finite)")
	}
	for _, s := range []string{"https://", "http://"} {
		if c := bytes.Count(report, []byte(s)); s == "http://" && c != n || s == "https://" && c != 0 {
			t.Errorf("%d occurrences of %q; only each SVG's xmlns may name a URL", c, s)
		}
	}
}

// runReport runs the demo with opt and renders its report.
func runReport(t *testing.T, opt Options) (*Result, string) {
	t.Helper()
	d, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := d.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	return d, b.String()
}

func TestReportShowsEveryInjectedKind(t *testing.T) {
	d, report := runReport(t, smallDemo(11))
	checkReport(t, []byte(report))
	// One close-up per kind that occurred, and none for a kind that did not.
	present := map[purpleair.FaultKind]bool{}
	for i, k := range d.truth {
		present[k] = true
		if d.smoke[i] && k == purpleair.FaultNone {
			present[smokeKind] = true
		}
	}
	if !present[smokeKind] {
		t.Error("no smoke in the test fleet")
	}
	for _, k := range append(slices.Clone(purpleair.RealisticFaultKinds), smokeKind) {
		heading := "): " + strings.ReplaceAll(string(k), "_", " ") + "</h3>"
		if got := strings.Contains(report, heading); got != present[k] {
			t.Errorf("%s: close-up shown %v, fault occurred %v", k, got, present[k])
		}
	}
	if len(present) < 3 {
		t.Errorf("only %d labels in the simulated data: the test fleet should have faults of several kinds", len(present))
	}
}

func TestRunsGroupsConsecutiveKeys(t *testing.T) {
	keys := []string{"", "a", "a", "", "b", "a", "a", ""}
	got := runs(len(keys), func(i int) string { return keys[i] })
	want := []span{{1, 3, "a"}, {4, 5, "b"}, {5, 7, "a"}}
	if len(got) != len(want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("runs[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// svgTexts is the text content of each <text> element of an SVG fragment, and of each <title>.
func svgTexts(t *testing.T, frag string) (texts, titles []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(frag))
	var in string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return texts, titles
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			in = tok.Name.Local
		case xml.EndElement:
			in = ""
		case xml.CharData:
			switch in {
			case "text":
				texts = append(texts, string(tok))
			case "title":
				titles = append(titles, string(tok))
			}
		}
	}
}

// svgAfter is the first SVG fragment of report after marker.
func svgAfter(t *testing.T, report, marker string) string {
	t.Helper()
	i := strings.Index(report, marker)
	if i < 0 {
		t.Fatalf("report lacks %q", marker)
	}
	rest := report[i:]
	from, to := strings.Index(rest, "<svg"), strings.Index(rest, "</svg>")
	if from < 0 || to < from {
		t.Fatalf("no SVG after %q", marker)
	}
	return rest[from : to+len("</svg>")]
}

// TestReportLinesAndLabels: each close-up draws every strategy's threshold and the alert rule's
// line with a key naming them, its PM axis has no 0, and the fleet overview labels every sensor
// and names it on hover.
func TestReportLinesAndLabels(t *testing.T) {
	d, report := runReport(t, smallDemo(11))

	for _, ex := range pickExamples(d) {
		heading := "<h3>Sensor " + d.sensors[ex.sensor] + " "
		frag := svgAfter(t, report, heading)
		texts, _ := svgTexts(t, frag)
		for label, want := range map[string]int{"threshold 0.7": 2, "forest threshold": 2, "alert rule > 0.88": 1, "0": len(d.strategies)} {
			if n := countOf(texts, label); n != want {
				t.Errorf("%s: %d labels %q, want %d (texts %q)", heading, n, label, want, texts)
			}
		}
		if n := strings.Count(frag, thresholdDash); n != 2*len(d.strategies) {
			t.Errorf("%s: %d dashed threshold strokes, want %d (a line and its key per strategy)", heading, n, 2*len(d.strategies))
		}
		if n := strings.Count(frag, ruleDash); n != 2 {
			t.Errorf("%s: %d dotted alert rule strokes, want 2 (the line and its key)", heading, n)
		}
	}

	texts, titles := svgTexts(t, svgAfter(t, report, "<h2>The fleet at a glance</h2>"))
	for s, idx := range d.sensors {
		if countOf(texts, idx) != 1 {
			t.Errorf("fleet overview: sensor %s labelled %d times, want once", idx, countOf(texts, idx))
		}
		prefix := fmt.Sprintf("sensor %s (%s): ", idx, d.names[s])
		if !slices.ContainsFunc(titles, func(s string) bool {
			return strings.HasPrefix(s, prefix) && strings.Contains(s, "readings flagged: purpleair preset ")
		}) {
			t.Errorf("fleet overview: no tooltip %q… with the flag counts", prefix)
		}
	}
}

func countOf(texts []string, s string) int {
	n := 0
	for _, x := range texts {
		if x == s {
			n++
		}
	}
	return n
}

// TestBatchThresholdsAreWhereFlagsBegin: the line drawn for a forest is the boundary of its flags —
// every flagged reading scores above it, every other reading not — and in series mode, where each
// sensor has one forest, it is one level per sensor.
func TestBatchThresholdsAreWhereFlagsBegin(t *testing.T) {
	d, err := runPipelines(context.Background(), smallDemo(4))
	if err != nil {
		t.Fatal(err)
	}
	const eps = 1e-9 // the threshold is score + decision, summed in floating point
	for _, name := range []string{"batch series", "batch fleet"} {
		st := d.strategy(name)
		compared, flagged := 0, 0
		for s := 0; s < d.opt.Sensors; s++ {
			level := math.NaN()
			for step := 0; step < d.steps; step++ {
				i := d.at(s, step)
				score, thr := st.score[i], st.thresholds[i]
				if math.IsNaN(score) {
					continue
				}
				if math.IsNaN(thr) || st.flag[i] && !(score > thr-eps) || !st.flag[i] && !(score <= thr+eps) {
					t.Fatalf("%s sensor %d step %d: score %v threshold %v flag %v", name, s, step, score, thr, st.flag[i])
				}
				if name == "batch series" {
					if !math.IsNaN(level) && math.Abs(thr-level) > eps {
						t.Fatalf("series sensor %d: threshold %v at step %d, %v before", s, thr, step, level)
					}
					level = thr
				}
				compared++
				if st.flag[i] {
					flagged++
				}
			}
		}
		if compared == 0 || flagged == 0 {
			t.Errorf("%s: %d readings compared, %d flagged", name, compared, flagged)
		}
	}
}

func TestLogTicks(t *testing.T) {
	const height = 170.0
	for _, c := range []struct {
		top  float64
		want []float64
	}{
		// Two decades on 170 units: room for 2 and 5 above 1 µg/m³ (1 and 2 are close under log(1 + v)).
		{100, []float64{1, 2, 5, 10, 20, 50, 100}},
		// Four decades: the decades only.
		{10000, []float64{1, 10, 100, 1000, 10000}},
	} {
		lmax := math.Log10(c.top)
		y := func(v float64) float64 { return height - height*math.Log10(1+v)/lmax }
		got := logTicks(c.top, y)
		if !slices.Equal(got, c.want) {
			t.Errorf("top %v: ticks %v, want %v", c.top, got, c.want)
		}
		if slices.Contains(got, 0) {
			t.Errorf("top %v: a 0 tick on a log axis", c.top)
		}
	}
	for v, want := range map[float64]string{1: "1", 20: "20", 500: "500", 1000: "1k", 20000: "20k"} {
		if got := logLabel(v); got != want {
			t.Errorf("logLabel(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestReportWithoutSmoke: a run without smoke has no smoke table and sends no one looking for it.
func TestReportWithoutSmoke(t *testing.T) {
	opt := smallDemo(11)
	opt.SmokeEpisodes = 0
	d, report := runReport(t, opt)
	if slices.Contains(d.smoke, true) {
		t.Fatal("smoke in a run without smoke episodes")
	}
	for _, unwanted := range []string{"smoke table", "<h2>Smoke", "smoke (the air)"} {
		if strings.Contains(report, unwanted) {
			t.Errorf("report without smoke has %q", unwanted)
		}
	}
	if n := strings.Count(report, "<table>"); n != 2 {
		t.Errorf("%d tables, want 2 (the preset's, every strategy's)", n)
	}
}
