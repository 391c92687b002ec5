//go:build linux

package record

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/internal/perf"
)

// TestBPFCallchainsMatchPerf records with -g through perf and through BPF
// at the same time and compares every sample's call chain entry by entry
// (markers included) beside its fields: sched_switch of the workload
// thread (a kernel and a user stack) and a uprobe (a user stack only).
func TestBPFCallchainsMatchPerf(t *testing.T) {
	requireRoot(t)
	t.Run("sched_switch", func(t *testing.T) {
		ft := startFilterThread(t)
		srcs := func() []*source { return []*source{tracepointSource(t, "sched", "sched_switch")} }
		perfF, bpfF := recordBothPaths(t, Options{CallGraph: true, Filter: fmt.Sprintf("prev_pid == %d", ft.tid)}, srcs, func() { ft.run(3000) })
		checkChains(t, perfF, bpfF, true)
	})
	t.Run("uprobe", func(t *testing.T) {
		if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
			need(t, "needs the uprobe PMU")
		}
		bin := buildStepper(t, "-fno-omit-frame-pointer") // user stacks are walked by frame pointer
		var pid int
		perfF, bpfF := recordBothPaths(t, Options{CallGraph: true, Probes: []string{"p " + bin + ":kpcap_step"}}, nil, func() {
			cmd := exec.Command(bin, "500")
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatal(err)
				}
			}
			pid = cmd.Process.Pid
		})
		if n := len(fileSamples(t, bpfF)); n != 500 {
			t.Errorf("bpf samples %d, want 500 (pid %d)", n, pid)
		}
		checkChains(t, perfF, bpfF, false)
	})
}

// checkChains compares two recordings' samples (see compareFiltered, which
// compares call chains too) and checks that most chains have what they
// should: a user part of two ips or more, a kernel part when kernel is
// set.
func checkChains(t *testing.T, perfF, bpfF *format.File, kernel bool) {
	t.Helper()
	for i, s := range bpfF.Header.Sources {
		if s.Path != format.PathBPF {
			t.Errorf("source %d %s: path %q in the file, want bpf", i, s.Name, s.Path)
		}
	}
	perfS, bpfS := fileSamples(t, perfF), fileSamples(t, bpfF)
	if len(perfS) != len(bpfS) || len(bpfS) == 0 {
		t.Fatalf("samples: perf %d, bpf %d", len(perfS), len(bpfS))
	}
	compareFiltered(t, perfS, bpfS, bpfF)
	entries, full := 0, 0
	for _, s := range bpfS {
		var k, u int
		part := &k
		for _, ip := range s.Callchain {
			switch ip {
			case perf.ContextKernel:
				part = &k
			case perf.ContextUser:
				part = &u
			default:
				*part++
			}
		}
		if u >= 2 && kernel == (k > 0) {
			full++
		}
		entries += len(s.Callchain)
	}
	// A task's user stack can end early (Go's runtime assembly keeps no
	// frame pointers) or be absent (an exiting task): most must be whole.
	if full < len(bpfS)/2 {
		t.Errorf("%d of %d call chains have two user ips or more and a kernel part %v", full, len(bpfS), kernel)
	}
	t.Logf("%d call chains (%d entries) equal", len(bpfS), entries)
}
