package purpleair

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// streamDoc is a document of rows rows over fields sensor_index and pm2.5_cf_1; every 700th row has
// a wrong length. header places "fields" and "data_time_stamp" before or after "data".
func streamDoc(rows int, headerFirst bool) string {
	var data strings.Builder
	for i := range rows {
		if i > 0 {
			data.WriteByte(',')
		}
		if i%700 == 699 {
			fmt.Fprintf(&data, "[%d]", i)
			continue
		}
		fmt.Fprintf(&data, "[%d,%d.%d]", i, i%97, i%10)
	}
	header := `"data_time_stamp":1712793665,"fields":["sensor_index","pm2.5_cf_1"]`
	if headerFirst {
		return `{` + header + `,"data":[` + data.String() + `]}`
	}
	return `{"data":[` + data.String() + `],` + header + `}`
}

// collect decodes one document with DecodeFunc and returns its rows (copied: a chunk's rows are valid
// only during the call), their source positions and the bad rows' positions, in order.
func collect(t *testing.T, d *Decoder) (rows [][]Value, src, bad []int, chunks int, err error) {
	t.Helper()
	_, err = d.DecodeFunc(func(c *Response) error {
		chunks++
		if len(c.Data) > ChunkRows {
			t.Errorf("chunk of %d rows, more than ChunkRows", len(c.Data))
		}
		for i, row := range c.Data {
			rows = append(rows, append([]Value(nil), row...))
			src = append(src, c.SourceRow(i))
		}
		for _, b := range c.BadRows {
			bad = append(bad, b.Row)
		}
		return nil
	})
	return rows, src, bad, chunks, err
}

// DecodeFunc hands over exactly the rows Decode returns, in chunks, whatever the reads look like and
// wherever the header members are.
func TestDecodeFuncMatchesDecode(t *testing.T) {
	for _, headerFirst := range []bool{true, false} {
		doc := streamDoc(3000, headerFirst)
		want, err := DecodeBytes([]byte(doc), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("header first %v, one byte reads %v", headerFirst, oneByte), func(t *testing.T) {
				r := strings.NewReader(doc)
				d := NewDecoder(r)
				if oneByte {
					d = NewDecoder(iotest.OneByteReader(r))
				}
				d.SkipBadRows = true
				rows, src, bad, chunks, err := collect(t, d)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != len(want.Data) || len(bad) != len(want.BadRows) {
					t.Fatalf("%d rows, %d bad; want %d, %d", len(rows), len(bad), len(want.Data), len(want.BadRows))
				}
				for i := range rows {
					if fmt.Sprint(rows[i]) != fmt.Sprint(want.Data[i]) || src[i] != want.SourceRow(i) {
						t.Fatalf("row %d (source %d) = %v, want %v (source %d)", i, src[i], rows[i], want.Data[i], want.SourceRow(i))
					}
				}
				for i, b := range want.BadRows {
					if bad[i] != b.Row {
						t.Fatalf("bad row %d at %d, want %d", i, bad[i], b.Row)
					}
				}
				if headerFirst && chunks < 3 {
					t.Errorf("%d chunks for 3000 rows: not streamed", chunks)
				}
			})
		}
	}
}

// A document cut short hands over every complete row, then reports where the input ended.
func TestDecodeFuncTruncatedKeepsCompleteRows(t *testing.T) {
	doc := streamDoc(3000, true)
	cut := strings.Index(doc, "[2500,") + 4 // inside row 2500
	in := doc[:cut]
	d := NewDecoder(strings.NewReader(in))
	d.SkipBadRows = true
	rows, src, _, _, err := collect(t, d)
	var se *SyntaxError
	if !errors.As(err, &se) || !se.Truncated || se.Offset != int64(len(in)) {
		t.Fatalf("error %v, want truncation at byte %d", err, len(in))
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("input ends at byte %d", len(in))) {
		t.Errorf("error %q does not say where the input ends", err)
	}
	if len(src) == 0 || src[len(src)-1] != 2499 || len(rows) != 2500-2500/700 {
		t.Errorf("%d rows handed over, the last %v; want every complete row up to 2499", len(rows), src[len(src)-1:])
	}
}

func TestDecoderLimit(t *testing.T) {
	doc := streamDoc(100, true)
	if _, err := NewDecoderLimit(strings.NewReader(doc), int64(len(doc))).Decode(); err != nil {
		t.Errorf("a document of exactly the limit: %v", err)
	}
	_, err := NewDecoderLimit(strings.NewReader(doc), int64(len(doc))-1).Decode()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("limit of %d bytes", len(doc)-1)) {
		t.Errorf("one byte over the limit: %v, want ErrTooLarge", err)
	}
}

// A body beyond MaxBodyBytes is refused without a retry, and without reading it all.
func TestClientBodyLimit(t *testing.T) {
	big := streamDoc(200_000, true)
	api := &fakeAPI{steps: []step{{status: 200, body: big}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := NewClient(srv.URL, testKey)
	c.MaxBodyBytes, c.SkipBadRows = 1<<20, true
	_, err := c.Sensors(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}})
	if !errors.Is(err, ErrTooLarge) || len(api.requests) != 1 {
		t.Errorf("error %v after %d requests, want ErrTooLarge after 1", err, len(api.requests))
	}
}

// SensorsFunc streams the rows; a body cut short after some rows were handed over is not retried
// (the rows would come twice) but reported.
func TestClientSensorsFunc(t *testing.T) {
	doc := streamDoc(3000, true)
	api := &fakeAPI{steps: []step{{status: 200, body: doc, cutBody: true}, {status: 200, body: doc}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := NewClient(srv.URL, testKey)
	c.SkipBadRows, c.MaxRetries = true, 3
	c.Sleep = func(context.Context, time.Duration) error { return nil }
	n := 0
	_, err := c.SensorsFunc(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}}, func(r *Response) error {
		n += len(r.Data)
		return nil
	})
	if err == nil || len(api.requests) != 1 || n == 0 || n >= 3000 {
		t.Errorf("cut body: %d rows, %d requests, error %v; want the rows before the cut, 1 request, an error", n, len(api.requests), err)
	}
	n = 0
	hdr, err := c.SensorsFunc(context.Background(), SensorsQuery{Fields: []string{"pm2.5_cf_1"}}, func(r *Response) error {
		n += len(r.Data)
		return nil
	})
	if err != nil || n != 3000-3000/700 || hdr.DataTimeStamp != 1712793665 || len(hdr.Data) != 0 {
		t.Errorf("%d rows, header %+v, error %v", n, hdr, err)
	}
}
