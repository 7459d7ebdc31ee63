package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/hazewatch/hazewatch/internal/plugintest"
	"github.com/hazewatch/hazewatch/internal/promtest"
)

// TestBinaryOverGRPC builds gpx_hazewatch_anomaly and drives it the way
// Grafana hosts backend plugins: hashicorp/go-plugin with the SDK's
// handshake, then CheckHealth, QueryData and CallResource over gRPC.
func TestBinaryOverGRPC(t *testing.T) {
	srv := promtest.Start(t, promtest.Planted())

	// Built as the SDK's build package builds it (static, no cgo), hosted as Grafana hosts it.
	bin := plugintest.Build(t)
	host := plugintest.Start(t, bin, "", &pluginv2.DataSourceInstanceSettings{
		Id: 1, Uid: "hazewatch", Name: "Hazewatch", Url: srv.URL, JsonData: []byte(`{"queryTimeout":"30s"}`),
		LastUpdatedMS: time.Now().UnixMilli(),
	})
	client, diag, dat, pctx := host.Client, host.Diagnostics, host.Data, host.Context
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("CheckHealth", func(t *testing.T) {
		h, err := diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx})
		if err != nil {
			t.Fatal(err)
		}
		if want := "(version " + promtest.Version(t) + ")"; h.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, want) {
			t.Errorf("health %v: %q, want it to contain %q", h.Status, h.Message, want)
		}
	})

	t.Run("QueryData", func(t *testing.T) {
		from, to := promtest.SeriesSpikeAt.Add(-6*time.Hour), promtest.SeriesSpikeAt.Add(6*time.Hour)
		good, _ := json.Marshal(map[string]any{
			"features": []map[string]string{{"name": "pm25", "expr": promtest.MetricPM25}, {"name": "rh", "expr": promtest.MetricHumidity}},
			"training": map[string]any{"range": "7d", "step": "5m"},
		})
		tr := &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}
		resp, err := dat.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{
			{RefId: "A", Json: good, TimeRange: tr, IntervalMS: 300000, MaxDataPoints: 1000},
			{RefId: "B", Json: []byte(`{"mode":"sideways","features":[{"expr":"up"}]}`), TimeRange: tr},
		}})
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Responses["A"]
		if a.Error != "" {
			t.Fatalf("A: %s", a.Error)
		}
		frames, err := data.UnmarshalArrowFrames(a.Frames)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != 12 {
			t.Fatalf("%d frames, want 12", len(frames))
		}
		best, sensor := -1.0, ""
		var at time.Time
		for _, f := range frames {
			if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
				t.Fatalf("frame meta %+v", f.Meta)
			}
			for i := 0; i < f.Rows(); i++ {
				if v := f.Fields[1].At(i).(float64); v > best {
					best, sensor, at = v, f.Fields[1].Labels["sensor_index"], f.Fields[0].At(i).(time.Time)
				}
			}
		}
		if sensor != fmt.Sprint(promtest.SeriesSpikeSensor) || at.Before(promtest.SeriesSpikeAt) || !at.Before(promtest.SeriesSpikeAt.Add(promtest.SeriesSpikeLen)) {
			t.Errorf("top score %.3f at sensor %s %s, want the planted spike", best, sensor, at)
		}
		b := resp.Responses["B"]
		if !strings.Contains(b.Error, `unknown mode "sideways"`) || b.Status != 400 || b.ErrorSource != "downstream" {
			t.Errorf("B: status %d source %q error %q", b.Status, b.ErrorSource, b.Error)
		}
	})

	t.Run("CallResource", func(t *testing.T) {
		url := fmt.Sprintf("label-values?label=sensor_index&start=%d&end=%d", promtest.PlantedEnd.Add(-24*time.Hour).Unix(), promtest.PlantedEnd.Unix())
		values, err := host.Strings(ctx, url)
		if err != nil || len(values) != 12 {
			t.Errorf("label-values: %v %v", values, err)
		}
	})

	client.Kill()
	if !client.Exited() {
		t.Error("plugin process still running after Kill")
	}
}
