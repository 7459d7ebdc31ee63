// Package pipedrain lets a Telegraf external plugin exit without losing its last output.
//
// Telegraf's execd plugins (internal/process) call exec.Cmd.Wait as soon as the plugin process exits,
// and Wait closes Telegraf's end of the stdout pipe: bytes the plugin wrote that Telegraf had not read
// yet are lost, and Telegraf logs "read |0: file already closed". A plugin that writes its last metrics
// and exits at once loses some of them (seen with a no-op shim processor: 184 of 200,000 metrics; an
// input loses what it wrote last when Telegraf stops it, see telegraf-purpleair's
// TestLastMetricsOutliveTheProcess). Waiting until the pipe is empty before exiting closes that window;
// both our plugins (telegraf-purpleair, telegraf-anomaly) do.
package pipedrain
