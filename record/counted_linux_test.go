//go:build linux

package record

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ftraceInstance is a private tracefs instance counting one event with a
// filter: an independent count of the hits kpcap records.
type ftraceInstance struct {
	dir, event string
}

func newFtraceInstance(t *testing.T, event, filter string) *ftraceInstance {
	t.Helper()
	dir := filepath.Join("/sys/kernel/tracing/instances", fmt.Sprintf("kpcap_test_%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		need(t, "tracefs instance: "+err.Error())
	}
	in := &ftraceInstance{dir: dir, event: strings.ReplaceAll(event, ":", "/")}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "events", in.event, "enable"), []byte("0"), 0)
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	in.write(t, "buffer_size_kb", "8192")
	in.write(t, filepath.Join("events", in.event, "filter"), filter)
	return in
}

func (in *ftraceInstance) write(t *testing.T, name, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(in.dir, name), []byte(v), 0); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

func (in *ftraceInstance) enable(t *testing.T, on bool) {
	t.Helper()
	in.write(t, filepath.Join("events", in.event, "enable"), map[bool]string{true: "1", false: "0"}[on])
}

// count returns the events in the instance's buffer; it fails the test if
// the buffer overran.
func (in *ftraceInstance) count(t *testing.T) int {
	t.Helper()
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		b, err := os.ReadFile(filepath.Join(in.dir, "per_cpu", fmt.Sprintf("cpu%d", cpu), "stats"))
		if err != nil {
			continue
		}
		if !strings.Contains(string(b), "overrun: 0\n") {
			t.Fatalf("ftrace instance overran on CPU %d:\n%s", cpu, b)
		}
	}
	f, err := os.Open(filepath.Join(in.dir, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCountedTracepointOneSamplePerHit records sched:sched_stat_runtime,
// which passes the runtime in ns to perf as the event count: every hit must
// give one sample carrying that count as its period (not one sample per
// ns), and the hits must match an ftrace instance's independent count.
func TestCountedTracepointOneSamplePerHit(t *testing.T) {
	requireRoot(t)
	src := tracepointSource(t, "sched", "sched_stat_runtime")

	// A thread that runs, sleeps briefly and runs again: each tick and
	// each switch away from it is a hit.
	tidc := make(chan int, 1)
	start, done, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		<-start
		for i := 0; i < 30; i++ {
			for end := time.Now().Add(8 * time.Millisecond); time.Now().Before(end); {
			}
			unix.Nanosleep(&unix.Timespec{Nsec: 500_000}, nil)
		}
		close(done)
		<-release // stay blocked until both counts are stopped
	}()
	defer close(release)
	tid := <-tidc
	time.Sleep(100 * time.Millisecond) // its blocking hit happens before either count

	filter := fmt.Sprintf("common_pid == %d", tid)
	ft := newFtraceInstance(t, "sched:sched_stat_runtime", filter)
	ft.enable(t, true)
	res, f := recordWhile(t, Options{Filter: filter}, []*source{src}, func() {
		close(start)
		<-done
		time.Sleep(100 * time.Millisecond) // the thread blocks: its last hit
	})
	ft.enable(t, false)
	independent := ft.count(t)

	samples, withPeriod := 0, 0
	var periodSum, runtimeSum uint64
	seen := map[uint64]int{}
	it := f.Samples()
	ev := f.Header.Sources[0].Format
	off := fieldOffset(t, ev, "runtime")
	for it.Next() {
		s := it.Sample()
		samples++
		seen[s.Time]++
		if s.HasPeriod {
			withPeriod++
		}
		periodSum += s.Weight()
		if len(s.Raw) >= off+8 {
			runtimeSum += binary.LittleEndian.Uint64(s.Raw[off:])
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kpcap: %d samples (%d with a period), lost %d; ftrace instance: %d hits; runtime %d ns",
		samples, withPeriod, res.Lost, independent, runtimeSum)
	if samples == 0 {
		t.Fatal("no sched_stat_runtime sample of the busy thread")
	}
	for ts, n := range seen {
		if n > 1 {
			t.Errorf("%d samples at the same time %d: one hit recorded several times", n, ts)
			break
		}
	}
	if res.Lost != 0 || uint64(samples) != res.Samples {
		t.Errorf("result: %d samples, %d lost; file: %d samples", res.Samples, res.Lost, samples)
	}
	if samples != independent {
		t.Errorf("kpcap recorded %d hits, the ftrace instance %d", samples, independent)
	}
	if periodSum != runtimeSum {
		t.Errorf("periods sum to %d, the runtime fields to %d", periodSum, runtimeSum)
	}
	if withPeriod == 0 {
		t.Error("no sample carries its count as a period")
	}
	if len(f.Stats) != 1 || f.Stats[0].Received != uint64(samples) || f.Stats[0].Dropped != 0 {
		t.Errorf("file stats %+v, want %d received, 0 dropped", f.Stats, samples)
	}
}

// fieldOffset returns the offset of a field in a tracefs format text.
func fieldOffset(t *testing.T, text, name string) int {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, " "+name+";") {
			continue
		}
		var off int
		if i := strings.Index(line, "offset:"); i >= 0 {
			fmt.Sscanf(line[i:], "offset:%d;", &off)
			return off
		}
	}
	t.Fatalf("no field %s in format", name)
	return 0
}
