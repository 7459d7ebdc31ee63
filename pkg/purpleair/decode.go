package purpleair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
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

// Decode reads one API-format JSON document (a /v1/sensors response) from r,
// strictly: a data row whose length differs from len(Fields), or a cell that
// is neither number, string nor null, is a *RowError naming row and column;
// malformed or truncated JSON is a *SyntaxError. An API error document
// ({"error": ..., "description": ...}) is returned as *APIError. Anything but
// whitespace after the document is an error. The input is decoded as it is
// read: memory holds the decoded rows, never the input as well.
func Decode(r io.Reader) (*Response, error) {
	p := newStreamParser(r, 0, false)
	resp, err := p.document()
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return resp, nil
}

// DecodeBytes is Decode on a byte slice. With skipBadRows, unusable rows are
// left out of Data and listed in BadRows instead of failing the document.
func DecodeBytes(b []byte, skipBadRows bool) (*Response, error) {
	p := parser{b: b, skipBadRows: skipBadRows, row: -1}
	resp, err := p.document()
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return resp, nil
}

// end checks that nothing but whitespace follows the document.
func (p *parser) end() error {
	for {
		p.ws()
		if p.i < len(p.b) {
			return p.syntaxf("unexpected %q after the end of the document", p.b[p.i])
		}
		if !p.more() {
			return p.readErr()
		}
	}
}

// ErrTooLarge is matched (errors.Is) by the error of an input longer than the
// decoder's limit.
var ErrTooLarge = errors.New("input too large")

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("purpleair: input larger than the limit of %d bytes", e.limit)
}
func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Decoder reads a stream of API-format documents, one after another (as
// written by WriteAPIJSON, one per simulated step), from a reader, decoding
// each as it is read.
type Decoder struct {
	// SkipBadRows drops unusable rows into Response.BadRows instead of failing
	// the whole document.
	SkipBadRows bool

	p      *parser
	n      int   // documents decoded
	endOff int64 // where the last complete document ended
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{p: newStreamParser(r, 0, false)}
}

// NewDecoderLimit returns a Decoder reading at most limit bytes from r (0: no
// limit); more is an error matching ErrTooLarge.
func NewDecoderLimit(r io.Reader, limit int64) *Decoder {
	return &Decoder{p: newStreamParser(r, limit, false)}
}

// Decode returns the next document, or io.EOF after the last one.
func (d *Decoder) Decode() (*Response, error) {
	return d.decode(nil)
}

// ChunkRows is the most rows DecodeFunc hands over at once.
const ChunkRows = 1024

// DecodeFunc reads the next document like Decode, but hands its rows to fn in
// consecutive chunks (at most ChunkRows each) as they are decoded, so that
// memory stays at about one chunk whatever the size of the document. Each
// chunk is a *Response with the document's members read so far, some of its
// rows in Data (SourceRow gives a row's position in the document's data
// array) and the unusable ones among them in BadRows; the chunk and its rows
// are valid only until fn returns. Rows are streamed when "fields" and
// "data_time_stamp" come before "data", as in the API's responses and
// WriteAPIJSON's output; otherwise they are kept until the document ends. An
// error from fn stops decoding and is returned. Of a document cut short, every
// complete row has been handed to fn before the *SyntaxError is returned.
// The Response returned holds the document's members, without rows.
func (d *Decoder) DecodeFunc(fn func(chunk *Response) error) (*Response, error) {
	if fn == nil {
		return nil, errors.New("purpleair: DecodeFunc needs a function")
	}
	return d.decode(fn)
}

func (d *Decoder) decode(fn func(*Response) error) (*Response, error) {
	p := d.p
	p.skipBadRows = d.SkipBadRows
	p.onRows = fn
	// Another document, or the end of the input?
	for {
		p.ws()
		if p.i < len(p.b) {
			break
		}
		if !p.more() {
			if err := p.readErr(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
	}
	resp, err := p.document()
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			switch {
			case se.Truncated && d.n > 0:
				se.Msg = fmt.Sprintf("document %d (after byte %d) is incomplete: %s", d.n, d.endOff, se.Msg)
			case se.Truncated:
				se.Msg = fmt.Sprintf("document %d is incomplete: %s", d.n, se.Msg)
			default:
				se.Msg = fmt.Sprintf("document %d: %s", d.n, se.Msg)
			}
		}
		return nil, err
	}
	d.n++
	d.endOff = p.base + int64(p.i)
	return resp, nil
}

// parser is a single-pass JSON reader specialised for the response shape: the
// data array (almost all of the bytes) is read straight into backing slices
// of cells, without building generic JSON values. It reads from b, which a
// streaming parser refills from r as it goes: every token is complete in b
// before it is parsed, so the token readers work on b alone.
type parser struct {
	b           []byte
	i           int
	row         int // data row being read, −1 outside data
	skipBadRows bool

	// Streaming input (r == nil: b is all of it).
	r     io.Reader
	base  int64 // input offset of b[0]
	read  int64 // bytes read from r
	limit int64 // the most bytes to read from r; 0: no limit
	rerr  error // r's error once it failed or ended (io.EOF)

	// onRows, when set, receives the rows in chunks (see Decoder.DecodeFunc).
	onRows func(*Response) error

	// Rows of the current document.
	cells  []Value   // the backing chunk being filled
	rows   [][]Value // kept rows
	rowIdx []int     // their positions in the data array
	bad    []*RowError
}

// readBuf is the first size of a streaming parser's buffer; it grows only for
// a longer token.
const readBuf = 64 << 10

// cellChunk is how many cells a streaming parser allocates at a time: the
// decoded rows take what they need plus at most one chunk, never a doubled
// slice.
const cellChunk = 16 << 10

func newStreamParser(r io.Reader, limit int64, skipBadRows bool) *parser {
	return &parser{r: r, b: make([]byte, 0, readBuf), limit: limit, skipBadRows: skipBadRows, row: -1}
}

// more reads more input, keeping b[i:] (the token being read and what
// follows). It reports false when the input has ended or failed (see rerr).
func (p *parser) more() bool {
	if p.r == nil || p.rerr != nil {
		return false
	}
	if p.i > 0 {
		n := copy(p.b, p.b[p.i:])
		p.base += int64(p.i)
		p.b = p.b[:n]
		p.i = 0
	}
	if len(p.b) == cap(p.b) {
		nb := make([]byte, len(p.b), max(2*cap(p.b), readBuf))
		copy(nb, p.b)
		p.b = nb
	}
	for {
		room := p.b[len(p.b):cap(p.b)]
		if p.limit > 0 && int64(len(room)) > p.limit-p.read+1 {
			room = room[:p.limit-p.read+1] // one byte beyond the limit tells that there is more
		}
		n, err := p.r.Read(room)
		p.read += int64(n)
		p.b = p.b[:len(p.b)+n]
		if p.limit > 0 && p.read > p.limit {
			p.b = p.b[:len(p.b)-int(p.read-p.limit)]
			p.rerr = &tooLargeError{p.limit}
			return false
		}
		if err != nil {
			p.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// readErr is the reason the input ended early, nil for its end.
func (p *parser) readErr() error {
	if p.rerr == nil || errors.Is(p.rerr, io.EOF) {
		return nil
	}
	if errors.Is(p.rerr, ErrTooLarge) {
		return p.rerr
	}
	return fmt.Errorf("purpleair: reading input (%d bytes received): %w", p.base+int64(len(p.b)), p.rerr)
}

func (p *parser) syntaxf(format string, args ...any) error {
	return &SyntaxError{Offset: p.base + int64(p.i), Row: p.row, Msg: fmt.Sprintf(format, args...)}
}

// truncated is the error of input ending before the document: a read error or
// the limit where that is the cause.
func (p *parser) truncated(what string) error {
	if err := p.readErr(); err != nil {
		return err
	}
	return &SyntaxError{Offset: p.base + int64(len(p.b)), Row: p.row, Truncated: true, Msg: "expected " + what}
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// expect consumes byte c after optional whitespace.
func (p *parser) expect(c byte, what string) error {
	got, err := p.peek(what)
	if err != nil {
		return err
	}
	if got != c {
		return p.syntaxf("expected %s, found %q", what, got)
	}
	p.i++
	return nil
}

// peek returns the next non-space byte without consuming it.
func (p *parser) peek(what string) (byte, error) {
	if c, ok := p.next(); ok {
		return c, nil
	}
	return p.peekSlow(what)
}

// next is peek's fast path, small enough to be inlined in the data loop: the
// next byte when it is there and not whitespace (the API's JSON has none).
func (p *parser) next() (byte, bool) {
	if p.i < len(p.b) && p.b[p.i] > ' ' {
		return p.b[p.i], true
	}
	return 0, false
}

// peekSlow is peek past whitespace or at the end of b.
func (p *parser) peekSlow(what string) (byte, error) {
	for {
		p.ws()
		if p.i < len(p.b) {
			return p.b[p.i], nil
		}
		if !p.more() {
			return 0, p.truncated(what)
		}
	}
}

// ensure makes b hold the whole token at i, whose bytes after the first
// inToken accepts (a string's are found by ensureString): a streaming parser
// reads until a byte ends it or the input does.
func (p *parser) ensure(inToken func(c byte) bool) {
	if p.r == nil {
		return
	}
	j := p.i + 1
	for {
		for j < len(p.b) && inToken(p.b[j]) {
			j++
		}
		if j < len(p.b) {
			return
		}
		off := j - p.i
		if !p.more() {
			return
		}
		j = p.i + off
	}
}

func numberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func literalByte(c byte) bool { return c >= 'a' && c <= 'z' }

// ensureString makes b hold the whole string starting at i (a '"').
func (p *parser) ensureString() {
	if p.r == nil {
		return
	}
	j := p.i + 1
	for {
		for j < len(p.b) {
			switch p.b[j] {
			case '"':
				return
			case '\\':
				j += 2
				continue
			}
			j++
		}
		off := j - p.i
		if !p.more() {
			return
		}
		j = p.i + off
	}
}

func (p *parser) document() (*Response, error) {
	if err := p.expect('{', "'{' starting the response object"); err != nil {
		return nil, err
	}
	resp := &Response{}
	var (
		haveFields, haveData bool
		haveDataTime         bool
		apiErr               *APIError
		rowLenChecked        bool
		streamed             bool
	)
	p.rows, p.rowIdx, p.bad = nil, nil, nil
	first := true
	for {
		c, err := p.peek("a member name or '}'")
		if err != nil {
			return nil, err
		}
		if c == '}' && first {
			p.i++
			break
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if err := p.expect(':', "':' after member name"); err != nil {
			return nil, err
		}
		switch key {
		case "api_version":
			resp.APIVersion, err = p.stringMember(key)
		case "time_stamp":
			resp.TimeStamp, err = p.intMember(key)
		case "data_time_stamp":
			resp.DataTimeStamp, err = p.intMember(key)
			haveDataTime = true
		case "max_age":
			resp.MaxAge, err = p.intMember(key)
		case "firmware_default_version":
			resp.FirmwareDefaultVersion, err = p.stringMember(key)
		case "location_types":
			resp.LocationTypes, err = p.stringArray(key)
		case "fields":
			if haveFields {
				return nil, &FieldError{Member: key, Msg: "appears twice"}
			}
			haveFields = true
			resp.Fields, err = p.stringArray(key)
			if err == nil {
				seen := make(map[string]int, len(resp.Fields))
				for i, f := range resp.Fields {
					if j, dup := seen[f]; dup {
						return nil, &FieldError{Member: key, Msg: fmt.Sprintf("field %q appears twice (positions %d and %d)", f, j, i)}
					}
					seen[f] = i
				}
			}
		case "data":
			if haveData {
				return nil, &FieldError{Member: key, Msg: "appears twice"}
			}
			haveData = true
			rowLenChecked = haveFields
			// Rows can only be handed over as they come when what makes them metrics is known.
			streamed = p.onRows != nil && haveFields && haveDataTime && apiErr == nil
			err = p.data(resp, haveFields, streamed)
		case "error":
			if apiErr == nil {
				apiErr = &APIError{}
			}
			apiErr.Code, err = p.stringMember(key)
		case "description":
			if apiErr == nil {
				apiErr = &APIError{}
			}
			apiErr.Description, err = p.stringMember(key)
		default:
			// Members this model does not use (channel_flags, ...) are
			// validated and skipped so that new API members do not break us.
			err = p.skipValue(0)
		}
		if err != nil {
			return nil, err
		}
		first = false
		c, err = p.peek("',' or '}' after a member")
		if err != nil {
			return nil, err
		}
		p.i++
		if c == '}' {
			break
		}
		if c != ',' {
			p.i--
			return nil, p.syntaxf("expected ',' or '}' after member %q, found %q", key, c)
		}
	}
	if apiErr != nil {
		return nil, apiErr
	}
	if !haveFields {
		return nil, &FieldError{Member: "fields", Msg: "missing: not a /v1/sensors response"}
	}
	if !haveData {
		return nil, &FieldError{Member: "data", Msg: "missing: not a /v1/sensors response"}
	}
	if !rowLenChecked {
		// "data" came before "fields": check lengths now.
		keptRows, keptIdx := p.rows[:0], p.rowIdx[:0]
		for r, row := range p.rows {
			if len(row) != len(resp.Fields) {
				e := &RowError{Row: p.rowIdx[r], Col: -1, Msg: fmt.Sprintf("%d values, want %d (one per field)", len(row), len(resp.Fields))}
				if !p.skipBadRows {
					return nil, e
				}
				p.bad = append(p.bad, e)
				continue
			}
			keptRows, keptIdx = append(keptRows, row), append(keptIdx, p.rowIdx[r])
		}
		p.rows, p.rowIdx = keptRows, keptIdx
		slices.SortFunc(p.bad, func(a, b *RowError) int { return a.Row - b.Row })
	}
	if p.onRows != nil {
		if !streamed {
			if err := p.flush(resp); err != nil {
				return nil, err
			}
		}
		p.rows, p.rowIdx, p.bad, p.cells = nil, nil, nil, nil
		return resp, nil
	}
	resp.Data = p.rows
	if resp.Data == nil {
		resp.Data = [][]Value{}
	}
	resp.BadRows = p.bad
	if len(resp.BadRows) > 0 {
		resp.origRow = p.rowIdx
	}
	p.rows, p.rowIdx, p.bad, p.cells = nil, nil, nil, nil
	return resp, nil
}

// flush hands the rows kept so far to onRows, in chunks, and forgets them.
func (p *parser) flush(resp *Response) error {
	rows, rowIdx := p.rows, p.rowIdx
	defer func() { p.rows, p.rowIdx, p.bad = rows[:0], rowIdx[:0], nil }()
	for len(p.rows) > 0 || len(p.bad) > 0 {
		n := min(len(p.rows), ChunkRows)
		chunk := *resp
		chunk.Data = p.rows[:n:n]
		chunk.origRow = p.rowIdx[:n:n]
		// Bad rows go with the chunk whose rows surround them.
		nb := len(p.bad)
		if n < len(p.rows) {
			next := p.rowIdx[n]
			nb = 0
			for nb < len(p.bad) && p.bad[nb].Row < next {
				nb++
			}
		}
		chunk.BadRows = p.bad[:nb:nb]
		if err := p.onRows(&chunk); err != nil {
			return err
		}
		p.rows, p.rowIdx, p.bad = p.rows[n:], p.rowIdx[n:], p.bad[nb:]
	}
	return nil
}

// newChunk continues the row that began at cells[start] in a new chunk of
// cells: the rows before keep theirs, and only the partial row is copied.
func newChunk(cells []Value, start int) []Value {
	partial := cells[start:]
	c := make([]Value, len(partial), max(cellChunk, 2*len(partial)))
	copy(c, partial)
	return c
}

// data reads the "data" array into p.rows (see keep); streamed, it hands the
// rows to onRows every ChunkRows rows.
func (p *parser) data(resp *Response, fieldsKnown, streamed bool) error {
	if err := p.expect('[', "'[' starting the data array"); err != nil {
		return err
	}
	nf := len(resp.Fields)
	if p.r == nil {
		// All the input is here: cells are separated by commas, so counting them
		// (a fast vectorised scan) bounds the cell count and the backing slice is
		// allocated once.
		p.cells = make([]Value, 0, bytes.Count(p.b[p.i:], []byte{','})+1)
	}
	if c, err := p.peek("a data row or ']'"); err != nil {
		return err
	} else if c == ']' {
		p.i++
		return nil
	}
	for r := 0; ; r++ {
		p.row = r
		var rowErr *RowError
		var err error
		start := len(p.cells)
		p.cells, start, rowErr, err = p.dataRow(p.cells, start, resp.Fields)
		if err != nil {
			if streamed && p.onRows != nil {
				// The complete rows before the error are handed over; the error follows.
				if ferr := p.flush(resp); ferr != nil {
					return ferr
				}
			}
			return err
		}
		if rowErr == nil && fieldsKnown && len(p.cells)-start != nf {
			rowErr = &RowError{Row: r, Col: -1, Msg: fmt.Sprintf("%d values, want %d (one per field)", len(p.cells)-start, nf)}
		}
		if rowErr != nil {
			if !p.skipBadRows {
				if streamed {
					if ferr := p.flush(resp); ferr != nil {
						return ferr
					}
				}
				return rowErr
			}
			p.bad = append(p.bad, rowErr)
			p.cells = p.cells[:start]
		} else {
			p.rows = append(p.rows, p.cells[start:len(p.cells):len(p.cells)])
			p.rowIdx = append(p.rowIdx, r)
		}
		if streamed && len(p.rows) >= ChunkRows {
			if err := p.flush(resp); err != nil {
				return err
			}
			p.cells = p.cells[:0] // the chunk's rows are handed over: their cells can be reused
		}
		c, err := p.peek("',' or ']' after a data row")
		if err != nil {
			if streamed {
				if ferr := p.flush(resp); ferr != nil {
					return ferr
				}
			}
			return err
		}
		p.i++
		if c == ']' {
			break
		}
		if c != ',' {
			p.i--
			return p.syntaxf("expected ',' or ']' after a data row, found %q", c)
		}
	}
	p.row = -1
	if streamed {
		return p.flush(resp)
	}
	return nil
}

// dataRow appends the cells of one row. A well-formed row that cannot be used
// returns a *RowError (the rest of the row is consumed, so decoding can go
// on); malformed JSON returns err.
func (p *parser) dataRow(cells []Value, start int, fields []string) ([]Value, int, *RowError, error) {
	c, err := p.peek("a data row")
	if err != nil {
		return cells, start, nil, err
	}
	if c != '[' {
		if err := p.skipValue(0); err != nil {
			return cells, start, nil, err
		}
		return cells, start, &RowError{Row: p.row, Col: -1, Msg: "not an array"}, nil
	}
	p.i++
	if c, err := p.peek("a value or ']'"); err != nil {
		return cells, start, nil, err
	} else if c == ']' {
		p.i++
		return cells, start, nil, nil
	}
	var rowErr *RowError
	for col := 0; ; col++ {
		c, ok := p.next()
		if !ok {
			if c, err = p.peekSlow("a value"); err != nil {
				return cells, start, nil, err
			}
		}
		var v Value
		switch {
		case c == 'n':
			err = p.literal("null")
		case c == '"':
			v.Kind = KindString
			v.Str, err = p.string()
		case c == '-' || (c >= '0' && c <= '9'):
			v.Kind = KindNumber
			v.Num, err = p.number()
		default:
			what := map[byte]string{'{': "JSON object", '[': "JSON array", 't': "JSON boolean", 'f': "JSON boolean"}[c]
			if what == "" {
				return cells, start, nil, p.syntaxf("unexpected %q where a value belongs", c)
			}
			if err = p.skipValue(0); err == nil && rowErr == nil {
				rowErr = &RowError{Row: p.row, Col: col, Msg: what + " (a cell must be a number, string or null)"}
				if col < len(fields) {
					rowErr.Field = fields[col]
				}
			}
		}
		if err != nil {
			return cells, start, nil, err
		}
		if len(cells) == cap(cells) {
			cells, start = newChunk(cells, start), 0
		}
		cells = append(cells, v)
		if c, ok = p.next(); !ok {
			if c, err = p.peekSlow("',' or ']' in a data row"); err != nil {
				return cells, start, nil, err
			}
		}
		p.i++
		if c == ']' {
			return cells, start, rowErr, nil
		}
		if c != ',' {
			p.i--
			return cells, start, nil, p.syntaxf("expected ',' or ']' in a data row, found %q", c)
		}
	}
}

func (p *parser) literal(lit string) error {
	if p.r != nil {
		p.ensure(literalByte)
	}
	if len(p.b)-p.i < len(lit) {
		if string(p.b[p.i:]) == lit[:len(p.b)-p.i] {
			return p.truncated(lit)
		}
		return p.syntaxf("invalid literal (expected %s)", lit)
	}
	if string(p.b[p.i:p.i+len(lit)]) != lit {
		return p.syntaxf("invalid literal (expected %s)", lit)
	}
	p.i += len(lit)
	return nil
}

// string reads a JSON string at p.i (which must be '"').
func (p *parser) string() (string, error) {
	if _, err := p.peek("a string"); err != nil {
		return "", err
	}
	if p.b[p.i] != '"' {
		return "", p.syntaxf("expected a string, found %q", p.b[p.i])
	}
	if p.r != nil {
		p.ensureString()
	}
	start := p.i
	p.i++
	simple := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if simple {
				return string(p.b[start+1 : p.i-1]), nil
			}
			// Escapes or non-ASCII: let encoding/json apply the exact JSON
			// rules (and replace invalid UTF-8 as it always does).
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				p.i = start
				return "", p.syntaxf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			simple = false
			p.i += 2
			continue
		case c < 0x20:
			return "", p.syntaxf("control character %q in a string", c)
		case c >= utf8.RuneSelf:
			simple = false
		}
		p.i++
	}
	return "", p.truncated("the end of a string")
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number reads a JSON number, checking the JSON grammar (which is stricter
// than strconv: no '+', no leading zeros, no hex, no inf). Plain decimals of
// up to 15 digits — nearly every API value — are converted directly: an
// integer mantissa below 2^53 divided by an exact power of ten is correctly
// rounded (Clinger's fast path, as strconv does), without strconv's overhead.
func (p *parser) number() (float64, error) {
	if p.r != nil {
		p.ensure(numberByte)
	}
	start := p.i
	b := p.b
	i := p.i
	var mant uint64
	nd, frac := 0, 0
	digits := func(isFrac bool) int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if nd < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				if mant != 0 {
					nd++
				}
				if isFrac {
					frac++
				}
			} else {
				nd++ // too many digits for the fast path
			}
			i++
			n++
		}
		return n
	}
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) {
		p.i = i
		return 0, p.truncated("digits of a number")
	}
	if b[i] == '0' {
		i++
	} else if digits(false) == 0 {
		p.i = i
		return 0, p.syntaxf("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits(true) == 0 {
			p.i = i
			if i >= len(b) {
				return 0, p.truncated("digits after '.'")
			}
			return 0, p.syntaxf("invalid number: no digits after '.'")
		}
	}
	exp := false
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		exp = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		expStart := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == expStart {
			p.i = i
			if i >= len(b) {
				return 0, p.truncated("exponent digits")
			}
			return 0, p.syntaxf("invalid number: no exponent digits")
		}
	}
	p.i = i
	if !exp && nd <= 15 && frac < len(pow10) {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f, nil
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil {
		p.i = start
		return 0, p.syntaxf("number %s out of range", b[start:i])
	}
	return f, nil
}

func (p *parser) stringMember(key string) (string, error) {
	c, err := p.peek("a value")
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", &FieldError{Member: key, Msg: fmt.Sprintf("want a string, found %q", c)}
	}
	return p.string()
}

func (p *parser) intMember(key string) (int64, error) {
	c, err := p.peek("a value")
	if err != nil {
		return 0, err
	}
	if c != '-' && (c < '0' || c > '9') {
		return 0, &FieldError{Member: key, Msg: fmt.Sprintf("want a number, found %q", c)}
	}
	f, err := p.number()
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, &FieldError{Member: key, Msg: fmt.Sprintf("want an integer, got %v", f)}
	}
	return int64(f), nil
}

func (p *parser) stringArray(key string) ([]string, error) {
	c, err := p.peek("a value")
	if err != nil {
		return nil, err
	}
	if c != '[' {
		return nil, &FieldError{Member: key, Msg: fmt.Sprintf("want an array of strings, found %q", c)}
	}
	p.i++
	out := []string{}
	if c, err := p.peek("a string or ']'"); err != nil {
		return nil, err
	} else if c == ']' {
		p.i++
		return out, nil
	}
	for {
		c, err := p.peek("a string")
		if err != nil {
			return nil, err
		}
		if c != '"' {
			return nil, &FieldError{Member: key, Msg: fmt.Sprintf("element %d: want a string, found %q", len(out), c)}
		}
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		c, err = p.peek("',' or ']'")
		if err != nil {
			return nil, err
		}
		p.i++
		if c == ']' {
			return out, nil
		}
		if c != ',' {
			p.i--
			return nil, p.syntaxf("expected ',' or ']' in %q, found %q", key, c)
		}
	}
}

// maxDepth bounds nesting in skipped values so hostile input cannot exhaust
// the stack.
const maxDepth = 512

// skipValue consumes and validates any JSON value.
func (p *parser) skipValue(depth int) error {
	if depth > maxDepth {
		return p.syntaxf("nesting deeper than %d", maxDepth)
	}
	c, err := p.peek("a value")
	if err != nil {
		return err
	}
	switch {
	case c == '"':
		_, err = p.string()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err = p.number()
		return err
	case c == 'n':
		return p.literal("null")
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == '[' || c == '{':
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		p.i++
		if c2, err := p.peek("a value or closing bracket"); err != nil {
			return err
		} else if c2 == closing {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				if _, err := p.string(); err != nil {
					return err
				}
				if err := p.expect(':', "':'"); err != nil {
					return err
				}
			}
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			c2, err := p.peek("',' or closing bracket")
			if err != nil {
				return err
			}
			p.i++
			if c2 == closing {
				return nil
			}
			if c2 != ',' {
				p.i--
				return p.syntaxf("expected ',' or %q, found %q", closing, c2)
			}
		}
	}
	return p.syntaxf("unexpected %q where a value belongs", c)
}
