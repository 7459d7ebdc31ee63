package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// table is an input file as named numeric columns, NaN where a value is missing. A column that is
// not wholly numeric (a sensor's name, say) is not among them: nothing here can score it. It is kept
// in text instead, so that a command that needs it can say which value is not a number rather than
// go on without it.
type table struct {
	names []string
	cols  [][]float64 // cols[c][r]
	rows  int
	text  []textColumn
}

// textColumn is an input column with a value that is not a number.
type textColumn struct {
	name string
	// mixed: some of its values are numbers, so it is a numeric column with a bad value rather than
	// a text column such as a name.
	mixed bool
	err   error // where the first value that is not a number is, and what it is
}

func (t *table) column(name string) int {
	for i, n := range t.names {
		if n == name {
			return i
		}
	}
	return -1
}

// notNumeric is the error for using column name as numbers when it has a value that is not one;
// nil when it has none (or there is no such column).
func (t *table) notNumeric(name string) error {
	for _, c := range t.text {
		if c.name == name {
			return c.err
		}
	}
	return nil
}

// numericColumn is column for a column the command needs: a column with a value that is not a
// number is an error saying where; a column that is absent is -1 with no error (the caller words it).
func (t *table) numericColumn(name string) (int, error) {
	if err := t.notNumeric(name); err != nil {
		return -1, err
	}
	return t.column(name), nil
}

// idColumn is the sensor_index column the output is keyed by, or -1 when the input has none or holds
// only text in it. A sensor_index column of numbers with a value that is not one is an error: the
// output would otherwise lose the key silently.
func (t *table) idColumn() (int, error) {
	for _, c := range t.text {
		if c.name == "sensor_index" && c.mixed {
			return -1, c.err
		}
	}
	return t.column("sensor_index"), nil
}

// matrix returns the named columns as a dense row-major matrix, the layout pkg/anomaly and pkg/impute take.
func (t *table) matrix(names []string) ([]float64, error) {
	idx := make([]int, len(names))
	for j, n := range names {
		var err error
		if idx[j], err = t.numericColumn(n); err != nil {
			return nil, err
		}
		if idx[j] < 0 {
			return nil, fmt.Errorf("no numeric column %q in the input (columns: %s)", n, strings.Join(t.names, ", "))
		}
	}
	x := make([]float64, t.rows*len(names))
	for j, c := range idx {
		col := t.cols[c]
		for r := 0; r < t.rows; r++ {
			x[r*len(names)+j] = col[r]
		}
	}
	return x, nil
}

// readTable reads a PurpleAir API response or a CSV file with a header; "-" is standard input.
func readTable(path string, stdin io.Reader) (*table, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		t, err := tableFromAPI(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	}
	t, err := tableFromCSV(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// tableFromAPI reads one API response, or a stream of them (one per simulated step, as
// `hazewatch simulate` writes): their rows follow each other, in order.
func tableFromAPI(data []byte) (*table, error) {
	dec := purpleair.NewDecoder(bytes.NewReader(data))
	var resp *purpleair.Response
	for n := 0; ; n++ {
		next, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if resp == nil {
			resp = next
			continue
		}
		if !slices.Equal(next.Fields, resp.Fields) {
			return nil, fmt.Errorf("document %d has fields %v, the first has %v: a stream must keep its fields", n, next.Fields, resp.Fields)
		}
		resp.Data = append(resp.Data, next.Data...)
	}
	t := &table{rows: len(resp.Data)}
	for c, name := range resp.Fields {
		numeric, text := 0, 0
		for _, row := range resp.Data {
			switch row[c].Kind {
			case purpleair.KindNumber:
				numeric++
			case purpleair.KindString:
				text++
			}
		}
		if text > 0 && numeric == 0 {
			// A text field such as "name".
			for r, row := range resp.Data {
				if row[c].Kind == purpleair.KindString {
					t.text = append(t.text, textColumn{name: name,
						err: fmt.Errorf("data row %d, field %q: %q is text, not a number", r, name, row[c].Str)})
					break
				}
			}
			continue
		}
		col := make([]float64, t.rows)
		for r, row := range resp.Data {
			switch row[c].Kind {
			case purpleair.KindNumber:
				col[r] = row[c].Num
			case purpleair.KindNull:
				col[r] = math.NaN()
			default:
				return nil, fmt.Errorf("data row %d, field %q: %q where the other rows hold numbers", r, name, row[c].Str)
			}
		}
		t.names = append(t.names, name)
		t.cols = append(t.cols, col)
	}
	return t, nil
}

// missingCSV are the spellings of a missing value in CSV input.
var missingCSV = map[string]bool{"": true, "nan": true, "NaN": true, "NA": true, "null": true, "None": true}

// tableFromCSV reads CSV with a header. A column's type is decided by all of its values: a column
// whose every present value is a number is numeric; any other column is kept as text (see table),
// so that a value that is not a number is an error, naming its line and column, wherever the
// column is used.
func tableFromCSV(data []byte) (*table, error) {
	r := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	r.ReuseRecord = false
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: want a CSV header or a PurpleAir API response")
	}
	if err != nil {
		return nil, err
	}
	var records [][]string
	var lines []int // line of each record: blank lines and quoted newlines make it no simple count
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		records = append(records, rec)
		lines = append(lines, line)
	}
	t := &table{rows: len(records)}
	for c, name := range header {
		name = strings.TrimSpace(name)
		col := make([]float64, t.rows)
		var bad error
		numbers := false
		for i, rec := range records {
			v := strings.TrimSpace(rec[c])
			if missingCSV[v] {
				col[i] = math.NaN()
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				numbers = true // ±Inf included: a numeric column with an unusable value, not text
			}
			if err != nil || math.IsInf(f, 0) {
				if bad == nil {
					bad = fmt.Errorf("line %d, column %q: %q is not a number", lines[i], name, v)
				}
				continue
			}
			col[i] = f
		}
		if bad != nil {
			t.text = append(t.text, textColumn{name: name, mixed: numbers, err: bad})
			continue
		}
		t.names = append(t.names, name)
		t.cols = append(t.cols, col)
	}
	return t, nil
}

// formatFloat prints a value so that it reads back exactly: integers (sensor indexes, counts) in
// full, everything else in the shortest form that round-trips.
func formatFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
