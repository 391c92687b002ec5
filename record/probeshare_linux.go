//go:build linux

package record

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// shareProbes turns every PMU probe the perf path opens on more than one
// CPU, or filters, into one tracefs probe whose event is opened per CPU.
// Each open of the kprobe or uprobe PMU creates a kernel probe of its own
// (perf_kprobe_init: create_local_trace_kprobe; perf_uprobe_init:
// create_local_trace_uprobe), so per-CPU opens would register the function
// once per CPU: every hit runs every CPU's handler, and every kretprobe
// after the first on a function records the return trampoline the first
// one planted as __probe_ret_ip. Such a local event is never registered
// with ftrace either, so it has no field list and the kernel refuses any
// filter on it (EINVAL). One unfiltered open (a single CPU, or the BPF
// path's attachment) keeps the PMU, which leaves nothing behind. It runs
// once the sources' paths are final.
func (r *resolver) shareProbes(sources []*source, cpus int) error {
	var shared []*source
	for _, s := range sources {
		if s.desc.Path != PathBPF && s.probe != nil && s.attr.Type != unix.PERF_TYPE_TRACEPOINT && (cpus > 1 || s.filter) {
			shared = append(shared, s)
		}
	}
	start := time.Now()
	for i, s := range shared {
		if err := r.shareProbe(s, cpus); err != nil {
			return err
		}
		if r.attaching != nil {
			r.attaching("probes", i+1, len(shared))
		}
	}
	if len(shared) >= manyProbes {
		r.note(fmt.Sprintf("%d probes created through tracefs in %.2fs", len(shared), time.Since(start).Seconds()))
	}
	return nil
}

// shareProbe creates PMU probe source s through tracefs. Its format keeps
// the text synthesized for the PMU, which names the probe as the user did,
// with the event's ID, when the kernel's format has the same fields (it
// has: the same entry struct); otherwise it becomes the kernel's.
func (r *resolver) shareProbe(s *source, cpus int) error {
	why := fmt.Sprintf("one probe shared by the %d recorded CPUs (--cpu with one CPU records through the probe PMU)", cpus)
	if cpus == 1 {
		why = "a filter (the kernel filters no probe PMU event)"
	}
	text, err := r.createTracefsProbe(s.probe, s, s.desc.Definition, why)
	if err != nil {
		return err
	}
	if !maps.Equal(parseFields(text), parseFields(s.desc.Format)) {
		s.desc.Format = text
		s.layout, _ = parseLayout(text)
		return nil
	}
	s.desc.Format = formatWithID(s.desc.Format, s.attr.Config)
	return nil
}

// formatWithID replaces the ID line of format text.
func formatWithID(text string, id uint64) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "ID:") {
			lines[i] = fmt.Sprintf("ID: %d", id)
			break
		}
	}
	return strings.Join(lines, "\n")
}
