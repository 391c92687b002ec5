package replay

import (
	"hash/maphash"
	"unsafe"
)

// stackSeed seeds the hashes of callchains for this process.
var stackSeed = maphash.MakeSeed()

// stackHash hashes a callchain and the pid it belongs to. Callers compare
// the callchains of equal hashes: a hash names a bucket, not a stack.
func stackHash(pid uint32, ips []uint64) uint64 {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ips))), len(ips)*8)
	return maphash.Bytes(stackSeed, b) ^ uint64(pid)*0x9e3779b97f4a7c15
}

// hashIndex finds ids by hash without keeping a key per id: a deep callchain
// is tens of kilobytes, and a string key of each would double what the
// stacks themselves take.
type hashIndex struct {
	first map[uint64]int64   // the first id of each hash
	more  map[uint64][]int64 // the others of the rare hashes shared by distinct stacks
}

// find returns the id of hash h for which eq holds.
func (x *hashIndex) find(h uint64, eq func(id int64) bool) (int64, bool) {
	id, ok := x.first[h]
	if !ok {
		return 0, false
	}
	if eq(id) {
		return id, true
	}
	for _, id := range x.more[h] {
		if eq(id) {
			return id, true
		}
	}
	return 0, false
}

// add files id under hash h.
func (x *hashIndex) add(h uint64, id int64) {
	if x.first == nil {
		x.first = map[uint64]int64{}
	}
	if _, ok := x.first[h]; !ok {
		x.first[h] = id
		return
	}
	if x.more == nil {
		x.more = map[uint64][]int64{}
	}
	x.more[h] = append(x.more[h], id)
}

// reset empties x, keeping its memory.
func (x *hashIndex) reset() {
	clear(x.first)
	clear(x.more)
}
