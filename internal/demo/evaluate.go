package demo

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// expectedReasons are the reasons a sensor flag on each fault kind should give. A drift called
// ab_divergence is counted wrong: the reason tells the technician what to look for, and a channel
// that crept away over hours is not one that jumped.
var expectedReasons = map[purpleair.FaultKind][]qa.Reason{
	purpleair.FaultSpike:        {qa.ReasonSpike, qa.ReasonOutOfRange},
	purpleair.FaultStuckHigh:    {qa.ReasonOutOfRange},
	purpleair.FaultFlatline:     {qa.ReasonFlatline},
	purpleair.FaultDropout:      {qa.ReasonMissing},
	purpleair.FaultEnvSentinel:  {qa.ReasonOutOfRange},
	purpleair.FaultABDivergence: {qa.ReasonABDivergence},
	purpleair.FaultDrift:        {qa.ReasonDrift},
	purpleair.FaultDisconnect:   {qa.ReasonStale},
}

// kindScore is one strategy's detection of one fault kind (or of all kinds together).
type kindScore struct {
	kind       purpleair.FaultKind // "" = all faults
	readings   int                 // faulty readings of this kind
	caught     int                 // of them, flagged (true positives)
	episodes   int                 // fault episodes of this kind
	detected   int                 // episodes with at least one flagged reading
	falseFlags int                 // flagged clean readings (the strategy's false positives)
	flagged    int                 // all flagged readings (all kinds line only)

	// For a strategy that gives reasons (the preset); zero otherwise.
	reasons     map[qa.Reason]int // caught readings by the reason given
	rightReason int               // caught readings whose reason is one of expectedReasons
	named       int               // flags anywhere giving one of this kind's expected reasons
	namedFaulty int               // of them, on a faulty reading (of any kind)
}

// recall is the share of faulty readings flagged.
func (k kindScore) recall() float64 { return ratio(k.caught, k.readings) }

// precision is the share of all flags that fell on faulty readings (all kinds line only).
func (k kindScore) precision() float64 { return ratio(k.caught, k.caught+k.falseFlags) }

// episodeRecall is the share of fault episodes with at least one flagged reading.
func (k kindScore) episodeRecall() float64 { return ratio(k.detected, k.episodes) }

// reasonShare is the share of this kind's flagged readings that gave a right reason.
func (k kindScore) reasonShare() float64 { return ratio(k.rightReason, k.caught) }

// reasonPrecision is the share of the flags naming one of this kind's reasons that were on a
// faulty reading: when the detector says "stale", how often something was wrong.
func (k kindScore) reasonPrecision() float64 { return ratio(k.namedFaulty, k.named) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// smokeScore is what a strategy made of the smoke: readings under a plume on sensors without a
// fault at the time.
type smokeScore struct {
	readings int
	flagged  int // flagged (the preset: as a sensor fault)
	air      int // the preset: flagged as the air
	reasons  map[qa.Reason]int
}

// evaluation is one strategy scored against the ground truth.
type evaluation struct {
	s      *strategy
	all    kindScore
	kinds  []kindScore // one per Result.kinds, in that order
	clean  int         // clean readings
	sensor int         // sensors with at least one flag
	smoke  smokeScore
	// The preset's flags as the air, and its false alarms by reason.
	airFlags     int
	falseReasons map[qa.Reason]int
}

func isClean(f purpleair.FaultKind) bool { return f == purpleair.FaultNone || f == "" }

// confusion scores flags against labels: truth[i] is the fault of reading i (FaultNone = clean),
// episode boundaries are where the label changes along one sensor's readings (series of length
// steps each). reason, when not nil, is the reason of each flag. It scores every kind of
// purpleair.RealisticFaultKinds; a kind that never occurred has no episodes.
func confusion(truth []purpleair.FaultKind, flag []bool, reason []qa.Reason, steps int) (all kindScore, kinds []kindScore, clean int) {
	kinds = newKindScores(reason != nil)
	falseFlags := 0
	for start := 0; start < len(truth); start += steps {
		end := min(start+steps, len(truth))
		for i := start; i < end; i++ {
			f := truth[i]
			if reason != nil && flag[i] {
				countNamed(kinds, reason[i], !isClean(f))
			}
			if isClean(f) {
				clean++
				if flag[i] {
					falseFlags++
				}
				continue
			}
			k := &kinds[slices.Index(purpleair.RealisticFaultKinds, f)]
			k.readings++
			if flag[i] {
				k.caught++
				if reason != nil {
					k.reasons[reason[i]]++
					if slices.Contains(expectedReasons[f], reason[i]) {
						k.rightReason++
					}
				}
			}
			if i == start || truth[i-1] != f {
				k.episodes++
				if slices.Contains(flag[i:episodeEnd(truth, i, end)], true) {
					k.detected++
				}
			}
		}
	}
	for k := range kinds {
		kinds[k].falseFlags = falseFlags
	}
	all = sumKinds(kinds, reason != nil)
	all.falseFlags = falseFlags
	all.flagged = all.caught + falseFlags
	return all, kinds, clean
}

// newKindScores is one empty score per kind of purpleair.RealisticFaultKinds, in its order.
func newKindScores(withReasons bool) []kindScore {
	kinds := make([]kindScore, len(purpleair.RealisticFaultKinds))
	for k, kind := range purpleair.RealisticFaultKinds {
		kinds[k].kind = kind
		if withReasons {
			kinds[k].reasons = map[qa.Reason]int{}
		}
	}
	return kinds
}

// countNamed counts a flag giving reason against every kind that expects that reason.
func countNamed(kinds []kindScore, reason qa.Reason, faulty bool) {
	for k := range kinds {
		if slices.Contains(expectedReasons[kinds[k].kind], reason) {
			kinds[k].named++
			if faulty {
				kinds[k].namedFaulty++
			}
		}
	}
}

// episodeEnd is where the episode at i ends: the first reading before end with another label.
func episodeEnd(truth []purpleair.FaultKind, i, end int) int {
	j := i
	for j < end && truth[j] == truth[i] {
		j++
	}
	return j
}

// sumKinds is the all-faults line of kinds (without the false flags, which every kind shares).
func sumKinds(kinds []kindScore, withReasons bool) kindScore {
	var all kindScore
	if withReasons {
		all.reasons = map[qa.Reason]int{}
	}
	for _, k := range kinds {
		all.readings += k.readings
		all.caught += k.caught
		all.episodes += k.episodes
		all.detected += k.detected
		all.rightReason += k.rightReason
		for r, n := range k.reasons {
			all.reasons[r] += n
		}
	}
	return all
}

func (d *Result) evaluate() []evaluation {
	out := make([]evaluation, len(d.strategies))
	for i, s := range d.strategies {
		out[i] = d.evaluateStrategy(s)
	}
	return out
}

func (d *Result) evaluateStrategy(s *strategy) evaluation {
	e := evaluation{s: s}
	var every []kindScore
	e.all, every, e.clean = confusion(d.truth, s.flag, s.reason, d.steps)
	for _, k := range d.kinds {
		e.kinds = append(e.kinds, every[slices.Index(purpleair.RealisticFaultKinds, k)])
	}
	e.sensor = d.sensorsWhere(func(i int) bool { return s.flag[i] })
	if s.kind != nil {
		e.smoke.reasons, e.falseReasons = map[qa.Reason]int{}, map[qa.Reason]int{}
	}
	for j, f := range d.truth {
		air := s.kind != nil && s.kind[j] == qa.KindAir
		if air {
			e.airFlags++
		}
		if f != purpleair.FaultNone {
			continue
		}
		if s.flag[j] && s.reason != nil {
			e.falseReasons[s.reason[j]]++
		}
		if d.smoke[j] {
			e.smoke.add(s, j, air)
		}
	}
	return e
}

// add counts reading j, under smoke without a fault, as s judged it.
func (sm *smokeScore) add(s *strategy, j int, air bool) {
	sm.readings++
	if s.flag[j] {
		sm.flagged++
		if s.reason != nil {
			sm.reasons[s.reason[j]]++
		}
	}
	if air {
		sm.air++
	}
}

// sensorsWhere counts the sensors with at least one reading i for which is(i).
func (d *Result) sensorsWhere(is func(i int) bool) int {
	n := 0
	for s := 0; s < d.opt.Sensors; s++ {
		for t := 0; t < d.steps; t++ {
			if is(d.at(s, t)) {
				n++
				break
			}
		}
	}
	return n
}

// ruleFiring marks the readings at which the batch alert rule fires: the sensor's score was above
// ruleThreshold at this step and the ruleSteps−1 before it.
func (d *Result) ruleFiring(score []float64) []bool {
	firing := make([]bool, len(score))
	for s := 0; s < d.opt.Sensors; s++ {
		run := 0
		for t := 0; t < d.steps; t++ {
			if v := score[d.at(s, t)]; v > ruleThreshold { // NaN (not scored) breaks the run
				run++
			} else {
				run = 0
			}
			firing[d.at(s, t)] = run >= ruleSteps
		}
	}
	return firing
}

// presetEval is the evaluation of the strategy that gives reasons, nil when none does.
func presetEval(evals []evaluation) *evaluation {
	for i := range evals {
		if evals[i].s.reason != nil {
			return &evals[i]
		}
	}
	return nil
}

// reasonList prints reason counts, most frequent first (ties in Reasons' order).
func reasonList(m map[qa.Reason]int) string {
	type rc struct {
		r qa.Reason
		n int
	}
	var l []rc
	for _, r := range qa.Reasons {
		if m[r] > 0 {
			l = append(l, rc{r, m[r]})
		}
	}
	slices.SortStableFunc(l, func(a, b rc) int { return b.n - a.n })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %d", x.r, x.n)
	}
	return strings.Join(parts, ", ")
}

func expectedList(k purpleair.FaultKind) string {
	rs := expectedReasons[k]
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, " or ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
