package execd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// stripper removes every field of metrics named "empty": a metric line protocol cannot carry.
type stripper struct{}

func (stripper) SampleConfig() string             { return "" }
func (stripper) Start(telegraf.Accumulator) error { return nil }
func (stripper) Stop()                            {}
func (stripper) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	if m.Name() == "empty" {
		for _, f := range m.FieldList() {
			m.RemoveField(f.Key)
		}
	}
	acc.AddMetric(m)
	return nil
}

// The shim's writer stopped at the first metric it could not serialise, and the plugin then blocked on
// its full output channel: here that metric is logged and dropped, and the rest flows.
func TestUnserialisableMetricCostsOnlyItself(t *testing.T) {
	var in strings.Builder
	for i := range 1000 {
		name := "ok"
		if i%100 == 0 {
			name = "empty"
		}
		in.WriteString(name + " x=1 1\n")
	}
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Processor(stripper{}, strings.NewReader(in.String()), &stdout, New(&stderr, false))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("blocked after a metric that cannot be serialised")
	}
	if n := strings.Count(stdout.String(), "ok x=1 1\n"); n != 990 {
		t.Errorf("%d metrics out, want 990", n)
	}
	if n := strings.Count(stderr.String(), "E! dropped a \"empty\" metric"); n != 10 {
		t.Errorf("%d error lines for the 10 empty metrics:\n%s", n, stderr.String())
	}
}

func TestInputStopsWhenStdinEnds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	in := &ticker{}
	if err := Input(in, strings.NewReader("\n\n"), &stdout, New(&stderr, false), nil); err != nil {
		t.Fatal(err)
	}
	if !in.stopped || stdout.String() != "tick n=18446744073709551615u 1\n" {
		t.Errorf("stopped %v, output %q", in.stopped, stdout.String())
	}
	// The input's error alone, at error level: no "Error in plugin: " before it.
	if stderr.String() != "E! sensor 7: HTTP 429\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}

type ticker struct{ stopped bool }

func (*ticker) SampleConfig() string              { return "" }
func (*ticker) Gather(telegraf.Accumulator) error { return nil }
func (*ticker) Start(acc telegraf.Accumulator) error {
	acc.AddMetric(metric.New("tick", nil, map[string]any{"n": uint64(1<<64 - 1)}, time.Unix(0, 1)))
	acc.AddError(errors.New("sensor 7: HTTP 429"))
	return nil
}
func (t *ticker) Stop() { t.stopped = true }
