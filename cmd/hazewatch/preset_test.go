package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// presetCSV is a small interleaved fleet of three sensors, 2-minute readings with times written
// as timeFmt gives them: sensor 2's channel A reads 3× B from step 150, sensor 3 repeats its last
// reading from step 120 to 139, and sensor 1 misses 40 minutes after step 100. Some cells are
// empty, as in real exports.
func presetCSV(steps int, timeFmt func(time.Time) string) (string, []int) {
	var b strings.Builder
	b.WriteString("sensor_index,time,pm2.5_cf_1_a,pm2.5_cf_1_b,pm2.5_cf_1,humidity,temperature\n")
	rng := rand.New(rand.NewPCG(1, 1))
	t0 := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	var ids []int
	last3 := ""
	for i := range steps {
		t := t0.Add(time.Duration(i) * 2 * time.Minute)
		for s := 1; s <= 3; s++ {
			if s == 1 && i > 100 && i <= 120 {
				continue
			}
			a := 10 * (1 + 0.05*rng.NormFloat64())
			bb := 10 * (1 + 0.05*rng.NormFloat64())
			if s == 2 && i >= 150 {
				a *= 3
			}
			hum, temp := strconv.Itoa(45+rng.IntN(5)), strconv.Itoa(70+rng.IntN(3))
			line := fmt.Sprintf("%.3f,%.3f,%.1f,%s,%s", a, bb, (a+bb)/2, hum, temp)
			if s == 3 && i >= 120 && i < 140 {
				line = last3
			}
			if s == 3 {
				last3 = line
			}
			if i == 7 && s == 2 {
				line = ",,,,"
			}
			fmt.Fprintf(&b, "%d,%s,%s\n", s, timeFmt(t), line)
			ids = append(ids, s)
		}
	}
	return b.String(), ids
}

func rfc3339(t time.Time) string { return t.Format(time.RFC3339) }

// checkPresetContract checks the columns, one row per input row in input order, and the values'
// vocabulary; it returns the rows.
func checkPresetContract(t *testing.T, out string, ids []int) [][]string {
	t.Helper()
	recs := readCSV(t, out)
	if want := presetColumns; !slices.Equal(recs[0], want) {
		t.Fatalf("header %v, want %v", recs[0], want)
	}
	rows := recs[1:]
	if len(rows) != len(ids) {
		t.Fatalf("%d output rows for %d input rows", len(rows), len(ids))
	}
	reasons := map[string]bool{"": true}
	for _, r := range qa.Reasons {
		reasons[string(r)] = true
	}
	for i, r := range rows {
		if r[0] != strconv.Itoa(ids[i]) {
			t.Fatalf("row %d is sensor %s, input row was sensor %d: order lost", i, r[0], ids[i])
		}
		score, err := strconv.ParseFloat(r[1], 64)
		if err != nil || score < 0 || score > 1 {
			t.Fatalf("row %d: score %q not in [0, 1]", i, r[1])
		}
		if r[2] != "0" && r[2] != "1" || (r[2] == "1") != (score >= 0.7) {
			t.Fatalf("row %d: anomaly %q with score %v (threshold 0.7)", i, r[2], score)
		}
		if (r[3] == "") != (r[2] == "0") || (r[4] == "") != (r[2] == "0") {
			t.Fatalf("row %d: %v: kind and reason are set exactly on anomalies", i, r)
		}
		if r[3] != "" && r[3] != "sensor" && r[3] != "air" || !reasons[r[4]] {
			t.Fatalf("row %d: kind %q reason %q outside the vocabulary", i, r[3], r[4])
		}
		if r[5] != "" {
			if v, err := strconv.ParseFloat(r[5], 64); err != nil || v < 0 {
				t.Fatalf("row %d: pm2.5_epa %q", i, r[5])
			}
		}
	}
	return rows
}

// reasonsOf returns the reasons given to a sensor's rows in [from, to) of its own rows.
func reasonsOf(rows [][]string, ids []int, sensor, from, to int) map[string]int {
	got := map[string]int{}
	k := 0
	for i, r := range rows {
		if ids[i] != sensor {
			continue
		}
		if k >= from && k < to {
			got[r[4]]++
		}
		k++
	}
	return got
}

func TestPresetContract(t *testing.T) {
	for _, c := range []struct {
		name string
		fmt  func(time.Time) string
	}{
		{"time as RFC 3339", rfc3339},
		{"time as Unix seconds", func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }},
	} {
		for _, cmd := range []string{"stream", "batch"} {
			t.Run(cmd+", "+c.name, func(t *testing.T) {
				in, ids := presetCSV(300, c.fmt)
				out, errOut, code := runCmd(t, cmd, "-preset", "purpleair", writeFile(t, "in.csv", in))
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				rows := checkPresetContract(t, out, ids)
				// Sensor 2: channel A at 3× from its 150th reading: ab_divergence from there on.
				if got := reasonsOf(rows, ids, 2, 150, 300); got["ab_divergence"] < 140 {
					t.Errorf("sensor 2 after the divergence: %v", got)
				}
				if got := reasonsOf(rows, ids, 2, 10, 150); got["ab_divergence"]+got["drift"] > 0 {
					t.Errorf("sensor 2 before the divergence: %v", got)
				}
				// Sensor 3 repeats one row 20 times: a flatline.
				if got := reasonsOf(rows, ids, 3, 120, 140); got["flatline"] < 16 {
					t.Errorf("sensor 3's frozen rows: %v", got)
				}
				// Sensor 1 comes back after 40 minutes without data: stale, once.
				if got := reasonsOf(rows, ids, 1, 101, 102); got["stale"] != 1 {
					t.Errorf("sensor 1's first row after the gap: %v", got)
				}
				// Sensor 2's empty row at step 7: its channels and environment are missing.
				if got := reasonsOf(rows, ids, 2, 7, 8); got["missing"] != 1 {
					t.Errorf("sensor 2's empty row: %v", got)
				}
			})
		}
	}
}

// Stream is causal: the rows of a shorter file are scored exactly as the same rows of the longer.
func TestPresetStreamIsCausal(t *testing.T) {
	in, _ := presetCSV(300, rfc3339)
	lines := strings.SplitAfter(in, "\n")
	short := strings.Join(lines[:400], "")
	full, _, _ := runCmd(t, "stream", "-preset", "purpleair", writeFile(t, "full.csv", in))
	part, _, _ := runCmd(t, "stream", "-preset", "purpleair", writeFile(t, "part.csv", short))
	fl, pl := strings.SplitAfter(full, "\n"), strings.SplitAfter(part, "\n")
	if len(pl) < 400 || !slices.Equal(fl[:400], pl[:400]) {
		t.Fatal("the first rows' results changed when later rows were added")
	}
}

// Batch marks an episode back to where it began; stream cannot know a flatline before it repeats.
func TestPresetBatchMarksEpisodesBack(t *testing.T) {
	in, ids := presetCSV(300, rfc3339)
	path := writeFile(t, "in.csv", in)
	s, _, _ := runCmd(t, "stream", "-preset", "purpleair", path)
	b, _, _ := runCmd(t, "batch", "-preset", "purpleair", path)
	st := reasonsOf(checkPresetContract(t, s, ids), ids, 3, 120, 140)["flatline"]
	bt := reasonsOf(checkPresetContract(t, b, ids), ids, 3, 120, 140)["flatline"]
	// rows 120–139 repeat row 119: all 20 are the flatline
	if bt != 20 || st >= bt {
		t.Errorf("flatline rows: stream %d, batch %d; want batch to mark all 20 repeats", st, bt)
	}
}

func TestPresetDetailColumns(t *testing.T) {
	in, _ := presetCSV(200, rfc3339)
	out, _, code := runCmd(t, "stream", "-preset", "purpleair", "-detail", "-only-anomalies", writeFile(t, "in.csv", in))
	if code != 0 {
		t.Fatal(out)
	}
	recs := readCSV(t, out)
	if !slices.Equal(recs[0], append(slices.Clone(presetColumns), "since", "detail")) {
		t.Fatalf("header %v", recs[0])
	}
	for _, r := range recs[1:] {
		if r[2] != "1" {
			t.Fatalf("-only-anomalies printed %v", r)
		}
		if _, err := time.Parse(time.RFC3339, r[6]); err != nil || r[7] == "" {
			t.Fatalf("row %v: want since as RFC 3339 and a detail", r)
		}
	}
	if len(recs) < 10 {
		t.Fatalf("only %d anomalies", len(recs)-1)
	}
}

func TestPresetRefusesBadInput(t *testing.T) {
	in, _ := presetCSV(20, rfc3339)
	ok := writeFile(t, "in.csv", in)
	for _, c := range []struct {
		name string
		args []string
		file string
		code int
		want string
	}{
		{"unknown preset", []string{"stream", "-preset", "purple"}, ok, 2, `-preset: want purpleair, got "purple"`},
		{"bad correction", []string{"batch", "-preset", "purpleair", "-correction", "epa"}, ok, 2, "-correction"},
		{"bad threshold", []string{"stream", "-preset", "purpleair", "-threshold", "0"}, ok, 2, "-threshold must be in (0, 1]"},
		{"reference flag with the preset", []string{"stream", "-preset", "purpleair", "-trees", "5"}, ok, 2, "-trees"},
		{"no particle column", []string{"stream", "-preset", "purpleair"}, "sensor_index,time,humidity\n1,2024-01-01T00:00:00Z,40\n", 1, "no particle column"},
		{"no time", []string{"stream", "-preset", "purpleair"}, "sensor_index,pm2.5_cf_1\n1,4\n", 1, "data row 1: no time"},
		{"back in time", []string{"stream", "-preset", "purpleair"},
			"sensor_index,time,pm2.5_cf_1\n1,2024-01-01T00:02:00Z,4\n2,2024-01-01T00:00:00Z,4\n1,2024-01-01T00:00:00Z,4\n", 1, "data row 3: sensor 1 goes back in time"},
		{"bad time", []string{"stream", "-preset", "purpleair"}, "sensor_index,time,pm2.5_cf_1\n1,yesterday,4\n", 1, `"yesterday" is not a number`},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file != ok {
				file = writeFile(t, "bad.csv", c.file)
			}
			out, errOut, code := runCmd(t, append(c.args, file)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q (stdout %q)", code, errOut, c.code, c.want, out)
			}
		})
	}
}

// The simulator's API JSON (one document per step) reads with its data_time_stamp as the time.
func TestPresetOnSimulatedFleet(t *testing.T) {
	js, _, code := runCmd(t, "simulate", "-profile", "realistic", "-sensors", "10", "-duration", "12h", "-fault-rate", "0.05")
	if code != 0 {
		t.Fatal(js)
	}
	path := writeFile(t, "fleet.json", js)
	out, errOut, code := runCmd(t, "stream", "-preset", "purpleair", path)
	if code != 0 {
		t.Fatal(errOut)
	}
	recs := readCSV(t, out)
	if len(recs)-1 != 10*360 {
		t.Fatalf("%d rows for 10 sensors × 360 steps", len(recs)-1)
	}
	epa := 0
	for _, r := range recs[1:] {
		if v, err := strconv.ParseFloat(r[5], 64); err == nil && !math.IsNaN(v) {
			epa++
		}
	}
	if epa < len(recs)/2 {
		t.Errorf("pm2.5_epa on %d of %d rows", epa, len(recs)-1)
	}
}
