package plugin

import (
	"math"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// Dataplane contract versions: Grafana alerting and expressions accept
// timeseries-multi and numeric-multi at 0.1.
var dataplaneVersion = data.FrameTypeVersion{0, 1}

// toFrames renders a result per the dataplane contract: one frame per
// entity, value fields labelled with the entity's labels. Time series (series
// mode, fleet at each step) are FrameTypeTimeSeriesMulti; fleet at the last
// step is FrameTypeNumericMulti (one number per entity, what alert rules and
// "top anomalous sensors now" tables want). No entity → a single typed frame
// without fields, which Grafana reads as "no data" rather than an error.
func toFrames(refID string, q *models.Query, r *engine.Result) data.Frames {
	typ := data.FrameTypeTimeSeriesMulti
	if r.Numeric {
		typ = data.FrameTypeNumericMulti
	}
	meta := func(first bool) *data.FrameMeta {
		m := &data.FrameMeta{Type: typ, TypeVersion: dataplaneVersion, ExecutedQueryString: r.Executed}
		if first {
			m.Notices = notices(r.Notices)
			// Shown in the query inspector: whether the forests were reused.
			m.Custom = map[string]any{"forestCacheHit": r.CacheHit, "entities": len(r.Entities)}
		}
		return m
	}
	if len(r.Entities) == 0 {
		f := data.NewFrame("")
		f.RefID = refID
		f.Meta = meta(true)
		return data.Frames{f}
	}
	if q.Preset == models.PresetPurpleAir {
		return purpleAirFrames(refID, q, r, meta)
	}
	frames := make(data.Frames, 0, len(r.Entities))
	for i, er := range r.Entities {
		f := data.NewFrame("")
		f.RefID = refID
		f.Meta = meta(i == 0)
		if !r.Numeric {
			times := er.Times
			if times == nil {
				times = []time.Time{}
			}
			f.Fields = append(f.Fields, data.NewField(data.TimeSeriesTimeFieldName, nil, times))
		}
		add := func(name string, v []float64) {
			if v == nil {
				return
			}
			if r.Numeric && len(v) > 0 {
				v = v[len(v)-1:] // the last step
			}
			f.Fields = append(f.Fields, data.NewField(name, data.Labels(er.Labels).Copy(), v))
		}
		for _, o := range q.Output {
			switch o {
			case models.OutputScore:
				add("score", er.Score)
			case models.OutputDecision:
				add("decision", er.Decision)
			case models.OutputAnomaly:
				add("anomaly", er.Anomaly)
			}
		}
		for c, feat := range q.Features {
			if c >= len(er.Features) {
				break
			}
			add(feat.Name, er.Features[c])
			flags := make([]float64, len(er.Imputed[c]))
			for j, b := range er.Imputed[c] {
				if b {
					flags[j] = 1
				}
			}
			add(feat.Name+"_imputed", flags)
		}
		frames = append(frames, f)
	}
	return frames
}

// notices maps the engine's notices onto Grafana's.
func notices(ns []engine.Notice) []data.Notice {
	if len(ns) == 0 {
		return nil
	}
	out := make([]data.Notice, len(ns))
	for i, n := range ns {
		sev := data.NoticeSeverityInfo
		if n.Severity == engine.SeverityWarning {
			sev = data.NoticeSeverityWarning
		}
		out[i] = data.Notice{Severity: sev, Text: n.Text}
	}
	return out
}

// purpleAirFrames renders the PurpleAir preset's result: one frame per
// sensor (toFrames answers a result without sensors itself; data.NewField
// copies the values it is given, so the result's slices are handed over as
// they are). Time series carry kind, reason and detail as string fields and
// since as a time field (for tables); the numeric frames of fleetAt "last"
// (alert rules) carry only numbers, with kind, reason and since — and the
// detail with purpleair.detailLabel — as labels beside sensor_index, so that
// a notification can say what is wrong without a table.
func purpleAirFrames(refID string, q *models.Query, r *engine.Result, meta func(bool) *data.FrameMeta) data.Frames {
	frames := make(data.Frames, 0, len(r.Entities))
	stringsOut := false
	for _, o := range q.Output {
		switch o {
		case models.OutputKind, models.OutputReason, models.OutputDetail, models.OutputSince:
			stringsOut = true
		}
	}
	for i, er := range r.Entities {
		f := data.NewFrame("")
		f.RefID = refID
		f.Meta = meta(i == 0)
		n := len(er.Times)
		lo := 0
		labels := data.Labels(er.Labels).Copy()
		if r.Numeric {
			lo = max(n-1, 0)
			if n > 0 && er.Kind[n-1] != "" {
				labels["kind"] = er.Kind[n-1]
				labels["reason"] = er.Reason[n-1]
				labels["since"] = er.Since[n-1].UTC().Format(time.RFC3339)
				if q.PurpleAir.DetailLabel {
					labels["detail"] = er.Detail[n-1]
				}
			}
		} else {
			f.Fields = append(f.Fields, data.NewField(data.TimeSeriesTimeFieldName, nil, er.Times))
			if stringsOut {
				// Text and time fields are not values of the time series
				// contract; without the type Grafana reads the frame as a table
				// and still plots the numbers.
				f.Meta.Type, f.Meta.TypeVersion = "", data.FrameTypeVersion{}
			}
		}
		for _, o := range q.Output {
			switch o {
			case models.OutputScore:
				f.Fields = append(f.Fields, data.NewField("score", labels.Copy(), er.Score[lo:]))
			case models.OutputAnomaly:
				f.Fields = append(f.Fields, data.NewField("anomaly", labels.Copy(), er.Anomaly[lo:]))
			case models.OutputEPA:
				v := make([]*float64, 0, n-lo)
				for _, x := range er.EPA[lo:] {
					if math.IsNaN(x) {
						v = append(v, nil)
					} else {
						v = append(v, &x)
					}
				}
				f.Fields = append(f.Fields, data.NewField("pm2.5_epa", labels.Copy(), v))
			case models.OutputKind, models.OutputReason, models.OutputDetail:
				if r.Numeric {
					continue
				}
				src := er.Kind
				if o == models.OutputReason {
					src = er.Reason
				} else if o == models.OutputDetail {
					src = er.Detail
				}
				f.Fields = append(f.Fields, data.NewField(o, labels.Copy(), src))
			case models.OutputSince:
				if r.Numeric {
					continue
				}
				v := make([]*time.Time, len(er.Since))
				for j := range er.Since {
					if !er.Since[j].IsZero() {
						v[j] = &er.Since[j]
					}
				}
				f.Fields = append(f.Fields, data.NewField("since", labels.Copy(), v))
			}
		}
		frames = append(frames, f)
	}
	return frames
}
