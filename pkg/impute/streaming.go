package impute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Streaming is an imputer for one value stream. Update learns a present value (NaN is a
// missing value and is ignored, as River's StatImputer skips None); Value is what a missing
// value is replaced with now. The reference flow calls Update with a record's value when it
// has one and then uses Value for a record without one (River: learn_one, then
// transform_one).
type Streaming interface {
	Update(x float64)
	Value() float64
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// NewStreaming returns the imputer named kind: "mean" (River stats.Mean), "ewma" (River
// stats.EWMean with fading factor alpha in (0, 1]: River also takes 0, which would never move from
// the first value, so an imputation that stops following the data is refused here), "last"
// (last observation carried forward), or "none" → (nil, nil): no imputation. alpha is only
// read for "ewma".
func NewStreaming(kind string, alpha float64) (Streaming, error) {
	switch kind {
	case "mean":
		return &Mean{}, nil
	case "ewma":
		if !(alpha > 0 && alpha <= 1) {
			return nil, &OptionError{Option: "alpha", Msg: fmt.Sprintf("must be in (0, 1] for ewma, got %v", alpha)}
		}
		return &EWMA{Alpha: alpha}, nil
	case "last":
		return &Last{}, nil
	case "none":
		return nil, nil
	}
	return nil, &OptionError{Option: "kind", Msg: fmt.Sprintf("must be one of mean, ewma, last, none; got %q", kind)}
}

// OptionError is an option this package cannot take: "kind" or "alpha" for NewStreaming (and
// NewRecord), a KNNImputer field's name ("NNeighbors", "Weights", "Workers") for its Impute and
// ImputeInPlace. Edges name their own option (impute_default, ewma_alpha, -impute, -k) with
// errors.As.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return "impute: " + e.Option + " " + e.Msg }

// Mean is River's stats.Mean: N is the count of learned values (River's sum of weights,
// every weight 1), M the running mean; Value is 0 before any value.
type Mean struct {
	N float64
	M float64
}

// Update performs River's update with w = 1: n += w; mean += (w / n) · (x − mean).
func (m *Mean) Update(x float64) {
	if x != x {
		return
	}
	m.N++
	// The explicit conversion rounds the product before the addition, so the compiler may
	// not fuse them into one FMA on any platform: Python rounds each operation.
	m.M += float64((1 / m.N) * (x - m.M))
}

// Value returns the running mean (0 before any value, like River).
func (m *Mean) Value() float64 { return m.M }

// EWMA is River's stats.EWMean: exponentially weighted mean with fading factor Alpha in
// [0, 1] (the closer to 1, the more it follows recent values).
type EWMA struct {
	Alpha float64
	M     float64
}

// Update performs River's update: the mean takes x itself while it is exactly 0 (at the
// start, and again whenever it lands on 0), else alpha·x + (1 − alpha)·mean.
func (e *EWMA) Update(x float64) {
	if x != x {
		return
	}
	if e.M == 0 {
		e.M = x
		return
	}
	e.M = float64(e.Alpha*x) + float64((1-e.Alpha)*e.M)
}

// Value returns the weighted mean (0 before any value, like River).
func (e *EWMA) Value() float64 { return e.M }

// Last carries the last present value forward. River's PreviousImputer gives None before
// any value; Last gives 0, like the two statistics.
type Last struct {
	V    float64
	Seen bool
}

// Update remembers x unless it is NaN.
func (l *Last) Update(x float64) {
	if x != x {
		return
	}
	l.V, l.Seen = x, true
}

// Value returns the last present value, or 0 before any.
func (l *Last) Value() float64 { return l.V }

// Binary state layout, little endian:
//
//	[0]    kind: 'M' Mean, 'E' EWMA, 'L' Last
//	[1]    format version (1)
//	[2:18] two float64 bit patterns: Mean N, M; EWMA Alpha, M; Last V, then Seen as 0/1
//	       stored in the second word (0 or 1 as a float64)
//	[18:22] CRC-32 (IEEE) of bytes [0:18]
const (
	stateVersion = 1
	stateLen     = 22
)

// ErrState is wrapped by every UnmarshalBinary error.
var ErrState = errors.New("impute: bad streaming imputer state")

func marshalState(kind byte, a, b float64) []byte {
	buf := make([]byte, stateLen)
	buf[0], buf[1] = kind, stateVersion
	binary.LittleEndian.PutUint64(buf[2:], math.Float64bits(a))
	binary.LittleEndian.PutUint64(buf[10:], math.Float64bits(b))
	binary.LittleEndian.PutUint32(buf[18:], crc32.ChecksumIEEE(buf[:18]))
	return buf
}

func unmarshalState(kind byte, name string, buf []byte) (a, b float64, err error) {
	if len(buf) != stateLen {
		return 0, 0, fmt.Errorf("%w: %s state is %d bytes, want %d", ErrState, name, len(buf), stateLen)
	}
	if got, want := binary.LittleEndian.Uint32(buf[18:]), crc32.ChecksumIEEE(buf[:18]); got != want {
		return 0, 0, fmt.Errorf("%w: %s state checksum %08x, want %08x (corrupted)", ErrState, name, got, want)
	}
	if buf[0] != kind {
		return 0, 0, fmt.Errorf("%w: state of kind %q, not %s", ErrState, buf[0], name)
	}
	if buf[1] != stateVersion {
		return 0, 0, fmt.Errorf("%w: %s state version %d, this build reads %d", ErrState, name, buf[1], stateVersion)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(buf[2:])),
		math.Float64frombits(binary.LittleEndian.Uint64(buf[10:])), nil
}

// MarshalBinary encodes the exact float bits of N and M.
func (m *Mean) MarshalBinary() ([]byte, error) { return marshalState('M', m.N, m.M), nil }

// UnmarshalBinary restores a state written by MarshalBinary; m is unchanged on error.
func (m *Mean) UnmarshalBinary(buf []byte) error {
	n, mean, err := unmarshalState('M', "mean", buf)
	if err != nil {
		return err
	}
	if !(n >= 0) || math.IsInf(n, 0) || n != math.Trunc(n) {
		return fmt.Errorf("%w: mean count %v is not a whole number >= 0", ErrState, n)
	}
	m.N, m.M = n, mean
	return nil
}

// MarshalBinary encodes the exact float bits of Alpha and M.
func (e *EWMA) MarshalBinary() ([]byte, error) { return marshalState('E', e.Alpha, e.M), nil }

// UnmarshalBinary restores a state written by MarshalBinary; e is unchanged on error.
func (e *EWMA) UnmarshalBinary(buf []byte) error {
	alpha, mean, err := unmarshalState('E', "ewma", buf)
	if err != nil {
		return err
	}
	if !(alpha >= 0 && alpha <= 1) {
		return fmt.Errorf("%w: ewma alpha %v is not in [0, 1]", ErrState, alpha)
	}
	e.Alpha, e.M = alpha, mean
	return nil
}

// MarshalBinary encodes the exact float bits of V and whether a value was seen.
func (l *Last) MarshalBinary() ([]byte, error) {
	seen := 0.0
	if l.Seen {
		seen = 1
	}
	return marshalState('L', l.V, seen), nil
}

// UnmarshalBinary restores a state written by MarshalBinary; l is unchanged on error.
func (l *Last) UnmarshalBinary(buf []byte) error {
	v, seen, err := unmarshalState('L', "last", buf)
	if err != nil {
		return err
	}
	if b := math.Float64bits(seen); b != 0 && b != math.Float64bits(1) { // +0 or 1 exactly
		return fmt.Errorf("%w: last seen flag %v is not 0 or 1", ErrState, seen)
	}
	l.V, l.Seen = v, seen == 1
	return nil
}
