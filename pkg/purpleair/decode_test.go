package purpleair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// snapshotPath is the shared snapshot, skipping the test when the data is absent.
func snapshotPath(tb testing.TB) string {
	tb.Helper()
	return repotest.SharedData(tb, repotest.SharedSnapshot)
}

func readSnapshot(tb testing.TB) []byte {
	b, err := os.ReadFile(snapshotPath(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeSnapshot(t *testing.T) {
	f, err := os.Open(snapshotPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Data), 25552; got != want {
		t.Fatalf("rows = %d, want %d", got, want)
	}
	if r.APIVersion != "V1.0.12-0.0.54" || r.TimeStamp != 1712793708 || r.DataTimeStamp != 1712793665 ||
		r.MaxAge != 604800 || r.FirmwareDefaultVersion != "7.02" {
		t.Errorf("header = %q %d %d %d %q", r.APIVersion, r.TimeStamp, r.DataTimeStamp, r.MaxAge, r.FirmwareDefaultVersion)
	}
	wantFields := "sensor_index,date_created,rssi,uptime,latitude,longitude,humidity,temperature,pressure,pm1.0,pm2.5_alt,pm10.0,pm1.0_cf_1,pm2.5_atm,pm2.5_cf_1,pm10.0_cf_1"
	if got := strings.Join(r.Fields, ","); got != wantFields {
		t.Errorf("fields = %s", got)
	}
	// Null counts documented in /work/shared/data/README.md.
	wantNulls := map[string]int{
		"sensor_index": 0, "date_created": 0, "rssi": 1, "uptime": 1, "latitude": 54, "longitude": 54,
		"humidity": 965, "temperature": 965, "pressure": 1023,
		"pm1.0": 31, "pm2.5_alt": 31, "pm10.0": 31, "pm1.0_cf_1": 31, "pm2.5_atm": 31, "pm2.5_cf_1": 31, "pm10.0_cf_1": 31,
	}
	for name, want := range wantNulls {
		c := r.Column(name)
		got := 0
		for _, row := range r.Data {
			switch row[c].Kind {
			case KindNull:
				got++
				if row[c].Num != 0 || row[c].Str != "" {
					t.Fatalf("%s: null cell carries a value: %+v", name, row[c])
				}
			case KindNumber:
			default:
				t.Fatalf("%s: unexpected %v cell", name, row[c].Kind)
			}
		}
		if got != want {
			t.Errorf("%s: %d nulls, want %d", name, got, want)
		}
	}
	saturated := 0
	pm := r.Column("pm2.5_cf_1")
	for _, row := range r.Data {
		if v, ok := row[pm].Float(); ok && v >= 1000 {
			saturated++
		}
	}
	if saturated != 84 {
		t.Errorf("%d rows with pm2.5_cf_1 >= 1000, want 84", saturated)
	}
	// Exact values (read with Python's json module) of a few rows; N = null.
	N := math.NaN()
	tests := []struct {
		row  int
		want []float64
	}{
		{0, []float64{53, 1454548891, -50, 10183, 40.246742, -111.7048, N, N, N, 0.0, 2.1, 0.0, 0.0, 0.0, 0.0, 0.0}},
		{3, []float64{182, 1470082168, -67, 18173, 49.160076, -123.74227, 43, 63, 1021.33, 0.9, 1.9, 1.7, 0.9, 1.4, 1.4, 1.7}},
		{6, []float64{322, 1473909821, -68, 17, 35.224293, -111.60618, 36, 39, N, 0.3, 1.9, 0.8, 0.3, 0.6, 0.6, 0.8}},
		{1000, []float64{12100, 1529787463, -71, 4666, 38.254616, -119.22863, 6, 97, 805.25, 0.0, 0.3, 0.3, 0.0, 0.0, 0.0, 0.3}},
		{25551, []float64{221283, 1712696182, -66, 133, 28.017763, -82.65457, 47, 90, 1011.4, 5.9, 4.8, 10.7, 5.9, 8.2, 8.2, 10.7}},
	}
	for _, tt := range tests {
		row := r.Data[tt.row]
		for c, want := range tt.want {
			got := row[c]
			if math.IsNaN(want) {
				if got.Kind != KindNull {
					t.Errorf("row %d %s = %+v, want null", tt.row, r.Fields[c], got)
				}
				continue
			}
			if got.Kind != KindNumber || got.Num != want {
				t.Errorf("row %d %s = %+v, want %v", tt.row, r.Fields[c], got, want)
			}
		}
	}

	// The numeric matrix view agrees with the rows, NaN for null.
	cols := []string{"humidity", "pm2.5_cf_1"}
	x, err := r.Numeric(cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 2*25552 || !math.IsNaN(x[0]) || x[1] != 0 || x[2*3] != 43 || x[2*3+1] != 1.4 {
		t.Errorf("Numeric: len %d, first rows %v", len(x), x[:8])
	}
	nans := 0
	for _, v := range x {
		if math.IsNaN(v) {
			nans++
		}
	}
	if nans != 965+31 {
		t.Errorf("Numeric: %d NaN, want %d", nans, 965+31)
	}

	// Every row becomes a point with sensor_index and no null fields.
	points := 0
	for i := range r.Data {
		p, err := r.Point(i, PointOptions{})
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if p.Tags["sensor_index"] == "" || len(p.Fields) == 0 {
			t.Fatalf("row %d: point %+v", i, p)
		}
		points++
	}
	if points != 25552 {
		t.Errorf("points = %d", points)
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = `{"api_version":"V","time_stamp":1,"data_time_stamp":2,"fields":["sensor_index","name","pm2.5"],"data":`
	tests := []struct {
		name      string
		in        string
		wantErr   string // substring; "" = success
		truncated bool
		rowErr    *RowError
	}{
		{name: "ok", in: head + `[[1,"a",2.5],[2,null,null]]}`},
		{name: "empty data", in: head + `[]}`},
		{name: "unknown members skipped", in: `{"channel_flags":{"a":[1,{"b":null}]},"fields":["x"],"data":[[1]],"extra":true}`},
		{name: "data before fields", in: `{"data":[[1,2]],"fields":["a","b"]}`},
		{name: "short row", in: head + `[[1,"a",2.5],[2,null]]}`, wantErr: `data row 1: 2 values, want 3`, rowErr: &RowError{Row: 1, Col: -1}},
		{name: "long row", in: head + `[[1,"a",2.5,4]]}`, wantErr: `data row 0: 4 values, want 3`},
		{name: "data before fields, short row", in: `{"data":[[1,2],[3]],"fields":["a","b"]}`, wantErr: `data row 1: 1 values, want 2`},
		{name: "object cell", in: head + `[[1,"a",2.5],[2,"b",{"x":1}]]}`, wantErr: `data row 1, column 2 ("pm2.5"): JSON object`, rowErr: &RowError{Row: 1, Col: 2, Field: "pm2.5"}},
		{name: "boolean cell", in: head + `[[1,true,2.5]]}`, wantErr: `data row 0, column 1 ("name"): JSON boolean`},
		{name: "row not array", in: head + `[[1,"a",2],null]}`, wantErr: `data row 1: not an array`},
		{name: "truncated in row", in: head + `[[1,"a",2.5],[2,"b`, wantErr: `truncated response`, truncated: true},
		{name: "truncated number", in: head + `[[1,"a",2.`, wantErr: `(in data row 0)`, truncated: true},
		{name: "truncated literal", in: head + `[[1,"a",nu`, wantErr: `truncated`, truncated: true},
		{name: "truncated after data", in: head + `[]`, wantErr: `truncated`, truncated: true},
		{name: "empty input", in: ``, wantErr: `truncated`, truncated: true},
		{name: "malformed number", in: head + `[[1,"a",01]]}`, wantErr: `malformed JSON at byte`},
		{name: "plus sign", in: head + `[[+1,"a",1]]}`, wantErr: `malformed JSON`},
		{name: "NaN literal", in: head + `[[1,"a",NaN]]}`, wantErr: `malformed JSON`},
		{name: "missing comma", in: head + `[[1 "a" 1]]}`, wantErr: `expected ',' or ']' in a data row`},
		{name: "trailing garbage", in: head + `[]} x`, wantErr: `after the end of the document`},
		{name: "trailing comma", in: head + `[[1,"a",1],]}`, wantErr: `malformed JSON`},
		{name: "number out of range", in: head + `[[1,"a",1e999]]}`, wantErr: `out of range`},
		{name: "no fields", in: `{"data":[]}`, wantErr: `"fields": missing`},
		{name: "no data", in: `{"fields":[]}`, wantErr: `"data": missing`},
		{name: "fields not strings", in: `{"fields":["a",1],"data":[]}`, wantErr: `element 1: want a string`},
		{name: "duplicate field", in: `{"fields":["a","a"],"data":[]}`, wantErr: `field "a" appears twice`},
		{name: "not an object", in: `[1,2]`, wantErr: `expected '{'`},
		{name: "deep nesting", in: `{"x":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `,"fields":[],"data":[]}`, wantErr: `nesting deeper`},
		{name: "api error document", in: `{"api_version":"V","error":"ApiKeyInvalidError","description":"The provided api_key was not valid."}`, wantErr: `ApiKeyInvalidError: The provided api_key was not valid.`},
		{name: "control char in string", in: head + "[[1,\"a\x01\",1]]}", wantErr: `control character`},
		{name: "escaped string", in: head + `[[1,"a\"b\u00e9",1]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode(strings.NewReader(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if r == nil || r.Data == nil {
					t.Fatal("nil response data")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrTruncated); got != tt.truncated {
				t.Errorf("errors.Is(err, ErrTruncated) = %v, want %v (%v)", got, tt.truncated, err)
			}
			if tt.rowErr != nil {
				var re *RowError
				if !errors.As(err, &re) || re.Row != tt.rowErr.Row || re.Col != tt.rowErr.Col || re.Field != tt.rowErr.Field {
					t.Errorf("error %#v, want RowError %+v", err, tt.rowErr)
				}
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	r, err := Decode(strings.NewReader(`{"fields":["a","b","c","d"],"data":[[-0.5,"x\"y\u00e9",null,1e3],[0,"",null,-12]]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Value{{Number(-0.5), String("x\"yé"), Null, Number(1000)}, {Number(0), String(""), Null, Number(-12)}}
	for i := range want {
		for j := range want[i] {
			if r.Data[i][j] != want[i][j] {
				t.Errorf("cell %d,%d = %+v, want %+v", i, j, r.Data[i][j], want[i][j])
			}
		}
	}
	if _, err := r.Numeric([]string{"b"}); err == nil || !strings.Contains(err.Error(), `column 1 ("b"): string "x\"yé" in a numeric column`) {
		t.Errorf("Numeric on a string column: %v", err)
	}
	if _, err := r.Numeric([]string{"zz"}); err == nil || !strings.Contains(err.Error(), `no field "zz"`) {
		t.Errorf("Numeric on a missing column: %v", err)
	}
	if r.Column("c") != 2 || r.Column("zz") != -1 {
		t.Error("Column lookup")
	}
}

func TestDecodeSkipBadRows(t *testing.T) {
	in := `{"fields":["sensor_index","v"],"data":[[1,1.5],[2],[3,{"a":1}],[4,null],"x",[5,5,5],[6,6]]}`
	r, err := DecodeBytes([]byte(in), true)
	if err != nil {
		t.Fatal(err)
	}
	var kept []float64
	for _, row := range r.Data {
		kept = append(kept, row[0].Num)
	}
	if len(kept) != 3 || kept[0] != 1 || kept[1] != 4 || kept[2] != 6 {
		t.Errorf("kept sensor indexes %v, want [1 4 6]", kept)
	}
	var bad []int
	for _, e := range r.BadRows {
		bad = append(bad, e.Row)
	}
	if len(bad) != 4 || bad[0] != 1 || bad[1] != 2 || bad[2] != 4 || bad[3] != 5 {
		t.Errorf("bad rows %v, want [1 2 4 5]", bad)
	}
	// Errors about kept rows name their place in the document.
	if got := []int{r.SourceRow(0), r.SourceRow(1), r.SourceRow(2)}; got[0] != 0 || got[1] != 3 || got[2] != 6 {
		t.Errorf("SourceRow = %v, want [0 3 6]", got)
	}
	if _, err := r.Point(1, PointOptions{}); err == nil || !strings.Contains(err.Error(), "data row 3: no numeric field") {
		t.Errorf("Point on the all-null row: %v", err)
	}
	// Malformed JSON is not a row problem: it still fails.
	if _, err := DecodeBytes([]byte(`{"fields":["a"],"data":[[1],[2,]]}`), true); err == nil {
		t.Error("malformed JSON accepted with skipBadRows")
	}
}

func TestDecoderStream(t *testing.T) {
	sim, err := NewSimulator(simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 3, 1, 0.2 }))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var want []*Response
	for range 4 {
		r, _ := sim.NextResponse()
		want = append(want, r)
		if err := WriteAPIJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
	}
	d := NewDecoder(&buf)
	for i := 0; ; i++ {
		got, err := d.Decode()
		if err != nil {
			if i != len(want) || err.Error() != "EOF" {
				t.Fatalf("document %d: %v", i, err)
			}
			break
		}
		assertSameResponse(t, got, want[i])
	}
	// A stream cut in the middle reports truncation.
	var one bytes.Buffer
	_ = WriteAPIJSON(&one, want[0])
	d = NewDecoder(bytes.NewReader(one.Bytes()[:one.Len()/2]))
	if _, err := d.Decode(); !errors.Is(err, ErrTruncated) {
		t.Errorf("cut stream: %v, want ErrTruncated", err)
	}
}

// TestDecoderTruncatedSaysWhere: a stream cut short reports where the input ended — every byte
// read, not json.Decoder's InputOffset (0 while the first document is incomplete).
func TestDecoderTruncatedSaysWhere(t *testing.T) {
	const doc = `{"fields":["a"],"data":[[1]]}` + "\n"
	tests := []struct {
		name    string
		in      string
		docs    int    // complete documents before the error
		wantMsg string // besides "input ends at byte len(in)"
	}{
		{"first document cut", `{"fields":["a"],"data":[[1],`, 0, "document 0 is incomplete"},
		{"first document cut after whitespace", "\n  " + `{"fields":["a"]`, 0, "document 0 is incomplete"},
		{"second document cut", doc + `{"fields":["a"],"data":[[`, 1, "document 1 (after byte 29) is incomplete"},
		{"third document cut", doc + doc + `{"fie`, 2, "document 2 (after byte 59) is incomplete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per Read, so that nothing depends on the decoder reading all at once.
			d := NewDecoder(iotest.OneByteReader(strings.NewReader(tt.in)))
			for i := 0; i < tt.docs; i++ {
				if _, err := d.Decode(); err != nil {
					t.Fatalf("document %d: %v", i, err)
				}
			}
			_, err := d.Decode()
			var se *SyntaxError
			if !errors.As(err, &se) || !se.Truncated {
				t.Fatalf("error %v, want a truncated *SyntaxError", err)
			}
			if se.Offset != int64(len(tt.in)) {
				t.Errorf("offset %d, want %d (the input's length): %v", se.Offset, len(tt.in), err)
			}
			want := fmt.Sprintf("input ends at byte %d", len(tt.in))
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want %q and %q", err, want, tt.wantMsg)
			}
		})
	}
}

func assertSameResponse(t *testing.T, got, want *Response) {
	t.Helper()
	if got.APIVersion != want.APIVersion || got.TimeStamp != want.TimeStamp || got.DataTimeStamp != want.DataTimeStamp ||
		got.MaxAge != want.MaxAge || got.FirmwareDefaultVersion != want.FirmwareDefaultVersion ||
		strings.Join(got.Fields, ",") != strings.Join(want.Fields, ",") ||
		strings.Join(got.LocationTypes, ",") != strings.Join(want.LocationTypes, ",") {
		t.Fatalf("header differs: %+v vs %+v", got, want)
	}
	if len(got.Data) != len(want.Data) {
		t.Fatalf("%d rows, want %d", len(got.Data), len(want.Data))
	}
	for i := range want.Data {
		for j := range want.Data[i] {
			if got.Data[i][j] != want.Data[i][j] {
				t.Fatalf("row %d %s: %+v, want %+v", i, want.Fields[j], got.Data[i][j], want.Data[i][j])
			}
		}
	}
}

// The snapshot survives WriteAPIJSON → Decode unchanged.
func TestWriteAPIJSONRoundTripSnapshot(t *testing.T) {
	r, err := DecodeBytes(readSnapshot(t), false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteAPIJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	assertSameResponse(t, back, r)
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"fields":["sensor_index","name","pm2.5"],"data":[[1,"a",2.5],[2,null,null]]}`))
	f.Add([]byte(`{"fields":["a"],"data":[[1],[2,3],[{"x":[1,2]}],"s"],"x":[true,false,null]}`))
	f.Add([]byte(`{"error":"ApiKeyInvalidError","description":"bad"}`))
	f.Add([]byte(`{"api_version":"V1","time_stamp":1712793708,"data_time_stamp":1712793665,"max_age":604800,"firmware_default_version":"7.02","location_types":["outside","inside"],"fields":["sensor_index","humidity"],"data":[[53,null],[77,43]]}`))
	f.Add([]byte(`{"fields":["a"],"data":[["\u00e9\ud800\n"],[-0.0e-5]]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, skip := range []bool{false, true} {
			r, err := DecodeBytes(in, skip)
			if err != nil {
				if r != nil {
					t.Fatal("response with error")
				}
				if err.Error() == "" {
					t.Fatal("empty error message")
				}
				continue
			}
			for i, row := range r.Data {
				if len(row) != len(r.Fields) {
					t.Fatalf("row %d has %d cells for %d fields", i, len(row), len(r.Fields))
				}
				for _, v := range row {
					if v.Kind == KindNumber && (math.IsNaN(v.Num) || math.IsInf(v.Num, 0)) {
						t.Fatalf("non-finite number %v", v.Num)
					}
				}
			}
			if !skip && len(r.BadRows) != 0 {
				t.Fatal("strict decoding kept bad rows")
			}
			// Differential check against encoding/json: anything accepted is
			// valid JSON, and every cell has the value encoding/json reads.
			if !json.Valid(in) {
				t.Fatalf("accepted invalid JSON %q", in)
			}
			if !skip {
				var ref struct{ Data [][]any }
				if err := json.Unmarshal(in, &ref); err != nil {
					t.Fatalf("encoding/json rejects what Decode accepted: %v", err)
				}
				for i := range r.Data {
					for j, v := range r.Data[i] {
						switch want := ref.Data[i][j].(type) {
						case nil:
							if v.Kind != KindNull {
								t.Fatalf("cell %d,%d: %+v, want null", i, j, v)
							}
						case float64:
							if v.Kind != KindNumber || v.Num != want {
								t.Fatalf("cell %d,%d: %+v, want %v", i, j, v, want)
							}
						case string:
							if v.Kind != KindString || v.Str != want {
								t.Fatalf("cell %d,%d: %+v, want %q", i, j, v, want)
							}
						default:
							t.Fatalf("cell %d,%d: accepted %T", i, j, want)
						}
					}
				}
			}
			// Whatever decodes must round-trip through the writer.
			var buf bytes.Buffer
			if err := WriteAPIJSON(&buf, r); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
			back, err := DecodeBytes(buf.Bytes(), false)
			if err != nil {
				t.Fatalf("re-decode of %q: %v", buf.Bytes(), err)
			}
			if len(back.Data) != len(r.Data) {
				t.Fatalf("round trip: %d rows, want %d", len(back.Data), len(r.Data))
			}
			for i := range r.Data {
				for j := range r.Data[i] {
					a, b := r.Data[i][j], back.Data[i][j]
					if a.Kind != b.Kind || a.Str != b.Str || (a.Num != b.Num) {
						t.Fatalf("round trip cell %d,%d: %+v vs %+v", i, j, a, b)
					}
				}
			}
		}
	})
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	data := readSnapshot(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := DecodeBytes(data, false)
		if err != nil || len(r.Data) != 25552 {
			b.Fatal(err)
		}
	}
}

func BenchmarkNumericSnapshot(b *testing.B) {
	r, err := DecodeBytes(readSnapshot(b), false)
	if err != nil {
		b.Fatal(err)
	}
	cols := []string{"humidity", "temperature", "pressure", "pm2.5_cf_1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Numeric(cols); err != nil {
			b.Fatal(err)
		}
	}
}
