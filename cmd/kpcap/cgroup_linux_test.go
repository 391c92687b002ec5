//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// getppidEnv makes this test binary a workload: it calls getppid N times
// on its main thread and exits.
const getppidEnv = "KPCAP_CMDTEST_GETPPID"

func init() {
	if v := os.Getenv(getppidEnv); v != "" {
		n, _ := strconv.Atoi(v)
		getppids(n)
		os.Exit(0)
	}
}

// cgroup2MountForTest finds the unified hierarchy or skips (fails under CI).
func cgroup2MountForTest(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		if pf := strings.Fields(pre); strings.HasPrefix(post, "cgroup2 ") && len(pf) >= 5 {
			found = append(found, pf[4])
		}
	}
	for _, m := range found {
		if m == "/sys/fs/cgroup" {
			return m
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: no cgroup2 mount")
	}
	t.Skip("no cgroup2 mount")
	return ""
}

// TestRecordCgroupCLI records getppid entry and exit restricted to a cgroup
// made here, with 300 calls from a process in its child a, 200 from one in
// its child b and 250 from one outside; summary counts events per cgroup
// and latency --by cgroup pairs each cgroup's calls.
func TestRecordCgroupCLI(t *testing.T) {
	recordNeedRoot(t)
	mount := cgroup2MountForTest(t)
	bin := buildKpcap(t)
	parent := filepath.Join(mount, fmt.Sprintf("kpcap-test-cli-%d", os.Getpid()))
	dirs := []string{parent, parent + "/a", parent + "/b"}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runIn := func(dir string, n int) {
		t.Helper()
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), getppidEnv+"="+strconv.Itoa(n))
		if dir != "" {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("workload in %q: %v %s", dir, err, out)
		}
	}
	out := filepath.Join(t.TempDir(), "cg.pcapng.zst")
	rec, stderr := startRecord(t, bin, out, "-e", "syscalls:sys_enter_getppid", "-e", "syscalls:sys_exit_getppid", "--cgroup", parent, "-q")
	runIn(parent+"/a", 300)
	runIn(parent+"/b", 200)
	runIn("", 250)
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("kpcap record: %v\n%s", err, stderr)
	}
	rel := strings.TrimPrefix(parent, mount)

	sout, err := exec.Command(bin, "analyze", "summary", "--json", out).Output()
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	var sum struct {
		Events  uint64 `json:"events"`
		Cgroups []struct {
			Name  string `json:"name"`
			Count uint64 `json:"count"`
		} `json:"cgroups"`
	}
	if err := json.Unmarshal(sout, &sum); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, sout)
	}
	got := map[string]uint64{}
	for _, c := range sum.Cgroups {
		got[c.Name] = c.Count
	}
	if sum.Events != 1000 || got[rel+"/a"] != 600 || got[rel+"/b"] != 400 || len(got) != 2 {
		t.Errorf("summary: %d events, cgroups %v; want 1000 events, %s/a 600 and %s/b 400", sum.Events, got, rel, rel)
	}

	lout, err := exec.Command(bin, "analyze", "latency", "--by", "cgroup", "--json", out).Output()
	if err != nil {
		t.Fatalf("latency --by cgroup: %v", err)
	}
	var lat struct {
		Latency []struct {
			Name  string `json:"name"`
			Group string `json:"group"`
			Count uint64 `json:"count"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(lout, &lat); err != nil {
		t.Fatalf("latency JSON: %v\n%s", err, lout)
	}
	pairs := map[string]uint64{}
	for _, f := range lat.Latency {
		pairs[f.Group] += f.Count
	}
	if pairs[rel+"/a"] != 300 || pairs[rel+"/b"] != 200 || len(pairs) != 2 {
		t.Errorf("latency --by cgroup: %v; want %s/a 300 and %s/b 200 pairs", pairs, rel, rel)
	}
	text, _ := exec.Command(bin, "analyze", "summary", out).Output()
	if !strings.Contains(string(text), "Top cgroups:") || !strings.Contains(string(text), rel+"/a") {
		t.Errorf("summary text has no cgroup table:\n%s", text)
	}

	// A trace recorded without --cgroup says how to get one.
	plain := filepath.Join(t.TempDir(), "plain.pcapng.zst")
	rec, stderr = startRecord(t, bin, plain, "-e", "syscalls:sys_enter_getppid", "-q")
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("kpcap record: %v\n%s", err, stderr)
	}
	msg, err := exec.Command(bin, "analyze", "latency", "--by", "cgroup", plain).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(msg), "record with kpcap record --cgroup") {
		t.Errorf("latency --by cgroup on a plain trace: exit %d, %s", exitCode(err), msg)
	}
	// Usage mistakes exit 2 with the cause.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cgroup", "kpcap-no-such.service", "-d", "1"}, "is it running?"},
		{[]string{"--cgroup", "/", "--pid", "1", "-d", "1"}, "cannot be combined"},
	} {
		msg, err := exec.Command(bin, append([]string{"record", "-o", filepath.Join(t.TempDir(), "x"), "-e", "syscalls:sys_enter_getppid"}, c.args...)...).CombinedOutput()
		if exitCode(err) != 2 || !strings.Contains(string(msg), c.want) {
			t.Errorf("record %v: exit %d, %s; want 2 and %q", c.args, exitCode(err), msg, c.want)
		}
	}
}
