package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
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
	return readColumns(path, stdin, nil)
}

// readColumns is readTable holding the values of the keep columns only (every column when keep is
// nil): a command that names its columns needs no memory for the others. Every column is still read
// for its type, so that t.names lists the numeric columns and t.text the others; cols[c] is nil for
// a numeric column not kept.
func readColumns(path string, stdin io.Reader, keep []string) (*table, error) {
	rr, err := openRows(path, stdin)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	header := rr.Header()
	cols := make([][]float64, len(header))
	for c, name := range header {
		if keep == nil || slices.Contains(keep, name) {
			cols[c] = []float64{}
		}
	}
	row := make([]float64, len(header))
	rows := 0
	for {
		err := rr.Next(row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for c, v := range row {
			if cols[c] != nil {
				cols[c] = append(cols[c], v)
			}
		}
		rows++
	}
	t := &table{rows: rows, text: rr.Text()}
	for c, name := range header {
		if t.notNumeric(name) != nil {
			continue
		}
		t.names = append(t.names, name)
		t.cols = append(t.cols, cols[c])
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
