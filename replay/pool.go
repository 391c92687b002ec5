package replay

import (
	"math/bits"
	"sync"
	"unsafe"
)

// bufPool recycles the large fixed-width buffers of decoded chunks (integer
// columns, validity bitmaps, offsets): when the consumer releases a record,
// Arrow calls Free and the memory returns here instead of to the GC. String
// and binary value buffers are never pooled, since Arrow's String.Value
// aliases them and callers may keep such strings.
type bufPool struct {
	classes [48]sync.Pool // class k holds []byte of cap 1<<k
}

var pool bufPool

// minPooled is the smallest buffer worth pooling.
const minPooled = 4 << 10

func classOf(n int) int { return bits.Len(uint(n - 1)) }

// get returns a buffer of length n whose contents are undefined.
func (p *bufPool) get(n int) []byte {
	if n < minPooled {
		return make([]byte, n)
	}
	k := classOf(n)
	if v := p.classes[k].Get(); v != nil {
		return unsafe.Slice((*byte)(v.(unsafe.Pointer)), 1<<k)[:n]
	}
	return make([]byte, n, 1<<k)
}

// getZero returns a zeroed buffer of length n.
func (p *bufPool) getZero(n int) []byte {
	b := p.get(n)
	clear(b)
	return b
}

func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c < minPooled || c&(c-1) != 0 {
		return
	}
	p.classes[classOf(c)].Put(unsafe.Pointer(unsafe.SliceData(b[:1])))
}

// Allocate, Reallocate and Free make bufPool a memory.Allocator, so that
// Arrow buffers built on pooled memory give it back when released.
func (p *bufPool) Allocate(size int) []byte { return p.getZero(size) }

func (p *bufPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.getZero(size)
	copy(nb, b)
	p.put(b)
	return nb
}

func (p *bufPool) Free(b []byte) { p.put(b) }

// typed views of pooled bytes
func u64s(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}
func u32s(b []byte) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}
func i32s(b []byte) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}
func i64s(b []byte) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}
