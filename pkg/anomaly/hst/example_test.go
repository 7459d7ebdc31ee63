package hst_test

import (
	"fmt"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
)

// River's documented HalfSpaceTrees example, through the Go API: learn three values to warm up,
// then learn each value and score it.
func ExampleModel() {
	model, err := hst.New([]string{"x"}, hst.Options{
		Trees: 5, Height: 3, WindowSize: 3, Seed: 42,
	})
	if err != nil {
		panic(err)
	}
	state := model.NewState() // one per series; the trees are shared
	xs := []float64{0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0}
	for _, x := range xs[:3] {
		model.Learn(state, []float64{x})
	}
	for _, x := range xs {
		model.Learn(state, []float64{x})
		fmt.Printf("Anomaly score for x=%.3f: %.3f\n", x, model.Score(state, []float64{x}))
	}
	// Output:
	// Anomaly score for x=0.500: 0.107
	// Anomaly score for x=0.450: 0.071
	// Anomaly score for x=0.430: 0.107
	// Anomaly score for x=0.440: 0.107
	// Anomaly score for x=0.445: 0.107
	// Anomaly score for x=0.450: 0.071
	// Anomaly score for x=0.000: 0.853
}
