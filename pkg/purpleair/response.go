package purpleair

import (
	"fmt"
	"math"
	"slices"
)

// Response is one GET /v1/sensors answer: a column header (Fields) and one
// row of cells per sensor.
type Response struct {
	APIVersion             string
	TimeStamp              int64 // when the API answered (Unix seconds)
	DataTimeStamp          int64 // when the data was last refreshed (Unix seconds): the readings' time
	MaxAge                 int64 // seconds; sensors not seen within it are omitted
	FirmwareDefaultVersion string
	// LocationTypes names the values of the location_type field, e.g.
	// ["outside", "inside"], when the API sends it.
	LocationTypes []string

	Fields []string
	Data   [][]Value // one row per sensor, len(row) == len(Fields)

	// BadRows lists the rows that were dropped from Data because they could not
	// be used (wrong length, a cell that is neither number, string nor null).
	// Only a Decoder with SkipBadRows fills it; strict decoding fails instead.
	BadRows []*RowError

	origRow []int // position in the document's data array of each Data row, when rows were dropped
}

// SourceRow is the position in the response's data array of Data[i]: i
// itself unless bad rows were dropped before it. Errors about a row use it,
// so they point at the row in the original document.
func (r *Response) SourceRow(i int) int {
	if r.origRow != nil && i >= 0 && i < len(r.origRow) {
		return r.origRow[i]
	}
	return i
}

// Column returns the index of the named field, or −1 if the response does not
// carry it. (A linear scan: responses have tens of fields, and a Response
// without hidden caches is safe to read from many goroutines.)
func (r *Response) Column(name string) int {
	return slices.Index(r.Fields, name)
}

// Numeric returns the named columns as a dense row-major matrix
// (len(r.Data) rows × len(columns)), NaN where the API sent null. A column the
// response lacks, or a string cell, is an error naming it.
func (r *Response) Numeric(columns []string) ([]float64, error) {
	idx := make([]int, len(columns))
	for j, name := range columns {
		idx[j] = r.Column(name)
		if idx[j] < 0 {
			return nil, fmt.Errorf("purpleair: response has no field %q (fields: %v)", name, r.Fields)
		}
	}
	x := make([]float64, len(r.Data)*len(columns))
	nan := math.NaN()
	for i, row := range r.Data {
		out := x[i*len(columns) : (i+1)*len(columns)]
		for j, c := range idx {
			if c >= len(row) {
				return nil, &RowError{Row: r.SourceRow(i), Col: c, Field: columns[j], Msg: fmt.Sprintf("row has %d values, want %d", len(row), len(r.Fields))}
			}
			switch v := row[c]; v.Kind {
			case KindNumber:
				out[j] = v.Num
			case KindNull:
				out[j] = nan
			default:
				return nil, &RowError{Row: r.SourceRow(i), Col: c, Field: columns[j], Msg: fmt.Sprintf("string %q in a numeric column", v.Str)}
			}
		}
	}
	return x, nil
}
