//go:build linux

package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"golang.org/x/sys/unix"
)

func TestRecordSetUsage(t *testing.T) {
	bin := buildKpcap(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--keep", "3"}, "need --rotate"},
		{[]string{"--rotate", "10x"}, "neither a size"},
		{[]string{"--rotate", "1K"}, "64K"},
		{[]string{"--trigger", "a:b: x == 1"}, "need --snapshot"},
		{[]string{"--snapshot", "10s", "--rotate", "1G"}, "does not go with"},
		{[]string{"--snapshot", "10s", "--trigger", "nocolon"}, "GROUP:EVENT: FILTER"},
		{[]string{"--snapshot", "10s", "--trigger", "syscalls:sys_exit_openat: ret === 1"}, "ret === 1"},
		{[]string{"--snapshot", "10s", "--trigger", "latency do_sys_openat2 > soon"}, "latency FUNC > DURATION"},
	} {
		r := runCLI(t, bin, append([]string{"record", "-e", "syscalls:sys_enter_getppid"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("record %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := runCLI(t, bin, "snapshot", "1"); r.code != 1 || !strings.Contains(r.stderr, "not a kpcap record --snapshot") {
		t.Errorf("snapshot of pid 1: exit %d %q", r.code, r.stderr)
	}
}

// startRecording starts kpcap record and waits for its "recording" line.
func startRecording(t *testing.T, bin string, args ...string) (*exec.Cmd, *strings.Builder, chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"record"}, args...)...)
	cmd.Env = append(os.Environ(), "KPCAP_STATUS_EVERY=100ms")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	started := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "kpcap record: recording") {
				started <- true
			}
		}
		io.Copy(io.Discard, pipe)
		started <- false
	}()
	select {
	case ok := <-started:
		if !ok {
			cmd.Wait()
			t.Fatalf("kpcap record ended before recording")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("kpcap record never started")
	}
	return cmd, &log, done
}

// TestRecordSnapshotAndHUP: kpcap snapshot asks a flight recorder for a
// file holding what came before; SIGHUP turns a plain recording into a
// set, and the events of both files add up.
func TestRecordSnapshotAndHUP(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	dir := t.TempDir()
	runtime.LockOSThread() // the filter names this thread
	defer runtime.UnlockOSThread()
	filterArg := "common_pid == " + strconv.Itoa(unix.Gettid())

	out := filepath.Join(dir, "fr.pcapng.zst")
	cmd, log, done := startRecording(t, bin, "-e", "syscalls:sys_enter_getppid", "--filter", filterArg, "--snapshot", "1m", "-o", out)
	getppids(5000)
	time.Sleep(200 * time.Millisecond)
	if r := runCLI(t, bin, "snapshot", strconv.Itoa(cmd.Process.Pid)); r.code != 0 {
		t.Errorf("kpcap snapshot: %d %s", r.code, r.stderr)
	}
	first := format.SetFileName(out, 1)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(first); err == nil || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // the file is complete when its notice is printed
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	<-done
	f, err := format.Open(first)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if f.Stats[0].Received != 5000 || f.Header.Set == nil || f.Header.Set.Trigger != "SIGUSR1" {
		t.Errorf("snapshot: %d events, set %+v\n%s", f.Stats[0].Received, f.Header.Set, log.String())
	}
	f.Close()

	out = filepath.Join(dir, "hup.pcapng.zst")
	cmd, log, done = startRecording(t, bin, "-e", "syscalls:sys_enter_getppid", "--filter", filterArg, "-o", out)
	getppids(3000)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(format.SetFileName(out, 2)); err == nil || time.Now().After(deadline) {
			break
		}
	}
	getppids(2000)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	<-done
	set, err := format.OpenSet([]string{format.SetFileName(out, 1), format.SetFileName(out, 2)})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer set.Close()
	if len(set.Parts) != 2 || set.Parts[0].Samples != 3000 || set.Parts[1].Samples != 2000 || set.Parts[0].Set == nil || set.Parts[1].Set == nil || set.Parts[0].Set.ID != set.Parts[1].Set.ID || len(set.Gaps) != 0 {
		t.Errorf("after SIGHUP: parts %+v gaps %+v\n%s", set.Parts, set.Gaps, log.String())
	}
	// Not on a terminal: status lines, and the recorder's own cost at the end.
	if !strings.Contains(log.String(), "kpcap record: status: ") || !strings.Contains(log.String(), "peak RSS") {
		t.Errorf("no status line or usage summary:\n%s", log.String())
	}
}
