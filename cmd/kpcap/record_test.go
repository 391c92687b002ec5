//go:build linux

package main

import (
	"bytes"
	"encoding/json"
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

// recordNeedRoot skips without root locally and fails under CI=true.
func recordNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: kpcap record tests need root")
	}
	t.Skip("kpcap record tests need root (perf_event_open, tracefs)")
}

// startRecord starts `kpcap record ARGS` and waits until its output file
// has its header and the events had time to be enabled.
func startRecord(t *testing.T, bin, out string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"record", "-o", out}, args...)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(out); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kpcap record never wrote %s: %s", out, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return cmd, &stderr
}

func getppids(n int) {
	for i := 0; i < n; i++ {
		unix.Getppid()
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestRecordCLI(t *testing.T) {
	recordNeedRoot(t)
	bin := buildKpcap(t)
	dir := t.TempDir()

	t.Run("SIGINT finalizes", func(t *testing.T) {
		runtime.LockOSThread() // the filter names this thread
		defer runtime.UnlockOSThread()
		out := filepath.Join(dir, "int.pcapng.zst")
		cmd, stderr := startRecord(t, bin, out, "-e", "syscalls:sys_enter_getppid", "--filter", "common_pid == "+strconv.Itoa(unix.Gettid()))
		getppids(1000)
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("kpcap record after SIGINT: %v\n%s", err, stderr)
		}
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if !f.Indexed || len(f.Warnings) > 0 || len(f.Stats) != 1 {
			t.Errorf("not finalized: indexed %v warnings %v stats %v", f.Indexed, f.Warnings, f.Stats)
		}
		if !strings.Contains(stderr.String(), "samples") {
			t.Errorf("no summary on stderr: %s", stderr)
		}
	})

	t.Run("SIGKILL leaves a readable file", func(t *testing.T) {
		out := filepath.Join(dir, "kill.pcapng.zst")
		cmd, _ := startRecord(t, bin, out, "-e", "syscalls:sys_enter_getppid")
		getppids(1000)
		time.Sleep(1500 * time.Millisecond) // frames close every second
		cmd.Process.Kill()
		cmd.Wait()
		f, err := format.Open(out)
		if err != nil {
			t.Fatalf("open after SIGKILL: %v", err)
		}
		defer f.Close()
		n := 0
		it := f.Samples()
		for it.Next() {
			n++
		}
		if n == 0 {
			t.Errorf("no samples readable after SIGKILL (warnings %v, err %v)", f.Warnings, it.Err())
		}
	})

	t.Run("command and its children", func(t *testing.T) {
		out := filepath.Join(dir, "cmd.pcapng.zst")
		cmd := exec.Command(bin, "record", "-o", out, "--json", "-e", "sched:sched_process_exec", "-e", "sched:sched_process_exit",
			"--", "/bin/sh", "-c", "/bin/true; ls / >/dev/null; exit 3")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		var res struct {
			ExitCode int    `json:"exit_code"`
			Samples  uint64 `json:"samples"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("--json: %v\n%s", err, stdout.String())
		}
		if res.ExitCode != 3 {
			t.Errorf("exit code %d, want 3", res.ExitCode)
		}
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var execs, exits []string
		it := f.Samples()
		for it.Next() {
			s := it.Sample()
			if s.Source == 0 {
				execs = append(execs, f.CommOf(s.PID, s.TID, s.CPU, s.Time))
			} else {
				exits = append(exits, f.CommOf(s.PID, s.TID, s.CPU, s.Time))
			}
		}
		// sh itself, then its two children; nothing from outside the command
		if strings.Join(execs, " ") != "sh true ls" {
			t.Errorf("exec events of %v, want [sh true ls]", execs)
		}
		if strings.Join(exits, " ") != "true ls sh" {
			t.Errorf("exit events of %v, want [true ls sh]", exits)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			args []string
			code int
			want string
		}{
			{[]string{"-p", "p:x/y do_sys_openat2 a=+0(%zz):string"}, 2, "^"},
			{[]string{"-p", "p /bin/true:no_such_symbol_kpcap"}, 1, "no_such_symbol_kpcap"},
			{[]string{"-e", "nosuch:tracepoint"}, 2, "nosuch:tracepoint"},
			{[]string{"-e", "sched:nope"}, 2, "no such trace event sched:nope"},
			{[]string{"-e", "bad"}, 2, "SUBSYS:EVENT"},
			{[]string{"--cpu", "x"}, 2, "CPU"},
			{[]string{"--buffer-size", "lots"}, 2, "buffer-size"},
			{[]string{"--filter", "nosuchfield == 1", "-e", "sched:sched_process_exec"}, 2, "nosuchfield"},
			{[]string{"-e", "sched:sched_process_exec", "--", "/no/such/command"}, 2, "/no/such/command"},
		}
		for _, tc := range tests {
			out := filepath.Join(dir, "bad.pcapng.zst")
			cmd := exec.Command(bin, append([]string{"record", "-q", "-o", out, "-d", "1s"}, tc.args...)...)
			b, err := cmd.CombinedOutput()
			if code := exitCode(err); code != tc.code || !strings.Contains(string(b), tc.want) || strings.Contains(string(b), "goroutine ") {
				t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.want, b)
			}
		}
	})

	t.Run("no dynamic probe left", func(t *testing.T) {
		out := filepath.Join(dir, "dyn.pcapng.zst")
		// a fetcharg forces a tracefs uprobe under kpcap's own group
		cmd, stderr := startRecord(t, bin, out, "-p", "p:t/kpmain "+bin+":main.main arg=%di:s64", "-e", "sched:sched_process_exec")
		exec.Command(bin, "version").Run()
		group := "kpcap_" + strconv.Itoa(cmd.Process.Pid) + "/"
		if b, _ := os.ReadFile("/sys/kernel/tracing/uprobe_events"); !strings.Contains(string(b), group) {
			t.Errorf("while recording, uprobe_events lacks %s:\n%s", group, b)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		// only this kpcap's group: other tests may run kpcap meanwhile
		for _, p := range []string{"/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events"} {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), group) {
				t.Errorf("%s still has %s probes:\n%s", p, group, b)
			}
		}
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Stats[0].Received == 0 {
			t.Errorf("the main.main uprobe never fired: %+v", f.Stats)
		}
	})
}
