//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifyWriter is a concurrency-safe buffer that says when something was first written to it.
type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() == 0 && len(p) > 0 {
		close(w.wrote)
	}
	return w.buf.Write(p)
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestStreamWritesBeforeItsInputEnds: stream is causal, so it reads a row, scores it and writes it
// out without waiting for the rest of the input (it used to read the whole file first, holding
// 12–15 times its size). The input is a named pipe that stays open until output has arrived.
func TestStreamWritesBeforeItsInputEnds(t *testing.T) {
	const rows = 20000 // about 400 kB of output: several of stream's output buffers
	fifo := filepath.Join(t.TempDir(), "in.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipe: %v", err)
	}
	out := &notifyWriter{wrote: make(chan struct{})}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"stream", "-fields", "pm", "-limits", "pm=0:1000", fifo}, out, &stderr)
	}()
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for stream to open it
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var f *os.File
	select {
	case f = <-opened:
	case code := <-done:
		t.Fatalf("stream ended (exit %d) before opening its input: %s", code, stderr.String())
	}
	if f == nil {
		t.FailNow()
	}
	var in strings.Builder
	in.WriteString("pm\n")
	for i := range rows {
		fmt.Fprintf(&in, "%d.5\n", 10+i%7)
	}
	if _, err := io.WriteString(f, in.String()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-out.wrote:
	case <-time.After(20 * time.Second):
		t.Error("no output 20 s after writing 20,000 rows with the input still open: stream waits for the end of its input")
	}
	f.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := strings.Count(out.String(), "\n"); got != rows+1 {
		t.Errorf("%d output lines, want %d", got, rows+1)
	}
}
