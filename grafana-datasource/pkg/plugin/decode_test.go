package plugin

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

func TestDecodeQueryRange(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"__name__":"pm","sensor_index":"7"},"values":[[1700000000,"1.5"],[1700000060.5,"NaN"],[1700000120,"+Inf"]]},
		{"values":[[1700000000,"-2e3"]],"metric":{"sensor_index":"8"},"histograms":[[1700000000,{"count":"1"}]]}]},
		"warnings":["w1"],"infos":["i"]}`
	var env queryRangeEnvelope
	if err := decodeQueryRange(strings.NewReader(body), &env, decodeLimits{}); err != nil {
		t.Fatal(err)
	}
	m := env.Data.Result
	if env.Status != "success" || env.Data.ResultType != "matrix" || len(m) != 2 || len(env.Warnings) != 1 {
		t.Fatalf("env = %+v", env)
	}
	if m[0].Metric["sensor_index"] != "7" || len(m[0].Values) != 3 || m[0].Values[0].Value != 1.5 ||
		m[0].Values[1].Timestamp != model.Time(1700000060500) || !math.IsNaN(float64(m[0].Values[1].Value)) ||
		!math.IsInf(float64(m[0].Values[2].Value), 1) {
		t.Errorf("series 0 = %+v", m[0])
	}
	if m[1].Metric["sensor_index"] != "8" || len(m[1].Values) != 1 || m[1].Values[0].Value != -2000 {
		t.Errorf("series 1 = %+v", m[1])
	}

	bad := []string{
		`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1",2]]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,`,
		`<html>`,
	}
	for _, b := range bad {
		if err := decodeQueryRange(strings.NewReader(b), &queryRangeEnvelope{}, decodeLimits{}); err == nil {
			t.Errorf("%q decoded without error", b)
		}
	}
	if err := decodeQueryRange(strings.NewReader(body), &queryRangeEnvelope{}, decodeLimits{MaxSeries: 1}); err != errTooManySeries {
		t.Errorf("2 series with maxSeries 1: %v, want errTooManySeries", err)
	}
	if err := decodeQueryRange(strings.NewReader(body), &queryRangeEnvelope{}, decodeLimits{MaxSeries: 2}); err != nil {
		t.Errorf("2 series with maxSeries 2: %v", err)
	}
}

func BenchmarkDecodeQueryRange(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for s := 0; s < 100; s++ {
		if s > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"metric":{"sensor_index":"` + string(rune('a'+s%26)) + `"},"values":[`)
		for i := 0; i < 5040; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(`[1700000000,"12.345678901234567"]`)
		}
		sb.WriteString(`]}`)
	}
	sb.WriteString(`]}}`)
	body := sb.String()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var env queryRangeEnvelope
		if err := decodeQueryRange(strings.NewReader(body), &env, decodeLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The decoder keeps only samples on the requested grid, at most MaxPoints
// per series, and charges what it keeps.
func TestDecodeQueryRangeLimits(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"sensor_index":"1"},"values":[[1700000040,"1"],[1700000050,"9"],[1700000100,"2"],[1700000100,"3"],[1700000160,"4"],[1700009999,"5"]]},
		{"metric":{"sensor_index":"2"},"values":[[1700000040,"1"]]}]}}`
	w := models.Window{Start: time.Unix(1700000040, 0), End: time.Unix(1700000160, 0), Step: time.Minute}
	var env queryRangeEnvelope
	charged := 0
	err := decodeQueryRange(strings.NewReader(body), &env, decodeLimits{Window: w, MaxPoints: 2,
		Charge: func(n int) error { charged += n; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	m := env.Data.Result
	if len(m) != 2 || len(m[0].Values) != 2 || m[0].Values[1].Value != 2 || len(m[1].Values) != 1 {
		t.Fatalf("result %v, want series 1 cut at 2 points on the grid", m)
	}
	// Off the grid: 1700000050 and 1700009999 (outside); over the cap: the repeated 1700000100 and 1700000160.
	if env.OffGrid != 2 || env.OverCap != 2 || env.CappedSeries != 1 || charged != 3 {
		t.Errorf("offGrid %d overCap %d cappedSeries %d charged %d, want 2, 2, 1, 3", env.OffGrid, env.OverCap, env.CappedSeries, charged)
	}
	stop := errors.New("over budget")
	if err := decodeQueryRange(strings.NewReader(body), &queryRangeEnvelope{}, decodeLimits{Charge: func(int) error { return stop }}); err != stop {
		t.Errorf("err = %v, want the charge's error", err)
	}
}
