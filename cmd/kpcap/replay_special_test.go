//go:build unix

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReplayToFIFO checks that -o naming something other than a regular
// file (a FIFO here; /dev/null in real life) is written in place, not
// replaced by a renamed temporary file (which, as root, once turned
// /dev/null into a regular file).
func TestReplayToFIFO(t *testing.T) {
	bin := buildKpcap(t)
	trace, err := filepath.Abs("../../testdata/kernels/openat-6.12.pcapng.zst")
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until kpcap opens it for writing
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	out, runErr := exec.Command(bin, "replay", "-o", fifo, trace).CombinedOutput()
	st, err := os.Lstat(fifo)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is no longer a FIFO after replay (%v; output %s): %v", fifo, runErr, out, err)
	}
	var text string
	select {
	case text = <-got:
	case <-time.After(30 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close() // let the reader go
		}
		t.Fatalf("kpcap never wrote to the FIFO (%v):\n%s", runErr, out)
	}
	if runErr != nil {
		t.Fatalf("kpcap replay -o FIFO: %v\n%s", runErr, out)
	}
	if !strings.Contains(text, "openat") {
		t.Errorf("the FIFO's reader got no events: %.300q", text)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(fifo), ".*.tmp")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
