package demo

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// svg accumulates one inline SVG chart. The charts are drawn in Go rather than in the template:
// their geometry is arithmetic that a template would only obscure. Text is escaped here; the
// finished chart enters the template as trusted HTML.
type svg struct{ b strings.Builder }

func newSVG(w, h float64, label string) *svg {
	s := &svg{}
	fmt.Fprintf(&s.b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %s %s\" width=\"%s\" height=\"%s\" role=\"img\" aria-label=\"%s\">\n",
		num(w), num(h), num(w), num(h), esc(label))
	return s
}

func (s *svg) html() template.HTML {
	s.b.WriteString("</svg>\n")
	return template.HTML(s.b.String())
}

// rect draws a rectangle; attrs are further attributes, title a tooltip (none when empty).
func (s *svg) rect(x, y, w, h float64, fill, attrs, title string) {
	fmt.Fprintf(&s.b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"%s", num(x), num(y), num(w), num(h), fill, attrs)
	if title == "" {
		s.b.WriteString("/>\n")
		return
	}
	fmt.Fprintf(&s.b, "><title>%s</title></rect>\n", esc(title))
}

// openGroup starts a group whose tooltip is title; closeGroup ends it.
func (s *svg) openGroup(title string) {
	fmt.Fprintf(&s.b, "<g><title>%s</title>\n", esc(title))
}

func (s *svg) closeGroup() { s.b.WriteString("</g>\n") }

func (s *svg) line(x1, y1, x2, y2 float64, stroke, attrs string) {
	fmt.Fprintf(&s.b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"%s/>\n", num(x1), num(y1), num(x2), num(y2), stroke, attrs)
}

// text writes content at (x, y); attrs carry size, anchor and colour.
func (s *svg) text(x, y float64, attrs, content string) {
	fmt.Fprintf(&s.b, "<text x=\"%s\" y=\"%s\"%s>%s</text>\n", num(x), num(y), attrs, esc(content))
}

func (s *svg) path(d, stroke string, width float64, attrs string) {
	if d == "" {
		return
	}
	fmt.Fprintf(&s.b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s/>\n", d, stroke, num(width), attrs)
}

func (s *svg) circle(cx, cy, r float64, fill string) {
	fmt.Fprintf(&s.b, "<circle cx=\"%s\" cy=\"%s\" r=\"%s\" fill=\"%s\"/>\n", num(cx), num(cy), num(r), fill)
}

// polyline is the path through the points (x(t), y(t)) for t in [from, to); a NaN y lifts the pen.
func polyline(from, to int, x func(t int) float64, y func(t int) float64) string {
	var p strings.Builder
	pen := false
	for t := from; t < to; t++ {
		v := y(t)
		if v != v { // NaN
			pen = false
			continue
		}
		if pen {
			p.WriteString("L")
		} else {
			p.WriteString("M")
		}
		p.WriteString(num(x(t)))
		p.WriteByte(',')
		p.WriteString(num(v))
		pen = true
	}
	return p.String()
}

// num prints a coordinate compactly (two decimals at most).
func num(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func esc(s string) string { return html.EscapeString(s) }

// attr formats further attributes for the drawing methods.
func attr(format string, args ...any) string { return " " + fmt.Sprintf(format, args...) }
