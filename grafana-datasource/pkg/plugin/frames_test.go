package plugin

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

func TestToFrames(t *testing.T) {
	q, err := models.ParseQuery([]byte(`{"features":[{"name":"pm","expr":"x"}],"output":["anomaly","score"],"includeFeatures":true}`))
	if err != nil {
		t.Fatal(err)
	}
	er := func(id string) *engine.EntityResult {
		return &engine.EntityResult{
			Labels: map[string]string{"sensor_index": id}, Times: []time.Time{t0, t0.Add(time.Minute)},
			Score: []float64{0.4, 0.8}, Anomaly: []float64{0, 1},
			Features: [][]float64{{1, 2}}, Imputed: [][]bool{{false, true}},
		}
	}
	res := &engine.Result{Entities: []*engine.EntityResult{er("1"), er("2")}, Executed: "pm: x", Notices: []engine.Notice{{Text: "n"}}}

	cases := []struct {
		name    string
		numeric bool
		typ     data.FrameType
		fields  []string
		rows    int
	}{
		{"time series", false, data.FrameTypeTimeSeriesMulti, []string{"Time", "anomaly", "score", "pm", "pm_imputed"}, 2},
		{"numeric at the last step", true, data.FrameTypeNumericMulti, []string{"anomaly", "score", "pm", "pm_imputed"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res.Numeric = c.numeric
			frames := toFrames("A", q, res)
			if len(frames) != 2 {
				t.Fatalf("%d frames", len(frames))
			}
			for i, f := range frames {
				if f.RefID != "A" || f.Meta.Type != c.typ || f.Meta.TypeVersion != (data.FrameTypeVersion{0, 1}) || f.Meta.ExecutedQueryString != "pm: x" {
					t.Errorf("frame %d meta %+v", i, f.Meta)
				}
				if (len(f.Meta.Notices) == 1) != (i == 0) {
					t.Errorf("frame %d has %d notices; notices belong on the first frame only", i, len(f.Meta.Notices))
				}
				if len(f.Fields) != len(c.fields) {
					t.Fatalf("fields %v", f.Fields)
				}
				for j, name := range c.fields {
					fld := f.Fields[j]
					if fld.Name != name || fld.Len() != c.rows {
						t.Errorf("field %d = %s with %d rows, want %s with %d", j, fld.Name, fld.Len(), name, c.rows)
					}
					if name != "Time" && fld.Labels["sensor_index"] == "" {
						t.Errorf("field %s has no entity label", name)
					}
				}
				// The last step's values: anomaly 1, imputed flag 1.
				last := c.rows - 1
				if v, _ := f.FieldByName("anomaly"); v.At(last).(float64) != 1 {
					t.Errorf("anomaly at the last step = %v", v.At(last))
				}
				if v, _ := f.FieldByName("pm_imputed"); v.At(last).(float64) != 1 {
					t.Errorf("pm_imputed at the last step = %v", v.At(last))
				}
			}
			if got, _ := frames.MarshalArrow(); len(got) != 2 {
				t.Errorf("frames do not serialise to Arrow")
			}
		})
	}

	empty := toFrames("B", q, &engine.Result{Executed: "pm: x"})
	if len(empty) != 1 || len(empty[0].Fields) != 0 || empty[0].Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Errorf("empty result = %+v", empty)
	}
}
