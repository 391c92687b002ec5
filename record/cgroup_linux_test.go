//go:build linux

package record

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// testCgroup makes a cgroup v2 directory for one test (below dir, relative
// to the cgroup2 mount, when given) and removes it at the end.
func testCgroup(t *testing.T, mount, name string) string {
	t.Helper()
	dir := filepath.Join(mount, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("make test cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove test cgroup %s: %v", dir, err)
		}
	})
	return dir
}

// cgroupMountForTest returns the cgroup2 mount, or skips (fails under CI).
func cgroupMountForTest(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	mount, err := cgroup2Mount()
	if err != nil {
		need(t, err.Error())
	}
	return mount
}

// workloadIn starts this test binary as a getppid workload of n calls on
// threads threads, inside cgroup dir ("" for the test's own cgroup). It
// waits for a byte on stdin before calling; go() sends it, wait() reaps it.
type workloadProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startWorkloadIn(t *testing.T, dir string, n, threads int) *workloadProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=getppid-stdin:%d:%d", workloadEnv, n, threads))
	if dir != "" {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		// clone3 into the cgroup: the process is inside from its first instruction.
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start workload in %q: %v", dir, err)
	}
	p := &workloadProc{cmd: cmd, stdin: w}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

func (p *workloadProc) pid() uint32 { return uint32(p.cmd.Process.Pid) }

func (p *workloadProc) run(t *testing.T) {
	t.Helper()
	if _, err := p.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	p.stdin.Close()
}

func (p *workloadProc) wait(t *testing.T) {
	t.Helper()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
}

// TestCgroupRecording records getppid system-wide restricted to a cgroup
// made here, with workloads in two child cgroups and one outside: the file
// holds exactly the calls of the processes inside, each sample names its
// child cgroup, and none of the outside process's calls.
func TestCgroupRecording(t *testing.T) {
	mount := cgroupMountForTest(t)
	parent := testCgroup(t, mount, fmt.Sprintf("kpcap-test-%d", os.Getpid()))
	a := testCgroup(t, parent, "a")
	b := testCgroup(t, parent, "b")
	rel := func(d string) string { return strings.TrimPrefix(d, mount) }
	const nA, nB, nOut = 30000, 20000, 25000

	for _, tc := range []struct {
		name    string
		cgroups []string
	}{
		{"parent", []string{parent}},
		// a inside parent: dropped, else a's events would be recorded twice;
		// the relative spelling resolves against the mount.
		{"repeated", []string{a, strings.TrimPrefix(rel(parent), "/")}},
		{"children", []string{rel(a), b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inA := startWorkloadIn(t, a, nA, 2)
			inB := startWorkloadIn(t, b, nB, 1)
			out := startWorkloadIn(t, "", nOut, 1)
			res, f := recordWhile(t, Options{Events: []string{"syscalls:sys_enter_getppid"}, Cgroups: tc.cgroups}, nil, func() {
				for _, p := range []*workloadProc{inA, inB, out} {
					p.run(t)
				}
				for _, p := range []*workloadProc{inA, inB, out} {
					p.wait(t)
				}
			})
			if res.Lost != 0 {
				t.Fatalf("lost %d samples", res.Lost)
			}
			byPID := map[uint32]int{}
			byCgroup := map[string]int{}
			it := f.Samples()
			for it.Next() {
				s := it.Sample()
				byPID[s.PID]++
				cg, ok := f.CgroupOf(s.TID, s.Time)
				if !ok {
					cg = "(none)"
				}
				byCgroup[cg]++
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			t.Logf("samples by pid %v, by cgroup %v (a=%d b=%d outside=%d)", byPID, byCgroup, inA.pid(), inB.pid(), out.pid())
			if byPID[inA.pid()] != nA || byPID[inB.pid()] != nB {
				t.Errorf("inside: %d and %d samples, want exactly %d and %d", byPID[inA.pid()], byPID[inB.pid()], nA, nB)
			}
			if byPID[out.pid()] != 0 {
				t.Errorf("outside process: %d samples, want none", byPID[out.pid()])
			}
			if len(byPID) != 2 {
				t.Errorf("samples of other processes: %v", byPID)
			}
			if byCgroup[rel(a)] != nA || byCgroup[rel(b)] != nB || len(byCgroup) != 2 {
				t.Errorf("by cgroup %v, want %s=%d %s=%d", byCgroup, rel(a), nA, rel(b), nB)
			}
		})
	}
}

// TestCgroupResolve resolves the spellings of --cgroup: directory, path
// relative to the mount, systemd unit name, container id (from a process
// in a cgroup named like docker's), and the errors for what names nothing.
func TestCgroupResolve(t *testing.T) {
	mount := cgroupMountForTest(t)
	id := fmt.Sprintf("%064x", os.Getpid()*7919+0xabcdef)
	parent := testCgroup(t, mount, fmt.Sprintf("kpcap-test-resolve-%d", os.Getpid()))
	unit := testCgroup(t, parent, fmt.Sprintf("kpcap-test-%d.service", os.Getpid()))
	ctr := testCgroup(t, parent, "docker-"+id+".scope")
	p := startWorkloadIn(t, ctr, 1, 1)
	defer func() { p.run(t); p.wait(t) }()

	for _, c := range []struct{ arg, want string }{
		{parent, parent},
		{strings.TrimPrefix(parent, mount), parent},
		{strings.TrimPrefix(parent, mount+"/"), parent},
		{filepath.Base(unit), unit},
		{id[:12], ctr},
		{id, ctr},
	} {
		got, err := resolveCgroup(mount, c.arg)
		if err != nil || got != c.want {
			t.Errorf("resolveCgroup(%q) = %q, %v; want %q", c.arg, got, err, c.want)
		}
	}
	for _, c := range []struct{ arg, want string }{
		{"kpcap-no-such.service", "is it running?"},
		{"0123456789abcdef0123", "no process is in a cgroup named after this container id"},
		{"/tmp", "not in the cgroup v2 hierarchy"},
		{"no/such/cgroup", "no such cgroup"},
	} {
		_, err := resolveCgroup(mount, c.arg)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resolveCgroup(%q) = %v; want a usage error saying %q", c.arg, err, c.want)
		}
	}
	// The walk learns the ids perf reports: the directories' inode numbers.
	st, err := resolveCgroups([]string{parent})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var sb unix.Stat_t
	if err := unix.Stat(ctr, &sb); err != nil {
		t.Fatal(err)
	}
	if got := st.paths[sb.Ino]; got != strings.TrimPrefix(ctr, mount) {
		t.Errorf("path of id %d = %q, want %q", sb.Ino, got, strings.TrimPrefix(ctr, mount))
	}
}

// TestCgroupWithPIDRefused checks the usage error for --cgroup with --pid.
func TestCgroupWithPIDRefused(t *testing.T) {
	_, err := Run(t.Context(), Options{Cgroups: []string{"/"}, PID: os.Getpid(), Output: filepath.Join(t.TempDir(), "x")})
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("Run = %v, want a usage error", err)
	}
}
