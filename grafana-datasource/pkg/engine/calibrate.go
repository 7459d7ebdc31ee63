package engine

import (
	"math"
	"slices"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

// tailCalib turns a raw Isolation Forest score into 1 − its tail probability
// under the training scores, so that a threshold 1 − p fires on about a share
// p of readings like the training data — the same p at any fleet size,
// window or feature count, where the raw score's range moves with all three.
//
// The body of the distribution is the empirical one (101 quantiles). Beyond
// the top tailShare of the training scores the tail is extrapolated (peaks
// over threshold): alert thresholds sit at p = 10⁻⁴, rarer than one training
// score in most windows, where an empirical share says nothing. The score is
// bounded: a point isolated by the first split of every tree scores
// 2^(−1/c(ψ)) for ψ samples per tree, and nothing scores more. The excesses
// are therefore fitted as a generalized Pareto distribution whose endpoint is
// that ceiling (shape ξ < 0, by the method of moments on the mean excess):
// p(s) = τ·((ceiling − s)/(ceiling − u))^k, k = (ceiling − u − mean excess) /
// mean excess. An exponential tail (ξ = 0) ignores the ceiling and, measured
// on the simulator, leaves a stuck-high channel at p ≈ 10⁻³, never paging;
// it is kept for when the ceiling is unknown.
type tailCalib struct {
	n    int
	q    [101]float64 // quantiles of the training scores
	u    float64      // where the tail begins
	tau  float64      // share of training scores above u
	beta float64      // mean excess above u
	top  float64      // the scores' ceiling; 0 = unknown (exponential tail)
	k    float64      // the bounded tail's exponent
}

// The tail is the top 5 % of training scores, and at least tailMin of them
// (fewer scores than 2·tailMin: the empirical share alone).
const (
	tailShare = 0.05
	tailMin   = 20
)

// newTailCalib calibrates against scores (raw, higher = more anomalous) of
// forests drawing psi samples per tree (0: unknown); nil when there are no
// scores. scores is not modified.
func newTailCalib(scores []float64, psi int) *tailCalib {
	s := make([]float64, 0, len(scores))
	for _, v := range scores {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	c := &tailCalib{n: len(s)}
	for i := range c.q {
		c.q[i] = quantileSorted(s, float64(i)/100)
	}
	k := max(tailMin, int(tailShare*float64(len(s))))
	if len(s) < 2*k {
		c.tau = 0 // empirical only
		return c
	}
	c.u = s[len(s)-k-1]
	c.tau = float64(k) / float64(len(s))
	for _, v := range s[len(s)-k:] {
		c.beta += v - c.u
	}
	c.beta /= float64(k)
	if c.beta <= 0 {
		// Every tail score equal (a fleet of identical sensors): anything
		// above them is beyond all of training, as far as can be said.
		c.beta = 1e-9
	}
	if psi >= 2 {
		if top := scoreCeiling(psi); top-c.u > c.beta {
			c.top, c.k = top, (top-c.u-c.beta)/c.beta
		}
	}
	return c
}

// scoreCeiling is the highest score a forest of psi samples per tree gives:
// 2^(−1/c(ψ)), a path of length 1 in every tree.
func scoreCeiling(psi int) float64 {
	return math.Exp2(-1 / iforest.AveragePathLength(psi))
}

func quantileSorted(s []float64, p float64) float64 {
	x := p * float64(len(s)-1)
	i := int(x)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := x - float64(i)
	return s[i] + f*(s[i+1]-s[i])
}

// tail is the probability that a training-like score is at least s.
func (c *tailCalib) tail(s float64) float64 {
	if math.IsNaN(s) {
		return math.NaN()
	}
	if c.tau > 0 && s > c.u {
		if c.top > 0 {
			if s >= c.top {
				return 0
			}
			return c.tau * math.Pow((c.top-s)/(c.top-c.u), c.k)
		}
		return c.tau * math.Exp(-(s-c.u)/c.beta)
	}
	if s <= c.q[0] {
		return 1
	}
	if c.tau == 0 && s > c.q[100] {
		// Beyond every training score, without a tail to extrapolate: the
		// conformal share 1/(n+1).
		return 1 / float64(c.n+1)
	}
	i, _ := slices.BinarySearch(c.q[:], s) // q[i-1] < s ≤ q[i]
	i = max(i, 1)
	f := float64(i - 1)
	if d := c.q[i] - c.q[i-1]; d > 0 {
		f += (s - c.q[i-1]) / d
	}
	p := 1 - f/100
	if c.tau > 0 {
		p = max(p, c.tau) // continuous with the tail at u
	}
	return max(p, 1/float64(c.n+1))
}

// calibrate maps a raw score to 1 − its tail probability.
func (c *tailCalib) calibrate(s float64) float64 { return 1 - c.tail(s) }

// calibrateScores rewrites raw scores in place.
func (c *tailCalib) calibrateScores(v []float64) {
	if c == nil {
		return
	}
	for i, s := range v {
		v[i] = c.calibrate(s)
	}
}

// calibBytes is what a tailCalib holds.
const calibBytes = 101*8 + 48

// trainingCalib calibrates f, drawing psi samples per tree, against the
// scores of the rows it was fitted on.
func trainingCalib(f detector, x []float64, cols, psi int) (*tailCalib, error) {
	ss := make([]float64, len(x)/cols)
	if err := f.ScoreSamples(x, cols, ss); err != nil {
		return nil, err
	}
	for i := range ss {
		ss[i] = -ss[i]
	}
	return newTailCalib(ss, psi), nil
}
