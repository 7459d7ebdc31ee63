package purpleair

import (
	"errors"
	"fmt"
	"io"
)

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
