package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
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
	for _, want := range []string{"precision*: of all the preset", "right reason: of this kind", "<th>flagged as the air</th>", ">smoke (the air)</text>"} {
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

func TestReportShowsEveryInjectedKind(t *testing.T) {
	d, err := runDemoPipelines(context.Background(), smallDemo(11))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeReport(&b, d, d.evaluate()); err != nil {
		t.Fatal(err)
	}
	checkReport(t, b.Bytes())
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
		if got := strings.Contains(b.String(), heading); got != present[k] {
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
