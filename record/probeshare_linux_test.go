//go:build linux

package record

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestProbeSharedAcrossCPUs records a uprobe and a uretprobe without fetch
// arguments system-wide: on every CPU they are one tracefs probe each in
// kpcap's group while recording (the PMU would create one kernel probe per
// CPU, each running its handler on every hit), gone afterwards, and the
// file names and lays them out as the PMU probe of a one-CPU capture does,
// with the event's real ID. On one CPU the PMU is kept (nothing in
// uprobe_events) but for a probe with a filter, which the kernel applies
// to tracefs events only.
func TestProbeSharedAcrossCPUs(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	cpus, err := selectCPUs(nil)
	if err != nil || len(cpus) < 2 {
		need(t, "needs two online CPUs")
	}
	const events = "/sys/kernel/tracing/uprobe_events"
	if _, err := os.Stat(events); err != nil {
		need(t, "needs tracefs uprobe_events at /sys/kernel/tracing")
	}
	bin := buildSleeper(t)
	probes := []string{"p:test/work " + bin + ":kpcap_work", "r:test/work_ret " + bin + ":kpcap_work"}
	ours := func() []string {
		b, err := os.ReadFile(events)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, ":kpcap_") && strings.Contains(l, bin) {
				out = append(out, l)
			}
		}
		return out
	}
	one := strconv.Itoa(cpus[0])
	for _, c := range []struct {
		name   string
		cpus   []int
		filter string
		shared [2]bool // per probe: created through tracefs
	}{
		{"all CPUs", nil, "", [2]bool{true, true}},
		{"one CPU", []int{cpus[0]}, "", [2]bool{}},
		// Only the entry probe has __probe_ip; the return probe stays a PMU probe.
		{"one CPU filtered", []int{cpus[0]}, "__probe_ip != 0", [2]bool{true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var during []string
			out := filepath.Join(t.TempDir(), "u.pcapng.zst")
			res, f := recordWhile(t, Options{Probes: probes, Output: out, CPUs: c.cpus, Filter: c.filter}, nil, func() {
				during = ours()
				exec.Command("taskset", "-c", one, bin, "30").Run() // exits 7 on purpose
			})
			defer f.Close()
			want := 0
			for i, s := range f.Header.Sources {
				checkSharedSource(t, s, probes[i], c.shared[i])
				if c.shared[i] {
					want++
				}
			}
			if len(during) != want {
				t.Errorf("uprobe_events while recording: %q, want %d probes of kpcap's", during, want)
			}
			if left := ours(); len(left) != 0 {
				t.Errorf("left in uprobe_events: %q", left)
			}
			checkUprobeTrace(t, out, 30, false)
			t.Logf("%d samples", res.Samples)
		})
	}
}

// checkSharedSource checks that source s, defined by def, keeps the PMU
// probe's definition and format (name and fields), and has its event's
// real ID when shared.
func checkSharedSource(t *testing.T, s format.Source, def string, shared bool) {
	t.Helper()
	if s.Definition != def {
		t.Errorf("definition %q, want %q as given", s.Definition, def)
	}
	name := "name: " + strings.Replace(s.Name, ":", "/", 1) + "\n"
	if !strings.HasPrefix(s.Format, name) {
		t.Errorf("%s: format does not start with %q:\n%s", s.Name, name, s.Format)
	}
	if hasZeroID := strings.Contains(s.Format, "\nID: 0\n"); hasZeroID == shared {
		t.Errorf("%s (shared %v): format ID:\n%s", s.Name, shared, s.Format)
	}
}
