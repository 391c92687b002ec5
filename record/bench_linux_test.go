//go:build linux

package record

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// workloadEnv makes the test binary a workload process instead of running
// tests: "getppid:N:THREADS" calls getppid N times spread over THREADS
// locked threads, then exits; "getppid-paced:N:MS" makes N calls spread
// evenly over MS milliseconds on one thread, "getppid-paced-mark:N:MS" the
// same with the marker getpgid(markPID) 11/12 of the way;
// "getppid-until:N:THREADS" goes on past N calls until a file is deleted
// (see getppidUntil).
const workloadEnv = "KPCAP_TEST_WORKLOAD"

// markEnv, if set, is the pid getppid-paced-mark asks about instead of
// markPID: a test recording the whole system sees its own workload's mark
// only, not that of another test run at the same time.
const markEnv = "KPCAP_TEST_MARK"

// markPID is the pid the getppid-mark workload asks getpgid about: its
// sys_enter_getpgid event marks the middle of the workload.
const markPID = 424242

func init() {
	w := os.Getenv(workloadEnv)
	if w == "" || len(os.Args) > 1 && os.Args[1] == childMarker {
		return // not a workload, or still the helper before its exec
	}
	parts := strings.Split(w, ":")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "getppid") {
		os.Exit(99)
	}
	if parts[0] == "getppid-stdin" { // wait for a line on stdin first
		var b [1]byte
		os.Stdin.Read(b[:])
	}
	n, _ := strconv.Atoi(parts[1])
	threads, _ := strconv.Atoi(parts[2])
	if parts[0] == "getppid-until" {
		getppidUntil(n, threads)
	}
	if parts[0] == "getppid-paced" || parts[0] == "getppid-paced-mark" {
		ms := threads
		runtime.LockOSThread()
		start := time.Now()
		const batch = 1000
		mark := -1
		markArg := uintptr(markPID)
		if parts[0] == "getppid-paced-mark" {
			mark = n / batch * 11 / 12 * batch // a batch boundary 11/12 of the way
			if v, err := strconv.ParseUint(os.Getenv(markEnv), 10, 32); err == nil {
				markArg = uintptr(v)
			}
		}
		for done := 0; done < n; {
			if done == mark {
				unix.Syscall(unix.SYS_GETPGID, markArg, 0, 0)
			}
			for range min(batch, n-done) {
				unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
			}
			done += min(batch, n-done)
			due := start.Add(time.Duration(done) * time.Duration(ms) * time.Millisecond / time.Duration(n))
			time.Sleep(time.Until(due))
		}
		os.Exit(0)
	}
	if parts[0] == "getppid-mark" {
		// n calls, the marker getpgid(markPID) (which fails), n more.
		runtime.LockOSThread()
		for range n {
			unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		unix.Syscall(unix.SYS_GETPGID, markPID, 0, 0)
		for range n {
			unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		os.Exit(0)
	}
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			runtime.LockOSThread()
			for j := 0; j < k; j++ {
				unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
			}
		}(n/threads + btoi(i < n%threads))
	}
	wg.Wait()
	os.Exit(0)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordGetppid records sys_enter_getppid from a child process
// making b.N syscalls on two threads: events/s with the loss, recorder CPU
// per million events and bytes per event.
func BenchmarkRecordGetppid(b *testing.B) {
	requireRoot(b)
	n := max(b.N, 100000)
	src := tracepointSource(b, "syscalls", "sys_enter_getppid")
	out := filepath.Join(b.TempDir(), "b.pcapng.zst")
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	os.Setenv(workloadEnv, "getppid:"+strconv.Itoa(n)+":2")
	defer os.Unsetenv(workloadEnv)
	ctx, cancel := contextWithTimeout(5 * time.Minute)
	defer cancel()
	cpu0 := cpuTime()
	t0 := time.Now()
	b.ResetTimer()
	res, err := runDirect(ctx, Options{Command: []string{exe}, Output: out}, src)
	b.StopTimer()
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	if err != nil {
		b.Fatal(err)
	}
	if res.ExitCode != 0 {
		b.Fatalf("workload exit %d", res.ExitCode)
	}
	if res.Samples+res.Lost != uint64(n) {
		b.Errorf("samples %d + lost %d != %d", res.Samples, res.Lost, n)
	}
	b.ReportMetric(float64(res.Samples)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(res.Lost), "lost")
	b.ReportMetric(cpu.Seconds()*1e6/float64(n), "cpu-s/Mevents")
	b.ReportMetric(float64(res.Bytes)/float64(n), "B/event")
}
