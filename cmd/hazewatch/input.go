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
)

// table is the typing of an input file: its numeric columns by name, and how many rows it has. A
// column that is not wholly numeric (a sensor's name, say) is not among them: nothing here can score
// it. It is kept in text instead, so that a command that needs it can say which value is not a
// number rather than go on without it.
type table struct {
	names []string
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

// frame is an input file as read for batch and impute: the typing of a table (names, text, rows)
// and the kept columns' values row-major, as pkg/impute and pkg/anomaly take them. Rows
// go straight from the reader into one slice sized from the file's length, so reading holds each
// value once, 8 bytes, without a column per name to be copied into a matrix afterwards.
type frame struct {
	table
	kept []string  // the kept input columns, in input order (numeric or not)
	x    []float64 // rows × len(kept)
	// sensor is a copy of the sensor_index column when kept (nil otherwise): the output is keyed by
	// the raw value, while x's may be imputed in place.
	sensor []float64
}

// readFrame reads a PurpleAir API response or a CSV file with a header ("-" is standard input),
// holding the values of the keep columns only (every column when keep is nil): a command that names
// its columns needs no memory for the others. Every column is still read for its type, so that
// names lists the numeric columns and text the others.
func readFrame(path string, stdin io.Reader, keep []string) (*frame, error) {
	rr, err := openRows(path, stdin)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	header := rr.Header()
	var idx []int // kept columns' indexes in header
	f := &frame{}
	sensor := -1
	for c, name := range header {
		if keep == nil || slices.Contains(keep, name) {
			if name == "sensor_index" {
				sensor = len(idx)
			}
			idx = append(idx, c)
			f.kept = append(f.kept, name)
		}
	}
	w := len(idx)
	size := newRowEstimate(path, rr)
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
		if rows == estimateAfter {
			// Enough rows to know their length: one allocation for the rest of the file, whose
			// untouched tail costs address space, not memory, where a slice grown by append
			// would hold the old and the new array at each growth.
			if n := size.rows(); n > rows {
				f.x = withRoom(f.x, (n-rows)*w)
				if sensor >= 0 {
					f.sensor = withRoom(f.sensor, n-rows)
				}
			}
		}
		if w == len(row) {
			f.x = append(f.x, row...) // every column kept
		} else {
			for _, c := range idx {
				f.x = append(f.x, row[c])
			}
		}
		if sensor >= 0 {
			f.sensor = append(f.sensor, row[idx[sensor]])
		}
		rows++
	}
	f.rows, f.text = rows, rr.Text()
	for _, name := range header {
		if f.notNumeric(name) == nil {
			f.names = append(f.names, name)
		}
	}
	return f, nil
}

// withRoom is s in a new array with room for n more values. Not slices.Grow: it zeroes the room,
// which makes all of it resident at once, while a fresh allocation from the system is already zero
// and stays out of memory until written.
func withRoom(s []float64, n int) []float64 {
	g := make([]float64, len(s), len(s)+n)
	copy(g, s)
	return g
}

// estimateAfter is how many rows are read before the rest of the file is estimated from them.
const estimateAfter = 4096

// rowEstimate guesses how many rows a file holds from its length and the bytes its first rows took.
type rowEstimate struct {
	size   int64 // the file's length; 0 when not a regular file
	offset func() int64
}

func newRowEstimate(path string, rr rowReader) rowEstimate {
	o, ok := rr.(interface{ offset() int64 })
	if !ok || path == "-" {
		return rowEstimate{}
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return rowEstimate{}
	}
	return rowEstimate{size: st.Size(), offset: o.offset}
}

// rows is the estimate after estimateAfter rows, an eighth over the average so that a file whose
// later rows are a little longer still fits; 0 when there is nothing to go by.
func (e rowEstimate) rows() int {
	if e.size == 0 {
		return 0
	}
	read := e.offset()
	if read <= 0 {
		return 0
	}
	n := float64(e.size) / float64(read) * estimateAfter * 1.125
	return int(min(n, math.MaxInt32))
}

// matrix returns the named columns as a dense row-major matrix, the layout pkg/anomaly and
// pkg/impute take, in the frame's own storage when the names are no more than the kept columns:
// row r's values move to r·len(names), never past the start of a row not yet moved. f.x is the
// matrix's storage afterwards.
func (f *frame) matrix(names []string) ([]float64, error) {
	idx := make([]int, len(names))
	for j, n := range names {
		if err := f.notNumeric(n); err != nil {
			return nil, err
		}
		if idx[j] = slices.Index(f.kept, n); idx[j] < 0 || !slices.Contains(f.names, n) {
			return nil, fmt.Errorf("no numeric column %q in the input (columns: %s)", n, strings.Join(f.names, ", "))
		}
	}
	w, nf := len(f.kept), len(names)
	if slices.Equal(f.kept, names) {
		return f.x, nil
	}
	var out []float64
	if nf <= w {
		out = f.x[:f.rows*nf]
	} else {
		out = make([]float64, f.rows*nf) // a feature named twice: wider than what was read
	}
	cell := make([]float64, nf)
	for r := 0; r < f.rows; r++ {
		src := f.x[r*w : (r+1)*w]
		for j, c := range idx {
			cell[j] = src[c]
		}
		copy(out[r*nf:], cell)
	}
	f.x = out
	return out, nil
}

// writeHeader writes a CSV header line into the output buffer through encoding/csv, as a column's
// name may need quoting; the rows after it are numbers, formatted by appendFloat without it.
func writeHeader(bw *bufio.Writer, names []string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(names); err != nil {
		return err
	}
	w.Flush()
	_, err := bw.Write(b.Bytes())
	return err
}

// appendFloat appends a value so that it reads back exactly: integers (sensor indexes, counts) in
// full, everything else in the shortest form that round-trips; NaN (missing) as nothing.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) {
		return b
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		// Below 1e15 a float64 is exact to an eighth, so the shortest form of an integer is all
		// its digits: the integer's own, which AppendInt writes in a fraction of the time.
		if v == 0 && math.Signbit(v) {
			return append(b, "-0"...)
		}
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
