package execd

import (
	"io"
	"os"
	"testing"
	"time"
)

// pipeHolding is a pipe with b written to it and not yet read; both ends close at test cleanup.
func pipeHolding(t *testing.T, b []byte) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	return r, w
}

func TestWaitReturnsWhenReaderHasDrainedThePipe(t *testing.T) {
	r, w := pipeHolding(t, make([]byte, 1000))
	read := make(chan time.Time)
	go func() {
		time.Sleep(200 * time.Millisecond)
		io.ReadFull(r, make([]byte, 1000))
		read <- time.Now()
	}()
	WaitDrained(w, 5*time.Second)
	returned := time.Now()
	readAt := <-read
	if returned.Before(readAt.Add(-50 * time.Millisecond)) {
		t.Errorf("WaitDrained returned %v before the reader drained the pipe", readAt.Sub(returned))
	}
}

func TestWaitGivesUpAfterMax(t *testing.T) {
	_, w := pipeHolding(t, []byte("never read"))
	start := time.Now()
	WaitDrained(w, 100*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitDrained took %v with max 100ms", d)
	}
}

func TestWaitOnNonPipeReturns(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan struct{})
	go func() { WaitDrained(f, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WaitDrained on a regular file did not return")
	}
}

// TestDrainedHandsTheReaderItsEOF: after the returned function of Setup, a reader of the command's
// stdout and stderr pipes gets every byte and then EOF, as Telegraf's execd reader must before the
// process exits (else it logs "file already closed").
func TestDrainedHandsTheReaderItsEOF(t *testing.T) {
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close(); outW.Close(); errR.Close(); errW.Close() })
	logger, drained := Setup(outW, errW, false)
	logger.Warnf("last words")
	if _, err := outW.WriteString("m v=1 1\n"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	for _, r := range []*os.File{outR, errR} {
		go func() {
			b, err := io.ReadAll(r) // returns only at EOF
			if err != nil {
				b = append(b, err.Error()...)
			}
			got <- string(b)
		}()
	}
	drained()
	for range 2 {
		select {
		case s := <-got:
			if s != "m v=1 1\n" && s != "W! last words\n" {
				t.Errorf("reader got %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a reader saw no EOF after drained: the pipe is still open")
		}
	}
}
