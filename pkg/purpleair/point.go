package purpleair

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// DefaultMeasurement is the measurement name of PurpleAir metrics.
const DefaultMeasurement = "purpleair"

// PointOptions shapes how a response row becomes a metric.
type PointOptions struct {
	Measurement     string // "" → DefaultMeasurement
	TagName         bool   // add a "name" tag from the name field
	TagLocationType bool   // add a "location_type" tag ("outside"/"inside") instead of the numeric field
	// UseLastSeen times a point by the sensor's last_seen field (when the row
	// has it); otherwise by the response's data_time_stamp.
	UseLastSeen bool
	// Faults, when non-nil, labels row i with a "fault" tag Faults[i]
	// (simulator ground truth); its length must equal len(Data).
	Faults []FaultKind
}

// Point is one row as a metric: the tags, one float64 field per non-null
// numeric API field under the API's own name, and the time.
type Point struct {
	Measurement string
	Tags        map[string]string
	Fields      map[string]any // float64 values
	Time        time.Time
}

// Point turns data row i into a metric. The sensor_index becomes the
// "sensor_index" tag (not a field); nulls and string fields are left out.
// A row without a numeric sensor_index, or without any numeric field, is a
// *RowError.
func (r *Response) Point(i int, opt PointOptions) (Point, error) {
	if i < 0 || i >= len(r.Data) {
		return Point{}, fmt.Errorf("purpleair: row %d out of range (%d rows)", i, len(r.Data))
	}
	if opt.Faults != nil && len(opt.Faults) != len(r.Data) {
		return Point{}, fmt.Errorf("purpleair: %d fault labels for %d rows", len(opt.Faults), len(r.Data))
	}
	row := r.Data[i]
	src := r.SourceRow(i)
	si := r.Column("sensor_index")
	if si < 0 {
		return Point{}, &RowError{Row: src, Col: -1, Msg: `no "sensor_index" field to identify the sensor`}
	}
	idx := row[si]
	if idx.Kind != KindNumber || idx.Num != math.Trunc(idx.Num) {
		return Point{}, &RowError{Row: src, Col: si, Field: "sensor_index", Msg: fmt.Sprintf("want an integer sensor index, got %s", describe(idx))}
	}
	p := Point{
		Measurement: opt.Measurement,
		Tags:        map[string]string{"sensor_index": strconv.FormatFloat(idx.Num, 'f', -1, 64)},
		Fields:      make(map[string]any, len(row)),
		Time:        time.Unix(r.DataTimeStamp, 0).UTC(),
	}
	if p.Measurement == "" {
		p.Measurement = DefaultMeasurement
	}
	lt := -1
	if opt.TagLocationType {
		lt = r.Column("location_type")
		if lt >= 0 && row[lt].Kind == KindNumber {
			p.Tags["location_type"] = r.locationTypeName(row[lt].Num)
		}
	}
	if opt.TagName {
		if c := r.Column("name"); c >= 0 && row[c].Kind == KindString && row[c].Str != "" {
			p.Tags["name"] = row[c].Str
		}
	}
	if opt.Faults != nil {
		p.Tags["fault"] = string(opt.Faults[i])
	}
	for c, v := range row {
		if v.Kind == KindNumber && c != si && c != lt {
			p.Fields[r.Fields[c]] = v.Num
		}
	}
	if len(p.Fields) == 0 {
		return Point{}, &RowError{Row: src, Col: -1, Msg: "no numeric field to report (all null)"}
	}
	if opt.UseLastSeen {
		if c := r.Column("last_seen"); c >= 0 && row[c].Kind == KindNumber {
			p.Time = time.Unix(int64(row[c].Num), 0).UTC()
		}
	}
	return p, nil
}

func describe(v Value) string {
	switch v.Kind {
	case KindNull:
		return "null"
	case KindString:
		return strconv.Quote(v.Str)
	}
	return strconv.FormatFloat(v.Num, 'g', -1, 64)
}

func (r *Response) locationTypeName(v float64) string {
	if v == math.Trunc(v) && v >= 0 && int(v) < len(r.LocationTypes) {
		return r.LocationTypes[int(v)]
	}
	switch v {
	case LocationOutside:
		return "outside"
	case LocationInside:
		return "inside"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// WriteAPIJSON writes r as one compact API-format JSON document followed by
// a newline; Decode and Decoder read it back to an equal Response. Several
// calls on one writer make a stream that Decoder reads document by document.
func WriteAPIJSON(w io.Writer, r *Response) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 256)
	b = append(b, `{"api_version":`...)
	b = strconv.AppendQuote(b, r.APIVersion)
	b = append(b, `,"time_stamp":`...)
	b = strconv.AppendInt(b, r.TimeStamp, 10)
	b = append(b, `,"data_time_stamp":`...)
	b = strconv.AppendInt(b, r.DataTimeStamp, 10)
	if r.LocationTypes != nil {
		b = append(b, `,"location_types":`...)
		b = appendStrings(b, r.LocationTypes)
	}
	b = append(b, `,"max_age":`...)
	b = strconv.AppendInt(b, r.MaxAge, 10)
	b = append(b, `,"firmware_default_version":`...)
	b = appendJSONString(b, r.FirmwareDefaultVersion)
	b = append(b, `,"fields":`...)
	b = appendStrings(b, r.Fields)
	b = append(b, `,"data":[`...)
	for i, row := range r.Data {
		if len(row) != len(r.Fields) {
			return &RowError{Row: i, Col: -1, Msg: fmt.Sprintf("%d values, want %d (one per field)", len(row), len(r.Fields))}
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for c, v := range row {
			if c > 0 {
				b = append(b, ',')
			}
			switch v.Kind {
			case KindNull:
				b = append(b, "null"...)
			case KindString:
				b = appendJSONString(b, v.Str)
			case KindNumber:
				if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
					return &RowError{Row: i, Col: c, Field: r.Fields[c], Msg: fmt.Sprintf("%v cannot be written as JSON (use a null cell for missing values)", v.Num)}
				}
				b = strconv.AppendFloat(b, v.Num, 'f', -1, 64)
			default:
				return &RowError{Row: i, Col: c, Field: r.Fields[c], Msg: fmt.Sprintf("invalid value kind %d", v.Kind)}
			}
		}
		b = append(b, ']')
		if len(b) > 32<<10 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, "]}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString quotes s by JSON rules (strconv.Quote's \x escapes are
// not JSON).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, r)...)
		case r == 0xFFFD:
			b = append(b, `\ufffd`...)
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}
