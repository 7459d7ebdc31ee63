package purpleair

import (
	"errors"
	"fmt"
)

// OptionError is an option a call cannot use, named as its Go field (Config.Option, e.g.
// Client.MaxRetries, SimulatorConfig.Sensors); each edge translates the name into its own spelling
// (the input's max_retries and sensors, the CLI's -sensors).
type OptionError struct {
	Config string // "Client" or "SimulatorConfig"
	Option string // the field
	Reason string
}

func (e *OptionError) Error() string {
	return "purpleair: " + e.Config + "." + e.Option + " " + e.Reason
}

// ErrTruncated is matched (errors.Is) by decoding errors caused by input that
// ends before the JSON document does — typically a cut-off HTTP body.
var ErrTruncated = errors.New("truncated response")

// SyntaxError is malformed or truncated JSON. Row is the data row being read
// when it happened, −1 outside the data array.
type SyntaxError struct {
	Offset    int64 // byte offset of the problem
	Row       int
	Msg       string
	Truncated bool
}

func (e *SyntaxError) Error() string {
	where := ""
	if e.Row >= 0 {
		where = fmt.Sprintf(" (in data row %d)", e.Row)
	}
	if e.Truncated {
		return fmt.Sprintf("purpleair: truncated response: input ends at byte %d%s: %s", e.Offset, where, e.Msg)
	}
	return fmt.Sprintf("purpleair: malformed JSON at byte %d%s: %s", e.Offset, where, e.Msg)
}

// Is makes errors.Is(err, ErrTruncated) true for truncated input.
func (e *SyntaxError) Is(target error) bool { return target == ErrTruncated && e.Truncated }

// RowError is a well-formed data row that cannot be used. Col is −1 when the
// row as a whole is wrong (length, not an array).
type RowError struct {
	Row   int // index in the response's data array (0-based)
	Col   int
	Field string // name of column Col when known
	Msg   string
}

func (e *RowError) Error() string {
	switch {
	case e.Col < 0:
		return fmt.Sprintf("purpleair: data row %d: %s", e.Row, e.Msg)
	case e.Field != "":
		return fmt.Sprintf("purpleair: data row %d, column %d (%q): %s", e.Row, e.Col, e.Field, e.Msg)
	}
	return fmt.Sprintf("purpleair: data row %d, column %d: %s", e.Row, e.Col, e.Msg)
}

// FieldError is a top-level member of the response with the wrong shape
// (e.g. "fields" that is not an array of strings).
type FieldError struct {
	Member string
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("purpleair: response member %q: %s", e.Member, e.Msg)
}

// ErrTooLarge is matched (errors.Is) by the error of an input longer than the
// decoder's limit.
var ErrTooLarge = errors.New("input too large")

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("purpleair: input larger than the limit of %d bytes", e.limit)
}
func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }
