//go:build linux

package perf

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one mmapped perf ring buffer.
type Ring struct {
	fd   int
	mem  []byte
	meta *unix.PerfEventMmapPage
	data []byte
	mask uint64
}

// NewRing maps dataBytes (a power-of-two multiple of the page size) of ring
// after the metadata page of fd.
func NewRing(fd int, dataBytes int) (*Ring, error) {
	page := os.Getpagesize()
	if dataBytes < page || dataBytes&(dataBytes-1) != 0 {
		return nil, fmt.Errorf("ring size %d is not a power-of-two multiple of the %d-byte page", dataBytes, page)
	}
	mem, err := unix.Mmap(fd, 0, page+dataBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	meta := (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0]))
	off, size := int(meta.Data_offset), int(meta.Data_size)
	if off == 0 { // kernels before 4.1 leave these zero
		off, size = page, dataBytes
	}
	if size == 0 || off+size > len(mem) || size&(size-1) != 0 {
		unix.Munmap(mem)
		return nil, fmt.Errorf("unexpected ring layout (offset %d, size %d)", off, size)
	}
	return &Ring{fd: fd, mem: mem, meta: meta, data: mem[off : off+size], mask: uint64(size - 1)}, nil
}

// FD returns the ring owner's event fd.
func (r *Ring) FD() int { return r.fd }

// Size returns the data area size in bytes.
func (r *Ring) Size() int { return len(r.data) }

// Pending returns the bytes written but not yet consumed.
func (r *Ring) Pending() int {
	return int(atomic.LoadUint64(&r.meta.Data_head) - atomic.LoadUint64(&r.meta.Data_tail))
}

// ReadInto appends every complete record between tail and head to dst, then
// releases that space to the kernel. data_head is loaded exactly once per
// call (acquire) and data_tail stored once (release) after the copy, so a
// record is never read twice and never released before it is copied. The
// region may wrap the ring end; it is copied in two pieces.
func (r *Ring) ReadInto(dst []byte) []byte {
	head := atomic.LoadUint64(&r.meta.Data_head)
	tail := atomic.LoadUint64(&r.meta.Data_tail)
	n := head - tail
	if n == 0 {
		return dst
	}
	if n > uint64(len(r.data)) { // cannot happen with a writable mapping; never trust it
		n = uint64(len(r.data))
		tail = head - n
	}
	dst = r.appendSpan(dst, tail, n)
	atomic.StoreUint64(&r.meta.Data_tail, head)
	return dst
}

// ReadIntoMax is ReadInto limited to the whole records that fit in limit
// bytes (but at least the oldest record, however large), so that the
// caller can use fixed-size buffers; more reports that records remain in
// the ring. Only the copied records are released to the kernel.
func (r *Ring) ReadIntoMax(dst []byte, limit int) (out []byte, more bool) {
	limit = min(limit, len(r.data))
	head := atomic.LoadUint64(&r.meta.Data_head)
	tail := atomic.LoadUint64(&r.meta.Data_tail)
	n := head - tail
	if n == 0 {
		return dst, false
	}
	if n > uint64(len(r.data)) { // cannot happen with a writable mapping; never trust it
		n = uint64(len(r.data))
		tail = head - n
	}
	if n > uint64(limit) {
		first := uint64(r.data[(tail+6)&r.mask]) | uint64(r.data[(tail+7)&r.mask])<<8
		n, more = max(uint64(limit), min(first, n)), true
	}
	base := len(dst)
	dst = r.appendSpan(dst, tail, n)
	if more {
		// Keep whole records; the kernel publishes head only after whole
		// records, so this is needed only when the copy was cut short.
		b := dst[base:]
		off := 0
		for off+HeaderLen <= len(b) {
			size := int(ne.Uint16(b[off+6:]))
			if size < HeaderLen {
				off = len(b) // corrupt: hand everything to the parser, which reports it
				break
			}
			if off+size > len(b) {
				break
			}
			off += size
		}
		if off == 0 {
			off = len(b) // the first record's size lies: hand it to the parser too
		}
		dst = dst[:base+off]
		n = uint64(off)
	}
	atomic.StoreUint64(&r.meta.Data_tail, tail+n)
	return dst, more
}

// appendSpan appends the n ring bytes from position tail to dst, in two
// pieces when they wrap the ring's end.
func (r *Ring) appendSpan(dst []byte, tail, n uint64) []byte {
	start := tail & r.mask
	end := start + n
	if end <= uint64(len(r.data)) {
		return append(dst, r.data[start:end]...)
	}
	dst = append(dst, r.data[start:]...)
	return append(dst, r.data[:end-uint64(len(r.data))]...)
}

// Peek copies the oldest unread record into buf (reusing its storage) and
// returns it, or nil when the ring is empty or the header is corrupt. It
// releases nothing.
func (r *Ring) Peek(buf []byte) []byte {
	head := atomic.LoadUint64(&r.meta.Data_head)
	tail := atomic.LoadUint64(&r.meta.Data_tail)
	if head-tail < HeaderLen || head-tail > uint64(len(r.data)) {
		return nil
	}
	at := func(i uint64) byte { return r.data[(tail+i)&r.mask] }
	size := uint64(at(6)) | uint64(at(7))<<8
	if size < HeaderLen || size > head-tail {
		return nil
	}
	buf = buf[:0]
	for i := uint64(0); i < size; i++ {
		buf = append(buf, at(i))
	}
	return buf
}

// Close unmaps the ring (the fd is closed by its owner).
func (r *Ring) Close() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem, r.data, r.meta = nil, nil, nil
	return err
}
