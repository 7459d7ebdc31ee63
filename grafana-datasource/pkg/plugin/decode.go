package plugin

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// decodeQueryRange reads a query_range answer in one streaming pass into env.
//
// A week of 100 sensors is 500,000 [timestamp, "value"] pairs per feature.
// The generic path (client_golang's registered SamplePair codec) allocates a
// string for each timestamp and each value; here the value is parsed from the
// reader's buffer in place, and the timestamp read as a number, so decoding
// allocates only the result slices and the labels. Field order does not
// matter; unknown fields (infos, stats, native histograms) are skipped.
//
// lim bounds what is kept, so that the memory an answer takes depends on
// the query rather than on what the upstream chooses to send (see
// decodeLimits); what was left out is counted in env.
func decodeQueryRange(r io.Reader, env *queryRangeEnvelope, lim decodeLimits) error {
	d := &queryRangeDecoder{env: env, lim: lim}
	it := jsoniter.Parse(jsoniter.ConfigCompatibleWithStandardLibrary, r, 256<<10)
	it.ReadObjectCB(d.envelopeField)
	d.charge()
	if d.err != nil {
		return d.err
	}
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		return it.Error
	}
	return nil
}

// queryRangeDecoder is one decodeQueryRange pass; each method reads one
// level of the answer. err is the first error that stops it.
type queryRangeDecoder struct {
	env *queryRangeEnvelope
	lim decodeLimits
	err error
	// pending counts kept points not yet charged: they are charged in
	// batches, since an atomic add per sample would cost as much as
	// decoding it.
	pending int
}

const chargeBatch = 4096

func (d *queryRangeDecoder) charge() {
	if d.lim.Charge != nil && d.pending > 0 && d.err == nil {
		d.err = d.lim.Charge(d.pending)
	}
	d.pending = 0
}

func (d *queryRangeDecoder) envelopeField(it *jsoniter.Iterator, field string) bool {
	env := d.env
	switch field {
	case "status":
		env.Status = it.ReadString()
	case "errorType":
		env.ErrorType = promv1.ErrorType(it.ReadString())
	case "error":
		env.Error = it.ReadString()
	case "warnings":
		env.Warnings = readStrings(it, env.Warnings)
	case "infos":
		env.Infos = readStrings(it, env.Infos)
	case "data":
		if it.WhatIsNext() != jsoniter.ObjectValue {
			it.Skip()
			return true
		}
		it.ReadObjectCB(d.dataField)
	default:
		it.Skip()
	}
	return d.err == nil
}

// dataField reads the fields of "data"; like envelopeField (the same shape,
// one level down) it skips what it does not know.
func (d *queryRangeDecoder) dataField(it *jsoniter.Iterator, field string) bool {
	data := &d.env.Data
	switch field {
	case "resultType":
		data.ResultType = it.ReadString()
	case "result":
		if it.WhatIsNext() != jsoniter.ArrayValue || (data.ResultType != "" && data.ResultType != "matrix") {
			it.Skip()
			return true
		}
		it.ReadArrayCB(d.series)
	default:
		it.Skip()
	}
	return d.err == nil
}

// readStrings appends a JSON array of strings to dst.
func readStrings(it *jsoniter.Iterator, dst []string) []string {
	it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		dst = append(dst, it.ReadString())
		return true
	})
	return dst
}

// series reads one element of the matrix, keeping at most lim.MaxPoints of
// its samples on lim.Window's grid.
func (d *queryRangeDecoder) series(it *jsoniter.Iterator) bool {
	env, lim := d.env, d.lim
	if lim.MaxSeries > 0 && len(env.Data.Result) >= lim.MaxSeries {
		d.err = errTooManySeries
		return false
	}
	ss := &model.SampleStream{Metric: model.Metric{}}
	overCap := 0
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "metric":
			it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
				ss.Metric[model.LabelName(name)] = model.LabelValue(it.ReadString())
				return true
			})
		case "values":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				sp, ok := readSamplePair(it)
				if !ok {
					if d.err == nil {
						d.err = fmt.Errorf("a sample is not [timestamp, \"value\"]")
					}
					return false
				}
				switch {
				case lim.Window.Step > 0 && lim.Window.Index(sp.Timestamp.Time()) < 0:
					env.OffGrid++
				case lim.MaxPoints > 0 && len(ss.Values) >= lim.MaxPoints:
					overCap++
				default:
					ss.Values = append(ss.Values, sp)
					if d.pending++; d.pending == chargeBatch {
						d.charge()
					}
				}
				return d.err == nil
			})
		default:
			it.Skip()
		}
		return d.err == nil
	})
	if overCap > 0 {
		env.OverCap += overCap
		env.CappedSeries++
	}
	env.Data.Result = append(env.Data.Result, ss)
	return d.err == nil && it.Error == nil
}

// decodeLimits bound what decodeQueryRange keeps. Zero values bound nothing.
type decodeLimits struct {
	// MaxSeries > 0 stops decoding at the first series beyond it
	// (errTooManySeries), so that a runaway selector costs neither the
	// memory nor the time of decoding an answer refused anyway.
	MaxSeries int
	// Window, when its step is set, is the grid the query asked for:
	// samples off it (or outside it) are not kept, only counted
	// (env.OffGrid). Prometheus never sends them; an upstream that ignores
	// the step would otherwise send every raw sample, which the engine
	// cannot place on a row anyway.
	Window models.Window
	// MaxPoints > 0 is the most samples kept per series; the rest are
	// counted (env.OverCap, env.CappedSeries). With the window's grid
	// filter, more than its step count can only be repeated timestamps.
	MaxPoints int
	// Charge, when set, is told of kept samples as they are decoded (in
	// batches); its error stops decoding and is returned — the query's
	// memory budget.
	Charge func(n int) error
}

var errTooManySeries = errors.New("too many series")

// readSamplePair reads [1700000000.123, "1.5"].
func readSamplePair(it *jsoniter.Iterator) (model.SamplePair, bool) {
	var sp model.SamplePair
	if !it.ReadArray() {
		return sp, false
	}
	ts := it.ReadFloat64()
	if !it.ReadArray() {
		return sp, false
	}
	b := it.ReadStringAsSlice()
	if len(b) == 0 {
		return sp, false
	}
	// The slice is only valid until the next read: parse it in place.
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		return sp, false
	}
	if it.ReadArray() {
		return sp, false // more than two elements
	}
	sp.Timestamp = model.Time(math.Round(ts * 1000))
	sp.Value = model.SampleValue(v)
	return sp, it.Error == nil
}
