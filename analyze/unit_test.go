package analyze

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

func TestTimeline(t *testing.T) {
	tl := newTimeline(4)
	// 1 ms buckets to start; 10 ms of events forces two doublings (4 ms).
	for ms := uint64(0); ms < 10; ms++ {
		tl.add(5_000_000_000+ms*1_000_000, 1)
	}
	tl.add(4_000_000_000, 1) // before the start: bucket 0
	tl.addLost(5_000_000_000+9_500_000, 3)
	tl.addLost(1, 2)     // before the start: bucket 0
	tl.addLost(1<<62, 1) // after the end: last bucket
	r := tl.result()
	if r.BucketNS != 4_000_000 || !slices.Equal(r.Events, []uint64{5, 4, 2}) || !slices.Equal(r.Lost, []uint64{2, 0, 4}) {
		t.Fatalf("timeline %+v", r)
	}
}

func TestTopK(t *testing.T) {
	tk := newTopK(4)
	for i := range 100 {
		tk.add("hot")
		tk.add(fmt.Sprint("cold", i)) // 100 distinct values seen once
		if i%2 == 0 {
			tk.add("warm")
		}
	}
	if tk.counts["hot"] != 100 || tk.counts["warm"] != 50 {
		t.Fatalf("hot %d warm %d", tk.counts["hot"], tk.counts["warm"])
	}
	if len(tk.counts) > 8 || tk.maxErr != 1 {
		t.Fatalf("kept %d values, max error %d", len(tk.counts), tk.maxErr)
	}
}

func TestLog2HistText(t *testing.T) {
	// The layout of BCC's print_log2_hist for a usecs histogram.
	var b bytes.Buffer
	writeLog2Hist(&b, "usecs", []HistBucket{{4, 7, 10}, {8, 15, 40}, {16, 31, 3}})
	want := "     usecs               : count     distribution\n" +
		"         0 -> 1          : 0        |                                        |\n" +
		"         2 -> 3          : 0        |                                        |\n" +
		"         4 -> 7          : 10       |**********                              |\n" +
		"         8 -> 15         : 40       |****************************************|\n" +
		"        16 -> 31         : 3        |***                                     |\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSparklineAndFormat(t *testing.T) {
	if s := sparkline([]uint64{0, 1, 4, 8}); s != " ▁▄█" {
		t.Errorf("sparkline %q", s)
	}
	for _, tc := range []struct {
		ns   uint64
		want string
	}{{0, "0ns"}, {999, "999ns"}, {1000, "1.00µs"}, {12345, "12.3µs"}, {123456789, "123ms"}, {2_500_000_000, "2.50s"}} {
		if got := FormatNS(tc.ns); got != tc.want {
			t.Errorf("FormatNS(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}
