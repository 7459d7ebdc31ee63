package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// readAllRows reads every row through rr, as the commands do.
func readAllRows(t *testing.T, rr rowReader) ([][]float64, error) {
	t.Helper()
	var out [][]float64
	for {
		row := make([]float64, len(rr.Header()))
		err := rr.Next(row)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, row)
	}
}

// sameRows compares rows with NaN equal to NaN (a missing value).
func sameRows(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] && !(math.IsNaN(a[i][j]) && math.IsNaN(b[i][j])) {
				return false
			}
		}
	}
	return true
}

// TestRowReaderFormatsAgree: the same fleet as CSV (with CRLF line ends and a byte-order mark, as a
// spreadsheet writes it), as one API response and as a stream of two reads as the same header and
// rows; an unused text column reads as NaN and is reported by Text.
func TestRowReaderFormatsAgree(t *testing.T) {
	nan := math.NaN()
	wantRows := [][]float64{{1, nan, 2.5}, {2, nan, nan}, {3, nan, 4}}
	doc := func(rows string) string {
		return `{"fields": ["sensor_index", "name", "pm"], "data": [` + rows + `]}` + "\n"
	}
	cases := []struct {
		name, file, content string
		wantText            string // Text's error for the name column
	}{
		{"CSV", "a.csv", "sensor_index,name,pm\n1,a,2.5\n2,b,\n3,c,4\n", `line 2, column "name": "a" is not a number`},
		{"CSV from a spreadsheet", "a.csv", "\ufeffsensor_index,name,pm\r\n1,a,2.5\r\n2,b,NA\r\n3,c,4\r\n", `line 2, column "name": "a" is not a number`},
		{"API response", "a.json", doc(`[1, "a", 2.5], [2, "b", null], [3, "c", 4]`), `data row 0, field "name": "a" is text, not a number`},
		{"API stream", "a.json", doc(`[1, null, 2.5]`) + doc(`[2, "b", null], [3, "c", 4]`), `data row 1, field "name": "b" is text, not a number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr, err := openRows(writeFile(t, c.file, c.content), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			if got := rr.Header(); !reflect.DeepEqual(got, []string{"sensor_index", "name", "pm"}) {
				t.Fatalf("header %q", got)
			}
			if got := rr.Use("pm", "sensor_index", "pm9"); !reflect.DeepEqual(got, []int{2, 0, -1}) {
				t.Fatalf("Use: %v, want [2 0 -1]", got)
			}
			rows, err := readAllRows(t, rr)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(rows, wantRows) {
				t.Errorf("rows %v, want %v", rows, wantRows)
			}
			text := rr.Text()
			if len(text) != 1 || text[0].name != "name" || text[0].mixed || text[0].err == nil || text[0].err.Error() != c.wantText {
				t.Errorf("Text() = %+v, want the name column with %q", text, c.wantText)
			}
		})
	}
}

// TestRowReaderSaysWhere: a value that is not a number in a used column stops the read with where it
// is; the rows before it have been returned.
func TestRowReaderSaysWhere(t *testing.T) {
	doc := func(rows string) string {
		return `{"fields": ["sensor_index", "pm"], "data": [` + rows + `]}` + "\n"
	}
	cases := []struct {
		name, file, content string
		use                 string
		wantRows            int
		wantErr             string
	}{
		{"CSV", "a.csv", "sensor_index,pm\n1,2\n2,3\n\n3,x\n4,5\n", "pm", 2, `line 5, column "pm": "x" is not a number`},
		{"CSV infinity", "a.csv", "sensor_index,pm\n1,-Inf\n", "pm", 0, `line 2, column "pm": "-Inf" is not a number`},
		{"CSV bad record", "a.csv", "sensor_index,pm\n1,2\n2,3,4\n", "pm", 1, "wrong number of fields"},
		{"API text field", "a.json", doc(`[1, 2]`) + doc(`[2, "x"], [3, "y"]`), "pm", 1, `data row 1, field "pm": "x" where the other rows hold numbers`},
		{"API text field, unused", "a.json", doc(`[1, 2], [2, "x"]`), "sensor_index", 0, `data row 1, field "pm": "x" where the other rows hold numbers`},
		{"API text only", "a.json", doc(`[1, "x"]`), "pm", 0, `data row 0, field "pm": "x" is text, not a number`},
		{"API fields change", "a.json", doc(`[1, 2]`) + `{"fields": ["pm", "sensor_index"], "data": [[2, 1]]}`, "pm", 1, "document 1 has fields [pm sensor_index], the first has [sensor_index pm]: a stream must keep its fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr, err := openRows(writeFile(t, c.file, c.content), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			rr.Use(c.use)
			rows, err := readAllRows(t, rr)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			if len(rows) != c.wantRows {
				t.Errorf("%d rows before the error, want %d", len(rows), c.wantRows)
			}
		})
	}
}

// TestOpenRowsRefuses: what cannot be read at all is refused before the first row, naming the file.
func TestOpenRowsRefuses(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"empty", "", "empty file"},
		{"byte-order mark only", "\ufeff", "empty file"},
		{"repeated column", "a,b,a\n1,2,3\n", `column "a" appears twice in the header (columns 1 and 3)`},
		{"repeated API field", `{"fields": ["a", "a"], "data": []}`, `field "a" appears twice`},
		{"malformed API response", `{"fields": ["a"], "data": [[1],`, "a.in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "a.in", c.content)
			rr, err := openRows(p, nil)
			if err == nil {
				rr.Close()
				t.Fatalf("opened; want an error saying %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q, want %q and the file's name", err, c.want)
			}
		})
	}
}

// TestReadFrameKeepsOnlyWhatItIsAsked: batch with -features holds those columns only, yet every
// column is still typed (names lists the numeric ones, text the others).
func TestReadFrameKeepsOnlyWhatItIsAsked(t *testing.T) {
	p := writeFile(t, "a.csv", "sensor_index,name,pm,rh\n1,a,2,40\n2,b,,41\n")
	f, err := readFrame(p, nil, []string{"sensor_index", "rh"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.names, []string{"sensor_index", "pm", "rh"}) || f.rows != 2 {
		t.Fatalf("names %v, %d rows", f.names, f.rows)
	}
	if !reflect.DeepEqual(f.kept, []string{"sensor_index", "rh"}) {
		t.Errorf("kept %v: pm, not asked for, was kept, or an asked column was not", f.kept)
	}
	if !reflect.DeepEqual(f.x, []float64{1, 40, 2, 41}) || !reflect.DeepEqual(f.sensor, []float64{1, 2}) {
		t.Errorf("kept values %v, sensor_index %v", f.x, f.sensor)
	}
	if f.notNumeric("name") == nil {
		t.Error("the text column name is not reported")
	}
}

// TestAPIDocumentsRead: documents follow each other, whatever their strings hold and however the
// input arrives (one byte per read from a pipe, or a file); what does not make a document is
// purpleair's error, with the document's number (0-based) when it is not the first.
func TestAPIDocumentsRead(t *testing.T) {
	doc := func(names ...string) string {
		var b strings.Builder
		b.WriteString(`{"description_of_nothing": {"a": [1, {"b": "}]"}]}, "fields": ["sensor_index", "name", "pm"], "data": [`)
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%d, %q, %d.5]", i, n, i)
		}
		b.WriteString("]}")
		return b.String()
	}
	tricky := []string{`{`, `}`, `[`, `]`, `"`, `\`, `\"}`, "x"}
	var large []string
	for i := range 5000 { // several read buffers' worth
		large = append(large, fmt.Sprintf("sensor %d}]", i))
	}
	cases := []struct {
		name, content string
		wantRows      int
		wantErr       string
	}{
		{"strings with brackets and escapes", doc(tricky...), len(tricky), ""},
		{"documents back to back", doc(tricky...) + doc("a") + "\n\n" + doc("b", "c") + " \n", len(tricky) + 3, ""},
		{"a document larger than the buffer", doc(large...) + "\n" + doc(large...), 2 * len(large), ""},
		{"garbage after a document", doc("a") + "\nnot json", 1, `document 1: expected '{'`},
		{"second document cut short", doc("a") + "\n" + doc("b", "c")[:60], 1, "document 1 (after byte "},
		{"second document not a response", doc("a") + `{"data": []}`, 1, `document 1: purpleair: response member "fields": missing`},
		{"first document cut short", doc("a", "b")[:70], 0, "truncated response"},
		{"an array", doc("a") + "[1]", 1, "expected '{'"},
	}
	for _, c := range cases {
		for _, via := range []string{"file", "one byte per read"} {
			t.Run(c.name+", "+via, func(t *testing.T) {
				path, stdin := writeFile(t, "a.json", c.content), io.Reader(nil)
				if via != "file" {
					path, stdin = "-", iotest.OneByteReader(strings.NewReader(c.content))
				}
				rr, err := openRows(path, stdin)
				if err == nil {
					defer rr.Close()
					var rows [][]float64
					rows, err = readAllRows(t, rr)
					if len(rows) != c.wantRows {
						t.Errorf("%d rows, want %d", len(rows), c.wantRows)
					}
					for i, r := range rows {
						if i < len(tricky) && c.wantRows == len(tricky) && (r[0] != float64(i) || r[2] != float64(i)+0.5) {
							t.Errorf("row %d = %v", i, r)
						}
					}
				}
				if c.wantErr == "" && err != nil {
					t.Fatal(err)
				}
				if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
			})
		}
	}
}

// apiDoc is a document as the API writes it: "fields" and "data_time_stamp" before "data", so that
// its rows are decoded a chunk at a time; row i holds i and i/2 (the text "x" at row bad).
func apiDoc(stamp int64, first, rows, bad int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"api_version": "V1", "data_time_stamp": %d, "fields": ["sensor_index", "pm"], "data": [`, stamp)
	for i := first; i < first+rows; i++ {
		if i > first {
			b.WriteString(",")
		}
		if i == bad {
			fmt.Fprintf(&b, `[%d, "x"]`, i)
		} else {
			fmt.Fprintf(&b, "[%d, %g]", i, float64(i)/2)
		}
	}
	b.WriteString("]}\n")
	return b.String()
}

// TestAPIRowsChunked: documents of several chunks read row for row in order, Stamp is the
// data_time_stamp of the row's document, and what goes wrong in a later chunk comes after the rows
// before it, with the wording of a whole document's error.
func TestAPIRowsChunked(t *testing.T) {
	n := 3*purpleair.ChunkRows + 17
	cases := []struct {
		name, content string
		wantRows      int
		wantErr       string
	}{
		{"two documents", apiDoc(100, 0, n, -1) + apiDoc(200, n, n, -1), 2 * n, ""},
		{"an empty document between", apiDoc(100, 0, n, -1) + apiDoc(150, n, 0, -1) + apiDoc(200, n, n, -1), 2 * n, ""},
		{"text in a later chunk", apiDoc(100, 0, n, 2*purpleair.ChunkRows+5), 2 * purpleair.ChunkRows,
			fmt.Sprintf(`data row %d, field "pm": "x" where the other rows hold numbers`, 2*purpleair.ChunkRows+5)},
		{"cut short", apiDoc(100, 0, n, -1)[:len(apiDoc(100, 0, n, -1))-40], -1, "truncated response"},
		{"second document's fields differ", apiDoc(100, 0, n, -1) + `{"data_time_stamp": 200, "fields": ["pm", "sensor_index"], "data": [[1, 2]]}`, n,
			"document 1 has fields [pm sensor_index], the first has [sensor_index pm]: a stream must keep its fields"},
	}
	for _, c := range cases {
		for _, via := range []string{"file", "one byte per read"} {
			t.Run(c.name+", "+via, func(t *testing.T) {
				path, stdin := writeFile(t, "a.json", c.content), io.Reader(nil)
				if via != "file" {
					path, stdin = "-", iotest.OneByteReader(strings.NewReader(c.content))
				}
				rr, err := openRows(path, stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer rr.Close()
				rr.Use("pm")
				var rows int
				for ; ; rows++ {
					row := make([]float64, 2)
					err = rr.Next(row)
					if err != nil {
						break
					}
					if want := []float64{float64(rows), float64(rows) / 2}; !reflect.DeepEqual(row, want) {
						t.Fatalf("row %d = %v, want %v", rows, row, want)
					}
					if want := float64(100 + 100*(rows/n)); rr.Stamp() != want {
						t.Fatalf("row %d: Stamp %v, want %v", rows, rr.Stamp(), want)
					}
				}
				if c.wantErr == "" && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				if c.wantRows < 0 { // cut short: every complete row before the error
					c.wantRows = strings.Count(c.content, "]") - 1
				}
				if rows != c.wantRows {
					t.Errorf("%d rows, want %d", rows, c.wantRows)
				}
				if err2 := rr.Next(make([]float64, 2)); err2 != err && !(errors.Is(err, io.EOF) && errors.Is(err2, io.EOF)) {
					t.Errorf("Next after %v: %v", err, err2)
				}
			})
		}
	}
}

// TestAPIRowsCloseStopsReading: Close, before the last row or after an error, stops the goroutine
// that decodes the input.
func TestAPIRowsCloseStopsReading(t *testing.T) {
	content := apiDoc(100, 0, 5*purpleair.ChunkRows, -1)
	before := runtime.NumGoroutine()
	for i, read := range []int{0, 1, purpleair.ChunkRows + 1, 5 * purpleair.ChunkRows, 5*purpleair.ChunkRows + 1} {
		for _, via := range []string{"file", "stdin"} {
			path, stdin := writeFile(t, fmt.Sprintf("a%d.json", i), content), io.Reader(nil)
			if via != "file" {
				path, stdin = "-", strings.NewReader(content)
			}
			rr, err := openRows(path, stdin)
			if err != nil {
				t.Fatal(err)
			}
			row := make([]float64, 2)
			for range read {
				if err := rr.Next(row); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
			}
			if err := rr.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Closing a file waits for the goroutine; standard input's returns on its own, at once here.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAPIRowsOpenStopsOnError: a file refused by openRows leaves no goroutine behind.
func TestAPIRowsOpenStopsOnError(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, content := range []string{"{ ", `{"fields": ["a", "a"], "data": []}`, `{"fields": ["a"], "data": [[1],`} {
		if rr, err := openRows(writeFile(t, "a.json", content), nil); err == nil {
			rr.Close()
			t.Fatalf("%q opened", content)
		}
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after refusing, %d before", n, before)
	}
}

// TestCSVPlainLinesReadAsEncodingCSV: reading plain lines where they lie in the buffer gives what
// encoding/csv alone gives (a reader that is not a large enough bufio.Reader gets no fast path):
// the same rows, then the same error with the same line and column, or the same unused text
// columns, wherever the first line that is not plain comes (quotes, CRLF, blank lines, a line
// longer than the buffer, a record of the wrong length, no final newline).
func TestCSVPlainLinesReadAsEncodingCSV(t *testing.T) {
	long := strings.Repeat("1", 5000)
	cases := map[string]string{
		"plain":                 "a,b,c\n1,2,3\n4,,6\n,,\n7,8,\n",
		"crlf":                  "a,b,c\r\n1,2,3\r\n4,5,6\r\n",
		"carriage return":       "a,b,c\n1,2,3\n4,5\r6,7\n",
		"quoted later":          "a,b,c\n1,2,3\n4,\"5\",6\n7,8,9\n1,2,x\n",
		"quoted newline":        "a,b,c\n1,2,3\n4,\"5\n\",6\n7,8,y\n",
		"blank lines":           "\n\na,b,c\n\n1,2,3\n\n4,5,z\n\n",
		"too many fields":       "a,b,c\n1,2,3\n1,2,3,\n",
		"too few fields":        "a,b,c\n1,2,3\n1,2\n",
		"one field short":       "a,b,c\n1,2,3\n,\n",
		"bare quote":            "a,b,c\n1,2,3\n1,2\"x,3\n",
		"unterminated quote":    "a,b,c\n1,2,3\n1,2,\"3\n",
		"no final newline":      "a,b,c\n1,2,3\n4,5,x",
		"longer than buffer":    "a,b,c\n1,2,3\n" + long + ",2,3\n4,5,w\n",
		"text":                  "a,b,c\n1,x,3\n2,y,4\n",
		"quoted header newline": "a,\"b\nb\",c\n1,2,3\n4,5,v\n",
		"spaces":                "a,b,c\n 1 , NaN,None\nnull,NA,nan\n",
	}
	read := func(t *testing.T, src io.Reader) ([][]float64, []string, error) {
		c, err := openCSVRows("a.csv", src, io.NopCloser(nil))
		if err != nil {
			return nil, nil, err
		}
		c.Use("c")
		rows, err := readAllRows(t, c)
		var text []string
		for _, tc := range c.Text() {
			text = append(text, fmt.Sprintf("%s mixed=%v: %v", tc.name, tc.mixed, tc.err))
		}
		return rows, text, err
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			fast := bufio.NewReaderSize(strings.NewReader(in), csvOwnBuffer)
			gotRows, gotText, gotErr := read(t, fast)
			wantRows, wantText, wantErr := read(t, iotest.HalfReader(strings.NewReader(in)))
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("error %v, encoding/csv's %v", gotErr, wantErr)
			}
			if !sameRows(gotRows, wantRows) {
				t.Errorf("rows %v, encoding/csv's %v", gotRows, wantRows)
			}
			if !slices.Equal(gotText, wantText) {
				t.Errorf("text columns %v, encoding/csv's %v", gotText, wantText)
			}
		})
	}
}

// TestParseDecimalIsParseFloat: what parseDecimal reads it reads to ParseFloat's bits (zeros'
// signs included), and what it leaves (exponents, infinities, 16 digits and more, signs and points
// out of place) ParseFloat reads or refuses.
func TestParseDecimalIsParseFloat(t *testing.T) {
	cases := []string{"0", "-0", "-0.0", "0.1", "7.4", "10.6", "-13.8", "1.", ".5", "-.5", "007.50",
		"123456789012345", "12345678901234.5", "0.000000000000001", "999999999999999", "1234567890123456",
		"0.1234567890123456", "1e3", "1E3", "+1", "Inf", "-inf", "NaN", "1_0", "0x10", ".", "-", "", "1.2.3",
		"--1", "1-", " 1", "9007199254740993"}
	rng := rand.New(rand.NewPCG(14, 3))
	for range 200000 {
		n := 1 + rng.IntN(15)
		var b strings.Builder
		if rng.IntN(4) == 0 {
			b.WriteByte('-')
		}
		at := rng.IntN(n + 1)
		for d := range n {
			if d == at {
				b.WriteByte('.')
			}
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		cases = append(cases, b.String())
	}
	took := 0
	for _, s := range cases {
		got, ok := parseDecimal(s)
		want, err := strconv.ParseFloat(s, 64)
		if !ok {
			continue
		}
		took++
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v (%x), ParseFloat %v (%x), %v", s, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	if took < 200000 {
		t.Errorf("parseDecimal read %d of the %d decimals of 15 digits or fewer", took, 200000)
	}
}
