// Package execd is what Hazewatch's two Telegraf external plugins (telegraf-purpleair for
// inputs.execd, telegraf-anomaly for processors.execd) share as commands: a log whose every line carries
// a level execd understands (Logger), loading and checking the one plugin block of their configuration
// file (LoadInput, LoadProcessor), the metric loops in place of the shim's (Input, Processor), and
// exiting only once Telegraf has read their last output (Setup, WaitDrained).
//
// Telegraf's execd plugins (internal/process) call exec.Cmd.Wait as soon as the plugin process exits,
// and Wait closes Telegraf's end of the stdout pipe: bytes the plugin wrote that Telegraf had not read
// yet are lost, and Telegraf logs "read |0: file already closed". A plugin that writes its last metrics
// and exits at once loses some of them (seen with a no-op shim processor: 184 of 200,000 metrics; an
// input loses what it wrote last when Telegraf stops it, see telegraf-purpleair's
// TestLastMetricsOutliveTheProcess). Waiting until the pipe is empty before exiting closes that window.
package execd
