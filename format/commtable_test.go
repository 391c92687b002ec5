package format

import (
	"math/rand/v2"
	"testing"
)

// TestCommOfIdle: CommOf names the idle task as replay does, swapper/N on
// CPU N, and plain swapper on a CPU past the host's count.
func TestCommOfIdle(t *testing.T) {
	f := &File{Header: Header{Host: Host{CPUs: 4}}, Comms: []Comm{{PID: 7, TID: 7, Comm: "x"}}}
	for _, tc := range []struct {
		pid, tid, cpu uint32
		want          string
	}{{0, 0, 3, "swapper/3"}, {0, 0, 9, "swapper"}, {7, 7, 3, "x"}, {7, 8, 0, "x"}, {9, 9, 0, ""}} {
		if got := f.CommOf(tc.pid, tc.tid, tc.cpu, 5); got != tc.want {
			t.Errorf("CommOf(%d, %d, %d) = %q, want %q", tc.pid, tc.tid, tc.cpu, got, tc.want)
		}
	}
}

// TestCommTableLookup checks the table against a direct search of the
// records: the thread's own record in effect at t (else its first), else
// its process's, the later of two records at one time winning.
func TestCommTableLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var comms []Comm
	names := []string{"a", "b", "c", "d", "e"}
	for i := 0; i < 3000; i++ {
		pid := uint32(rng.IntN(40) + 1)
		tid := pid
		if rng.IntN(2) == 0 {
			tid = uint32(rng.IntN(80) + 1)
		}
		comms = append(comms, Comm{PID: pid, TID: tid, Time: uint64(rng.IntN(1000)), Comm: names[rng.IntN(len(names))]})
	}
	ct := NewCommTable(comms, 2)
	want := func(pid, tid uint32, t uint64) string {
		pick := func(match func(c Comm) bool) (string, bool) {
			best, first := -1, -1
			for i, c := range comms {
				if !match(c) {
					continue
				}
				if first < 0 || c.Time < comms[first].Time {
					first = i
				}
				if c.Time <= t && (best < 0 || c.Time >= comms[best].Time) {
					best = i
				}
			}
			switch {
			case best >= 0:
				return comms[best].Comm, true
			case first >= 0:
				return comms[first].Comm, true
			}
			return "", false
		}
		if s, ok := pick(func(c Comm) bool { return c.TID == tid }); ok {
			return s
		}
		s, _ := pick(func(c Comm) bool { return c.PID == pid && (c.TID == 0 || c.TID == c.PID) })
		return s
	}
	for k := 0; k < 20000; k++ {
		pid, tid, tm := uint32(rng.IntN(45)+1), uint32(rng.IntN(90)+1), uint64(rng.IntN(1100))
		got := ""
		idx, from, til := ct.Lookup(pid, tid, 1, tm)
		if idx >= 0 {
			got = ct.Names()[idx]
		}
		if w := want(pid, tid, tm); got != w {
			t.Fatalf("pid %d tid %d t %d: %q, want %q", pid, tid, tm, got, w)
		}
		if idx >= 0 && (tm < from || tm >= til) {
			t.Fatalf("pid %d tid %d t %d: range [%d, %d) excludes t", pid, tid, tm, from, til)
		}
	}
}
