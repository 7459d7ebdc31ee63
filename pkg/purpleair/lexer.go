package purpleair

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The JSON tokens of the response: whitespace, literals, strings and numbers
// (with a fast path for the short decimals the API sends), and skipping of
// values this model does not use. Every reader works on p.b alone; the
// streaming input (parser.go) has made the token complete first.
//
// Why hand-written: measured against the readers that could replace it, each
// decoding the same cells with the same row errors (decode_alt_test.go,
// BenchmarkDecoders; 8 paired runs, benchstat medians of the CPU time per
// decode, which varies far less than wall time on 2 cores shared with a load
// average of 10-15):
//
//	                      snapshot (2.75 MB)       simulated, 20,000 sensors
//	this lexer            20.8 ms   79 allocs      25.1 ms   20.1 k allocs
//	jsoniter Iterator     22.9 ms   54 allocs      27.0 ms   20.1 k allocs
//	                      (+10 %, p=0.07)          (+7.8 %, p=0.005)
//	encoding/json Token   249 ms    2.8 M allocs   334 ms    3.4 M allocs
//	                      (+1098 %)                (+1232 %)
//	jsontext (jsonv2)     +83 % and +116 % against this lexer in its own
//	                      runs; builds only with GOEXPERIMENT=jsonv2 in Go 1.26
//
// Only jsoniter comes near (within 10 %, slower), and it keeps the row errors
// but not the others: it exposes no input offset (SyntaxError.Offset), tells a
// truncated body from a malformed one only in the text of its messages (the
// client retries on ErrTruncated), and passes invalid UTF-8 through where this
// reader replaces it as encoding/json does. Matching those would take a
// wrapper as long as the code it replaces, for no speed gained.

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
