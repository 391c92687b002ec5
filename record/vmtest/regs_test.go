//go:build linux

package vmtest

import (
	"sort"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/record/probedef"
)

// regsList is the /jobs/regs.list of architecture a: every register name of
// record/probedef's table for a ("accept NAME"), and names the table refuses
// ("refuse NAME"): the other architecture's, out-of-range ones and
// assembler spellings that kpcap rewrites but the kernel does not know.
func regsList(a *Arch) string {
	own := probedef.ArchFor(a.GOARCH)
	if own == nil {
		return ""
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, n := range own.Names() {
		b.WriteString("accept " + n + "\n")
		seen[n] = true
	}
	others := []string{"x31", "w0", "rax", "eax", "x01", "r16", "lr0"}
	for _, o := range []string{"amd64", "arm64"} {
		if oa := probedef.ArchFor(o); oa != nil && oa != own {
			others = append(others, oa.Names()...)
		}
	}
	sort.Strings(others)
	for _, n := range others {
		if !seen[n] {
			b.WriteString("refuse " + n + "\n")
			seen[n] = true
		}
	}
	return b.String()
}

// TestRegisterNames: the kernel of each architecture accepts exactly the
// register names record/probedef accepts for it, among every name either
// table knows and a few near misses.
func TestRegisterNames(t *testing.T) {
	forEachKernel(t, "regs", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		a, err := ArchOf(k)
		if err != nil {
			t.Fatal(err)
		}
		table := probedef.ArchFor(a.GOARCH)
		if m := logLine(t, j, "machine"); m != table.Machine {
			t.Errorf("VM machine %q, table for %q", m, table.Machine)
		}
		checked := 0
		for _, line := range strings.Split(j.Log, "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "reg" {
				continue
			}
			checked++
			name, kernelOK := f[1], f[2] == "accepted"
			k, kpcapOK := table.Register(name)
			switch {
			case kernelOK && !kpcapOK:
				t.Errorf("%s: the kernel accepts %%%s, kpcap refuses it", a.GOARCH, name)
			case !kernelOK && kpcapOK && k == name:
				t.Errorf("%s: kpcap accepts %%%s, the kernel refuses it", a.GOARCH, name)
			}
		}
		if want := strings.Count(regsList(a), "\n"); checked != want {
			t.Errorf("%d register verdicts in the job log, want %d:\n%s", checked, want, j.Log)
		}
		expectLog(t, j, "kprobe_events after", "[]")
	})
}
