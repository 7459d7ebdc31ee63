package purpleair

import (
	"fmt"
	"io"
)

// Output formats of WriteSimulation.
const (
	FormatAPIJSON      = "json" // one API-format /v1/sensors document per step (WriteAPIJSON)
	FormatLineProtocol = "lp"   // InfluxDB line protocol, one line per reading (WriteLineProtocol)
)

// SimulationOutput says what WriteSimulation writes.
type SimulationOutput struct {
	Format string // FormatAPIJSON or FormatLineProtocol
	Steps  int    // number of fleet steps (> 0)
	// Point shapes line-protocol metrics (tags, timestamp) exactly as the
	// Telegraf input does; its Faults is ignored (see LabelFaults).
	Point PointOptions
	// LabelFaults adds the ground-truth "fault" tag to line-protocol
	// metrics. WriteSimulation writes API JSON without labels whatever it
	// says; a labelled JSON stream is the API format plus a "fault" text
	// column (what `hazewatch simulate -format json -label-faults` writes and
	// the Telegraf input's file source turns back into the tag with
	// label_faults = true).
	LabelFaults bool
}

// WriteSimulation runs sim for out.Steps steps and writes every step to w:
// the data of `hazewatch simulate`, identical to what the Telegraf input's
// simulate source emits for the same seed, start and options.
func WriteSimulation(w io.Writer, sim *Simulator, out SimulationOutput) error {
	if out.Steps <= 0 {
		return fmt.Errorf("purpleair: steps must be positive, got %d", out.Steps)
	}
	if out.Format != FormatAPIJSON && out.Format != FormatLineProtocol {
		return fmt.Errorf("purpleair: format must be %q or %q, got %q", FormatAPIJSON, FormatLineProtocol, out.Format)
	}
	opt := out.Point
	for range out.Steps {
		r, labels := sim.NextResponse()
		var err error
		if out.Format == FormatAPIJSON {
			err = WriteAPIJSON(w, r)
		} else {
			opt.Faults = nil
			if out.LabelFaults {
				opt.Faults = labels
			}
			err = WriteLineProtocol(w, r, opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
