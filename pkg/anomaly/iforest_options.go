package anomaly

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// IsolationForestOptions are scikit-learn's IsolationForest parameters.
// Zero values mean scikit-learn's defaults, so that the reference
// IsolationForest(n_estimators=100, max_samples='auto', contamination=0.01,
// random_state=42) is IsolationForestOptions{Contamination: 0.01, Seed: 42}.
type IsolationForestOptions struct {
	// NEstimators is the number of trees; 0 means 100.
	NEstimators int
	// MaxSamples is the number of rows each tree is grown on; 0 means
	// scikit-learn's "auto" = min(256, n). A count above n is capped at n
	// and reported through Logf, as scikit-learn warns.
	MaxSamples int
	// MaxSamplesFraction > 0 means int(f·n) rows per tree (scikit-learn's
	// float max_samples), f in (0, 1]. Exclusive with MaxSamples.
	MaxSamplesFraction float64
	// Contamination is the expected share of anomalies, in (0, 0.5]; it
	// places the decision threshold at that percentile of the training
	// scores. 0 means "auto": the fixed offset −0.5 of the original paper.
	Contamination float64
	// MaxFeatures is the number of columns each tree sees (a random subset
	// per tree, as scikit-learn's bagging draws); 0 means all.
	MaxFeatures int
	// MaxFeaturesFraction > 0 means max(1, int(f·cols)) columns per tree,
	// f in (0, 1]. Exclusive with MaxFeatures.
	MaxFeaturesFraction float64
	// Bootstrap draws each tree's rows with replacement.
	Bootstrap bool
	// Seed makes fitting reproducible: the same seed and data give the
	// same trees and scores whatever Workers is. It does not reproduce
	// scikit-learn's numpy random stream (no Go port can cheaply), only
	// its distribution.
	Seed int64
	// Workers bounds the goroutines used to fit and score; 0 means
	// runtime.GOMAXPROCS(0). It never changes a result.
	Workers int
	// Logf receives warnings (scikit-learn's UserWarnings); nil discards them.
	Logf func(format string, args ...any)
}

// Validate checks each option on its own, before any data is seen; checks
// that need the data (MaxFeatures against the column count) happen in Fit.
func (o IsolationForestOptions) Validate() error {
	if o.NEstimators < 0 {
		return fmt.Errorf("anomaly: n_estimators must be positive, got %d", o.NEstimators)
	}
	if o.MaxSamples < 0 {
		return fmt.Errorf("anomaly: max_samples must be positive, got %d", o.MaxSamples)
	}
	if o.MaxSamplesFraction != 0 && !(o.MaxSamplesFraction > 0 && o.MaxSamplesFraction <= 1) {
		return fmt.Errorf("anomaly: max_samples fraction must be in (0, 1], got %v", o.MaxSamplesFraction)
	}
	if o.MaxSamples > 0 && o.MaxSamplesFraction > 0 {
		return fmt.Errorf("anomaly: max_samples: give a count (%d) or a fraction (%v), not both", o.MaxSamples, o.MaxSamplesFraction)
	}
	if o.Contamination != 0 && !(o.Contamination > 0 && o.Contamination <= 0.5) {
		return fmt.Errorf("anomaly: contamination must be in (0, 0.5], got %v", o.Contamination)
	}
	if o.MaxFeatures < 0 {
		return fmt.Errorf("anomaly: max_features must be positive, got %d", o.MaxFeatures)
	}
	if o.MaxFeaturesFraction != 0 && !(o.MaxFeaturesFraction > 0 && o.MaxFeaturesFraction <= 1) {
		return fmt.Errorf("anomaly: max_features fraction must be in (0, 1], got %v", o.MaxFeaturesFraction)
	}
	if o.MaxFeatures > 0 && o.MaxFeaturesFraction > 0 {
		return fmt.Errorf("anomaly: max_features: give a count (%d) or a fraction (%v), not both", o.MaxFeatures, o.MaxFeaturesFraction)
	}
	if o.Workers < 0 {
		return fmt.Errorf("anomaly: workers must not be negative, got %d", o.Workers)
	}
	return nil
}

// ParseMaxSamples reads max_samples the way a scikit-learn user writes it:
// "auto", an integer count ("256") or a fraction ("0.5", "1.0"). As in
// Python, the presence of a decimal point or exponent makes it a fraction,
// so "1" is one sample but "1.0" is every sample.
func ParseMaxSamples(s string) (count int, fraction float64, err error) {
	if strings.TrimSpace(s) == "auto" {
		return 0, 0, nil
	}
	return parseCountOrFraction("max_samples", `"auto", a positive count`, s)
}

// ParseMaxFeatures reads max_features as scikit-learn's int and float: a
// count of columns ("1", "3") or a fraction ("1.0", "0.5"), so "1" is one
// column per tree but "1.0" is every column.
func ParseMaxFeatures(s string) (count int, fraction float64, err error) {
	return parseCountOrFraction("max_features", "a positive count", s)
}

// parseCountOrFraction is the int-or-float reading both parameters share.
func parseCountOrFraction(name, counts, s string) (int, float64, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, ".eE") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return 0, 0, fmt.Errorf("anomaly: %s must be %s or a fraction in (0, 1], got %q", name, counts, s)
		}
		return 0, f, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("anomaly: %s must be %s or a fraction in (0, 1], got %q", name, counts, s)
	}
	return n, 0, nil
}

// ParseContamination reads contamination as "auto" (returned as 0, the
// options' spelling of auto) or a number in (0, 0.5].
func ParseContamination(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "auto" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || !(f > 0 && f <= 0.5) {
		return 0, fmt.Errorf("anomaly: contamination must be \"auto\" or in (0, 0.5], got %q", s)
	}
	return f, nil
}
