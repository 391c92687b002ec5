//go:build linux

package record

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/elfsym"
)

// TestPIDTarget follows one running process (threads it creates later
// included) and stops by itself when it exits.
func TestPIDTarget(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workloadEnv+"=getppid-stdin:20000:2")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	time.Sleep(100 * time.Millisecond) // let the Go runtime start its threads
	out := filepath.Join(t.TempDir(), "pid.pcapng.zst")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := runDirect(ctx, Options{
		PID:     cmd.Process.Pid,
		Output:  out,
		Started: func(StartInfo) { stdin.Write([]byte("go\n")) },
	}, tracepointSource(t, "syscalls", "sys_enter_getppid"), tracepointSource(t, "sched", "sched_process_exit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("workload: %v", err)
	}
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts, err := countSamples(t, f, func(s *format.Sample) bool { return s.PID == uint32(cmd.Process.Pid) })
	if err != nil {
		t.Fatal(err)
	}
	all, _ := countSamples(t, f, nil)
	if counts[0] != n || all[0] != n || res.Lost != 0 {
		t.Errorf("samples of pid %d: %d (all %d, lost %d), want %d", cmd.Process.Pid, counts[0], all[0], res.Lost, n)
	}
	// sched_process_exit is recorded CPU-wide and kept for the traced
	// process only: its threads exit, nothing else may appear.
	exits := 0
	it := f.Samples()
	for it.Next() {
		if s := it.Sample(); s.Source == 1 {
			if s.PID != uint32(cmd.Process.Pid) {
				t.Errorf("exit of pid %d recorded, only %d is traced", s.PID, cmd.Process.Pid)
			}
			exits++
		}
	}
	if exits == 0 {
		t.Error("no sched_process_exit of the traced process")
	}
	if !strings.HasPrefix(f.Header.Capture.Targets, "pid ") {
		t.Errorf("targets %q", f.Header.Capture.Targets)
	}
}

// TestSweepAndCleanup: a probe group left by a dead kpcap is removed at
// start, and kpcap's own tracefs probes are removed even when the capture
// fails after creating them.
func TestSweepAndCleanup(t *testing.T) {
	requireRoot(t)
	exe := buildSleeper(t)
	off, err := elfsym.FileOffset(exe, "kpcap_work", 0)
	if err != nil {
		t.Fatal(err)
	}
	uprobes := "/sys/kernel/tracing/uprobe_events"
	if _, err := os.Stat(uprobes); err != nil {
		need(t, "needs tracefs uprobe_events at /sys/kernel/tracing")
	}
	dead := 4194000 // above any pid this test machine uses
	if _, err := os.Stat("/proc/" + strconv.Itoa(dead)); err == nil {
		t.Skip("pid", dead, "exists")
	}
	stale := "kpcap_" + strconv.Itoa(dead)
	if err := appendFile(uprobes, "p:"+stale+"/left "+exe+":0x"+strconv.FormatUint(off, 16)+"\n"); err != nil {
		t.Fatalf("plant stale probe: %v", err)
	}
	var notices []string
	out := filepath.Join(t.TempDir(), "s.pcapng.zst")
	_, err = Run(context.Background(), Options{
		Probes:   []string{"p:t/ok " + exe + ":kpcap_work arg=%di", "p:t/ok2 " + exe + ":kpcap_work+4 arg=%si"},
		Filter:   `arg == "not a number"`, // the kernel refuses it after the probes exist
		Output:   out,
		Duration: 100 * time.Millisecond,
		Notice:   func(s string) { notices = append(notices, s) },
	})
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Filter != `arg == "not a number"` || !strings.Contains(err.Error(), "rejected by the kernel") {
		t.Errorf("a bad filter gave %v, want a FilterError", err)
	}
	// Other kpcap processes (tests of other packages) may run meanwhile:
	// look only at this process's group and the planted one, and accept
	// that another run swept the stale group first.
	b, _ := os.ReadFile(uprobes)
	own := "kpcap_" + strconv.Itoa(os.Getpid()) + "/"
	if strings.Contains(string(b), own) || strings.Contains(string(b), stale+"/") {
		t.Errorf("probes of %s or %s left in uprobe_events:\n%s", own, stale, b)
	}
	if !strings.Contains(strings.Join(notices, "\n"), stale) {
		t.Logf("no notice about sweeping %s (another kpcap may have swept it): %q", stale, notices)
	}
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
