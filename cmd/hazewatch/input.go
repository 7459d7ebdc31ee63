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

// table is an input file as named numeric columns, NaN where a value is missing. Text columns (a
// sensor's name, say) are left out: nothing here can score them.
type table struct {
	names []string
	cols  [][]float64 // cols[c][r]
	rows  int
}

func (t *table) column(name string) int {
	for i, n := range t.names {
		if n == name {
			return i
		}
	}
	return -1
}

// matrix returns the named columns as a dense row-major matrix, the layout pkg/anomaly and pkg/impute take.
func (t *table) matrix(names []string) ([]float64, error) {
	idx := make([]int, len(names))
	for j, n := range names {
		if idx[j] = t.column(n); idx[j] < 0 {
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
			continue // a text field such as "name"
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
	records, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	t := &table{rows: len(records)}
	for c, name := range header {
		// A column is numeric when its first present value is a number; any later value that is not
		// one is an error rather than a silent hole in the data.
		numeric := false
		for _, rec := range records {
			if v := strings.TrimSpace(rec[c]); !missingCSV[v] {
				_, err := strconv.ParseFloat(v, 64)
				numeric = err == nil
				break
			}
		}
		if !numeric {
			continue
		}
		col := make([]float64, t.rows)
		for i, rec := range records {
			v := strings.TrimSpace(rec[c])
			if missingCSV[v] {
				col[i] = math.NaN()
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) {
				return nil, fmt.Errorf("line %d, column %q: %q is not a number", i+2, name, v)
			}
			col[i] = f
		}
		t.names = append(t.names, strings.TrimSpace(name))
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
