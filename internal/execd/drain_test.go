package execd

import (
	"io"
	"os"
	"testing"
	"time"
)

func TestWaitReturnsWhenReaderHasDrainedThePipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
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
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.Write([]byte("never read")); err != nil {
		t.Fatal(err)
	}
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
