//go:build linux

package vmtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// probeRun is one recording of the bpfprobes job, made on both paths: its
// sources, the command whose samples are compared and how many it makes of
// each at least.
type probeRun struct {
	sources []string
	comm    string
	min     int
	chains  bool // recorded with -g: every sample has a kernel call chain
	// strings are the __data_loc fields of the BPF path's samples that
	// must hold a string (true: of a byte or more besides its NUL) or
	// nothing (false: unreadable).
	strings map[string]bool
}

// probeRuns are the bpfprobes job's recordings; "uprobes" probes
// kpcap-stepper, built for x86-64 only.
var probeRuns = map[string]probeRun{
	"probes":  {[]string{"kprobes:open", "kprobes:openret", "kprobes:openpmu"}, "cat", 40, false, nil},
	"retpmu":  {[]string{"kprobes:filpretpmu"}, "cat", 40, false, nil},
	"kfilter": {[]string{"kprobes:openf"}, "cat", 40, false, nil},
	"kstack":  {[]string{"kprobes:openg"}, "cat", 40, true, nil},
	"kstrings": {[]string{"kprobes:opens", "kprobes:filps"}, "cat", 40, false,
		map[string]bool{"name": true, "uname": true, "c": true, "kname": true, "bad": false, "k": true}},
	"kexec":   {[]string{"sched:sched_process_exec"}, "kpb-exec.sh", 20, false, map[string]bool{"filename": true}},
	"uprobes": {[]string{"test:step", "test:step_ret", "test:steppmu", "test:step_retpmu"}, "kpcap-stepper", 200, false, nil},
}

// TestBPFProbes compares the kprobes, kretprobes, uprobes and uretprobes
// the bpfprobes job recorded on the perf path and on the BPF path: the
// same number of the workload's samples per source (at least one per
// call), nothing lost, and the same value in every field but those a run
// cannot share: common_pid (each run has its own task), common_flags and
// common_preempt_count (hidden from BPF programs). common_type must be the
// format's ID in each file.
func TestBPFProbes(t *testing.T) {
	forEachKernel(t, "bpfprobes", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		for name, run := range probeRuns {
			if name == "uprobes" && k.Arch != "" && k.Arch != "amd64" {
				continue
			}
			comparePaths(t, j, name, run)
		}
	})
}

// comparePaths compares the perf and bpf recordings of one run.
func comparePaths(t *testing.T, j *JobResult, run string, pr probeRun) {
	t.Helper()
	samples := map[string]map[string][]format.Sample{}
	var files [2]*format.File
	for i, path := range []string{"perf", "bpf"} {
		expectLog(t, j, run+" "+path+" exit", "0")
		tr := readTrace(t, j.Files[run+"-"+path+".kpcap"])
		tr.checkNoLoss(t)
		files[i] = tr.File
		samples[path] = commSamples(t, tr.File, pr.comm)
		for _, name := range pr.sources {
			want := format.PathBPF
			if path == "perf" {
				want = ""
			}
			if _, src := tr.source(t, name); src.Path != want {
				t.Errorf("%s-%s: %s on path %q, want %q", run, path, name, src.Path, want)
			}
		}
	}
	seen := map[string]bool{} // the strings checked
	for _, name := range pr.sources {
		p, b := samples["perf"][name], samples["bpf"][name]
		if len(p) < pr.min || len(p) != len(b) {
			t.Errorf("%s: %s's samples: perf %d, bpf %d, want the same, at least %d", name, pr.comm, len(p), len(b), pr.min)
			continue
		}
		pi, ps := sourceOf(t, files[0], name)
		bi, bs := sourceOf(t, files[1], name)
		for i := range p {
			checkCommonType(t, ps, pi, &p[i])
			checkCommonType(t, bs, bi, &b[i])
			if d := diffFields(ps.Format, &p[i], &b[i]); d != "" {
				t.Fatalf("%s sample %d: %s", name, i, d)
			}
			if d := checkStrings(bs.Format, &b[i], pr.strings, seen); d != "" {
				t.Fatalf("%s sample %d: %s", name, i, d)
			}
			if pc, bc := chainHead(p[i].Callchain), chainHead(b[i].Callchain); !slices.Equal(pc, bc) || pr.chains && (len(pc) < 3 || pc[0] != contextKernel || pc[len(pc)-1] != contextUser) {
				t.Fatalf("%s sample %d: call chain perf %x, bpf %x (want equal, from the kernel: %v)", name, i, pc, bc, pr.chains)
			}
		}
		t.Logf("%s: %d samples of %s equal field by field on both paths", name, len(p), pr.comm)
	}
	for name := range pr.strings {
		if !seen[name] {
			t.Errorf("%s: no __data_loc field %s in the formats", run, name)
		}
	}
}

// chainHead is a call chain's kernel part and its user marker: the same
// in two runs of the workload, while the user part is not always (which
// of cat's opens is the nth differs now and then on 6.12: its user ip
// did once); the host's test compares whole chains of one run.
func chainHead(chain []uint64) []uint64 {
	for i, ip := range chain {
		if ip == contextUser {
			return chain[:i+1]
		}
	}
	return chain
}

// perf's PERF_CONTEXT_USER and PERF_CONTEXT_KERNEL markers.
const (
	contextUser   = ^uint64(512) + 1
	contextKernel = ^uint64(128) + 1
)

// commSamples returns comm's samples per source name, in file order.
func commSamples(t *testing.T, f *format.File, comm string) map[string][]format.Sample {
	t.Helper()
	out := map[string][]format.Sample{}
	it := f.Samples()
	for it.Next() {
		s := *it.Sample()
		if f.CommOf(s.PID, s.TID, s.CPU, s.Time) != comm {
			continue
		}
		s.Raw = bytes.Clone(s.Raw)
		name := f.Header.Sources[s.Source].Name
		out[name] = append(out[name], s)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sourceOf(t *testing.T, f *format.File, name string) (uint32, format.Source) {
	t.Helper()
	for i, s := range f.Header.Sources {
		if s.Name == name {
			return uint32(i), s
		}
	}
	t.Fatalf("no source %s", name)
	return 0, format.Source{}
}

// checkCommonType checks a sample's common_type against its format's ID
// (a PMU probe's synthesized format says 0: its type is its own).
func checkCommonType(t *testing.T, src format.Source, idx uint32, s *format.Sample) {
	t.Helper()
	id := -1
	for _, line := range strings.Split(src.Format, "\n") {
		if v, ok := strings.CutPrefix(line, "ID: "); ok {
			id, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if id <= 0 || len(s.Raw) < 2 {
		return
	}
	if got := int(binary.NativeEndian.Uint16(s.Raw)); got != id {
		t.Errorf("%s (source %d): common_type %d, format ID %d", src.Name, idx, got, id)
	}
}

// diffFields compares the fields of format text in two samples of one
// source, but for common_*, and describes the first difference ("" if
// none), after checking the payload lengths, then the strings after them.
func diffFields(text string, p, b *format.Sample) string {
	if len(p.Raw) != len(b.Raw) {
		return fmt.Sprintf("payload of %d bytes on perf, %d on bpf", len(p.Raw), len(b.Raw))
	}
	end := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "field:") || strings.Contains(line, " common_") {
			continue
		}
		var name string
		off, size := -1, -1
		for _, part := range strings.Split(line, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
			switch k {
			case "field":
				name = v[strings.LastIndexAny(v, " *")+1:]
			case "offset":
				off, _ = strconv.Atoi(v)
			case "size":
				size, _ = strconv.Atoi(v)
			}
		}
		if off < 0 || size < 0 || off+size > len(p.Raw) {
			return "field " + name + " outside the payload"
		}
		end = max(end, off+size)
		if size == 4 && binary.NativeEndian.Uint32(p.Raw[off:]) == p.TID && binary.NativeEndian.Uint32(b.Raw[off:]) == b.TID {
			continue // the sample's own task (sched_process_exec's pid): each run has its own
		}
		if pv, bv := p.Raw[off:off+size], b.Raw[off:off+size]; !bytes.Equal(pv, bv) {
			return fmt.Sprintf("field %s: perf %x, bpf %x", name, pv, bv)
		}
	}
	// The strings the __data_loc fields point to follow the fields.
	if pv, bv := p.Raw[end:], b.Raw[end:]; !bytes.Equal(pv, bv) {
		return fmt.Sprintf("strings: perf %q, bpf %q", pv, bv)
	}
	return ""
}

// checkStrings checks that each __data_loc field of format text named in
// want holds a string of more than its NUL (true) or nothing (false) in
// sample s, and describes the first that does not ("" if all do); seen
// gets the names it checked.
func checkStrings(text string, s *format.Sample, want map[string]bool, seen map[string]bool) string {
	for _, line := range strings.Split(text, "\n") {
		decl, rest, ok := strings.Cut(strings.TrimSpace(line), ";")
		name, isLoc := strings.CutPrefix(decl, "field:__data_loc char[] ")
		full, known := want[name]
		if !ok || !isLoc || !known {
			continue
		}
		var off int
		for _, part := range strings.Split(rest, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "offset:"); ok {
				off, _ = strconv.Atoi(v)
			}
		}
		if off+4 > len(s.Raw) {
			return "field " + name + " outside the payload"
		}
		if n := binary.NativeEndian.Uint32(s.Raw[off:]) >> 16; full != (n > 1) || !full && n != 0 {
			return fmt.Sprintf("string %s of %d bytes, want a string: %v", name, n, full)
		}
		seen[name] = true
	}
	return ""
}
