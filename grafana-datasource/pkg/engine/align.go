package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// entityRows is one entity's samples joined across features on the step
// grid: row r is grid index Index[r], X[r*cols+c] is feature c there (NaN
// when that feature has no sample at that step).
type entityRows struct {
	Key    string            // entity label values joined, the sort and cache key
	Labels map[string]string // the entity labels only
	Index  []int32           // grid indices, ascending
	X      []float64
	// Imputed marks cells filled by imputation (nil when none were).
	Imputed []bool
}

// Rows is the number of rows.
func (e *entityRows) Rows() int { return len(e.Index) }

// alignment is every entity's rows for one window.
type alignment struct {
	Window   models.Window
	Cols     int
	Entities []*entityRows // sorted by Key, so output order is stable
	// SkippedSeries counts upstream series lacking an entity label.
	SkippedSeries int
	// OffGrid counts samples not on the step grid (ignored).
	OffGrid int
}

// TooManySeriesError reports a feature that returned more entities than the
// datasource allows.
type TooManySeriesError struct {
	Feature string
	Got     int // -1: more than Limit (decoding stopped there)
	Limit   int
}

func (e *TooManySeriesError) Error() string {
	got := fmt.Sprintf("%d series", e.Got)
	if e.Got < 0 {
		got = fmt.Sprintf("more than %d series", e.Limit)
	}
	return fmt.Sprintf("too many series: feature %q returned %s, the limit is %d (datasource setting maxSeries); narrow the selector or aggregate",
		e.Feature, got, e.Limit)
}

// DuplicateEntityError reports two series of one feature for one entity:
// the join on the entity labels would be ambiguous.
type DuplicateEntityError struct {
	Feature string
	Entity  string
	Labels  []string
}

func (e *DuplicateEntityError) Error() string {
	return fmt.Sprintf("feature %q returns more than one series for entity {%s}; aggregate it to one series per entity, e.g. avg by (%s) (…)",
		e.Feature, e.Entity, strings.Join(e.Labels, ", "))
}

// alignFeatures joins the features' series on (entity, timestamp).
// matrices[c] is feature c's query_range result over w.
func alignFeatures(w models.Window, entityLabels []string, names []string, matrices []model.Matrix, maxSeries int) (*alignment, error) {
	a := &alignment{Window: w, Cols: len(matrices)}
	byKey, err := joinEntities(a, entityLabels, names, matrices, maxSeries)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	slot := make([]int32, w.Points()) // grid index → row+1 for the current entity; 0 = absent
	a.Entities = make([]*entityRows, 0, len(keys))
	for _, k := range keys {
		if e := a.rows(k, byKey[k], slot); len(e.Index) > 0 {
			a.Entities = append(a.Entities, e)
		}
	}
	return a, nil
}

// entitySeries is one entity's labels and its series, one per feature (nil
// where the feature has none).
type entitySeries struct {
	labels map[string]string
	series []*model.SampleStream
}

// joinEntities groups the series by entity key (`site="a",sensor_index="1"`);
// series lacking an entity label are counted in a.SkippedSeries.
func joinEntities(a *alignment, entityLabels []string, names []string, matrices []model.Matrix, maxSeries int) (map[string]*entitySeries, error) {
	byKey := map[string]*entitySeries{}
	var kb strings.Builder
	for c, m := range matrices {
		if maxSeries > 0 && len(m) > maxSeries {
			return nil, &TooManySeriesError{Feature: names[c], Got: len(m), Limit: maxSeries}
		}
		for _, ss := range m {
			kb.Reset()
			ok := true
			for i, l := range entityLabels {
				v, has := ss.Metric[model.LabelName(l)]
				if !has || v == "" {
					ok = false
					break
				}
				if i > 0 {
					kb.WriteByte(',')
				}
				kb.WriteString(l)
				kb.WriteString(`="`)
				kb.WriteString(string(v))
				kb.WriteByte('"')
			}
			if !ok {
				a.SkippedSeries++
				continue
			}
			key := kb.String()
			p := byKey[key]
			if p == nil {
				lbl := make(map[string]string, len(entityLabels))
				for _, l := range entityLabels {
					lbl[l] = string(ss.Metric[model.LabelName(l)])
				}
				p = &entitySeries{labels: lbl, series: make([]*model.SampleStream, len(matrices))}
				byKey[key] = p
			}
			if p.series[c] != nil {
				return nil, &DuplicateEntityError{Feature: names[c], Entity: key, Labels: entityLabels}
			}
			p.series[c] = ss
		}
	}
	if maxSeries > 0 && len(byKey) > maxSeries {
		return nil, &TooManySeriesError{Feature: "(all features joined)", Got: len(byKey), Limit: maxSeries}
	}
	return byKey, nil
}

// rows lays one entity's series out as rows: one per grid step where any
// feature has a sample, NaN where a feature has none (or Inf); samples off
// the grid are counted in a.OffGrid. slot is scratch of w.Points() zeros,
// left zeroed.
func (a *alignment) rows(key string, p *entitySeries, slot []int32) *entityRows {
	w, cols := a.Window, a.Cols
	e := &entityRows{Key: key, Labels: p.labels}
	// Pass 1: which grid steps have any feature. Both passes walk the same
	// samples: a row's place is known only once every feature has been seen.
	for _, ss := range p.series {
		if ss == nil {
			continue
		}
		for _, sp := range ss.Values {
			i := w.Index(sp.Timestamp.Time())
			if i < 0 {
				a.OffGrid++
				continue
			}
			slot[i] = 1
		}
	}
	for i := range slot {
		if slot[i] != 0 {
			e.Index = append(e.Index, int32(i))
			slot[i] = int32(len(e.Index))
		}
	}
	e.X = make([]float64, len(e.Index)*cols)
	for i := range e.X {
		e.X[i] = math.NaN()
	}
	// Pass 2: fill cells.
	for c, ss := range p.series {
		if ss == nil {
			continue
		}
		for _, sp := range ss.Values {
			i := w.Index(sp.Timestamp.Time())
			if i < 0 {
				continue
			}
			v := float64(sp.Value)
			if math.IsInf(v, 0) {
				v = math.NaN() // Inf cannot be isolated meaningfully; treat as missing
			}
			e.X[int(slot[i]-1)*cols+c] = v
		}
	}
	for _, i := range e.Index {
		slot[i] = 0
	}
	return e
}

// totalRows is the number of rows over all entities.
func (a *alignment) totalRows() int {
	n := 0
	for _, e := range a.Entities {
		n += e.Rows()
	}
	return n
}

// dropIncomplete removes rows with any NaN cell (imputation "none").
// It returns how many rows were dropped.
func (e *entityRows) dropIncomplete(cols int) int {
	keep := 0
	for r := range e.Index {
		row := e.X[r*cols : (r+1)*cols]
		complete := true
		for _, v := range row {
			if math.IsNaN(v) {
				complete = false
				break
			}
		}
		if complete {
			copy(e.X[keep*cols:(keep+1)*cols], row)
			e.Index[keep] = e.Index[r]
			keep++
		}
	}
	dropped := len(e.Index) - keep
	e.Index = e.Index[:keep]
	e.X = e.X[:keep*cols]
	return dropped
}

// hasMissing reports whether any cell is NaN.
func hasMissing(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}
