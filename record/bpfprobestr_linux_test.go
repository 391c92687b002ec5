//go:build linux

package record

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
	"github.com/kpcap/kpcap/record/probedef"
)

// namedC calls kpcap_named n times with a struct holding a name it
// rewrites each time (lengths vary) and a string that is, in turn, empty,
// the name, 0 to 3000 bytes of a buffer, NULL and an unmapped address.
// Every string is in memory the program wrote: a uprobe's perf path
// faults pages in, its BPF program cannot.
const namedC = `
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
struct item { int id; char name[20]; };
struct item it;
char big[3001];
char empty[8];
__attribute__((noinline)) int kpcap_named(long n, struct item *p, const char *s) {
	__asm__ volatile("" ::: "memory");
	return (int)n + p->id;
}
int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	long sum = 0;
	memset(big, 'x', 3000);
	empty[0] = 0;
	for (int i = 0; i < n; i++) {
		const char *s;
		it.id = i;
		snprintf(it.name, sizeof it.name, "step-%d", i * 7919 % 100003);
		switch (i % 5) {
		case 0: s = empty; break;
		case 1: s = it.name; break;
		case 2: s = big + 3000 - (i * 37 % 3001); break;
		case 3: s = 0; break;
		default: s = (const char *)16; break;
		}
		sum += kpcap_named(i, &it, s);
	}
	return sum == 42;
}
`

// namedProbes are a uprobe on kpcap_named with a :ustring, a :string, a
// $comm, a value argument and a string immediate (which a uprobe records
// empty), and its uretprobe with $comm.
func namedProbes(bin string) []string {
	r := probedef.HostArch.ArgRegs
	return []string{
		"p:test/named " + bin + ":kpcap_named n=%" + r[0] + " name=+4(%" + r[1] + "):ustring s=+0(%" + r[2] + "):string c=$comm id=+0(%" + r[1] + "):s32 k=\\\"text\"",
		"r:test/named_ret " + bin + ":kpcap_named rv=$retval:s32 c=$comm",
	}
}

// TestBPFProbeStringsMatchPerf records string arguments of uprobes on
// the perf path and again on the BPF path and compares the samples field
// by field and their strings byte by byte (the __data_loc words' offsets
// and lengths, NULs, empty and unreadable strings, up to 3000 bytes), all
// of them and, with a filter on a value argument, the odd calls'.
func TestBPFProbeStringsMatchPerf(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe/type"); err != nil {
		need(t, "needs the uprobe PMU")
	}
	bin := buildTarget(t, "named", namedC)
	const n = 1000
	for _, tc := range []struct {
		name, filter string
		chains       bool
		want         int
	}{
		{"all", "", false, 2 * n},
		{"filtered with call chains", "n & 1", true, n + n/2},
		{"filtered on strings", `name ~ "step-1*" || s == ""`, false, n + namedStringMatches(n)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Probes: namedProbes(bin), Filter: tc.filter, CallGraph: tc.chains}
			perfS, perfRes, perfF := recordStepper(t, bin, n, PathPerf, o)
			bpfS, bpfRes, bpfF := recordStepper(t, bin, n, PathBPF, o)
			compareProbeSamples(t, perfS, bpfS, tc.want, perfRes, bpfRes, bpfF)
			lens := compareStrings(t, perfS, bpfS, perfF, tc.chains)
			// Unreadable strings (NULL, 16) are empty; the long ones reach
			// well past 1000 bytes.
			if lens[0] == 0 || lens[1000] == 0 {
				t.Errorf("string lengths seen: %d empty, %d over 1000 bytes", lens[0], lens[1000])
			}
		})
	}
}

// compareStrings compares the dynamic areas (the bytes after the fixed
// fields) of two runs' samples, in the order compareProbeSamples compares
// them, and with chains their call chains (a binary without PIE: the same
// user ips in every run), and counts the strings of length 0 (key 0) and
// over 1000 bytes (key 1000).
func compareStrings(t *testing.T, perfS, bpfS []format.Sample, f *format.File, chains bool) map[int]int {
	t.Helper()
	bySource := func(s []format.Sample) []format.Sample {
		out := slices.Clone(s)
		slices.SortStableFunc(out, func(a, b format.Sample) int { return cmp.Compare(a.Source, b.Source) })
		return out
	}
	perfS, bpfS = bySource(perfS), bySource(bpfS)
	lens := map[int]int{}
	for i := range bpfS {
		src := f.Header.Sources[bpfS[i].Source]
		l, err := parseLayout(src.Format)
		if err != nil {
			t.Fatal(err)
		}
		p, b := perfS[i].Raw[l.fixed:], bpfS[i].Raw[l.fixed:]
		if !bytes.Equal(p, b) {
			t.Fatalf("sample %d (%s): strings perf %q, bpf %q", i, src.Name, p, b)
		}
		if pc, bc := perfS[i].Callchain, bpfS[i].Callchain; chains && (len(bc) < 2 || !slices.Equal(pc, bc)) {
			t.Fatalf("sample %d (%s): call chain perf %x, bpf %x", i, src.Name, pc, bc)
		}
		for _, d := range l.locs {
			switch n := binary.NativeEndian.Uint32(bpfS[i].Raw[d.off:]) >> 16; {
			case n == 0:
				lens[0]++
			case n > 1000:
				lens[1000]++
			}
		}
	}
	return lens
}

// namedStringMatches counts the calls of namedC's first n whose name
// starts with "step-1" or whose string s is empty (an unreadable one is
// not: its location points at the next string, which the kernel's filter
// compares).
func namedStringMatches(n int) int {
	c := 0
	for i := range n {
		empty := i%5 == 0 || i%5 == 2 && i*37%3001 == 0
		if strings.HasPrefix(fmt.Sprintf("step-%d", i*7919%100003), "step-1") || empty {
			c++
		}
	}
	return c
}
