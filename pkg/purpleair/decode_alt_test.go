package purpleair

// The hand-written lexer measured against the JSON readers that could replace it (see lexer.go):
// each alternative below decodes a response the way the parser does — the members this model uses,
// the data array cell by cell into one backing slice, a row that cannot be used becoming a *RowError
// naming row, column and field while the other rows are kept — so that the benchmarks compare the
// readers and nothing else, and TestAlternativeDecodersAgree checks that they do the same work.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"testing"

	"github.com/hazewatch/hazewatch/internal/cputime"
	"github.com/hazewatch/hazewatch/internal/repotest"

	jsoniter "github.com/json-iterator/go"
)

// altDecoder decodes a whole document, bad rows skipped into BadRows.
type altDecoder func(data []byte) (*Response, error)

// altRows keeps the decoded rows of one document in one backing slice, as the parser does.
type altRows struct {
	resp  *Response
	cells []Value
	row   int
	start int
	bad   *RowError
}

func newAltRows(resp *Response, data []byte) *altRows {
	return &altRows{resp: resp, cells: make([]Value, 0, bytes.Count(data, []byte{','})+1)}
}

func (a *altRows) cell(v Value) { a.cells = append(a.cells, v) }

// unusable records a cell that is neither number, string nor null (the row's first such cell
// names the error) and keeps a placeholder so that the row length stays right.
func (a *altRows) unusable(what string) {
	col := len(a.cells) - a.start
	if a.bad == nil {
		a.bad = &RowError{Row: a.row, Col: col, Msg: what + " (a cell must be a number, string or null)"}
		if col < len(a.resp.Fields) {
			a.bad.Field = a.resp.Fields[col]
		}
	}
	a.cells = append(a.cells, Null)
}

func (a *altRows) notArray() {
	a.resp.BadRows = append(a.resp.BadRows, &RowError{Row: a.row, Col: -1, Msg: "not an array"})
	a.row++
}

func (a *altRows) beginRow() { a.start, a.bad = len(a.cells), nil }

func (a *altRows) endRow() {
	n := len(a.cells) - a.start
	if a.bad == nil && n != len(a.resp.Fields) {
		a.bad = &RowError{Row: a.row, Col: -1, Msg: fmt.Sprintf("%d values, want %d (one per field)", n, len(a.resp.Fields))}
	}
	if a.bad != nil {
		a.resp.BadRows = append(a.resp.BadRows, a.bad)
		a.cells = a.cells[:a.start]
	} else {
		a.resp.Data = append(a.resp.Data, a.cells[a.start:len(a.cells):len(a.cells)])
		if len(a.resp.BadRows) > 0 || a.resp.origRow != nil {
			if a.resp.origRow == nil {
				for i := range len(a.resp.Data) - 1 {
					a.resp.origRow = append(a.resp.origRow, i)
				}
			}
			a.resp.origRow = append(a.resp.origRow, a.row)
		}
	}
	a.row++
}

// decodeJsoniter reads with jsoniter's Iterator (the pull API; its reflection decoder would build
// generic values for the cells). What it cannot do as the parser does (see lexer.go): give the byte
// offset of an error, tell truncated input from malformed but by the text of the message, replace
// invalid UTF-8; it also does not look for input after the document.
func decodeJsoniter(data []byte) (*Response, error) {
	cfg := jsoniter.ConfigDefault
	it := cfg.BorrowIterator(data)
	defer cfg.ReturnIterator(it)
	resp := &Response{}
	var rows *altRows
	for key := it.ReadObject(); key != ""; key = it.ReadObject() {
		switch key {
		case "data_time_stamp":
			resp.DataTimeStamp = it.ReadInt64()
		case "time_stamp":
			resp.TimeStamp = it.ReadInt64()
		case "fields":
			for it.ReadArray() {
				resp.Fields = append(resp.Fields, it.ReadString())
			}
		case "data":
			rows = newAltRows(resp, data)
			for it.ReadArray() {
				if it.WhatIsNext() != jsoniter.ArrayValue {
					it.Skip()
					rows.notArray()
					continue
				}
				rows.beginRow()
				for it.ReadArray() {
					switch it.WhatIsNext() {
					case jsoniter.NumberValue:
						rows.cell(Number(it.ReadFloat64()))
					case jsoniter.StringValue:
						rows.cell(String(it.ReadString()))
					case jsoniter.NilValue:
						it.ReadNil()
						rows.cell(Null)
					case jsoniter.ArrayValue:
						it.Skip()
						rows.unusable("JSON array")
					case jsoniter.ObjectValue:
						it.Skip()
						rows.unusable("JSON object")
					default:
						it.Skip()
						rows.unusable("JSON boolean")
					}
				}
				if it.Error != nil {
					break
				}
				rows.endRow()
			}
		default:
			it.Skip()
		}
		if it.Error != nil {
			break
		}
	}
	if it.Error != nil && it.Error != io.EOF {
		row := -1
		if rows != nil {
			row = rows.row
		}
		return nil, &SyntaxError{Offset: -1, Row: row, Msg: it.Error.Error()}
	}
	return resp, nil
}

// decodeTokens reads with encoding/json's Decoder.Token.
func decodeTokens(data []byte) (*Response, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	resp := &Response{}
	row := -1
	fail := func(err error) (*Response, error) {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Row: row, Msg: err.Error()}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fail(fmt.Errorf("want an object, got %v (%v)", t, err))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		switch t.(string) {
		case "data_time_stamp":
			err = dec.Decode(&resp.DataTimeStamp)
		case "time_stamp":
			err = dec.Decode(&resp.TimeStamp)
		case "fields":
			err = dec.Decode(&resp.Fields)
		case "data":
			rows := newAltRows(resp, data)
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return fail(fmt.Errorf("data: want an array, got %v (%v)", t, err))
			}
			for dec.More() {
				row = rows.row
				t, err := dec.Token()
				if err != nil {
					return fail(err)
				}
				if t != json.Delim('[') {
					if err := skipTokens(dec, t); err != nil {
						return fail(err)
					}
					rows.notArray()
					continue
				}
				rows.beginRow()
				for dec.More() {
					t, err := dec.Token()
					if err != nil {
						return fail(err)
					}
					switch v := t.(type) {
					case float64:
						rows.cell(Number(v))
					case string:
						rows.cell(String(v))
					case nil:
						rows.cell(Null)
					case bool:
						rows.unusable("JSON boolean")
					case json.Delim:
						if err := skipTokens(dec, t); err != nil {
							return fail(err)
						}
						rows.unusable(map[json.Delim]string{'[': "JSON array", '{': "JSON object"}[v])
					}
				}
				if _, err := dec.Token(); err != nil { // ']'
					return fail(err)
				}
				rows.endRow()
			}
			row = -1
			_, err = dec.Token() // ']'
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	return resp, nil
}

// skipTokens consumes the rest of a value whose first token was t.
func skipTokens(dec *json.Decoder, t json.Token) error {
	depth := 0
	for {
		if d, ok := t.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if t, err = dec.Token(); err != nil {
			return err
		}
	}
}

var altDecoders = map[string]altDecoder{
	"lexer":      func(b []byte) (*Response, error) { return DecodeBytes(b, true) },
	"jsoniter":   decodeJsoniter,
	"json-token": decodeTokens,
}

// simulatedDocument is one API document of a large simulated fleet, as `hazewatch simulate` writes it.
func simulatedDocument(tb testing.TB, sensors int) []byte {
	tb.Helper()
	r, _ := mustSim(tb, simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = sensors, 7, 0.05 })).NextResponse()
	var buf bytes.Buffer
	if err := WriteAPIJSON(&buf, r); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// The alternatives decode the same cells, bit for bit, and report the same bad rows with the row
// and field named, keeping every other row.
func TestAlternativeDecodersAgree(t *testing.T) {
	docs := map[string][]byte{
		"simulated": simulatedDocument(t, 500),
		"bad rows": []byte(`{"data_time_stamp":5,"fields":["sensor_index","pm2.5_cf_1","name"],"data":[` +
			`[1,2.5,"a"],[2,{"x":[1]},"b"],{"not":"a row"},[3,1e-7,"c\n\u00e9"],[4,true,"d"],[5,6],[6,-0.0,null],[7,[1,2],"e"]]}`),
	}
	if p, err := findSnapshot(); err == nil {
		docs["snapshot"] = p
	} else {
		t.Logf("snapshot left out: %v", err)
	}
	for name, doc := range docs {
		want, err := DecodeBytes(doc, true)
		if err != nil {
			t.Fatal(err)
		}
		for alt, dec := range altDecoders {
			if alt == "lexer" { // the decoder itself: the benchmark's baseline, want's source here
				continue
			}
			got, err := dec(doc)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, alt, err)
			}
			if len(got.Data) != len(want.Data) || len(got.BadRows) != len(want.BadRows) || got.DataTimeStamp != want.DataTimeStamp {
				t.Fatalf("%s, %s: %d rows, %d bad, time %d; want %d, %d, %d", name, alt, len(got.Data), len(got.BadRows), got.DataTimeStamp, len(want.Data), len(want.BadRows), want.DataTimeStamp)
			}
			for i, row := range want.Data {
				if got.SourceRow(i) != want.SourceRow(i) {
					t.Fatalf("%s, %s: row %d from %d, want %d", name, alt, i, got.SourceRow(i), want.SourceRow(i))
				}
				for j, v := range row {
					g := got.Data[i][j]
					if g.Kind != v.Kind || g.Str != v.Str || math.Float64bits(g.Num) != math.Float64bits(v.Num) {
						t.Fatalf("%s, %s: cell %d,%d = %+v, want %+v", name, alt, i, j, g, v)
					}
				}
			}
			for i, b := range want.BadRows {
				if got.BadRows[i].Error() != b.Error() {
					t.Errorf("%s, %s: bad row %q, want %q", name, alt, got.BadRows[i], b)
				}
			}
		}
	}
	// Malformed JSON inside a row is an error naming the row, whatever the reader.
	for alt, dec := range altDecoders {
		_, err := dec([]byte(`{"fields":["a"],"data":[[1],[2],[3 4]]}`))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Row != 2 {
			t.Errorf("%s: malformed third row: %v", alt, err)
		}
	}
}

func findSnapshot() ([]byte, error) {
	p, err := repotest.FindSharedData(repotest.SharedSnapshot)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// BenchmarkDecoders decodes the real snapshot (skipped, saying why, when the shared data is absent)
// and a simulated response of 20,000 sensors with each reader.
func BenchmarkDecoders(b *testing.B) {
	docs := []struct {
		name string
		data func(b *testing.B) []byte
	}{
		{"snapshot", func(b *testing.B) []byte { return readSnapshot(b) }},
		{"simulated", func(b *testing.B) []byte { return simulatedDocument(b, 20000) }},
	}
	for _, doc := range docs {
		for _, alt := range []string{"lexer", "jsoniter", "json-token", "jsontext"} {
			b.Run("doc="+doc.name+"/reader="+alt, func(b *testing.B) {
				data := doc.data(b)
				dec := altDecoders[alt]
				if dec == nil {
					b.Skip("needs GOEXPERIMENT=jsonv2")
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				start := cputime.Process()
				for b.Loop() {
					if _, err := dec(data); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, start)
			})
		}
	}
}
