// Command noop-processor is a Telegraf external processor that passes every metric through unchanged,
// on the same shim as telegraf-anomaly: the baseline of the through-Telegraf throughput benchmark.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/hazewatch/hazewatch/internal/execd"
)

type noop struct{}

func (noop) SampleConfig() string                          { return "" }
func (noop) Apply(in ...telegraf.Metric) []telegraf.Metric { return in }

func main() {
	s := shim.New()
	if err := s.AddProcessor(noop{}); err != nil {
		fmt.Fprintln(os.Stderr, "E!", err)
		os.Exit(1)
	}
	err := s.Run(shim.PollIntervalDisabled)
	execd.WaitDrained(os.Stdout, 2*time.Second) // exit like telegraf-anomaly does, or Telegraf loses metrics
	if err != nil {
		fmt.Fprintln(os.Stderr, "E!", err)
		os.Exit(1)
	}
}
