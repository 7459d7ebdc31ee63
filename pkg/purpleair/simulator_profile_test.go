package purpleair

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetHash digests steps of a fleet: every step's time, and every reading's index, label and
// cells (kind, number bits, text).
func fleetHash(t *testing.T, cfg SimulatorConfig, steps int) string {
	t.Helper()
	s := mustSim(t, cfg)
	h := sha256.New()
	var b [8]byte
	put := func(u uint64) {
		binary.LittleEndian.PutUint64(b[:], u)
		h.Write(b[:])
	}
	for range steps {
		ts, rs := s.Next()
		put(uint64(ts.Unix()))
		for _, r := range rs {
			put(uint64(r.SensorIndex))
			h.Write([]byte(r.Fault))
			for _, v := range r.Values {
				h.Write([]byte{byte(v.Kind)})
				put(math.Float64bits(v.Num))
				h.Write([]byte(v.Str))
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestBasicProfileUnchanged: the basic profile is what the simulator generated before the
// realistic one existed, bit for bit — the e2e floors and every recorded figure depend on it. The
// digests were taken from the code before the profile was added (commit 759b853).
func TestBasicProfileUnchanged(t *testing.T) {
	cases := []struct {
		cfg  SimulatorConfig
		want string
	}{
		{DefaultSimulatorConfig(), "8b94421bd70838ce6d832a0a0a2333fde3581043d9c0667b80c077f328f94b1e"},
		{simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate = 50, 1, 0.05 }), "6e74e1d34cc327dae166d1fecbdb0ea668627091673cba029816f33459c0f88d"},
		{simConfig(func(c *SimulatorConfig) {
			c.Sensors, c.Seed, c.FaultRate, c.Faults = 30, 7, 0.1, []FaultKind{FaultFlatline, FaultDropout}
		}), "5492b3d8d8daa4987d1baed053058054d275470ff6f639c6483c4b7bbf4b333e"},
		{simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate, c.Step = 20, 3, 0.2, 30*time.Second }), "317d9d853ed592ca293b1507765f961c3b6b6fa0a5fa116a034fb724bfd7f088"},
		// "basic" spelled out is the default.
		{simConfig(func(c *SimulatorConfig) { c.Sensors, c.Seed, c.FaultRate, c.Profile = 50, 1, 0.05, ProfileBasic }), "6e74e1d34cc327dae166d1fecbdb0ea668627091673cba029816f33459c0f88d"},
	}
	for _, c := range cases {
		if got := fleetHash(t, c.cfg, 720); got != c.want {
			t.Errorf("%+v: 720 steps hash to %s, want %s", c.cfg, got, c.want)
		}
	}
	// The digest sees a change: the realistic profile of the same fleet differs.
	if fleetHash(t, simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.FaultRate, c.Profile, c.SmokeEpisodes = 50, 1, 0.05, ProfileRealistic, 1
	}), 720) == cases[1].want {
		t.Error("the realistic profile hashes like the basic one")
	}
}

// episode is one run of a fault label on one sensor: its readings, their fault-free twins, and
// the reading before it.
type episode struct {
	kind        FaultKind
	before      []Value
	got, twin   [][]Value
	firstStep   int
	smokeDuring bool
}

// realisticEpisodes runs a realistic fleet with faults beside the same fleet without, and
// returns every finished fault episode. It fails on a reading labelled clean that differs from
// its twin: the realistic profile keeps the basic one's promise that faults never move the clean
// signal.
func realisticEpisodes(t *testing.T, cfg SimulatorConfig, steps int) []episode {
	t.Helper()
	clean := cfg
	clean.FaultRate = 0
	fs, cs := mustSim(t, cfg), mustSim(t, clean)
	open := make([]*episode, fs.Config().Sensors)
	prev := make([][]Value, fs.Config().Sensors)
	var out []episode
	for step := range steps {
		_, fr := fs.Next()
		_, cr := cs.Next()
		for i, r := range fr {
			if e := open[i]; e != nil && e.kind != r.Fault {
				out = append(out, *e)
				open[i] = nil
			}
			switch {
			case r.Fault == FaultNone:
				if !slices.Equal(r.Values, cr[i].Values) || r.Smoke != cr[i].Smoke {
					t.Fatalf("step %d sensor %d labelled none but differs from the fault-free fleet", step, i)
				}
			case open[i] == nil:
				open[i] = &episode{kind: r.Fault, before: prev[i], firstStep: step}
				fallthrough
			default:
				e := open[i]
				e.got = append(e.got, r.Values)
				e.twin = append(e.twin, cr[i].Values)
				e.smokeDuring = e.smokeDuring || r.Smoke
			}
			prev[i] = r.Values
		}
	}
	return out
}

// faultyChannel returns which laser channel (sfPM25A or sfPM25B) differs from the twin's, -1 if
// neither or both do.
func faultyChannel(got, twin []Value) int {
	da, db := got[sfPM25A] != twin[sfPM25A], got[sfPM25B] != twin[sfPM25B]
	switch {
	case da && !db:
		return sfPM25A
	case db && !da:
		return sfPM25B
	}
	return -1
}

// TestRealisticFaultShapes holds every kind of the realistic profile to its documented shape
// and length, reading by reading against the same fleet without faults.
func TestRealisticFaultShapes(t *testing.T) {
	cfg := simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.FaultRate, c.Profile, c.SmokeEpisodes = 60, 5, 0.3, ProfileRealistic, 1
	})
	eps := realisticEpisodes(t, cfg, 3*720)
	count := map[FaultKind]int{}
	const step = 2 * time.Minute
	for _, e := range eps {
		count[e.kind]++
		n := len(e.got)
		lo, hi := realisticFaultLen(e.kind, step)
		if n < lo || n > hi {
			t.Errorf("%s at step %d lasted %d readings, want %d–%d", e.kind, e.firstStep, n, lo, hi)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s at step %d: "+format, append([]any{e.kind, e.firstStep}, args...)...)
		}
		switch e.kind {
		case FaultSpike:
			for k, v := range e.got {
				c := faultyChannel(v, e.twin[k])
				if c < 0 || v[c].Num < 200 || v[c].Num > 3000 {
					fail("reading %d: A %v B %v (twin %v %v), want one channel at 200–3000, the other untouched", k, v[sfPM25A].Num, v[sfPM25B].Num, e.twin[k][sfPM25A].Num, e.twin[k][sfPM25B].Num)
				}
			}
		case FaultStuckHigh:
			for k, v := range e.got {
				if c := faultyChannel(v, e.twin[k]); c < 0 || v[c].Num < 4850 || v[c].Num > 5000 {
					fail("reading %d: A %v B %v", k, v[sfPM25A].Num, v[sfPM25B].Num)
				}
			}
		case FaultABDivergence, FaultDrift:
			var logs []float64
			c := -1
			for k, v := range e.got {
				if fc := faultyChannel(v, e.twin[k]); fc >= 0 {
					if c >= 0 && fc != c {
						fail("the faulty channel changed within the episode")
					}
					c = fc
				}
				if c >= 0 && e.twin[k][c].Num > 2 {
					logs = append(logs, math.Log(v[c].Num/e.twin[k][c].Num))
				}
			}
			if len(logs) < 20 {
				fail("only %d comparable readings", len(logs))
			}
			if e.kind == FaultABDivergence {
				// A steady factor under multiplicative noise: the median is the factor, the spread
				// is the noise (sd 0.3 in log).
				sorted := slices.Sorted(slices.Values(logs))
				f := math.Exp(sorted[len(sorted)/2])
				if !(f >= 1.5*0.85 && f <= 4/0.85) && !(f >= 0.2*0.85 && f <= 0.6/0.85) {
					fail("median factor %.2f, want 1.5–4 or 0.2–0.6", f)
				}
				if sd := stddev(logs); sd < 0.2 || sd > 0.4 {
					fail("log-ratio sd %.2f, want about 0.3 (a noisy channel)", sd)
				}
			} else {
				// A creep: the factor starts near 1 and ends at 1.6–3 or 0.3–0.6.
				first, last := math.Exp(logs[0]), math.Exp(logs[len(logs)-1])
				if math.Abs(first-1) > 0.25 {
					fail("first factor %.2f, want near 1", first)
				}
				if !(last >= 1.45 && last <= 3.05) && !(last >= 0.29 && last <= 0.66) {
					fail("last factor %.2f, want 1.6–3 or 0.3–0.6", last)
				}
			}
		case FaultFlatline:
			for k, v := range e.got {
				ref := e.before
				if k > 0 {
					ref = e.got[k-1]
				}
				if !slices.Equal(v[sfHumidity:], ref[sfHumidity:]) {
					fail("reading %d: measurements changed", k)
				}
				if v[sfLastSeen] == ref[sfLastSeen] {
					fail("reading %d: last_seen frozen: a flatlined sensor still reports", k)
				}
			}
		case FaultDropout:
			for k, v := range e.got {
				if v[sfHumidity].Kind != KindNull && v[sfPM25A].Kind != KindNull {
					fail("reading %d: neither the environment nor the particle fields are null", k)
				}
			}
		case FaultEnvSentinel:
			for k, v := range e.got {
				if v[sfHumidity].Num != 255 || v[sfTemperature].Num != -224 {
					fail("reading %d: humidity %v temperature %v, want 255 and -224", k, v[sfHumidity].Num, v[sfTemperature].Num)
				}
				if !slices.Equal(v[sfPressure:], e.twin[k][sfPressure:]) || v[sfLastSeen] != e.twin[k][sfLastSeen] {
					fail("reading %d: more than humidity and temperature changed", k)
				}
			}
		case FaultDisconnect:
			for k, v := range e.got {
				if !slices.Equal(v, e.before) {
					fail("reading %d differs from the last report before the disconnection", k)
				}
			}
			if e.got[0][sfLastSeen] == e.twin[0][sfLastSeen] {
				fail("last_seen is the fault-free fleet's, not frozen")
			}
		default:
			t.Fatalf("unknown label %q", e.kind)
		}
	}
	for _, k := range RealisticFaultKinds {
		if count[k] < 3 {
			t.Errorf("%d %s episodes; the test wants at least 3 of each kind", count[k], k)
		}
	}
	t.Logf("episodes: %v", count)
}

func stddev(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// TestRealisticSmoke: a smoke episode is several neighbouring sensors seeing PM2.5 rise together
// on both channels for hours, labelled smoke and not a fault; it moves nothing else.
func TestRealisticSmoke(t *testing.T) {
	const sensors, steps = 60, 720 // 24 h
	base := simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.Profile, c.SmokeWithin, c.SmokeEpisodes = sensors, 3, ProfileRealistic, 24*time.Hour, 1
	})
	noSmoke := base
	noSmoke.SmokeEpisodes = 0
	sm, clear := mustSim(t, base), mustSim(t, noSmoke)
	smokySensors := map[int]bool{}
	smokyAt := make([]int, steps)
	maxAdded, dryer, smokeReadings := 0.0, 0.0, 0
	for step := range steps {
		_, sr := sm.Next()
		_, cr := clear.Next()
		for i, r := range sr {
			if r.Fault != FaultNone {
				t.Fatalf("step %d sensor %d: fault %s in a fleet without faults", step, i, r.Fault)
			}
			if !r.Smoke {
				// Outside the plume's labelled readings the air is what it would have been, up
				// to the plume's faint edges (under SmokeLabelMin) — which may also keep the
				// counters from a clean-air zero.
				c := cr[i].Values
				if c[sfPM25A].Num == 0 && c[sfPM25B].Num == 0 {
					continue
				}
				if d := r.Values[sfPM25CF1].Num - c[sfPM25CF1].Num; d < 0 || d >= SmokeLabelMin*1.2 {
					t.Fatalf("step %d sensor %d: unlabelled reading %v µg/m³ above the smokeless fleet", step, i, d)
				}
				continue
			}
			if cr[i].Smoke {
				t.Fatal("the smokeless fleet has smoke labels")
			}
			smokySensors[i] = true
			smokyAt[step]++
			smokeReadings++
			v, c := r.Values, cr[i].Values
			da, db := v[sfPM25A].Num-c[sfPM25A].Num, v[sfPM25B].Num-c[sfPM25B].Num
			if da <= 0 || db <= 0 {
				t.Fatalf("step %d sensor %d: smoke raised A by %v and B by %v; both channels must rise", step, i, da, db)
			}
			// Both channels see the same air: where the plume dominates, their rises differ by
			// the channels' calibration (gains within a few per cent of 1) and noise (7 %).
			if q := da / db; da+db > 60 && (q < 0.6 || q > 1.67) {
				t.Fatalf("step %d sensor %d: A rose %v, B %v", step, i, da, db)
			}
			maxAdded = max(maxAdded, (da+db)/2)
			dryer += v[sfHumidity].Num - c[sfHumidity].Num
		}
	}
	peak, peakStep := 0, 0
	for s, n := range smokyAt {
		if n > peak {
			peak, peakStep = n, s
		}
	}
	first := slices.IndexFunc(smokyAt, func(n int) bool { return n > 0 })
	last := first
	for s, n := range smokyAt {
		if n > 0 {
			last = s
		}
	}
	t.Logf("smoke: %d sensors, %d readings, steps %d–%d, %d sensors at once (step %d), max rise %.0f µg/m³, mean humidity change %.1f",
		len(smokySensors), smokeReadings, first, last, peak, peakStep, maxAdded, dryer/float64(smokeReadings))
	if n := len(smokySensors); n < sensors/4 || n > sensors/2 {
		t.Errorf("smoke reached %d of %d sensors, want about a third", n, sensors)
	}
	if peak < len(smokySensors)*3/4 {
		t.Errorf("at most %d of the %d smoky sensors at once; a plume is seen together", peak, len(smokySensors))
	}
	if hours := float64(last-first+1) * 2 / 60; hours < 3 || hours > 10.5 {
		t.Errorf("smoke lasted %.1f h, want 4–10 h give or take the edges", hours)
	}
	if maxAdded < 40 || maxAdded > 600 {
		t.Errorf("smoke added at most %.0f µg/m³, want a plume of 50–300 at its centre", maxAdded)
	}
	if dryer >= 0 {
		t.Errorf("humidity changed by %.1f on average in smoke, want a drop", dryer/float64(smokeReadings))
	}
}

// TestRealisticSmokeKeepsFaults: smoke draws from its own stream, so the faults of a fleet are
// the same with or without it, and faults still happen in smoke.
func TestRealisticSmokeKeepsFaults(t *testing.T) {
	cfg := simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.FaultRate, c.Profile, c.SmokeWithin, c.SmokeEpisodes = 40, 8, 0.3, ProfileRealistic, 12*time.Hour, 2
	})
	noSmoke := cfg
	noSmoke.SmokeEpisodes = 0
	a, b := mustSim(t, cfg), mustSim(t, noSmoke)
	both := 0
	for step := range 360 {
		_, ar := a.Next()
		_, br := b.Next()
		for i := range ar {
			if ar[i].Fault != br[i].Fault {
				t.Fatalf("step %d sensor %d: fault %s with smoke, %s without", step, i, ar[i].Fault, br[i].Fault)
			}
			if ar[i].Smoke && ar[i].Fault != FaultNone {
				both++
			}
		}
	}
	if both == 0 {
		t.Error("no fault during smoke at a 30% fault rate")
	}
}

func TestRealisticConfig(t *testing.T) {
	for _, c := range []struct {
		cfg     SimulatorConfig
		wantErr string
	}{
		{simConfig(func(c *SimulatorConfig) { c.Profile, c.SmokeEpisodes, c.SmokeWithin = ProfileRealistic, 3, time.Hour }), ""},
		{simConfig(func(c *SimulatorConfig) { c.Profile = "gritty" }), `SimulatorConfig.Profile must be basic or realistic, got "gritty"`},
		{simConfig(func(c *SimulatorConfig) { c.SmokeEpisodes = 1 }), "SimulatorConfig.SmokeEpisodes must be 0 without the realistic profile"},
		{simConfig(func(c *SimulatorConfig) { c.Profile, c.SmokeEpisodes = ProfileRealistic, -1 }), "SimulatorConfig.SmokeEpisodes must be in 0..1000"},
		{simConfig(func(c *SimulatorConfig) { c.Profile, c.SmokeEpisodes, c.SmokeWithin = ProfileRealistic, 1, 0 }), "SimulatorConfig.SmokeWithin must be positive"},
		{simConfig(func(c *SimulatorConfig) { c.Profile, c.SmokeWithin, c.SmokeEpisodes = ProfileRealistic, -time.Hour, 1 }), "SimulatorConfig.SmokeWithin"},
		{simConfig(func(c *SimulatorConfig) { c.FaultRate, c.Faults = 0.1, []FaultKind{FaultSpike, FaultDisconnect} }), "SimulatorConfig.Faults has disconnect, which the realistic profile alone injects"},
		{simConfig(func(c *SimulatorConfig) {
			c.FaultRate, c.Faults, c.Profile, c.SmokeEpisodes = 0.1, []FaultKind{FaultEnvSentinel}, ProfileRealistic, 1
		}), ""},
	} {
		_, err := NewSimulator(c.cfg)
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.wantErr)
		}
	}
	d := mustSim(t, simConfig(func(c *SimulatorConfig) { c.Profile, c.SmokeEpisodes = ProfileRealistic, 1 })).Config()
	if !slices.Equal(d.Faults, RealisticFaultKinds) || d.SmokeEpisodes != 1 || d.SmokeWithin != 48*time.Hour {
		t.Errorf("realistic defaults: faults %v, smoke %d within %s", d.Faults, d.SmokeEpisodes, d.SmokeWithin)
	}
	if b := mustSim(t, DefaultSimulatorConfig()).Config(); b.Profile != ProfileBasic || !slices.Equal(b.Faults, FaultKinds) || b.SmokeEpisodes != 0 {
		t.Errorf("basic defaults: profile %q faults %v smoke %d", b.Profile, b.Faults, b.SmokeEpisodes)
	}
}

// TestRealisticCleanAirZeros: both counters read 0 now and then, only at night in clean air, and
// the basic profile never does this.
func TestRealisticCleanAirZeros(t *testing.T) {
	count := func(profile string) (zeros, byDay int) {
		s := mustSim(t, simConfig(func(c *SimulatorConfig) {
			c.Sensors, c.Seed, c.Profile = 50, 3, profile // a fleet with clean nights
			if profile == ProfileRealistic {
				c.SmokeEpisodes = 1
			}
		}))
		for range 2 * 720 {
			ts, rs := s.Next()
			for _, r := range rs {
				v := r.Values
				if v[sfPM25A].Num != 0 || v[sfPM25B].Num != 0 {
					continue
				}
				zeros++
				if h := math.Mod(float64(ts.Unix()%86400)/3600+v[sfLongitude].Num/15+48, 24); h >= 6 {
					byDay++
				}
			}
		}
		return zeros, byDay
	}
	zeros, byDay := count(ProfileRealistic)
	t.Logf("realistic: %d double zeros in 2 days of 50 sensors", zeros)
	if zeros == 0 || byDay != 0 {
		t.Errorf("realistic: %d readings with both channels at 0, %d of them after 6 h local; want some, all at night", zeros, byDay)
	}
	if z, _ := count(ProfileBasic); z > zeros/10 {
		t.Errorf("basic: %d double zeros, realistic %d: the zeros should be the realistic profile's", z, zeros)
	}
}
