package purpleair

import (
	"strconv"
)

// ValueKind says what a cell of a data row holds.
type ValueKind uint8

const (
	// KindNull is JSON null: the sensor did not report the field. It is the
	// zero kind, so a zero Value is missing, never a reading of 0.
	KindNull ValueKind = iota
	// KindNumber is a JSON number, held in Value.Num.
	KindNumber
	// KindString is a JSON string, held in Value.Str.
	KindString
)

func (k ValueKind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	}
	return "ValueKind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one cell of a data row.
type Value struct {
	Num  float64
	Str  string
	Kind ValueKind
}

// Number returns a numeric cell.
func Number(v float64) Value { return Value{Num: v, Kind: KindNumber} }

// String returns a string cell.
func String(s string) Value { return Value{Str: s, Kind: KindString} }

// Null is the missing-reading cell.
var Null = Value{}

// Float returns the number in v; ok is false for null and string cells.
func (v Value) Float() (f float64, ok bool) { return v.Num, v.Kind == KindNumber }
