// Command hazewatch runs Hazewatch's two reference pipelines on a file, simulates a PurpleAir fleet,
// and runs the end-to-end demo.
//
//	hazewatch stream FILE   running-mean imputation, then Half-Space Trees (score, then learn)
//	hazewatch batch FILE    KNN imputation, then Isolation Forest
//	hazewatch impute FILE   the KNN-imputed matrix
//	hazewatch simulate      a simulated fleet as API-format JSON or line protocol
//	hazewatch demo          a simulated fleet through both pipelines, with precision/recall and a report
//
// FILE is a PurpleAir API response (`GET /v1/sensors`, `null` = missing) or a CSV file with a header;
// "-" reads standard input. Output is CSV on standard output, one row per input row, in input order.
// stream and batch print score in [0, 1], higher is more anomalous, and anomaly 1 or 0, as the
// PurpleAir preset (-preset purpleair) and the Grafana datasource do; -raw prints the references'
// own columns instead (River's anomaly true/false; scikit-learn's score_samples, decision_function
// and predict).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"stream", "running-mean imputation, then Half-Space Trees scoring (score, then learn)", runStream},
		{"batch", "KNN imputation, then Isolation Forest", runBatch},
		{"impute", "print the KNN-imputed matrix", runImpute},
		{"simulate", "write a simulated PurpleAir fleet as API JSON or line protocol", runSimulate},
		{"demo", "run a simulated fleet through both pipelines and report what each flagged", runDemo},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the process exit code: 0 on success, 1 when the work failed, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "hazewatch %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "hazewatch %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "hazewatch: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: hazewatch COMMAND [flags] [FILE]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'hazewatch COMMAND -h' for the flags of a command.")
}

// usageError marks an error in the command line rather than in the work.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseFlags parses args, flags and the single positional FILE argument in any order (the standard
// flag package stops at the first positional argument, so "hazewatch batch FILE --only-anomalies" would
// otherwise ignore the flag).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (string, error) {
	fs.SetOutput(stderr)
	var positional []string
	for {
		if err := parseFlagSet(fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return "", usageError{fmt.Sprintf("want exactly one FILE argument (or - for standard input), got %d", len(positional))}
	}
	return positional[0], nil
}

// parseNoArgs parses args for a command that takes flags only; hint ends the error for a positional
// argument.
func parseNoArgs(fs *flag.FlagSet, args []string, hint string) error {
	if err := parseFlagSet(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("takes no positional arguments, got %q%s", fs.Arg(0), hint)}
	}
	return nil
}

// parseFlagSet is fs.Parse with a bad flag made a usageError; flag.ErrHelp (-h) passes unchanged.
func parseFlagSet(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}
