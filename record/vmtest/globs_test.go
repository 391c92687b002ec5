//go:build linux

package vmtest

import (
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestProbeGlobs: kernel function patterns for real. p vfs_* and r tcp_v4_*
// make exactly one source per function the kernel lists in
// available_filter_functions under that pattern (minus the kprobe blacklist
// and names listed twice), events arrive from a file and a loopback TCP
// workload, f vfs_read* and f vfs_write*%return work where the kernel has
// fprobes and are refused in one line where not, several hundred probes
// (p tcp_*) are attached and every probe is removed. The time attaching and
// releasing took is logged (measured, never asserted).
func TestProbeGlobs(t *testing.T) {
	forEachKernel(t, "globs", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		aff := readLines(t, j.Files["aff.txt"])
		black := map[string]bool{}
		for _, l := range readLines(t, j.Files["blacklist.txt"]) {
			if f := strings.Fields(l); len(f) >= 2 {
				black[f[1]] = true
			}
		}
		expect := func(pattern, suffix, group string) []string {
			n := map[string]int{}
			for _, l := range aff {
				n[strings.Fields(l)[0]]++
			}
			var out []string
			for name, c := range n {
				if ok, _ := path.Match(pattern, name); ok && c == 1 && !black[name] {
					// Event names are identifiers: "vfs_statfs.part.0" becomes vfs_statfs_part_0.
					out = append(out, group+":"+identRe.ReplaceAllString(name, "_")+suffix)
				}
			}
			slices.Sort(out)
			return out
		}
		sources := func(tr *trace) []string {
			var out []string
			for _, s := range tr.File.Header.Sources {
				if strings.Contains(s.Name, ":") && !strings.HasPrefix(s.Name, "sched:") {
					out = append(out, s.Name)
				}
			}
			slices.Sort(out)
			return out
		}
		events := func(tr *trace, probe string) int { return len(tr.rows(probe, "")) }

		expectExit(t, j, "vfs", "0")
		expectLog(t, j, "kprobe_events after-vfs", "[]")
		vfs := readTrace(t, j.Files["vfs.kpcap"])
		if got, want := sources(vfs), expect("vfs_*", "", "kprobes"); !reflect.DeepEqual(got, want) || len(want) < 20 {
			t.Errorf("p vfs_*: sources %q,\nwant one per function of available_filter_functions: %q", got, want)
		}
		for _, p := range []string{"kprobes:vfs_open", "kprobes:vfs_write"} {
			if events(vfs, p) == 0 {
				t.Errorf("p vfs_*: no event of %s from the workload", p)
			}
		}

		expectExit(t, j, "tcpret", "0")
		expectLog(t, j, "kprobe_events after-tcpret", "[]")
		tcp := readTrace(t, j.Files["tcpret.kpcap"])
		if got, want := sources(tcp), expect("tcp_v4_*", "__return", "kprobes"); !reflect.DeepEqual(got, want) || len(want) < 10 {
			t.Errorf("r tcp_v4_*: sources %q,\nwant %q", got, want)
		}
		for _, p := range []string{"kprobes:tcp_v4_connect__return", "kprobes:tcp_v4_rcv__return"} {
			if events(tcp, p) == 0 {
				t.Errorf("r tcp_v4_*: no event of %s from the loopback connection", p)
			}
		}

		fstderr, _ := os.ReadFile(j.Files["fvfs.stderr"])
		if logLine(t, j, "fprobe events") != "yes" {
			expectExit(t, j, "fvfs", "2")
			if !strings.Contains(string(fstderr), "no fprobe events") || !strings.Contains(string(fstderr), `"p vfs_read*"`) {
				t.Errorf("%s (no fprobes) refuses f vfs_read* with %q, want one line naming what works instead", k.Name, fstderr)
			}
		} else {
			expectExit(t, j, "fvfs", "0")
			ft := readTrace(t, j.Files["fvfs.kpcap"])
			want := append(expect("vfs_read*", "", "fprobes"), expect("vfs_write*", "__return", "fprobes")...)
			slices.Sort(want)
			if got := sources(ft); !reflect.DeepEqual(got, want) {
				t.Errorf("f globs: sources %q,\nwant %q", got, want)
			}
			twos := 0
			for _, r := range ft.rows("fprobes:vfs_write__return", "sh") {
				if v, _ := asInt(r.Fields["arg1"]); v == 2 {
					twos++
				}
			}
			if twos == 0 {
				t.Errorf("f vfs_write*%%return $retval: no return of 2 (echo x) from sh in %d returns", events(ft, "fprobes:vfs_write__return"))
			}
		}
		expectLog(t, j, "dynamic_events after-fvfs", "[]")

		if k.Arch == "arm64" {
			return // several hundred probes on x86-64 only
		}
		expectExit(t, j, "many", "0")
		expectLog(t, j, "kprobe_events after-many", "[]")
		many := readTrace(t, j.Files["many.kpcap"])
		if got, want := sources(many), expect("tcp_*", "", "kprobes"); !reflect.DeepEqual(got, want) || len(want) < 200 {
			t.Errorf("p tcp_*: %d sources, want %d", len(got), len(want))
		}
		if events(many, "kprobes:tcp_sendmsg") == 0 {
			t.Errorf("p tcp_*: no tcp_sendmsg event from the loopback connection")
		}
		mstderr, _ := os.ReadFile(j.Files["many.stderr"])
		t.Logf("p tcp_* -- CMD on %s (%d functions):\n%s", res.Release, len(sources(many)), timings(string(mstderr)))

	})
}

var identRe = regexp.MustCompile(`[^A-Za-z0-9_]`)

var timingLine = regexp.MustCompile(`attaching|created in|recording|releasing|released|removed|samples,`)

// timings keeps the stamped stderr lines that tell how long attaching and
// releasing took.
func timings(stderr string) string {
	var b strings.Builder
	for _, l := range strings.Split(stderr, "\n") {
		if timingLine.MatchString(l) {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// expectExit checks the exit status on a "NAME exit: RC start: S end: E" line.
func expectExit(t *testing.T, j *JobResult, name, rc string) {
	t.Helper()
	if f := strings.Fields(logLine(t, j, name+" exit")); len(f) == 0 || f[0] != rc {
		t.Errorf("%s exit: %q, want %s; job log:\n%s", name, f, rc, j.Log)
	}
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	if p == "" {
		t.Fatal("file not returned by the VM")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
