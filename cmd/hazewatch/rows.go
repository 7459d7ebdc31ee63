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
	"unsafe"

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
// An API response is decoded as it is read and its rows are handed over in chunks of up to
// purpleair.ChunkRows (when "fields" and "data_time_stamp" come before "data", as in the API's
// responses), so memory holds a few chunks whatever the size of a response, and CSV one row. As the
// columns of an API response are checked a chunk at a time, an error about a field (text among
// numbers) may come after rows of the same response have been returned.
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
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		src, closer = f, f
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
		rr, err = openAPIRows(path, br, closer)
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
//
// A plain line, without quotes or carriage returns (but a final one) and with a field per column,
// is split on its commas where it lies in the read buffer: what encoding/csv makes of such a line,
// without its copy of every record. At the first line that is not plain (a quoted field, a blank
// line, a record of the wrong length, a line longer than the buffer, the last line without its
// newline) the rest of the input, from that line on, goes through encoding/csv, whose errors and
// line numbers are then counted from that line: any error reads as it did when encoding/csv read
// every line.
type csvRows struct {
	path   string
	br     *bufio.Reader // the input, read here while lines are plain
	r      *csv.Reader   // nil while lines are plain; then it reads the rest
	lines  int           // lines read before r's first (the header's included)
	read   int64         // bytes read before r's first
	fields []string      // a plain line's fields, valid until the next read
	closer io.Closer
	header []string
	cols   []columnUse
}

// missingCSV reports the spellings of a missing value in CSV input. A switch, not a map: it is asked
// for every value of every row, and a number (the common answer, no) is rejected by its length or
// first byte without hashing it.
func missingCSV(v string) bool {
	switch v {
	case "", "nan", "NaN", "NA", "null", "None":
		return true
	}
	return false
}

func openCSVRows(path string, src io.Reader, closer io.Closer) (*csvRows, error) {
	// encoding/csv reads through src itself when it is a bufio.Reader of at least its own size
	// (csvOwnBuffer), a line at a time, so after the header src is at the first row.
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
	c := &csvRows{path: path, r: r, closer: closer, header: header, cols: make([]columnUse, len(header))}
	br, ok := src.(*bufio.Reader)
	if ok && br.Size() >= csvOwnBuffer && !slices.ContainsFunc(header, func(h string) bool { return strings.Contains(h, "\n") }) {
		// The header is one line, after any blank lines: the line its first field is on.
		c.lines, _ = r.FieldPos(0)
		c.read = r.InputOffset()
		c.br, c.r = br, nil
	}
	return c, nil
}

// csvOwnBuffer is the size of the bufio.Reader encoding/csv puts in front of a reader that is not
// one at least as large (bufio's default).
const csvOwnBuffer = 4096

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

// offset is how many bytes of the input the rows read so far took (readFrame's size estimate).
func (c *csvRows) offset() int64 {
	if c.r == nil {
		return c.read
	}
	return c.read + c.r.InputOffset()
}

func (c *csvRows) Next(row []float64) error {
	if c.r == nil {
		line, err := c.br.ReadSlice('\n')
		if err == nil {
			if fields, ok := c.plain(line); ok {
				c.lines++
				c.read += int64(len(line))
				return c.parse(fields, row)
			}
		} else if errors.Is(err, io.EOF) && len(line) == 0 {
			return io.EOF
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%s: %w", c.path, err)
		}
		// From this line on, encoding/csv; the line is handed back to it in front of the rest.
		c.r = csv.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(line)), c.br))
		c.r.ReuseRecord = true
		c.r.FieldsPerRecord = len(c.header) // as the first reader set it from the header
	}
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if err != nil {
		if pe, ok := err.(*csv.ParseError); ok {
			e := *pe
			e.StartLine += c.lines
			e.Line += c.lines
			err = &e
		}
		return fmt.Errorf("%s: %w", c.path, err)
	}
	return c.parse(rec, row)
}

// plain splits a line as encoding/csv would, if it is plain (see csvRows). The fields share the
// read buffer's memory: they are only parsed, and an error quotes them in a string of its own.
func (c *csvRows) plain(line []byte) ([]string, bool) {
	body := line[:len(line)-1]
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body = body[:n-1] // encoding/csv reads \r\n as \n
	}
	if len(body) == 0 || bytes.IndexByte(body, '"') >= 0 || bytes.IndexByte(body, '\r') >= 0 {
		return nil, false
	}
	s := unsafe.String(unsafe.SliceData(body), len(body))
	fields := c.fields[:0]
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			fields = append(fields, s)
			break
		}
		if len(fields) == len(c.header)-1 {
			return nil, false // more fields than columns
		}
		fields = append(fields, s[:i])
		s = s[i+1:]
	}
	c.fields = fields
	return fields, len(fields) == len(c.header)
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseDecimal reads the way readings are written, an optional minus, digits and an optional point,
// with at most 15 digits; ok is false for anything else, which strconv.ParseFloat then reads. Such
// a number is m / 10^k with m < 10^15 < 2^53 and 10^k both exact in a float64, so the one rounding
// of the division is the correctly rounded value ParseFloat returns (its own exact fast path), in a
// fraction of ParseFloat's time.
func parseDecimal(s string) (f float64, ok bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if point {
				frac++
			}
		case c == '.' && !point:
			point = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits >= len(pow10) {
		return 0, false
	}
	f = float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// line is the line the record just read starts on, for an error about one of its values.
func (c *csvRows) line() int {
	if c.r == nil {
		return c.lines
	}
	l, _ := c.r.FieldPos(0)
	return c.lines + l
}

// parse reads a record's values into row.
func (c *csvRows) parse(rec []string, row []float64) error {
	for i, s := range rec {
		v := strings.TrimSpace(s)
		if missingCSV(v) {
			row[i] = math.NaN()
			continue
		}
		f, ok := parseDecimal(v)
		var err error
		if !ok {
			f, err = strconv.ParseFloat(v, 64)
		}
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
			bad := fmt.Errorf("line %d, column %q: %q is not a number", c.line(), c.header[i], v)
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

// apiRows reads API responses chunk by chunk and returns their rows one at a time. A producer
// goroutine decodes the input (purpleair.Decoder.DecodeFunc, document after document) and sends
// copies of the chunks' rows over a channel of one chunk, so that memory is a few chunks: the one
// Next returns rows of, the one in the channel and the one being decoded.
type apiRows struct {
	path   string
	closer io.Closer
	header []string
	cols   []columnUse
	text   []apiText

	chunks <-chan apiChunk
	free   chan []purpleair.Value // cells of chunks read, for the producer to reuse
	done   chan struct{}          // closed by Close: the producer stops
	exited chan struct{}          // closed by the producer when it returns

	cur     *apiChunk // chunk Next returns rows of; nil before the first and between chunks
	pending *apiChunk // chunk read by openAPIRows for the header, not yet taken
	next    int       // row of cur that Next returns next
	base    int       // rows of the chunks before cur, in every document
	doc     int       // document of the last chunk taken, whose fields have been checked
	stamp   int64     // data_time_stamp of the document of the last row returned
	err     error     // the error Next returned, returned again
	closed  bool
}

// apiChunk is consecutive rows of one document, or the end of the input (err).
type apiChunk struct {
	doc    int // 0-based, as purpleair's errors count documents
	fields []string
	stamp  int64
	cells  []purpleair.Value // rows × len(fields), row after row
	rows   int
	err    error // io.EOF after the last document; the decoding error otherwise
}

// apiText is the first string in an API field, for the error that names it.
type apiText struct {
	row int // among the rows of every document; −1: none yet
	str string
}

// errRowsClosed stops DecodeFunc when Close has been called.
var errRowsClosed = errors.New("row reader closed")

func openAPIRows(path string, src io.Reader, closer io.Closer) (*apiRows, error) {
	chunks := make(chan apiChunk, 1)
	a := &apiRows{
		path: path, closer: closer, chunks: chunks, doc: -1,
		free: make(chan []purpleair.Value, 4), done: make(chan struct{}), exited: make(chan struct{}),
	}
	go a.produce(purpleair.NewDecoder(src), chunks)
	first := <-chunks
	if first.err != nil {
		// The producer's last act was to send the error: it is returning.
		a.stop()
		<-a.exited
		if errors.Is(first.err, io.EOF) { // only white space, or a byte-order mark and white space
			return nil, fmt.Errorf("%s: empty file: want a CSV header or a PurpleAir API response", path)
		}
		return nil, fmt.Errorf("%s: %w", path, first.err)
	}
	a.pending, a.stamp = &first, first.stamp
	a.header = first.fields
	a.cols = make([]columnUse, len(a.header))
	a.text = make([]apiText, len(a.header))
	for c := range a.text {
		a.text[c].row = -1
	}
	return a, nil
}

// produce decodes document after document and sends their rows a chunk at a time, a document
// without rows as an empty chunk (for its fields), and then the end of the input or the error that
// stopped it. It returns once Close has been called.
func (a *apiRows) produce(dec *purpleair.Decoder, out chan<- apiChunk) {
	defer close(a.exited)
	send := func(c apiChunk) bool {
		select {
		case out <- c:
			return true
		case <-a.done:
			return false
		}
	}
	for doc := 0; ; doc++ {
		sent := false
		resp, err := dec.DecodeFunc(func(chunk *purpleair.Response) error {
			nf := len(chunk.Fields)
			var cells []purpleair.Value
			select {
			case cells = <-a.free:
			default:
			}
			if n := len(chunk.Data) * nf; cap(cells) < n {
				cells = make([]purpleair.Value, 0, max(n, purpleair.ChunkRows*nf))
			}
			cells = cells[:0]
			for _, row := range chunk.Data { // valid only until this function returns: copied
				cells = append(cells, row...)
			}
			sent = true
			if !send(apiChunk{doc: doc, fields: chunk.Fields, stamp: chunk.DataTimeStamp, cells: cells, rows: len(chunk.Data)}) {
				return errRowsClosed
			}
			return nil
		})
		if errors.Is(err, errRowsClosed) {
			return
		}
		if err != nil {
			send(apiChunk{doc: doc, err: err})
			return
		}
		if !sent && !send(apiChunk{doc: doc, fields: resp.Fields, stamp: resp.DataTimeStamp}) {
			return
		}
	}
}

// stop tells the producer to stop: it returns at its next chunk, or at once when it is waiting to
// send one.
func (a *apiRows) stop() {
	if !a.closed {
		a.closed = true
		close(a.done)
	}
}

func (a *apiRows) Header() []string        { return a.header }
func (a *apiRows) UseTime(name string) int { return a.Use(name)[0] }
func (a *apiRows) Stamp() float64 {
	if a.stamp == 0 {
		return math.NaN()
	}
	return float64(a.stamp)
}
func (a *apiRows) Use(names ...string) []int { return useColumns(a.header, a.cols, names) }
func (a *apiRows) Text() []textColumn        { return textColumns(a.header, a.cols) }

// Close stops the producer and closes the file. It waits for the producer to return when it reads
// a file, whose reads end once the file is closed (a pipe's too); standard input is not closed and
// its read may block until its writer writes or closes it, so the producer returns after that.
func (a *apiRows) Close() error {
	err := a.closer.Close() // first: a producer blocked reading the file returns
	a.stop()
	if a.path != "-" {
		<-a.exited
	}
	return err
}

// take checks a chunk before any of its rows is returned: the end of the input or an error, a
// document whose fields are not the first's, a field of the wrong type.
func (a *apiRows) take(c *apiChunk) error {
	if c.err != nil {
		if errors.Is(c.err, io.EOF) {
			return io.EOF
		}
		var se *purpleair.SyntaxError
		if c.doc > 0 && !errors.As(c.err, &se) { // a syntax error says its document
			return fmt.Errorf("%s: document %d: %w", a.path, c.doc, c.err)
		}
		return fmt.Errorf("%s: %w", a.path, c.err)
	}
	if c.doc != a.doc {
		if !slices.Equal(c.fields, a.header) {
			return fmt.Errorf("%s: document %d has fields %v, the first has %v: a stream must keep its fields", a.path, c.doc, c.fields, a.header)
		}
		a.doc = c.doc
	}
	return a.check(c)
}

// check goes through the columns of a chunk before any of its rows is returned, so that a field of
// the wrong type fails the read before the output shows any of the chunk.
func (a *apiRows) check(c *apiChunk) error {
	nf := len(a.header)
	for r := range c.rows {
		for col, v := range c.cells[r*nf : (r+1)*nf] {
			switch v.Kind {
			case purpleair.KindNumber:
				a.cols[col].numbers = true
			case purpleair.KindString:
				if txt := &a.text[col]; txt.row < 0 {
					txt.row, txt.str = a.base+r, v.Str
				}
			}
		}
	}
	for col, name := range a.header {
		u, txt := &a.cols[col], &a.text[col]
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
		if u.bad == nil {
			u.bad = bad
		}
	}
	return nil
}

func (a *apiRows) Next(row []float64) error {
	if a.err != nil {
		return a.err
	}
	for a.cur == nil || a.next == a.cur.rows {
		if a.cur != nil {
			a.base += a.cur.rows
			if a.cur.cells != nil {
				select { // for the producer to reuse; dropped when it has enough
				case a.free <- a.cur.cells:
				default:
				}
			}
			a.cur = nil
		}
		c := a.pending
		if c != nil {
			a.pending = nil
		} else {
			cc := <-a.chunks
			c = &cc
		}
		if err := a.take(c); err != nil {
			a.err = err
			a.stop()
			return err
		}
		a.cur, a.next = c, 0
	}
	nf := len(a.header)
	for col, v := range a.cur.cells[a.next*nf : (a.next+1)*nf] {
		if v.Kind == purpleair.KindNumber {
			row[col] = v.Num
		} else {
			row[col] = math.NaN() // null, or a string in a text field (check has recorded it)
		}
	}
	a.stamp = a.cur.stamp
	a.next++
	return nil
}
