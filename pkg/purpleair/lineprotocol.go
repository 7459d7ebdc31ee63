package purpleair

// The package's one line-protocol writer: WriteLineProtocol and AppendLineProtocol put every byte
// through the append functions below.
//
// Why hand-written and not Telegraf's influx serializer (which writes the Telegraf input's metrics,
// internal/execd): measured in paired runs (6 each, benchstat medians, 2 shared cores), a
// WriteLineProtocol through the serializer took 261 ms for the snapshot's 25,552 rows against 34 ms
// here (+661 %), and 85 ms against 9.1 ms (+837 %) for a simulated step of 5,000 sensors with every
// tag, with 1.47 M and 425 k allocations against 33 and 48: the serializer needs a telegraf.Metric
// per row (maps, and an object per field). line-protocol/v2's Encoder (not otherwise a dependency)
// writes floats in 'g' format (last_seen=1.7127936e+09 where Telegraf writes 1712793600), so its
// lines would no longer be the input's. This writer follows the serializer's rules instead, and
// TestLineProtocolMatchesTelegraf holds it to the serializer byte for byte.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteLineProtocol writes every row of r as an InfluxDB line-protocol line
// — the metric Point makes of it for the same options, as the Telegraf input
// emits it: tags and fields sorted by key, floats, nanosecond timestamps. It
// works on the columns directly, without building Points, so that long
// simulations are written quickly; a row Point rejects is an error, and so is
// a row left without a field line protocol can carry (NaN, ±Inf).
func WriteLineProtocol(w io.Writer, r *Response, opt PointOptions) error {
	if opt.Faults != nil && len(opt.Faults) != len(r.Data) {
		return fmt.Errorf("purpleair: %d fault labels for %d rows", len(opt.Faults), len(r.Data))
	}
	measurement := opt.Measurement
	if measurement == "" {
		measurement = DefaultMeasurement
	}
	si := r.Column("sensor_index")
	lt, name, seen := -1, -1, -1
	if opt.TagLocationType {
		lt = r.Column("location_type")
	}
	if opt.TagName {
		name = r.Column("name")
	}
	if opt.UseLastSeen {
		seen = r.Column("last_seen")
	}
	// Field columns in key order, each key escaped once.
	var cols []int
	for c := range r.Fields {
		if c != si && c != lt {
			cols = append(cols, c)
		}
	}
	slices.SortFunc(cols, func(a, b int) int { return strings.Compare(r.Fields[a], r.Fields[b]) })
	keys := make([][]byte, len(r.Fields))
	for _, c := range cols {
		keys[c] = appendKey(nil, r.Fields[c])
	}
	prefix, err := appendMeasurement(nil, measurement)
	if err != nil {
		return err
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 1024)
	for i, row := range r.Data {
		if si < 0 || row[si].Kind != KindNumber || row[si].Num != math.Trunc(row[si].Num) {
			// Let Point word the error.
			_, err := r.Point(i, opt)
			return err
		}
		b = append(b[:0], prefix...)
		// Tag keys in order: fault, location_type, name, sensor_index.
		if opt.Faults != nil {
			b = appendTag(b, "fault", string(opt.Faults[i]))
		}
		if lt >= 0 && row[lt].Kind == KindNumber {
			b = appendTag(b, "location_type", r.locationTypeName(row[lt].Num))
		}
		if name >= 0 && row[name].Kind == KindString {
			b = appendTag(b, "name", row[name].Str)
		}
		b = append(b, ",sensor_index="...)
		b = strconv.AppendFloat(b, row[si].Num, 'f', -1, 64)
		n := 0
		for _, c := range cols {
			if row[c].Kind == KindNumber && keys[c] != nil {
				b, n = appendFloatField(b, n, keys[c], row[c].Num)
			}
		}
		if n == 0 {
			if _, err := r.Point(i, opt); err != nil {
				return err // no numeric field
			}
			return &RowError{Row: r.SourceRow(i), Col: -1, Msg: errNoFields.Error()}
		}
		ts := time.Unix(r.DataTimeStamp, 0)
		if seen >= 0 && row[seen].Kind == KindNumber {
			ts = time.Unix(int64(row[seen].Num), 0)
		}
		b = appendTime(b, ts)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// AppendLineProtocol appends p as one line, newline included. A Point that
// line protocol cannot carry (an empty measurement, no field that can be
// written) appends nothing.
func AppendLineProtocol(b []byte, p Point) []byte {
	out, err := appendPoint(b, p)
	if err != nil {
		return b
	}
	return out
}

var errNoFields = errors.New("no field that line protocol can carry (NaN, ±Inf, an empty key or an unknown type)")

func appendPoint(b []byte, p Point) ([]byte, error) {
	start := len(b)
	b, err := appendMeasurement(b, p.Measurement)
	if err != nil {
		return b[:start], err
	}
	for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
		b = appendTag(b, k, p.Tags[k])
	}
	n := 0
	var key []byte
	for _, k := range slices.Sorted(maps.Keys(p.Fields)) {
		key = appendKey(key[:0], k)
		switch v := p.Fields[k].(type) {
		case float64:
			b, n = appendFloatField(b, n, key, v)
		case int64:
			b = appendFieldKey(b, n, key)
			b = append(strconv.AppendInt(b, v, 10), 'i')
			n++
		case uint64:
			b = appendFieldKey(b, n, key)
			b = append(strconv.AppendUint(b, v, 10), 'u')
			n++
		case bool:
			b = strconv.AppendBool(appendFieldKey(b, n, key), v)
			n++
		case string:
			b = appendStringField(appendFieldKey(b, n, key), v)
			n++
		}
		// Any other type is left out, as Telegraf leaves it out.
	}
	if n == 0 {
		return b[:start], errNoFields
	}
	return appendTime(b, p.Time), nil
}

// appendMeasurement appends the escaped measurement name; line protocol has
// no line without one.
func appendMeasurement(b []byte, name string) ([]byte, error) {
	if name == "" {
		return b, errors.New("purpleair: empty measurement name")
	}
	return appendEscaped(b, name, false), nil
}

// appendTag appends ",key=value". A tag line protocol cannot carry is left
// out, as Telegraf does: an empty key or value (also once a trailing
// backslash, which would escape the separator after it, is removed).
func appendTag(b []byte, key, value string) []byte {
	start := len(b)
	b = append(b, ',')
	b = trimBackslashes(appendEscaped(b, key, true), start+1)
	if len(b) == start+1 {
		return b[:start]
	}
	b = append(b, '=')
	vstart := len(b)
	b = trimBackslashes(appendEscaped(b, value, true), vstart)
	if len(b) == vstart {
		return b[:start]
	}
	return b
}

func trimBackslashes(b []byte, from int) []byte {
	for len(b) > from && b[len(b)-1] == '\\' {
		b = b[:len(b)-1]
	}
	return b
}

// appendKey is a field key escaped and followed by '=', nil for a key line
// protocol cannot carry (empty).
func appendKey(b []byte, key string) []byte {
	if key == "" {
		return nil
	}
	return append(appendEscaped(b, key, true), '=')
}

// appendFieldKey appends the separator before field n and the escaped key.
func appendFieldKey(b []byte, n int, key []byte) []byte {
	if n == 0 {
		b = append(b, ' ')
	} else {
		b = append(b, ',')
	}
	return append(b, key...)
}

// appendFloatField appends field n unless v is NaN or ±Inf, which line
// protocol cannot carry; it returns the count of fields written.
func appendFloatField(b []byte, n int, key []byte, v float64) ([]byte, int) {
	if key == nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return b, n
	}
	b = appendFieldKey(b, n, key)
	return strconv.AppendFloat(b, v, 'f', -1, 64), n + 1
}

func appendStringField(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '\n')
}

// lineEscapes maps a byte to what follows the backslash that escapes it, 0
// for a byte written as it is. Besides line protocol's escapes (a comma or
// space, and '=' in keys and tag values), the control characters that would
// end or corrupt the line are written as Telegraf writes them (\t, \n, \f,
// \r), so that these lines are the Telegraf input's.
var lineEscapes = [256]byte{'\t': 't', '\n': 'n', '\f': 'f', '\r': 'r', ',': ',', ' ': ' ', '=': '='}

// appendEscaped appends s escaped for a measurement name (isKey false: '='
// as it is) or a key or tag value.
func appendEscaped(b []byte, s string, isKey bool) []byte {
	// Most names need no escape: they are copied whole.
	i := 0
	for i < len(s) && lineEscapes[s[i]] == 0 {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if e := lineEscapes[c]; e != 0 && (isKey || c != '=') {
			b = append(b, '\\', e)
		} else {
			b = append(b, c)
		}
	}
	return b
}
