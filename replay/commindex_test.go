package replay

import (
	"runtime"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestCommIndexAllocations: indexing a file's comm records costs a fixed
// number of allocations, not a few per thread (a hostile file names up to
// format.MaxComms threads; a map of slices per thread once took 4-5 GB and
// minutes on 9M records).
func TestCommIndexAllocations(t *testing.T) {
	const n = 200_000
	comms := make([]format.Comm, n)
	for i := range comms {
		comms[i] = format.Comm{PID: uint32(i + 1), TID: uint32(i + 1), Time: uint64(i), Comm: "c"}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ci := newCommIndex(comms, 4)
	runtime.ReadMemStats(&after)
	if m := after.Mallocs - before.Mallocs; m > n/100 {
		t.Errorf("%d allocations to index %d comm records of distinct threads", m, n)
	}
	if i, _, _ := ci.lookup(77, 77, 1e9); i < 0 || ci.dict[i] != "c" {
		t.Errorf("lookup of tid 77: %d", i)
	}
}
