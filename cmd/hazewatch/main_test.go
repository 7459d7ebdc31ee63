package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// runCmd runs the command line in-process and returns stdout, stderr and the exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, s)
	}
	return recs
}

// snapshotPath is the shared PurpleAir snapshot, beside the repository.
func snapshotPath(t testing.TB) string {
	t.Helper()
	return repotest.SharedData(t, repotest.SharedSnapshot)
}

func TestBadInputSaysWhere(t *testing.T) {
	cases := []struct {
		name, file, content string
		args                []string
		wantCode            int
		wantErr             string
	}{
		{"non-numeric CSV cell", "a.csv", "sensor_index,pm\n1,2.5\n2,abc\n", []string{"batch"}, 1, `line 3, column "pm": "abc" is not a number`},
		{"malformed JSON", "a.json", `{"fields": ["a"], "data": [[1],`, []string{"stream"}, 1, "a.json"},
		{"row shorter than fields", "a.json", `{"fields": ["sensor_index","pm1.0_cf_1"], "data": [[1, 2.0], [2]]}`, []string{"stream"}, 1, "row"},
		{"string among numbers", "a.json", `{"fields": ["sensor_index","pm1.0_cf_1"], "data": [[1, 2.0], [2, "x"]]}`, []string{"stream"}, 1, `field "pm1.0_cf_1"`},
		{"field not in the input", "a.csv", "a,b\n1,2\n", []string{"stream", "-fields", "pm9", "-limits", "pm9=0:1"}, 1, `no numeric field "pm9"`},
		{"field without a range", "a.csv", "a,b\n1,2\n", []string{"stream", "-fields", "a"}, 2, `-fields: "a" has no known range (it is not a PurpleAir reading with one): give it with -limits a=MIN:MAX`},
		{"bad limits", "a.csv", "a,b\n1,2\n", []string{"stream", "-limits", "a=5:1"}, 2, "-limits"},
		{"bad contamination", "a.csv", "a,b\n1,2\n", []string{"batch", "-contamination", "0.9"}, 2, "contamination"},
		{"two files", "a.csv", "a\n1\n", []string{"batch", "x.csv"}, 2, "exactly one FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.file, c.content)
			stdout, stderr, code := runCmd(t, append(c.args, p)...)
			if code != c.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, c.wantCode, stderr)
			}
			if !strings.Contains(stderr, c.wantErr) {
				t.Errorf("stderr %q does not say %q", stderr, c.wantErr)
			}
			if stdout != "" {
				t.Errorf("a failed run printed output: %q", stdout)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, stderr, code := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

// plantedCSV is a small fleet where sensor 99 reads far off everyone else, with a few holes.
func plantedCSV() string {
	var b strings.Builder
	b.WriteString("sensor_index,name,pm2.5,humidity\n")
	for i := 0; i < 200; i++ {
		pm := 10 + float64(i%7)
		rh := 40 + float64(i%11)
		switch {
		case i == 99:
			pm, rh = 900, 5
		case i%17 == 3:
			b.WriteString(strconv.Itoa(i) + ",s" + strconv.Itoa(i) + ",," + strconv.FormatFloat(rh, 'f', -1, 64) + "\n")
			continue
		}
		b.WriteString(strconv.Itoa(i) + ",s" + strconv.Itoa(i) + "," + strconv.FormatFloat(pm, 'f', -1, 64) + "," + strconv.FormatFloat(rh, 'f', -1, 64) + "\n")
	}
	return b.String()
}

func TestBatchFlagsThePlantedSensorFirst(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	// Flags after FILE are honoured too.
	stdout, stderr, code := runCmd(t, "batch", p, "-only-anomalies", "-contamination", "0.02")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := readCSV(t, stdout)
	if got := strings.Join(recs[0], ","); got != "sensor_index,score,anomaly" {
		t.Fatalf("header %q", got)
	}
	if len(recs) < 2 || recs[1][0] != "99" {
		t.Fatalf("most anomalous sensor is not 99: %v", recs)
	}
	prev := 2.0
	for _, r := range recs[1:] {
		s, _ := strconv.ParseFloat(r[1], 64)
		if s > prev {
			t.Errorf("rows not sorted by score, highest first: %v", recs)
		}
		prev = s
		if r[2] != "1" {
			t.Errorf("-only-anomalies printed a normal row %v", r)
		}
	}

	// Without -only-anomalies: one row per input row, in input order.
	stdout, _, code = runCmd(t, "batch", "-contamination", "0.02", p)
	recs = readCSV(t, stdout)
	if code != 0 || len(recs) != 201 {
		t.Fatalf("exit %d, %d rows", code, len(recs))
	}
	for i, r := range recs[1:] {
		if r[0] != strconv.Itoa(i) {
			t.Fatalf("row %d is sensor %s: input order lost", i, r[0])
		}
	}
}

// TestBatchScoreIsHigherWorse: batch's default score is the Isolation Forest paper's s(x, n) =
// −score_samples, in (0, 1], and anomaly is 1 exactly where scikit-learn's predict says −1; -raw
// prints score_samples, decision and predict as scikit-learn does. Both flag the same rows, and
// -only-anomalies lists them in the same order, most anomalous first.
func TestBatchScoreIsHigherWorse(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	for _, only := range []bool{false, true} {
		args := []string{"batch", "-contamination", "0.05", p}
		if only {
			args = append(args, "-only-anomalies")
		}
		def, stderr, code := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		raw, stderr, code := runCmd(t, append(args, "-raw")...)
		if code != 0 {
			t.Fatalf("%v -raw: exit %d: %s", args, code, stderr)
		}
		d, r := readCSV(t, def), readCSV(t, raw)
		if got := strings.Join(d[0], ","); got != "sensor_index,score,anomaly" {
			t.Fatalf("header %q", got)
		}
		if got := strings.Join(r[0], ","); got != "sensor_index,score,decision,anomaly" {
			t.Fatalf("-raw header %q", got)
		}
		if len(d) != len(r) || (only && len(d) < 3) || (!only && len(d) != 201) {
			t.Fatalf("-only-anomalies %v: %d rows, -raw %d", only, len(d)-1, len(r)-1)
		}
		flagged := 0
		for i := 1; i < len(d); i++ {
			score, err := strconv.ParseFloat(d[i][1], 64)
			ss, err2 := strconv.ParseFloat(r[i][1], 64)
			decision, err3 := strconv.ParseFloat(r[i][2], 64)
			if err != nil || err2 != nil || err3 != nil || d[i][0] != r[i][0] {
				t.Fatalf("row %d: %v, -raw %v", i, d[i], r[i])
			}
			if score != -ss || !(score > 0 && score <= 1) {
				t.Errorf("row %d: score %v, score_samples %v: want −score_samples in (0, 1]", i, score, ss)
			}
			if want := map[string]string{"-1": "1", "1": "0"}[r[i][3]]; d[i][2] != want || (r[i][3] == "-1") != (decision < 0) {
				t.Errorf("row %d: anomaly %q, -raw decision %v predict %q", i, d[i][2], decision, r[i][3])
			}
			if d[i][2] == "1" {
				flagged++
			}
			if i > 1 && only {
				if prev, _ := strconv.ParseFloat(d[i-1][1], 64); score > prev {
					t.Errorf("row %d: score %v after %v: -only-anomalies not most anomalous first", i, score, prev)
				}
			}
		}
		if flagged == 0 || (only && flagged != len(d)-1) {
			t.Errorf("-only-anomalies %v: %d of %d rows flagged", only, flagged, len(d)-1)
		}
	}
}

// TestStreamAnomalyIsOneOrZero: stream's anomaly is 1 or 0 (empty where nothing was scored), -raw
// prints the reference's true or false; everything else is the same bytes.
func TestStreamAnomalyIsOneOrZero(t *testing.T) {
	// A first row with nothing to score, then the planted fleet.
	header, rest, _ := strings.Cut(plantedCSV(), "\n")
	p := writeFile(t, "fleet.csv", header+"\n1000,x,,\n"+rest)
	for _, args := range [][]string{
		{"stream", "-fields", "pm2.5,humidity", "-window-size", "20", "-impute", "none"},
		{"stream", "-fields", "pm2.5,humidity", "-window-size", "20", "-impute", "none", "-only-anomalies"},
		{"stream", "-fields", "pm2.5", "-window-size", "10"},
	} {
		def, stderr, code := runCmd(t, append(args, p)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		raw, stderr, code := runCmd(t, append(args, "-raw", p)...)
		if code != 0 {
			t.Fatalf("%v -raw: exit %d: %s", args, code, stderr)
		}
		d, r := readCSV(t, def), readCSV(t, raw)
		if len(d) != len(r) || !reflect.DeepEqual(d[0], r[0]) || d[0][len(d[0])-1] != "anomaly" {
			t.Fatalf("%v: %d rows, header %v; -raw %d rows, header %v", args, len(d), d[0], len(r), r[0])
		}
		counts := map[string]int{}
		for i := 1; i < len(d); i++ {
			last := len(d[i]) - 1
			if want := map[string]string{"true": "1", "false": "0", "": ""}[r[i][last]]; d[i][last] != want || (want == "" && r[i][last] != "") ||
				!reflect.DeepEqual(d[i][:last], r[i][:last]) {
				t.Fatalf("%v: row %d: %v, -raw %v", args, i, d[i], r[i])
			}
			counts[d[i][last]]++
		}
		// The first row has nothing to score with -impute none (River's Mean imputes 0 before
		// it has seen a value).
		only, none := slices.Contains(args, "-only-anomalies"), slices.Contains(args, "none")
		if counts["1"] == 0 || (!only && counts["0"] == 0) || (!only && none) != (counts[""] > 0) {
			t.Errorf("%v: anomaly values %v: want 1s, 0s and, with -impute none, unscored rows", args, counts)
		}
	}
}

// TestStreamFieldLimits: a field that -limits does not name takes its range from
// purpleair.FieldLimits (River's default of 0..1 used to flag 29 % of the snapshot's pm2.5_cf_1); a
// field with no known range is refused; the reference's own default is untouched.
func TestStreamFieldLimits(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	same := []struct{ implicit, explicit []string }{
		{[]string{"-fields", "pm2.5"}, []string{"-fields", "pm2.5", "-limits", "pm2.5=0:1000"}},
		{[]string{"-fields", "pm2.5,humidity"}, []string{"-fields", "pm2.5,humidity", "-limits", "pm2.5=0:1000,humidity=0:100"}},
		{[]string{"-fields", "pm2.5,humidity", "-limits", "pm2.5=0:50"}, []string{"-fields", "pm2.5,humidity", "-limits", "pm2.5=0:50,humidity=0:100"}},
	}
	for _, c := range same {
		a, stderr, code := runCmd(t, append(append([]string{"stream", "-window-size", "20"}, c.implicit...), p)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.implicit, code, stderr)
		}
		b, _, _ := runCmd(t, append(append([]string{"stream", "-window-size", "20"}, c.explicit...), p)...)
		if a != b {
			t.Errorf("%v differs from %v", c.implicit, c.explicit)
		}
	}
	// The reference default: pm1.0_cf_1 in 0..1200, not the table's 0..1000.
	api := `{"fields": ["sensor_index", "pm1.0_cf_1"], "data": [[1, 2.0], [2, null], [3, 2.5], [4, 3.0], [5, 900], [6, 2.2], [7, 1100]]}`
	ap := writeFile(t, "a.json", api)
	ref, _, _ := runCmd(t, "stream", "-window-size", "2", ap)
	explicit, _, _ := runCmd(t, "stream", "-window-size", "2", "-fields", "pm1.0_cf_1", "-limits", "pm1.0_cf_1=0:1200", ap)
	table, _, _ := runCmd(t, "stream", "-window-size", "2", "-limits", "pm1.0_cf_1=0:1000", ap)
	if ref != explicit || ref == table {
		t.Errorf("the default is not pm1.0_cf_1=0:1200:\n%s\nexplicit:\n%s\n0:1000:\n%s", ref, explicit, table)
	}
	for _, args := range [][]string{
		{"-fields", "sensor_index"},
		{"-fields", "pm2.5,name", "-limits", "pm2.5=0:1000"},
		{"-fields", "pm2.5,name", "-limits", ""},
	} {
		stdout, stderr, code := runCmd(t, append(append([]string{"stream"}, args...), p)...)
		field := strings.Split(args[1], ",")[len(strings.Split(args[1], ","))-1]
		want := fmt.Sprintf(`hazewatch stream: -fields: %q has no known range (it is not a PurpleAir reading with one): give it with -limits %s=MIN:MAX`, field, field)
		if code != 2 || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, %d bytes out; want 2 and %q", args, code, stderr, len(stdout), want)
		}
	}
}

func TestImputeFillsEveryHole(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	stdout, stderr, code := runCmd(t, "impute", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := readCSV(t, stdout)
	if got := strings.Join(recs[0], ","); got != "sensor_index,pm2.5,humidity" {
		t.Fatalf("header %q (the text column must be left out)", got)
	}
	// Row 3 (sensor 3) had no pm2.5; its neighbours on (sensor_index, humidity) read 10..16.
	v, err := strconv.ParseFloat(recs[4][1], 64)
	if err != nil || v < 10 || v > 16 {
		t.Fatalf("imputed pm2.5 of sensor 3 = %q", recs[4][1])
	}
	for _, r := range recs[1:] {
		for _, c := range r {
			if c == "" {
				t.Fatalf("hole left in %v", r)
			}
		}
	}
}

func TestStreamReferenceFlowOnSnapshot(t *testing.T) {
	p := snapshotPath(t)
	// -raw: the reference's anomaly column, true or false.
	stdout, stderr, code := runCmd(t, "stream", "-raw", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := readCSV(t, stdout)
	if got := strings.Join(recs[0], ","); got != "sensor_index,pm1.0_cf_1,score,anomaly" {
		t.Fatalf("header %q", got)
	}
	if len(recs) != 25552+1 {
		t.Fatalf("%d rows, want 25,552", len(recs)-1)
	}
	var flagged int
	for i, r := range recs[1:] {
		s, err := strconv.ParseFloat(r[2], 64)
		if err != nil || s < 0 || s > 1 {
			t.Fatalf("row %d: score %q", i, r[2])
		}
		if i < 72 && s != 0 {
			t.Fatalf("row %d scored %v during the first window", i, s)
		}
		if (s > 0.7) != (r[3] == "true") {
			t.Fatalf("row %d: anomaly %s with score %v", i, r[3], s)
		}
		if r[3] == "true" {
			flagged++
		}
	}
	stdout2, _, _ := runCmd(t, "stream", "-raw", "-only-anomalies", p)
	if got := len(readCSV(t, stdout2)) - 1; got != flagged || flagged == 0 {
		t.Fatalf("-only-anomalies printed %d rows, the full run flagged %d", got, flagged)
	}
	// The default output is the same but for anomaly, 1 or 0.
	def, _, _ := runCmd(t, "stream", p)
	if want := strings.NewReplacer(",true\n", ",1\n", ",false\n", ",0\n").Replace(stdout); def != want {
		t.Error("the default output is not -raw's with anomaly 1 for true and 0 for false")
	}

	// The scores and imputed values are River's: pkg/anomaly's fixture holds the SHA-256 of both as
	// the reference flow computes them on this snapshot (testdata/gen_hst.py).
	var want struct {
		ImputedValuesSHA256 string `json:"imputed_values_sha256"`
		ScoresSHA256        string `json:"scores_sha256"`
		Above               int    `json:"above_0_7"`
	}
	if err := json.Unmarshal(repotest.ReadFile(t, "pkg/anomaly/hst/testdata/hst_purpleair.json"), &want); err != nil {
		t.Fatal(err)
	}
	values, scores := sha256.New(), sha256.New()
	for i, r := range recs[1:] {
		for j, h := range []hash.Hash{values, scores} {
			f, err := strconv.ParseFloat(r[1+j], 64)
			if err != nil {
				t.Fatalf("row %d: %q", i, r[1+j])
			}
			h.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
		}
	}
	if got := fmt.Sprintf("%x", values.Sum(nil)); got != want.ImputedValuesSHA256 {
		t.Errorf("imputed pm1.0_cf_1 values differ from the reference flow's (SHA-256 %s, want %s)", got, want.ImputedValuesSHA256)
	}
	if got := fmt.Sprintf("%x", scores.Sum(nil)); got != want.ScoresSHA256 {
		t.Errorf("scores differ from the reference flow's (SHA-256 %s, want %s)", got, want.ScoresSHA256)
	}
	if flagged != want.Above {
		t.Errorf("%d flagged, the reference flow has %d scores above 0.7", flagged, want.Above)
	}
}

// TestStreamPerSensor: with -per-sensor each sensor's rows score as if they were the whole input.
func TestStreamPerSensor(t *testing.T) {
	var all, only3 strings.Builder
	all.WriteString("sensor_index,pm\n")
	only3.WriteString("sensor_index,pm\n")
	for i := range 400 {
		s := 3 + 4*(i%2) // sensors 3 and 7, interleaved
		v := float64(i%13) + float64(s)*10
		if i%37 == 0 {
			v = 900
		}
		row := fmt.Sprintf("%d,%g\n", s, v)
		if i%50 == 7 {
			row = fmt.Sprintf("%d,\n", s) // missing: imputed from this sensor's own mean
		}
		all.WriteString(row)
		if s == 3 {
			only3.WriteString(row)
		}
	}
	args := []string{"stream", "-fields", "pm", "-limits", "pm=0:1000", "-window-size", "20"}
	perSensor, stderr, code := runCmd(t, append(append(args, "-per-sensor"), writeFile(t, "all.csv", all.String()))...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	alone, _, _ := runCmd(t, append(args, writeFile(t, "only3.csv", only3.String()))...)
	global, _, _ := runCmd(t, append(args, writeFile(t, "all.csv", all.String()))...)
	var got3 [][]string
	for _, r := range readCSV(t, perSensor)[1:] {
		if r[0] == "3" {
			got3 = append(got3, r)
		}
	}
	want3 := readCSV(t, alone)[1:]
	if !reflect.DeepEqual(got3, want3) {
		t.Fatalf("-per-sensor rows of sensor 3 differ from sensor 3 alone:\n got %v\nwant %v", got3[:5], want3[:5])
	}
	if perSensor == global {
		t.Fatal("-per-sensor gave the same output as one global model")
	}
	_, stderr, code = runCmd(t, "stream", "-per-sensor", "-fields", "pm", "-limits", "pm=0:1", writeFile(t, "nokey.csv", "pm\n1\n2\n"))
	if code == 0 || !strings.Contains(stderr, "-per-sensor: the input has no sensor_index column") {
		t.Fatalf("no sensor_index column: exit %d, %q", code, stderr)
	}
}

// TestStreamPM25OnSnapshot: -fields pm2.5_cf_1 without -limits takes 0..1000 µg/m³; with River's
// 0..1 it flagged 7,490 of the snapshot's 25,552 readings (29 %).
func TestStreamPM25OnSnapshot(t *testing.T) {
	p := snapshotPath(t)
	out, stderr, code := runCmd(t, "stream", "-fields", "pm2.5_cf_1", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if explicit, _, _ := runCmd(t, "stream", "-fields", "pm2.5_cf_1", "-limits", "pm2.5_cf_1=0:1000", p); out != explicit {
		t.Error("-fields pm2.5_cf_1 differs from -limits pm2.5_cf_1=0:1000")
	}
	recs := readCSV(t, out)
	flagged := 0
	for _, r := range recs[1:] {
		if r[3] == "1" {
			flagged++
		}
	}
	if share := float64(flagged) / float64(len(recs)-1); share > 0.10 {
		t.Errorf("%d of %d readings flagged (%.1f %%)", flagged, len(recs)-1, 100*share)
	}
}

func TestBatchReferenceOnSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("fits a forest on 25,552 rows")
	}
	p := snapshotPath(t)
	stdout, stderr, code := runCmd(t, "batch", "-raw", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := readCSV(t, stdout)
	if len(recs) != 25552+1 {
		t.Fatalf("%d rows", len(recs)-1)
	}
	anomalies := 0
	for _, r := range recs[1:] {
		if r[3] == "-1" {
			anomalies++
		}
	}
	// contamination 0.01: the offset is the 1st percentile of the training scores.
	if anomalies < 240 || anomalies > 270 {
		t.Fatalf("%d anomalies, want about 1%% of 25,552", anomalies)
	}
	// The default output: score = −score_samples in (0, 1], anomaly 1 on the same rows.
	stdout, stderr, code = runCmd(t, "batch", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	def := readCSV(t, stdout)
	if len(def) != len(recs) || strings.Join(def[0], ",") != "sensor_index,score,anomaly" {
		t.Fatalf("default: %d rows, header %v", len(def)-1, def[0])
	}
	for i, r := range def[1:] {
		raw := recs[i+1]
		score, _ := strconv.ParseFloat(r[1], 64)
		ss, _ := strconv.ParseFloat(raw[1], 64)
		if r[0] != raw[0] || score != -ss || !(score > 0 && score <= 1) || (r[2] == "1") != (raw[3] == "-1") || (r[2] != "1" && r[2] != "0") {
			t.Fatalf("row %d: %v, -raw %v", i, r, raw)
		}
	}
}

func TestAPIStreamReadsAsOneTable(t *testing.T) {
	doc := func(rows string) string {
		return `{"data_time_stamp": 1712793665, "fields": ["sensor_index", "pm1.0_cf_1"], "data": [` + rows + `]}` + "\n"
	}
	p := writeFile(t, "stream.json", doc("[1, 2.0], [2, null]")+doc("[1, 3.5]"))
	stdout, stderr, code := runCmd(t, "stream", "-window-size", "1", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := readCSV(t, stdout)
	if len(recs) != 4 || recs[1][0] != "1" || recs[2][0] != "2" || recs[3][0] != "1" || recs[3][1] != "3.5" {
		t.Fatalf("rows of both documents, in order, expected: %v", recs)
	}
	// Sensor 2's missing reading is the running mean of what came before it.
	if recs[2][1] != "2" {
		t.Errorf("imputed %q, want the running mean 2", recs[2][1])
	}

	bad := writeFile(t, "bad.json", doc("[1, 2.0]")+`{"fields": ["sensor_index"], "data": [[1]]}`)
	if _, stderr, code := runCmd(t, "stream", bad); code != 1 || !strings.Contains(stderr, "must keep its fields") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestCSVColumnsAreNeverDroppedSilently: a column's type is decided by all of its values, and a value
// that is not a number in a column the command uses is an error naming its line and column — also
// when it is the column's first value (such a column used to be taken for text and left out).
func TestCSVColumnsAreNeverDroppedSilently(t *testing.T) {
	cases := []struct {
		name, content string
		args          []string
		wantCode      int
		want          string // in stderr when wantCode != 0, else the output's header
	}{
		{"impute: first value not a number", "sensor_index,pm\n1,abc\n2,2.5\n", []string{"impute"}, 1, `line 2, column "pm": "abc" is not a number`},
		{"batch: first value not a number", "sensor_index,pm\n1,abc\n2,2.5\n", []string{"batch"}, 1, `line 2, column "pm": "abc" is not a number`},
		{"impute -features: a column with no number at all", "sensor_index,pm\n1,abc\n2,def\n", []string{"impute", "-features", "pm"}, 1, `line 2, column "pm": "abc" is not a number`},
		{"stream -fields: first value not a number", "sensor_index,pm\n1,abc\n2,2.5\n", []string{"stream", "-fields", "pm", "-limits", "pm=0:1000"}, 1, `line 2, column "pm": "abc" is not a number`},
		{"line numbers count blank lines", "sensor_index,pm\n\n1,2\n\n2,x\n", []string{"impute"}, 1, `line 5, column "pm": "x" is not a number`},
		{"infinity is not a number", "sensor_index,pm\n1,inf\n2,2.5\n", []string{"impute"}, 1, `line 2, column "pm": "inf" is not a number`},
		{"default features: a name column of digits and text", "sensor_index,name,pm\n1,s1,2\n2,2024,3\n3,s3,4\n", []string{"impute"}, 1, `line 2, column "name": "s1" is not a number (name the feature columns with -features`},
		{"stream: sensor_index with a bad value", "sensor_index,pm1.0_cf_1\nx,1\n2,3\n", []string{"stream"}, 1, `line 2, column "sensor_index": "x" is not a number`},
		{"batch: sensor_index with a bad value", "sensor_index,pm\n1,1\nx,3\n", []string{"batch", "-features", "pm"}, 1, `line 3, column "sensor_index": "x" is not a number`},
		// stream reads a row at a time, so it cannot know that a sensor_index column holds text only
		// until it has printed rows keyed by it; batch reads the whole file and leaves it out.
		{"stream: sensor_index of text only", "sensor_index,pm1.0_cf_1\nx,1\ny,3\n", []string{"stream"}, 1, `line 2, column "sensor_index": "x" is not a number`},
		{"batch: sensor_index of text only is left out", "sensor_index,pm\nx,1\ny,3\n", []string{"batch"}, 0, "score,anomaly"},
		{"API: a text field asked for", `{"fields":["sensor_index","name"],"data":[[1,"a"],[2,null]]}`, []string{"stream", "-fields", "name", "-limits", "name=0:1"}, 1, `data row 0, field "name": "a" is text, not a number`},
		// What the command does not use may hold anything; a text column is still left out.
		{"a text column is left out", "sensor_index,name,pm\n1,s1,2\n2,s2,\n3,s3,4\n", []string{"impute"}, 0, "sensor_index,pm"},
		{"an unused bad column is no error", "sensor_index,name,pm\n1,s1,2\n2,2024,3\n3,s3,4\n", []string{"impute", "-features", "pm"}, 0, "pm"},
		{"a column of missing values is kept", "sensor_index,pm1.0_cf_1\n1,\n2,NA\n", []string{"stream"}, 0, "sensor_index,pm1.0_cf_1,score,anomaly"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "in.csv", c.content)
			stdout, stderr, code := runCmd(t, append(c.args, p)...)
			if code != c.wantCode {
				t.Fatalf("exit code %d, want %d; stdout %q, stderr %q", code, c.wantCode, stdout, stderr)
			}
			if c.wantCode != 0 {
				if !strings.Contains(stderr, c.want) {
					t.Errorf("stderr %q does not say %q", stderr, c.want)
				}
				if stdout != "" {
					t.Errorf("a failed run printed output: %q", stdout)
				}
				return
			}
			if got := strings.Join(readCSV(t, stdout)[0], ","); got != c.want {
				t.Errorf("header %q, want %q", got, c.want)
			}
		})
	}
}

// TestSizeFlagsMustBePositive: 0 or less is a usage error naming the flag (the core's check, in the
// flag's name), not a silent default.
func TestSizeFlagsMustBePositive(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"stream", "-window-size", "0"}, "-window-size: must be in [1, 65535], got 0"},
		{[]string{"stream", "-window-size", "-3"}, "-window-size: must be in [1, 65535], got -3"},
		{[]string{"stream", "-trees", "0"}, "-trees: must be in [1, 10000], got 0"},
		{[]string{"stream", "-height", "0"}, "-height: must be in [1, 20], got 0"},
		{[]string{"stream", "-height", "-1"}, "-height: must be in [1, 20], got -1"},
		{[]string{"batch", "-trees", "0"}, "-trees: must be at least 1, got 0"},
		{[]string{"batch", "-trees", "-5"}, "-trees: must be at least 1, got -5"},
		{[]string{"batch", "-k", "0"}, "-k: must be at least 1, got 0"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := runCmd(t, append(c.args, p)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("a refused run printed %d bytes", len(stdout))
			}
		})
	}
}

// TestBatchMaxFeaturesCountIsNotFraction: -max-features 1 is one feature per tree, not all of them
// (1.0); a count above the number of features is refused.
func TestBatchMaxFeaturesCountIsNotFraction(t *testing.T) {
	p := writeFile(t, "fleet.csv", plantedCSV())
	scores := map[string]string{}
	for _, c := range []struct {
		value    string
		wantCode int
		wantErr  string
	}{
		{"1.0", 0, ""},
		{"3", 0, ""}, // the three features: the same forest as 1.0
		{"1", 0, ""},
		{"4", 2, "-max-features: must be <= the 3 columns, got 4"},
		{"0", 2, "-max-features: must be a positive count or a fraction in (0, 1], got 0"},
		{"1.5", 2, "-max-features"},
	} {
		stdout, stderr, code := runCmd(t, "batch", "-max-features", c.value, p)
		if code != c.wantCode || !strings.Contains(stderr, c.wantErr) {
			t.Fatalf("-max-features %s: exit %d, stderr %q; want %d and %q", c.value, code, stderr, c.wantCode, c.wantErr)
		}
		scores[c.value] = stdout
	}
	if scores["1.0"] != scores["3"] {
		t.Error("-max-features 3 (every feature) scored differently from 1.0")
	}
	if scores["1"] == scores["1.0"] {
		t.Error("-max-features 1 scored as 1.0: read as the fraction, not as one feature")
	}
}

// TestCSVDuplicateColumnIsRefused: every column is looked up by name, so a repeated name would leave
// the second column unread; it is refused, as an API response with a repeated field is.
func TestCSVDuplicateColumnIsRefused(t *testing.T) {
	cases := []struct {
		name, content string
		args          []string
		want          string
	}{
		{"stream", "sensor_index,pm1.0_cf_1,pm1.0_cf_1\n1,2,900\n", []string{"stream"}, `column "pm1.0_cf_1" appears twice in the header (columns 2 and 3)`},
		{"batch", "pm,sensor_index,pm\n2,1,900\n3,2,901\n", []string{"batch"}, `column "pm" appears twice in the header (columns 1 and 3)`},
		{"impute, names equal once trimmed", "sensor_index, pm,pm \n1,2,900\n2,3,901\n", []string{"impute", "-features", "pm"}, `column "pm" appears twice in the header (columns 2 and 3)`},
		{"sensor_index twice", "sensor_index,pm,sensor_index\n1,2,3\n", []string{"stream", "-fields", "pm", "-limits", "pm=0:1"}, `column "sensor_index" appears twice in the header (columns 1 and 3)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "in.csv", c.content)
			stdout, stderr, code := runCmd(t, append(c.args, p)...)
			if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, p) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q with the file's name", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("a refused file printed %q", stdout)
			}
		})
	}
}

// TestByteOrderMarkIsSkipped: a file that starts with a UTF-8 byte-order mark (as spreadsheet
// programs write CSV) gives the output of the same file without it; the mark used to become part of
// the first column's name, so that sensor_index was not recognised.
func TestByteOrderMarkIsSkipped(t *testing.T) {
	const bom = "\ufeff"
	api := `{"fields": ["sensor_index", "pm1.0_cf_1", "humidity"], "data": [[1, 2.0, 40], [2, null, 41], [3, 2.5, 42], [4, 3.0, 43], [5, 900, 5], [6, 2.2, 44]]}`
	cases := []struct {
		name, file, content string
		args                []string
	}{
		{"CSV stream", "a.csv", plantedCSV(), []string{"stream", "-fields", "pm2.5", "-limits", "pm2.5=0:1000"}},
		{"CSV stream -per-sensor", "a.csv", plantedCSV(), []string{"stream", "-per-sensor", "-fields", "pm2.5", "-limits", "pm2.5=0:1000"}},
		{"CSV batch", "a.csv", plantedCSV(), []string{"batch"}},
		{"CSV impute", "a.csv", plantedCSV(), []string{"impute"}},
		{"API stream", "a.json", api, []string{"stream", "-window-size", "2"}},
		{"API batch", "a.json", api, []string{"batch", "-k", "2"}},
		{"API after the mark and a newline", "a.json", "\n" + api, []string{"batch", "-k", "2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, stderr, code := runCmd(t, append(c.args, writeFile(t, c.file, c.content))...)
			if code != 0 {
				t.Fatalf("without a mark: exit %d: %s", code, stderr)
			}
			got, stderr, code := runCmd(t, append(c.args, writeFile(t, c.file, bom+c.content))...)
			if code != 0 {
				t.Fatalf("with a mark: exit %d: %s", code, stderr)
			}
			if !strings.HasPrefix(got, "sensor_index,") {
				t.Errorf("with a mark, the output is not keyed by sensor_index: %.80q", got)
			}
			if got != want {
				t.Errorf("with a mark the output differs:\n got %.200q\nwant %.200q", got, want)
			}
		})
	}
}
