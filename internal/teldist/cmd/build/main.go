// Command build builds hazewatch-telegraf, our Telegraf distribution (see package teldist), without
// mage: the Telegraf image's Dockerfile runs it. Run from the repository root:
//
//	go run ./internal/teldist/cmd/build -o bin/hazewatch-telegraf
//
// -goos, -goarch and -goarm cross-compile (flags, not the environment: GOOS in the environment would
// make go run build this command for the target too).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hazewatch/hazewatch/internal/teldist"
)

func main() {
	out := flag.String("o", "bin/"+teldist.Name, "the binary to write")
	root := flag.String("root", ".", "the Hazewatch checkout (the directory of its go.mod)")
	verbose := flag.Bool("v", false, "show the go command's output")
	goos := flag.String("goos", "", "target operating system (default: this one)")
	goarch := flag.String("goarch", "", "target architecture (default: this one)")
	goarm := flag.String("goarm", "", "ARM version for -goarch arm (default: Go's)")
	flag.Parse()
	o := teldist.Options{Root: *root, Out: *out, GOOS: *goos, GOARCH: *goarch, GOARM: *goarm}
	if *verbose {
		o.Stdout = os.Stderr
	}
	if err := teldist.Build(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", teldist.Name, *out)
}
