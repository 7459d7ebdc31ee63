package iforest

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
)

// Options are scikit-learn's IsolationForest parameters, each used as given: start from
// DefaultOptions (scikit-learn's defaults) and change what differs, so the reference
// IsolationForest(n_estimators=100, max_samples='auto', contamination=0.01, random_state=42) is
// DefaultOptions() with Contamination 0.01 and Seed 42. Fit checks them once and reports a bad one
// as an *OptionError naming it.
type Options struct {
	// NEstimators is the number of trees, at least 1.
	NEstimators int
	// MaxSamples is how many rows each tree is grown on: AutoSize (min(256, n)), Count(k) (capped
	// at n and reported through Logf, as scikit-learn warns) or Fraction(f), f in (0, 1].
	MaxSamples Size
	// Contamination is the expected share of anomalies, in (0, 0.5]: it places the decision
	// threshold at that percentile of the training scores. ContaminationAuto is scikit-learn's
	// "auto", the fixed offset −0.5 of the original paper.
	Contamination float64
	// MaxFeatures is how many columns each tree sees (a random subset per tree, as scikit-learn's
	// bagging draws): Count(k) or Fraction(f), f in (0, 1] (at least one column).
	MaxFeatures Size
	// Bootstrap draws each tree's rows with replacement.
	Bootstrap bool
	// Seed makes fitting reproducible: the same seed and data give the same trees and scores
	// whatever Workers is. It does not reproduce scikit-learn's numpy random stream (no Go port can
	// cheaply), only its distribution.
	Seed int64
	// Workers bounds the goroutines used to fit and score, at least 1. It never changes a result.
	Workers int
	// Logf receives warnings (scikit-learn's UserWarnings); nil discards them.
	Logf func(format string, args ...any)
}

// ContaminationAuto is scikit-learn's contamination="auto".
const ContaminationAuto = 0

// DefaultOptions returns scikit-learn's defaults (n_estimators=100, max_samples="auto",
// contamination="auto", max_features=1.0, bootstrap=False), seed 0, one worker per CPU.
func DefaultOptions() Options {
	return Options{
		NEstimators:   100,
		MaxSamples:    AutoSize(),
		Contamination: ContaminationAuto,
		MaxFeatures:   Fraction(1),
		Workers:       runtime.GOMAXPROCS(0),
	}
}

// Size is scikit-learn's int-or-float parameter: a count, a fraction of the whole, or (for
// max_samples only) "auto". The zero Size is none of these and is rejected.
type Size struct {
	count    int
	fraction float64
	auto     bool
}

// Count is an absolute number (scikit-learn's int).
func Count(n int) Size { return Size{count: n} }

// Fraction is a share of the whole (scikit-learn's float).
func Fraction(f float64) Size { return Size{fraction: f} }

// AutoSize is max_samples="auto": min(256, n).
func AutoSize() Size { return Size{auto: true} }

// String spells the size as scikit-learn does: "auto", "256" or "0.5"; a fraction always has a
// point ("1.0", every row), so that ParseMaxSamples reads back the same Size.
func (s Size) String() string {
	switch {
	case s.auto:
		return "auto"
	case s.fraction != 0:
		f := strconv.FormatFloat(s.fraction, 'g', -1, 64)
		if !strings.ContainsAny(f, ".eE") {
			f += ".0"
		}
		return f
	default:
		return strconv.Itoa(s.count)
	}
}

// SamplesPerTree is how many rows each tree draws when the forest is fitted on rows rows, as Fit
// resolves max_samples (0 for a fraction too small for one row, which Fit rejects), for callers
// that budget memory before fitting.
func (o Options) SamplesPerTree(rows int) int {
	if o.MaxSamples.auto {
		return min(256, rows)
	}
	return min(o.MaxSamples.of(rows), rows)
}

// of resolves the size against a total; it assumes check passed.
func (s Size) of(total int) int {
	if s.fraction != 0 {
		return int(s.fraction * float64(total))
	}
	return s.count
}

func (s Size) check(option string, autoOK bool) error {
	switch {
	case s.auto && autoOK:
		return nil
	case s.auto:
		return &OptionError{Option: option, Msg: `cannot be "auto"`}
	case s.fraction != 0:
		if !(s.fraction > 0 && s.fraction <= 1) {
			return &OptionError{Option: option, Msg: fmt.Sprintf("fraction must be in (0, 1], got %v", s.fraction)}
		}
	case s.count <= 0:
		return &OptionError{Option: option, Msg: fmt.Sprintf("must be a positive count or a fraction in (0, 1], got %d", s.count)}
	}
	return nil
}

// OptionError reports an option Fit cannot take. Option is the field's name in Options
// ("Contamination", "MaxSamples"); edges translate it into their own spelling
// (isolationForest.contamination in a query, -contamination on the command line) with errors.As.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return "iforest: " + e.Option + " " + e.Msg }

// Check checks each option on its own, as Fit does first; edges call it to report a bad option
// before fetching any data. What needs the data (MaxFeatures against the column count) is checked
// in Fit.
func (o Options) Check() error {
	if o.NEstimators < 1 {
		return &OptionError{Option: "NEstimators", Msg: fmt.Sprintf("must be at least 1, got %d", o.NEstimators)}
	}
	if err := o.MaxSamples.check("MaxSamples", true); err != nil {
		return err
	}
	if o.Contamination != ContaminationAuto && !(o.Contamination > 0 && o.Contamination <= 0.5) {
		return &OptionError{Option: "Contamination", Msg: fmt.Sprintf("must be in (0, 0.5], got %v", o.Contamination)}
	}
	if err := o.MaxFeatures.check("MaxFeatures", false); err != nil {
		return err
	}
	if o.Workers < 1 {
		return &OptionError{Option: "Workers", Msg: fmt.Sprintf("must be at least 1, got %d", o.Workers)}
	}
	return nil
}

// ParseMaxSamples reads max_samples the way a scikit-learn user writes it: "auto", an integer
// count ("256") or a fraction ("0.5", "1.0"). As in Python, a decimal point or exponent makes it a
// fraction, so "1" is one sample but "1.0" is every sample.
func ParseMaxSamples(s string) (Size, error) {
	if strings.TrimSpace(s) == "auto" {
		return AutoSize(), nil
	}
	return parseSize("MaxSamples", s)
}

// ParseMaxFeatures reads max_features as scikit-learn's int and float: a count of columns ("1",
// "3") or a fraction ("1.0", "0.5"), so "1" is one column per tree but "1.0" is every column.
func ParseMaxFeatures(s string) (Size, error) {
	return parseSize("MaxFeatures", s)
}

// parseSize is the int-or-float reading both parameters share; the range is checked by Fit.
func parseSize(option, s string) (Size, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, ".eE") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) {
			return Size{}, &OptionError{Option: option, Msg: fmt.Sprintf("must be a count or a fraction, got %q", s)}
		}
		if f == 0 {
			// Fraction(0) would be the zero Size, which check reports as a count.
			return Size{}, &OptionError{Option: option, Msg: fmt.Sprintf("fraction must be in (0, 1], got %q", s)}
		}
		return Fraction(f), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return Size{}, &OptionError{Option: option, Msg: fmt.Sprintf("must be a count or a fraction, got %q", s)}
	}
	return Count(n), nil
}

// ParseContamination reads contamination as "auto" (ContaminationAuto) or a number; the range
// is checked by Fit.
func ParseContamination(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "auto" {
		return ContaminationAuto, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f == ContaminationAuto {
		return 0, &OptionError{Option: "Contamination", Msg: fmt.Sprintf(`must be "auto" or in (0, 0.5], got %q`, s)}
	}
	return f, nil
}
