package impute

import "math"

// Record is one stream's imputers, one per field of its records; a nil entry leaves its field
// unimputed. The command line's stream and the Telegraf processor both impute through it, so the
// reference flow's imputation is written once.
type Record []Streaming

// NewRecord makes one imputer per kind (see NewStreaming; "none" gives a nil entry).
func NewRecord(kinds []string, alpha float64) (Record, error) {
	r := make(Record, len(kinds))
	for i, kind := range kinds {
		var err error
		if r[i], err = NewStreaming(kind, alpha); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Fill is River's StatImputer as the reference flow calls it, on one record x (NaN is missing):
// each present value first teaches its field's statistic (learn_one), then each missing value
// becomes that statistic (transform_one). A field without an imputer stays NaN. Fill reports
// how many values it filled.
func (r Record) Fill(x []float64) (filled int) {
	for i, imp := range r {
		switch {
		case imp == nil:
		case !math.IsNaN(x[i]):
			imp.Update(x[i])
		default:
			x[i] = imp.Value()
			filled++
		}
	}
	return filled
}
