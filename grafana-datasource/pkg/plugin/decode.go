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
// maxSeries > 0 stops decoding at the first series beyond it (errTooManySeries),
// so that a runaway selector costs neither the memory nor the time of
// decoding an answer that will be refused anyway.
func decodeQueryRange(r io.Reader, env *queryRangeEnvelope, maxSeries int) error {
	it := jsoniter.Parse(jsoniter.ConfigCompatibleWithStandardLibrary, r, 256<<10)
	var perr error
	fail := func(format string, args ...any) {
		if perr == nil {
			perr = fmt.Errorf(format, args...)
		}
	}
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "status":
			env.Status = it.ReadString()
		case "errorType":
			env.ErrorType = promv1.ErrorType(it.ReadString())
		case "error":
			env.Error = it.ReadString()
		case "warnings":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				env.Warnings = append(env.Warnings, it.ReadString())
				return true
			})
		case "infos":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				env.Infos = append(env.Infos, it.ReadString())
				return true
			})
		case "data":
			if it.WhatIsNext() != jsoniter.ObjectValue {
				it.Skip()
				return true
			}
			it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
				switch field {
				case "resultType":
					env.Data.ResultType = it.ReadString()
				case "result":
					if it.WhatIsNext() != jsoniter.ArrayValue || (env.Data.ResultType != "" && env.Data.ResultType != "matrix") {
						it.Skip()
						return true
					}
					it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
						if maxSeries > 0 && len(env.Data.Result) >= maxSeries {
							perr = errTooManySeries
							return false
						}
						ss := &model.SampleStream{Metric: model.Metric{}}
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
										fail("a sample is not [timestamp, \"value\"]")
										return false
									}
									ss.Values = append(ss.Values, sp)
									return true
								})
							default:
								it.Skip()
							}
							return perr == nil
						})
						env.Data.Result = append(env.Data.Result, ss)
						return perr == nil && it.Error == nil
					})
				default:
					it.Skip()
				}
				return perr == nil
			})
		default:
			it.Skip()
		}
		return perr == nil
	})
	if perr != nil {
		return perr
	}
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		return it.Error
	}
	return nil
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
