// Processor and Input replace the execd shim's Run loops, which Hazewatch's commands cannot use as
// they are:
//
//   - the shim writes unsigned fields as signed ones (its serializer has no uint support), so a
//     processor that only adds fields changes 18446744073709551615u into 9223372036854775807i;
//   - it writes its own errors to stderr without a level prefix and ending in a backspace instead of a
//     newline ("Failed to parse metric: ...\b"), so execd logs them at the wrong level and glues the next
//     line onto them; other errors go through its logger, which puts a timestamp before the level;
//   - after a metric that cannot be serialised its writer stops, and the plugin then blocks for good.
//
// Here every problem is one line through the command's Logger, unsigned fields pass unchanged, and one
// bad metric costs only itself.

package execd

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
)

// queue is how many metrics may wait for the writer. More than the shim's 1, so that the writer
// flushes stdout once per burst rather than once per metric.
const queue = 256

// maker is the agent accumulator's view of the plugin: metrics pass unchanged, errors go to the log.
type maker struct{ log telegraf.Logger }

func (maker) LogName() string                              { return "" }
func (maker) MakeMetric(m telegraf.Metric) telegraf.Metric { return m }
func (m maker) Log() telegraf.Logger                       { return m.log }

// writer serialises metrics from ch to w until ch is closed.
type writer struct {
	ch   chan telegraf.Metric
	done chan struct{}
}

func startWriter(w io.Writer, log telegraf.Logger) (*writer, error) {
	s := &serializer.Serializer{UintSupport: true}
	if err := s.Init(); err != nil {
		return nil, err
	}
	wr := &writer{ch: make(chan telegraf.Metric, queue), done: make(chan struct{})}
	go func() {
		defer close(wr.done)
		bw := bufio.NewWriterSize(w, 64<<10)
		var writeErr error
		for m := range wr.ch {
			b, err := s.Serialize(m)
			if err != nil {
				log.Errorf("dropped a %q metric that cannot be written as line protocol: %v", m.Name(), err)
				m.Drop()
				continue
			}
			if writeErr == nil {
				_, writeErr = bw.Write(b)
				// Flush whenever nothing else is waiting: a metric must never sit in the buffer while
				// Telegraf waits for it.
				if writeErr == nil && len(wr.ch) == 0 {
					writeErr = bw.Flush()
				}
				if writeErr != nil {
					// Telegraf has gone; keep draining so that the plugin does not block.
					log.Errorf("writing metrics to stdout: %v", writeErr)
				}
			}
			m.Accept()
		}
		if writeErr == nil {
			if err := bw.Flush(); err != nil {
				log.Errorf("writing metrics to stdout: %v", err)
			}
		}
	}()
	return wr, nil
}

// close waits until every queued metric is written.
func (w *writer) close() {
	close(w.ch)
	<-w.done
}

// Processor runs p: each metric read from stdin goes through p.Add, and what p emits is written to
// stdout. It returns when stdin ends (Telegraf stopping), after p.Stop and once every emitted metric is
// written; the error is p.Start's or a failure to read stdin. Lines that are not line protocol are
// logged as errors and skipped.
func Processor(p telegraf.StreamingProcessor, stdin io.Reader, stdout io.Writer, log telegraf.Logger) error {
	w, err := startWriter(stdout, log)
	if err != nil {
		return err
	}
	acc := agent.NewAccumulator(maker{log}, w.ch)
	acc.SetPrecision(time.Nanosecond)
	if err := p.Start(acc); err != nil {
		w.close()
		return err
	}
	parser := influx.NewStreamParser(stdin)
	var readErr error
	for {
		m, err := parser.Next()
		if err != nil {
			if errors.Is(err, influx.EOF) {
				break
			}
			var parseErr *influx.ParseError
			if errors.As(err, &parseErr) {
				log.Errorf("skipped input that is not line protocol: %v", parseErr)
				continue
			}
			readErr = err
			break
		}
		if err := p.Add(m, acc); err != nil {
			log.Errorf("processing a %q metric: %v", m.Name(), err)
		}
	}
	p.Stop()
	w.close()
	return readErr
}

// Input runs a service input: it starts it, writes what it emits to stdout, and stops it when stdin
// ends (Telegraf stopping; anything read before is ignored, as the input keeps its own schedule) or
// stop is closed. It returns once every emitted metric is written. An error the input adds is logged
// alone (the agent's accumulator would put "Error in plugin: " before it).
func Input(in telegraf.ServiceInput, stdin io.Reader, stdout io.Writer, log telegraf.Logger, stop <-chan struct{}) error {
	w, err := startWriter(stdout, log)
	if err != nil {
		return err
	}
	acc := agent.NewAccumulator(maker{log}, w.ch)
	acc.SetPrecision(time.Nanosecond)
	if err := in.Start(errorLoggingAccumulator{Accumulator: acc, log: log}); err != nil {
		w.close()
		return err
	}
	ended := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(ended)
	}()
	select {
	case <-ended:
	case <-stop:
	}
	in.Stop()
	w.close()
	return nil
}

// errorLoggingAccumulator writes an error an input adds through the command's logger, as it is.
type errorLoggingAccumulator struct {
	telegraf.Accumulator
	log telegraf.Logger
}

func (a errorLoggingAccumulator) AddError(err error) {
	if err != nil {
		a.log.Errorf("%v", err)
	}
}
