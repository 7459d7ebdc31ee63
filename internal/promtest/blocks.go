package promtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Family is one metric family: Value(sensor, t) gives the sample, ok=false
// for a missing sample (a gap the datasource must impute).
type Family struct {
	Name  string
	Value func(sensor int, t time.Time) (v float64, ok bool)
}

// Dataset is generated history: Sensors series per family with label
// sensor_index="<i>", one sample every Step over [Start, End).
type Dataset struct {
	// ID names the dataset in the block cache; change it when the
	// generator changes.
	ID         string
	Sensors    int
	Start, End time.Time
	Step       time.Duration
	Families   []Family
}

// Samples is the number of samples generated (before gaps).
func (d *Dataset) Samples() int {
	return d.Sensors * len(d.Families) * int(d.End.Sub(d.Start)/d.Step)
}

// WriteOpenMetrics writes the dataset as OpenMetrics text.
func (d *Dataset) WriteOpenMetrics(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 0, 128)
	for _, f := range d.Families {
		fmt.Fprintf(bw, "# TYPE %s gauge\n", f.Name)
		for s := 0; s < d.Sensors; s++ {
			prefix := fmt.Sprintf("%s{sensor_index=\"%d\"} ", f.Name, s)
			for t := d.Start; t.Before(d.End); t = t.Add(d.Step) {
				v, ok := f.Value(s, t)
				if !ok {
					continue
				}
				buf = append(buf[:0], prefix...)
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, t.Unix(), 10)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

// cachedBlocks returns a directory of TSDB blocks for d, generating them once
// per dataset ID into $HAZEWATCH_CACHE (or the user cache dir): promtool
// takes tens of seconds for the benchmark's 1.5M samples.
func cachedBlocks(t testing.TB, d *Dataset) string {
	t.Helper()
	root, err := repotest.CacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("layout2|%s|%d|%d|%d|%d|%d", d.ID, d.Sensors, d.Start.Unix(), d.End.Unix(), d.Step, len(d.Families))))
	dir := filepath.Join(root, "promtest-blocks", d.ID+"-"+hex.EncodeToString(h[:6]))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(root, "promtest-gen-")
	if err != nil {
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if tmp, err = os.MkdirTemp(root, "promtest-gen-"); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(tmp)
	om := filepath.Join(tmp, "history.om")
	f, err := os.Create(om)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteOpenMetrics(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(tmp, "blocks")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Blocks up to a week long (promtool's hidden --max-block-duration) are what
	// a compacted production TSDB looks like; 2-hour blocks (the default) make
	// every week-long query touch 84 blocks.
	cmd := exec.CommandContext(ctx, Promtool(t), "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=168h", om, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool create-blocks-from openmetrics: %v\n%s", err, b)
	}
	if err := os.WriteFile(filepath.Join(out, "complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// The rename publishes the blocks atomically (the "complete" marker is
	// inside). If another test process published the same dataset first,
	// the rename fails on the non-empty directory and theirs is used.
	if err := os.Rename(out, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "complete")); serr == nil {
			return dir
		}
		t.Fatal(err)
	}
	return dir
}

func linkTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "complete" {
			return nil
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".tmp") {
			return nil
		}
		if err := os.Link(p, target); err != nil {
			// Different filesystems: copy.
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}
