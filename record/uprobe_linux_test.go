//go:build linux

package record

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kpcap/kpcap/format"
)

const sleeperC = `
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) void kpcap_work(long ns) {
	struct timespec ts = {0, ns};
	nanosleep(&ts, 0);
}
int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	for (int i = 0; i < n; i++) kpcap_work(2000000);
	return 7;
}
`

// buildSleeper compiles a C program whose kpcap_work sleeps 2 ms per call.
func buildSleeper(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		need(t, "needs gcc to build the uprobe target")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "sleeper.c")
	bin := filepath.Join(dir, "sleeper")
	if err := os.WriteFile(src, []byte(sleeperC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-O1", "-fno-omit-frame-pointer", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func readAll(t *testing.T, f *format.File) []format.Sample {
	t.Helper()
	var out []format.Sample
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		s.Raw = slices.Clone(s.Raw)
		s.Callchain = slices.Clone(s.Callchain)
		out = append(out, s)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUprobeLatency pairs uprobe and uretprobe samples of a function that
// sleeps 2 ms: through the uprobe PMU system-wide, and through tracefs
// uprobes (PMU events cannot be inherited) when following a command that
// forks.
func TestUprobeLatency(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	bin := buildSleeper(t)
	probes := []string{"p:test/work " + bin + ":kpcap_work", "r:test/work_ret " + bin + ":kpcap_work"}
	t.Run("command", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "u.pcapng.zst")
		// two children: the probes must survive fork (inherited events)
		res, err := runCommand(t, Options{
			Probes:    probes,
			Command:   []string{"/bin/sh", "-c", bin + " 20; " + bin + " 20"},
			Output:    out,
			CallGraph: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 7 {
			t.Errorf("exit code %d, want 7", res.ExitCode)
		}
		checkUprobeTrace(t, out, 40, true)
	})
	t.Run("system-wide", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "u.pcapng.zst")
		recordWhile(t, Options{Probes: probes, Output: out}, nil, func() {
			exec.Command(bin, "30").Run() // exits 7 on purpose
		})
		checkUprobeTrace(t, out, 30, false)
	})
}

func checkUprobeTrace(t *testing.T, out string, n int, callGraph bool) {
	t.Helper()
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Header
	if len(h.Sources) != 2 || h.Sources[0].Name != "test:work" || h.Sources[1].Name != "test:work_ret" {
		t.Fatalf("sources %+v", h.Sources)
	}
	if h.Sources[0].Target != h.Sources[1].Target || h.Sources[0].Kind != format.KindUprobe || h.Sources[1].Kind != format.KindUretprobe {
		t.Errorf("entry/return sources disagree: %+v", h.Sources)
	}
	samples := readAll(t, f)
	var entries, rets int
	var lat []time.Duration
	open := map[uint32]uint64{}
	var entryIP uint64
	for _, s := range samples {
		switch s.Source {
		case 0:
			entries++
			open[s.TID] = s.Time
			if len(s.Raw) != 16 {
				t.Fatalf("uprobe payload %d bytes, want 16 (common header + __probe_ip)", len(s.Raw))
			}
			entryIP = binary.LittleEndian.Uint64(s.Raw[8:])
		case 1:
			rets++
			if len(s.Raw) != 24 {
				t.Fatalf("uretprobe payload %d bytes, want 24 (common header + __probe_func + __probe_ret_ip)", len(s.Raw))
			}
			if fn := binary.LittleEndian.Uint64(s.Raw[8:]); fn != entryIP {
				t.Errorf("uretprobe __probe_func %#x, uprobe __probe_ip %#x", fn, entryIP)
			}
			if t0, ok := open[s.TID]; ok {
				lat = append(lat, time.Duration(s.Time-t0))
				delete(open, s.TID)
			}
		}
	}
	if entries != n || rets != n || len(lat) != n {
		t.Fatalf("entries %d returns %d pairs %d, want %d each", entries, rets, len(lat), n)
	}
	slices.Sort(lat)
	med := lat[len(lat)/2]
	t.Logf("kpcap_work latency: min %v median %v max %v", lat[0], med, lat[len(lat)-1])
	if lat[0] < 2*time.Millisecond || med > 20*time.Millisecond {
		t.Errorf("latencies %v..%v, median %v: want >= 2ms and near it", lat[0], lat[len(lat)-1], med)
	}
	if !callGraph {
		return
	}
	// The user stack of the entry probe resolves to kpcap_work and main.
	names := map[string]bool{}
	for _, s := range samples {
		if s.Source != 0 {
			continue
		}
		for _, ip := range s.Callchain {
			if fr, ok := f.UserSymbol(s.PID, ip); ok {
				names[fr.Name] = true
			}
		}
	}
	if !names["kpcap_work"] || !names["main"] {
		t.Errorf("user frames resolved %v, want kpcap_work and main", names)
	}
	if c := f.CommOf(samples[0].PID, samples[0].TID, samples[0].CPU, samples[0].Time); c != "sleeper" {
		t.Errorf("comm of traced pid %q, want sleeper (comms: %d)", c, len(f.Comms))
	}
}

// runCommand records opts until its command exits.
func runCommand(t *testing.T, opts Options) (*Result, error) {
	t.Helper()
	ctx, cancel := contextWithTimeout(60 * time.Second)
	defer cancel()
	return Run(ctx, opts)
}
