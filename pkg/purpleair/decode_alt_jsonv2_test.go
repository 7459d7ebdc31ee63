//go:build goexperiment.jsonv2

package purpleair

// encoding/json/jsontext is measured too, but only builds with GOEXPERIMENT=jsonv2 in this
// toolchain (Go 1.26): go test -run Alternative -bench Decoders with GOEXPERIMENT=jsonv2 set.

import (
	"bytes"
	"encoding/json/jsontext"
	"fmt"
)

func init() { altDecoders["jsontext"] = decodeJSONText }

// decodeJSONText reads with jsontext.Decoder's tokens. Its opening repeats decodeTokens's with
// another package's types; it stays apart because it builds only under the experiment.
func decodeJSONText(data []byte) (*Response, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	resp := &Response{}
	row := -1
	fail := func(err error) (*Response, error) {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Row: row, Msg: err.Error()}
	}
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return fail(fmt.Errorf("want an object (%v)", err))
	}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return fail(err)
		}
		key := t.String() // a token is valid only until the next read
		switch key {
		case "data_time_stamp", "time_stamp":
			v, err := dec.ReadToken()
			if err != nil {
				return fail(err)
			}
			if key == "time_stamp" {
				resp.TimeStamp = v.Int()
			} else {
				resp.DataTimeStamp = v.Int()
			}
		case "fields":
			if _, err := dec.ReadToken(); err != nil {
				return fail(err)
			}
			for dec.PeekKind() == '"' {
				v, _ := dec.ReadToken()
				resp.Fields = append(resp.Fields, v.String())
			}
			if _, err := dec.ReadToken(); err != nil {
				return fail(err)
			}
		case "data":
			rows := newAltRows(resp, data)
			if t, err := dec.ReadToken(); err != nil || t.Kind() != '[' {
				return fail(fmt.Errorf("data: want an array (%v)", err))
			}
			for dec.PeekKind() != ']' {
				row = rows.row
				if dec.PeekKind() != '[' {
					if err := dec.SkipValue(); err != nil {
						return fail(err)
					}
					rows.notArray()
					continue
				}
				dec.ReadToken()
				rows.beginRow()
				for k := dec.PeekKind(); k != ']'; k = dec.PeekKind() {
					switch k {
					case '0':
						v, err := dec.ReadToken()
						if err != nil {
							return fail(err)
						}
						rows.cell(Number(v.Float()))
					case '"':
						v, err := dec.ReadToken()
						if err != nil {
							return fail(err)
						}
						rows.cell(String(v.String()))
					case 'n':
						dec.ReadToken()
						rows.cell(Null)
					case jsontext.KindInvalid:
						_, err := dec.ReadToken()
						return fail(err)
					default:
						if err := dec.SkipValue(); err != nil {
							return fail(err)
						}
						rows.unusable(map[jsontext.Kind]string{'[': "JSON array", '{': "JSON object", 't': "JSON boolean", 'f': "JSON boolean"}[k])
					}
				}
				dec.ReadToken() // ']'
				rows.endRow()
			}
			row = -1
			dec.ReadToken()
		default:
			if err := dec.SkipValue(); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail(err)
	}
	return resp, nil
}
