package purpleair

import (
	"bytes"
	"fmt"
	"math"
	"slices"
)

// document reads one response object: the members this model knows, the
// data array row by row into cells (rows that cannot be used become
// *RowError, kept in p.bad or returned), the rest skipped.
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
		// One arm per member the model keeps; the arms look alike because
		// the members are alike (a string or an integer each).
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
