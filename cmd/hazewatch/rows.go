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
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// rowReader reads an input file one row at a time, in input order, so that a command which needs
// one row at a time (stream) holds one row, and a command which needs the whole matrix (batch,
// impute) holds floats only. openRows makes one for either input format:
//
//   - a PurpleAir API response (GET /v1/sensors; null is a missing value), or a stream of them one
//     after another as `hazewatch simulate` writes, whose rows follow each other;
//   - a CSV file with a header; "", nan, NaN, NA, null and None are missing values.
//
// A UTF-8 byte-order mark at the start of the file is skipped. Use it so:
//
//	rr, err := openRows(path, os.Stdin)
//	if err != nil { ... }
//	defer rr.Close()
//	idx := rr.Use("sensor_index", "pm2.5_atm") // −1 for a column the input lacks
//	row := make([]float64, len(rr.Header()))
//	for {
//		err := rr.Next(row)
//		if errors.Is(err, io.EOF) { break }
//		if err != nil { return err } // says where: line and column, or data row and field
//		pm := row[idx[1]] // NaN when missing
//	}
//
// A value that is not a number is an error naming where it is when its column is used (Use), and
// NaN otherwise: a name, a date or a label column does not stop a command that does not read it,
// and Text says afterwards which columns held such values (batch leaves them out of its default
// features). An API response whose field holds both numbers and text is an error whether the
// field is used or not, as a column of the wrong type in a response is a broken response.
//
// The whole of an API response is decoded before its first row is returned (pkg/purpleair decodes
// whole documents), so a single-document response is held in memory, decoded, while it is read
// (about 32 bytes a value); a stream of documents holds one document at a time, and CSV one row.
type rowReader interface {
	// Header is the input's column names, in input order (CSV names trimmed of spaces). Names are
	// unique: a file that repeats one is refused by openRows.
	Header() []string
	// Use marks the named columns as used, so that a value in them that is not a number is an error
	// from Next, and returns their indexes in Header, −1 for a name the input lacks. Call it before
	// the first Next.
	Use(names ...string) []int
	// Next reads the next row into row, one value per column of Header, NaN where a value is
	// missing or is not a number in an unused column; io.EOF after the last row. row is the
	// caller's: the reader keeps nothing of it.
	Next(row []float64) error
	// UseTime is Use for a column of times: a value is a number of Unix seconds or an RFC 3339
	// time, which Next returns as Unix seconds.
	UseTime(name string) int
	// Stamp is the data_time_stamp of the API response the last row came from, in Unix seconds;
	// NaN for CSV, or for a response without one.
	Stamp() float64
	// Text is the unused columns with a value that is not a number, among the rows read so far.
	Text() []textColumn
	// Close releases the file; it is a no-op on standard input.
	Close() error
}

// rowBufferSize is the read buffer: large enough that reading costs few system calls, small next to
// any input worth streaming.
const rowBufferSize = 1 << 16

var utf8BOM = []byte("\ufeff")

// openRows opens path ("-" is stdin) and reads its header: the first document of an API response,
// or the first line of a CSV file.
func openRows(path string, stdin io.Reader) (rowReader, error) {
	var src io.Reader = stdin
	var closer io.Closer = io.NopCloser(nil)
	size := int64(-1) // unknown
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		src, closer = f, f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	br := bufio.NewReaderSize(src, rowBufferSize)
	// Spreadsheet programs write a byte-order mark before a CSV header; left in, it becomes part of
	// the first column's name and sensor_index goes unrecognised.
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	var (
		rr  rowReader
		err error
	)
	if startsJSON(br) {
		rr, err = openAPIRows(path, br, closer, size)
	} else {
		rr, err = openCSVRows(path, br, closer)
	}
	if err != nil {
		closer.Close()
		return nil, err
	}
	return rr, nil
}

// startsJSON reports whether the first byte after leading white space opens a JSON object: a CSV
// header cannot start with one.
func startsJSON(br *bufio.Reader) bool {
	for n := 1; n <= br.Size(); n++ {
		b, _ := br.Peek(n)
		if len(b) < n {
			return false
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// columnUse is what a reader knows of one column: whether a command uses it and what non-numbers it
// has held.
type columnUse struct {
	used    bool
	time    bool  // a value may be an RFC 3339 time (UseTime)
	numbers bool  // some value was a number (±Inf included)
	bad     error // the first value that is not a number, in an unused column
}

func textColumns(header []string, cols []columnUse) []textColumn {
	var out []textColumn
	for c, u := range cols {
		if u.bad != nil {
			out = append(out, textColumn{name: header[c], mixed: u.numbers, err: u.bad})
		}
	}
	return out
}

func useColumns(header []string, cols []columnUse, names []string) []int {
	idx := make([]int, len(names))
	for j, n := range names {
		idx[j] = slices.Index(header, n)
		if idx[j] >= 0 {
			cols[idx[j]].used = true
		}
	}
	return idx
}

// csvRows reads CSV with a header, one record at a time.
type csvRows struct {
	path   string
	r      *csv.Reader
	closer io.Closer
	header []string
	cols   []columnUse
}

// missingCSV are the spellings of a missing value in CSV input.
var missingCSV = map[string]bool{"": true, "nan": true, "NaN": true, "NA": true, "null": true, "None": true}

func openCSVRows(path string, src io.Reader, closer io.Closer) (*csvRows, error) {
	r := csv.NewReader(src)
	r.ReuseRecord = true // the record is parsed into floats before the next one is read
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file: want a CSV header or a PurpleAir API response", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	header = slices.Clone(header) // ReuseRecord: the next Read overwrites it
	seen := make(map[string]int, len(header))
	for c, name := range header {
		name = strings.TrimSpace(name)
		header[c] = name
		// Every lookup is by name: a second column of the same name would be shadowed by the first
		// and its values never read.
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s: column %q appears twice in the header (columns %d and %d): rename one", path, name, prev+1, c+1)
		}
		seen[name] = c
	}
	return &csvRows{path: path, r: r, closer: closer, header: header, cols: make([]columnUse, len(header))}, nil
}

func (c *csvRows) Header() []string { return c.header }
func (c *csvRows) Stamp() float64   { return math.NaN() }
func (c *csvRows) UseTime(name string) int {
	i := c.Use(name)[0]
	if i >= 0 {
		c.cols[i].time = true
	}
	return i
}
func (c *csvRows) Use(names ...string) []int { return useColumns(c.header, c.cols, names) }
func (c *csvRows) Text() []textColumn        { return textColumns(c.header, c.cols) }
func (c *csvRows) Close() error              { return c.closer.Close() }

func (c *csvRows) Next(row []float64) error {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.path, err)
	}
	for i, s := range rec {
		v := strings.TrimSpace(s)
		if missingCSV[v] {
			row[i] = math.NaN()
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil && c.cols[i].time {
			if t, terr := time.Parse(time.RFC3339Nano, v); terr == nil {
				f, err = float64(t.UnixNano())/1e9, nil
			}
		}
		if err == nil {
			c.cols[i].numbers = true // ±Inf included: a numeric column with an unusable value, not text
		}
		if err != nil || math.IsInf(f, 0) {
			// The line of the record, not a count of records: blank lines and quoted newlines
			// make them differ.
			line, _ := c.r.FieldPos(0)
			bad := fmt.Errorf("line %d, column %q: %q is not a number", line, c.header[i], v)
			if c.cols[i].used {
				return bad
			}
			if c.cols[i].bad == nil {
				c.cols[i].bad = bad
			}
			row[i] = math.NaN()
			continue
		}
		row[i] = f
	}
	return nil
}

// apiRows reads API responses a document at a time and returns their rows one at a time.
type apiRows struct {
	path   string
	docs   *apiDocuments
	closer io.Closer
	header []string
	cols   []columnUse
	text   []apiText

	doc     *purpleair.Response
	docN    int  // documents decoded, doc included
	checked bool // doc's columns have been checked against their use
	next    int  // row of doc that Next returns next
	base    int  // rows of the documents before doc
}

// apiText is the first string in an API field, for the error that names it.
type apiText struct {
	row int // among the rows of every document; −1: none yet
	str string
}

func openAPIRows(path string, src io.Reader, closer io.Closer, size int64) (*apiRows, error) {
	a := &apiRows{path: path, docs: newAPIDocuments(src, size), closer: closer}
	doc, err := a.docs.next()
	if err != nil {
		if errors.Is(err, io.EOF) { // only white space, or a byte-order mark and white space
			return nil, fmt.Errorf("%s: empty file: want a CSV header or a PurpleAir API response", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a.doc, a.docN = doc, 1
	a.header = doc.Fields
	a.cols = make([]columnUse, len(a.header))
	a.text = make([]apiText, len(a.header))
	for c := range a.text {
		a.text[c].row = -1
	}
	return a, nil
}

func (a *apiRows) Header() []string        { return a.header }
func (a *apiRows) UseTime(name string) int { return a.Use(name)[0] }
func (a *apiRows) Stamp() float64 {
	if a.doc == nil || a.doc.DataTimeStamp == 0 {
		return math.NaN()
	}
	return float64(a.doc.DataTimeStamp)
}
func (a *apiRows) Use(names ...string) []int { return useColumns(a.header, a.cols, names) }
func (a *apiRows) Text() []textColumn        { return textColumns(a.header, a.cols) }
func (a *apiRows) Close() error              { return a.closer.Close() }

// check goes through the columns of a newly decoded document before any of its rows is returned,
// so that a field of the wrong type fails the read before the output shows any of the document.
func (a *apiRows) check() error {
	for c, name := range a.header {
		u, txt := &a.cols[c], &a.text[c]
		for r, row := range a.doc.Data {
			switch row[c].Kind {
			case purpleair.KindNumber:
				u.numbers = true
			case purpleair.KindString:
				if txt.row < 0 {
					txt.row, txt.str = a.base+r, row[c].Str
				}
			}
		}
		if txt.row < 0 {
			continue
		}
		if u.numbers {
			return fmt.Errorf("%s: data row %d, field %q: %q where the other rows hold numbers", a.path, txt.row, name, txt.str)
		}
		bad := fmt.Errorf("data row %d, field %q: %q is text, not a number", txt.row, name, txt.str)
		if u.used {
			return bad
		}
		u.bad = bad
	}
	return nil
}

func (a *apiRows) Next(row []float64) error {
	for a.doc == nil || a.next == len(a.doc.Data) {
		if a.doc != nil {
			a.base += len(a.doc.Data)
			a.doc = nil // let the decoded document go before the next one is decoded
		}
		doc, err := a.docs.next()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%s: %w", a.path, err)
		}
		if !slices.Equal(doc.Fields, a.header) {
			return fmt.Errorf("%s: document %d has fields %v, the first has %v: a stream must keep its fields", a.path, a.docN, doc.Fields, a.header)
		}
		a.doc, a.docN, a.next, a.checked = doc, a.docN+1, 0, false
	}
	if !a.checked {
		if err := a.check(); err != nil {
			return err
		}
		a.checked = true
	}
	for c, v := range a.doc.Data[a.next] {
		if v.Kind == purpleair.KindNumber {
			row[c] = v.Num
		} else {
			row[c] = math.NaN() // null, or a string in a text field (check has recorded it)
		}
	}
	a.next++
	return nil
}

// apiDocuments splits a stream of API documents into one document's bytes at a time for
// purpleair.DecodeBytes, which holds them once: purpleair.Decoder, through encoding/json's decoder,
// holds a document three times (its growing read buffer and a copy), which for a single large
// response was a third of what reading it took.
type apiDocuments struct {
	src    io.Reader
	remain int64  // bytes of src not yet read, when known (a regular file); −1 when not
	buf    []byte // buf[:end]: bytes read and not yet returned as a document
	end    int
	eof    bool
	n      int   // documents returned
	offset int64 // of buf[0] in the input after the byte-order mark
}

// apiDocumentsBuffer is the smallest read buffer; the buffer grows to hold the largest document, and
// is kept for the next one up to apiDocumentsKept.
const (
	apiDocumentsBuffer = 1 << 16
	apiDocumentsKept   = 1 << 22
)

func newAPIDocuments(src io.Reader, size int64) *apiDocuments {
	return &apiDocuments{src: src, remain: size, buf: make([]byte, apiDocumentsBuffer)}
}

// fill reads more of the input into buf, growing it when it is full: by doubling, but never past
// what is left of a file of known size, so that a file of one document is held in one buffer of its
// size.
func (d *apiDocuments) fill() error {
	if d.end == len(d.buf) {
		grow := len(d.buf)
		if d.remain >= 0 && d.remain < int64(grow) {
			grow = int(max(d.remain, 1)) // 1: to see the end of a file that grew since its size was taken
		}
		d.buf = append(d.buf[:d.end], make([]byte, grow)...)
		d.buf = d.buf[:cap(d.buf)]
	}
	n, err := d.src.Read(d.buf[d.end:])
	d.end += n
	if d.remain >= 0 {
		d.remain = max(d.remain-int64(n), 0)
	}
	if errors.Is(err, io.EOF) {
		d.eof = true
		return nil
	}
	return err
}

// next returns the next document, decoded, or io.EOF when only white space is left. The document's
// end is found by counting brackets outside strings; purpleair.DecodeBytes then checks everything
// else, so a malformed document is its error, with its offset.
func (d *apiDocuments) next() (*purpleair.Response, error) {
	start, i, depth, inString, escaped := -1, 0, 0, false, false
	for {
		for ; i < d.end; i++ {
			c := d.buf[i]
			switch {
			case start < 0:
				switch c {
				case ' ', '\t', '\r', '\n':
					continue
				}
				start = i
				if c != '{' {
					return nil, d.decodeError(start)
				}
				depth = 1
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				if depth--; depth == 0 {
					return d.decode(start, i+1)
				}
			}
		}
		if d.eof {
			if start < 0 {
				return nil, io.EOF
			}
			return nil, d.decodeError(start) // cut short
		}
		if start < 0 { // white space only so far: no need to keep it
			d.offset += int64(d.end)
			d.end, i = 0, 0
		}
		if err := d.fill(); err != nil {
			return nil, err
		}
	}
}

// decode decodes buf[start:end] and keeps what follows it for the next document.
func (d *apiDocuments) decode(start, end int) (*purpleair.Response, error) {
	resp, err := purpleair.DecodeBytes(d.buf[start:end], false)
	if err != nil {
		return nil, d.wrap(err, start)
	}
	d.n++
	rest := d.buf[end:d.end]
	if len(d.buf) > apiDocumentsKept {
		// A large document's buffer is not kept while its rows are read: the next document may be
		// small (one response per step) or absent.
		d.buf = make([]byte, max(apiDocumentsBuffer, len(rest)))
	}
	d.end = copy(d.buf, rest)
	d.offset += int64(end)
	return resp, nil
}

// decodeError is DecodeBytes's error for the bytes from start that do not make a document.
func (d *apiDocuments) decodeError(start int) error {
	_, err := purpleair.DecodeBytes(d.buf[start:d.end], false)
	if err == nil { // not reached: the bytes are not a whole document
		err = errors.New("incomplete document")
	}
	return d.wrap(err, start)
}

// wrap says which document an error is in when there is more than one: its offsets count from the
// document's start.
func (d *apiDocuments) wrap(err error, start int) error {
	if d.n == 0 {
		return err
	}
	return fmt.Errorf("document %d (from byte %d): %w", d.n, d.offset+int64(start), err)
}
