package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// runKpcap runs the binary and returns stdout, stderr and the exit code.
func runKpcap(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("kpcap %v: stack trace:\n%s", args, stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

// TestListBinary lists python3.11's USDT markers and functions, text and JSON.
func TestListBinary(t *testing.T) {
	py := "/usr/bin/python3.11"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := buildKpcap(t)
	out, stderr, code := runKpcap(t, bin, "list", py, "python:function__*")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"usdt " + py + ":python:function__entry\targs ", "usdt " + py + ":python:function__return\targs ", " semaphore 0x"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runKpcap(t, bin, "list", "--json", py, "PyObject_GetAttr")
	var fn struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Offset uint64 `json:"offset"`
	}
	if err := json.Unmarshal([]byte(out), &fn); err != nil || code != 0 || fn.Type != "function" || fn.Name != "PyObject_GetAttr" || fn.Offset == 0 {
		t.Errorf("--json PyObject_GetAttr: %q (exit %d, %v)", out, code, err)
	}
	if _, stderr, code := runKpcap(t, bin, "list", "/etc/passwd"); code != 1 || !strings.Contains(stderr, "not an ELF") {
		t.Errorf("list /etc/passwd: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runKpcap(t, bin, "list", py, "no_such_kpcap_fn"); code != 1 || !strings.Contains(stderr, "no function or USDT marker matches") {
		t.Errorf("list PY no_such: exit %d, %s", code, stderr)
	}
	if _, _, code := runKpcap(t, bin, "list", "-v"); code != 2 {
		t.Errorf("list -v without NAME: exit %d, want 2", code)
	}
}

// TestListKernel lists the host kernel's tracepoints and functions (root:
// tracefs), its features, and pipes into a reader that stops early.
func TestListKernel(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("kpcap list of the kernel needs Linux and root")
		}
		t.Skip("kpcap list of the kernel needs Linux and root")
	}
	bin := buildKpcap(t)
	out, stderr, code := runKpcap(t, bin, "list", "sched:sched_switch")
	if code != 0 || out != "tracepoint sched:sched_switch\n" {
		t.Errorf("list sched:sched_switch: exit %d, %q, %s", code, out, stderr)
	}
	out, stderr, code = runKpcap(t, bin, "list", "--json", "vfs_rea?")
	if code != 0 || !strings.Contains(out, `{"type":"function","name":"vfs_read"}`) {
		t.Errorf("list --json vfs_rea?: exit %d, %q, %s", code, out, stderr)
	}
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil && !strings.Contains(stderr, "kprobes are unavailable") {
		t.Errorf("no kprobes here, but list does not say so: %s", stderr)
	}
	out, stderr, code = runKpcap(t, bin, "list", "--features", "--json")
	var k struct {
		Release  string `json:"release"`
		Features []struct {
			Name      string `json:"name"`
			Supported bool   `json:"supported"`
		} `json:"features"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || code != 0 || len(k.Features) < 10 {
		t.Fatalf("--features --json: %v, exit %d: %s %s", err, code, out, stderr)
	}
	if _, stderr, code := runKpcap(t, bin, "list", "no_such_kpcap_fn*"); code != 1 || !strings.Contains(stderr, "nothing matches") {
		t.Errorf("list no_such: exit %d, %s", code, stderr)
	}
	out, stderr, code = runKpcap(t, bin, "list", "-v", "sched:sched_switch")
	if code != 0 || !strings.Contains(out, " next_pid;") {
		t.Errorf("list -v sched:sched_switch: exit %d, %q, %s", code, out, stderr)
	}

	// Everything, read line by line; the reader stops after 10 lines and
	// kpcap must end (SIGPIPE) instead of writing on.
	cmd := exec.Command(bin, "list", "-q")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	for i := 0; i < 10 && sc.Scan(); i++ {
		if !strings.HasPrefix(sc.Text(), "tracepoint ") {
			t.Errorf("first lines are tracepoints, got %q", sc.Text())
		}
	}
	pipe.Close()
	cmd.Wait()
}
