package purpleair

import (
	"errors"
	"fmt"
	"io"
)

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
