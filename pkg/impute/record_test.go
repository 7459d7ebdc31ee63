package impute

import (
	"errors"
	"math"
	"testing"
)

// TestRecordFill: a present value teaches its statistic before a missing one is filled from it, a
// field without an imputer stays missing, and only filled values are counted.
func TestRecordFill(t *testing.T) {
	r, err := NewRecord([]string{"mean", "last", "none"}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if r[2] != nil {
		t.Fatal(`"none" made an imputer`)
	}
	steps := []struct {
		in, want []float64
		filled   int
	}{
		{[]float64{2, 5, 1}, []float64{2, 5, 1}, 0},
		{[]float64{4, math.NaN(), math.NaN()}, []float64{4, 5, math.NaN()}, 1},
		{[]float64{math.NaN(), 7, 3}, []float64{3, 7, 3}, 1}, // mean of 2 and 4
		{[]float64{math.NaN(), math.NaN(), math.NaN()}, []float64{3, 7, math.NaN()}, 2},
	}
	for i, s := range steps {
		x := append([]float64(nil), s.in...)
		if got := r.Fill(x); got != s.filled {
			t.Errorf("step %d: filled %d, want %d", i, got, s.filled)
		}
		for j := range x {
			if x[j] != s.want[j] && !(math.IsNaN(x[j]) && math.IsNaN(s.want[j])) {
				t.Errorf("step %d: x = %v, want %v", i, x, s.want)
				break
			}
		}
	}
}

func TestNewRecordRejectsKind(t *testing.T) {
	_, err := NewRecord([]string{"mean", "median"}, 0.5)
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Option != "kind" {
		t.Fatalf("err = %v, want an *OptionError for kind", err)
	}
}

func TestRecordFillDoesNotAllocate(t *testing.T) {
	r, _ := NewRecord([]string{"mean", "ewma", "last"}, 0.5)
	x := []float64{1, math.NaN(), 3}
	if n := testing.AllocsPerRun(100, func() { x[1] = math.NaN(); r.Fill(x) }); n != 0 {
		t.Fatalf("Fill allocates %v times per record", n)
	}
}
