package iforest

import (
	"fmt"
	"math"
	"strings"
)

// InputError reports a value a detector cannot take: NaN or ±Inf in a
// matrix, a value outside the range the model computes in, or a matrix
// whose width does not match. It names the offending cell so that the
// caller can point a user at the exact record instead of a vague "bad
// input"; nothing is silently dropped or clamped.
//
// Row and Col are 0-based indices into the matrix that was passed in; a
// negative Row or Col means the error is not about a single row or column
// (for example a matrix whose length is not a whole number of rows).
type InputError struct {
	Row, Col int
	Value    float64
	Msg      string
}

// Error renders e.g. "iforest: row 12, column 3: NaN (impute missing values first)".
func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString("iforest: ")
	if e.Row >= 0 {
		fmt.Fprintf(&b, "row %d", e.Row)
		if e.Col >= 0 {
			b.WriteString(", ")
		}
	}
	if e.Col >= 0 {
		fmt.Fprintf(&b, "column %d", e.Col)
	}
	if e.Row >= 0 || e.Col >= 0 {
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else {
		b.WriteString(describeBadValue(e.Value))
	}
	return b.String()
}

// describeBadValue is the default message for a cell, so that detectors
// only have to fill in Msg when they have something more specific to say.
func describeBadValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN (impute missing values first)"
	case math.IsInf(v, 0):
		return fmt.Sprintf("%v is not a finite number", v)
	default:
		return fmt.Sprintf("value %v not accepted", v)
	}
}

// shapeError reports a matrix whose length and column count disagree.
func shapeError(n, cols int) error {
	if cols <= 0 {
		return &InputError{Row: -1, Col: -1, Msg: fmt.Sprintf("column count must be positive, got %d", cols)}
	}
	return &InputError{Row: -1, Col: -1, Msg: fmt.Sprintf("%d values are not a whole number of rows of %d columns", n, cols)}
}
