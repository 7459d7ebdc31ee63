package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
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
		{"unknown field", "a.csv", "a,b\n1,2\n", []string{"stream", "-fields", "pm9"}, 1, `no numeric field "pm9"`},
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
	if got := strings.Join(recs[0], ","); got != "sensor_index,score,decision,anomaly" {
		t.Fatalf("header %q", got)
	}
	if len(recs) < 2 || recs[1][0] != "99" {
		t.Fatalf("most anomalous sensor is not 99: %v", recs)
	}
	prev := -1.0
	for _, r := range recs[1:] {
		s, _ := strconv.ParseFloat(r[1], 64)
		if s < prev {
			t.Errorf("rows not sorted by score: %v", recs)
		}
		prev = s
		if r[3] != "-1" {
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
	stdout, stderr, code := runCmd(t, "stream", p)
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
	stdout, _, _ = runCmd(t, "stream", "-only-anomalies", p)
	if got := len(readCSV(t, stdout)) - 1; got != flagged || flagged == 0 {
		t.Fatalf("-only-anomalies printed %d rows, the full run flagged %d", got, flagged)
	}
}

func TestBatchReferenceOnSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("fits a forest on 25,552 rows")
	}
	p := snapshotPath(t)
	stdout, stderr, code := runCmd(t, "batch", p)
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
