package qa

import (
	"fmt"
	"math"
)

// Options are the choices a user makes; everything else is fixed by the literature the checks
// follow (see the constants in checks.go) and documented there.
type Options struct {
	// Threshold: a reading is an anomaly when its score is at least this. The reference
	// streaming flow's 0.7.
	Threshold float64
	// WindowSize is the learned model's window in readings (River's window_size): 250.
	WindowSize int
	// Correction is the EPA correction reported as pm2.5_epa: CorrectionUSWide.
	Correction Correction
	// Neighbours is how many nearest sensors count as a sensor's neighbours when positions are
	// known: 8.
	Neighbours int
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Threshold: 0.7, WindowSize: 250, Correction: CorrectionUSWide, Neighbours: 8}
}

// OptionError is a bad option, named as in Options; each edge (the processor's TOML, the CLI's
// flags, the datasource's query model) translates the name into its own spelling.
type OptionError struct {
	Option string // the Options field, e.g. "WindowSize"
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("qa: %s %s", e.Option, e.Reason) }

func (o Options) validate() error {
	if math.IsNaN(o.Threshold) || o.Threshold <= 0 || o.Threshold > 1 {
		return &OptionError{"Threshold", fmt.Sprintf("must be in (0, 1], got %v", o.Threshold)}
	}
	if _, err := ParseCorrection(string(o.Correction)); err != nil {
		return &OptionError{"Correction", err.Error()}
	}
	if o.Neighbours < 2 || o.Neighbours > 64 {
		return &OptionError{"Neighbours", fmt.Sprintf("must be in 2..64, got %d", o.Neighbours)}
	}
	return nil
}
