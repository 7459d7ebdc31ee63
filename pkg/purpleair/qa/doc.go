// Package qa is PurpleAir-aware quality assurance: per sensor, in one pass and constant memory, it
// tells a broken sensor (kind "sensor": send someone) from unusual air (kind "air": tell the public),
// says why in one word of a fixed list (Reasons) and a short text, and computes EPA-corrected PM2.5.
//
// The checks follow what the literature and practitioners document, not a simulator:
//
//   - A/B agreement: EPA's rule for the AirNow Fire and Smoke Map (Barkjohn et al. 2021, AMT
//     14:4617) — a reading is invalid when |A−B| > 5 µg/m³ and |A−B| / ((A+B)/2) > 0.70 — plus a
//     CUSUM on the channels' log ratio against the sensor's own typical ratio, which catches the
//     moderate, persistent divergence and slow drift of one channel that the rule misses until late
//     (Mazama Science, "PurpleAir Failure Modes": one channel noisy or reading above the other for days).
//   - Flatline: every measured field repeating exactly, reading after reading; clean air (both
//     channels 0.0) is excused.
//   - Missing and stale: a field group the sensor has reported before is null; last_seen stops
//     advancing; a gap in the sensor's reports.
//   - Out of range: a channel beyond the Plantower counter's range, the BME280's read-failure
//     humidity of 255 %, impossible temperature or pressure.
//   - Spike: a sudden jump that the neighbours do not share.
//   - Air: PM2.5 well above the sensor's usual level with channels agreeing, judged unusual by the
//     learned score (Half-Space Trees on the sensor's QA features) — and, where neighbours are
//     visible, shared by them.
//
// Detector.Observe takes the readings of a whole fleet in time order (sensors interleaved) and is
// causal: a reading's result depends only on readings before it.
package qa
