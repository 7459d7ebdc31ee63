package proctest

import (
	"fmt"
	"testing"
)

// FatalOf runs f with a testing.TB whose Fatalf records the message and ends f, and returns the
// message ("" when f did not fail): for testing what a helper says when what it starts fails.
func FatalOf(t testing.TB, f func(testing.TB)) string {
	t.Helper()
	r := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != errFatal {
				panic(p)
			}
		}()
		f(r)
	}()
	return r.msg
}

var errFatal = fmt.Errorf("fatal")

type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(errFatal)
}
