package qa

import (
	"fmt"
	"math"
)

// Correction names an EPA correction of PurpleAir PM2.5 (pm2.5_epa).
type Correction string

const (
	// CorrectionUSWide is the US-wide correction of Barkjohn et al. 2021 (AMT 14:4617):
	// 0.524·PA − 0.0862·RH + 5.75 over the CF=1 average of channels A and B. The default: its
	// input is exactly the pair of channels the A/B check validates.
	CorrectionUSWide Correction = "us_wide"
	// CorrectionExtended is the extended correction for high concentrations (Barkjohn et al. 2022,
	// Sensors 22:9669) in the piecewise form the AirNow Fire and Smoke Map publishes, whose input
	// is the ATM average (pm2.5_atm); recommended where smoke is common. It equals the US-wide
	// correction below 30 µg/m³ and turns quadratic in extreme smoke.
	CorrectionExtended Correction = "extended"
)

// ParseCorrection accepts the names of the corrections.
func ParseCorrection(s string) (Correction, error) {
	switch c := Correction(s); c {
	case CorrectionExtended, CorrectionUSWide:
		return c, nil
	}
	return "", fmt.Errorf("unknown correction %q (known: %s, %s)", s, CorrectionExtended, CorrectionUSWide)
}

// USWide is Barkjohn et al. 2021's correction: pa is the CF=1 PM2.5 average of the two channels
// (µg/m³), rh the sensor's relative humidity (%). Clamped at 0; NaN when either input is.
func USWide(pa, rh float64) float64 {
	if math.IsNaN(pa) || math.IsNaN(rh) {
		return math.NaN()
	}
	return math.Max(0, 0.524*pa-0.0862*rh+5.75)
}

// Extended is Barkjohn et al. 2022's extended correction for high concentrations, in the
// AirNow Fire and Smoke Map's form, over pa (the ATM average of the channels, µg/m³) and rh (%):
//
//	pa < 30:        0.524·pa − 0.0862·rh + 5.75
//	30 ≤ pa < 50:   [0.786·w + 0.524·(1 − w)]·pa − 0.0862·rh + 5.75,                  w = pa/20 − 3/2
//	50 ≤ pa < 210:  0.786·pa − 0.0862·rh + 5.75
//	210 ≤ pa < 260: [0.69·w + 0.786·(1 − w)]·pa − 0.0862·rh·(1 − w) + 2.966·w + 5.75·(1 − w)
//	                + 8.84e-4·pa²·w,                                                     w = pa/50 − 21/5
//	pa ≥ 260:       2.966 + 0.69·pa + 8.84e-4·pa²
//
// The blends make it continuous. Clamped at 0; NaN when an input it needs is NaN (above 260
// µg/m³ humidity is not used).
func Extended(pa, rh float64) float64 {
	if math.IsNaN(pa) {
		return math.NaN()
	}
	var v float64
	switch {
	case pa >= 260:
		v = 2.966 + 0.69*pa + 8.84e-4*pa*pa
	case math.IsNaN(rh):
		return math.NaN()
	case pa < 30:
		v = 0.524*pa - 0.0862*rh + 5.75
	case pa < 50:
		w := pa/20 - 1.5
		v = (0.786*w+0.524*(1-w))*pa - 0.0862*rh + 5.75
	case pa < 210:
		v = 0.786*pa - 0.0862*rh + 5.75
	default:
		w := pa/50 - 4.2
		v = (0.69*w+0.786*(1-w))*pa - 0.0862*rh*(1-w) + 2.966*w + 5.75*(1-w) + 8.84e-4*pa*pa*w
	}
	return math.Max(0, v)
}

// apply is the correction c of a reading whose channels passed the A/B check: cf1 is their CF=1
// average, atm the reading's pm2.5_atm.
func (c Correction) apply(cf1, atm, rh float64) float64 {
	if c == CorrectionExtended {
		return Extended(atm, rh)
	}
	return USWide(cf1, rh)
}
