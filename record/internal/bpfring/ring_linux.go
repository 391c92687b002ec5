//go:build linux

// Package bpfring reads a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) from user
// space in batches: records are read in place, and the consumer position
// the kernel reads on every reservation moves once per batch rather than
// once per record.
//
// The layout is the kernel's (kernel/bpf/ringbuf.c, bpf_ringbuf_mmap_kern
// and bpf_ringbuf_reserve): the map's first page holds consumer_pos, which
// user space writes; the next page holds producer_pos, read-only; the data
// pages follow, mapped twice in a row so that a record wrapping around the
// end reads as one slice. Each record starts with an 8-byte header (a u32
// length whose top bits say busy, still being written, and discarded, then
// the kernel's page offset) and takes its length plus the header rounded
// up to 8 bytes.
//
// The reader maps the data pages once: the kernel maps every page of the
// mapping at mmap time, so the second copy would put as many bytes again
// in the recorder's resident memory. The few records that wrap around the
// end are copied into one buffer instead.
package bpfring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Record header flags and size (uapi bpf.h).
const (
	busyBit    = 1 << 31
	discardBit = 1 << 30
	hdrSize    = 8
)

// ErrCorrupt is returned when a record's length runs past the producer
// position: the ring does not hold what the kernel writes.
var ErrCorrupt = errors.New("BPF ring buffer: record past the producer position")

// Reader reads one BPF ring buffer map. It is not safe for concurrent use.
type Reader struct {
	cons, prod []byte  // the consumer page; the producer page and data
	consPos    *uint64 // shared with the kernel
	prodPos    *uint64
	data       []byte // the data pages, once
	wrapped    []byte // a record wrapping around the end, copied out
	mask       uint64
	pos        uint64 // next record to read; consPos lags until Release
	released   uint64 // what consPos holds
	prodSeen   uint64 // the producer position as last loaded
}

// Open maps ring buffer m for reading.
func Open(m *ebpf.Map) (*Reader, error) {
	if m.Type() != ebpf.RingBuf {
		return nil, fmt.Errorf("bpfring: map of type %s, not a ring buffer", m.Type())
	}
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	if size <= 0 || size&(size-1) != 0 || size%page != 0 {
		return nil, fmt.Errorf("bpfring: ring of %d bytes (want a power of two, a multiple of the page size)", size)
	}
	cons, err := unix.Mmap(m.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the BPF ring's consumer page: %w", err)
	}
	prod, err := unix.Mmap(m.FD(), int64(page), page+size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, fmt.Errorf("map the BPF ring's data: %w", err)
	}
	r := &Reader{
		cons:    cons,
		prod:    prod,
		consPos: (*uint64)(unsafe.Pointer(&cons[0])),
		prodPos: (*uint64)(unsafe.Pointer(&prod[0])),
		data:    prod[page:],
		mask:    uint64(size - 1),
	}
	r.pos = atomic.LoadUint64(r.consPos)
	r.released = r.pos
	return r, nil
}

// Size returns the ring's data size in bytes.
func (r *Reader) Size() int { return int(r.mask + 1) }

// Available returns the bytes written after the last record Next returned
// (committed or not).
func (r *Reader) Available() int {
	r.prodSeen = atomic.LoadUint64(r.prodPos)
	return int(r.prodSeen - r.pos)
}

// Next returns the next committed record, aliasing the ring: it stays
// valid until Release, but one that wraps around the ring's end only until
// the next call of Next. It returns nil when the ring holds no record or
// the next one is still being written (records are read in the order
// they were reserved). Discarded records are skipped.
//
// The producer position is loaded again only once the records below the
// last one seen are read: the kernel writes it on every reservation, and
// a load per record would pull its cache line away from the producing CPU
// each time.
func (r *Reader) Next() ([]byte, error) {
	if r.pos >= r.prodSeen {
		r.prodSeen = atomic.LoadUint64(r.prodPos)
	}
	prod := r.prodSeen
	for r.pos < prod {
		off := r.pos & r.mask
		// An atomic load orders the record's bytes after the header's
		// commit (the kernel's xchg in bpf_ringbuf_commit).
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
		if hdr&busyBit != 0 {
			return nil, nil
		}
		n := uint64(hdr &^ (busyBit | discardBit))
		total := (n + hdrSize + 7) &^ 7
		if total > prod-r.pos {
			return nil, ErrCorrupt
		}
		r.pos += total
		if hdr&discardBit != 0 {
			continue
		}
		return r.record(off+hdrSize, n), nil
	}
	return nil, nil
}

// record returns the n bytes of data at start, which may run past the
// ring's end and on from its beginning. The header is 8-byte aligned and
// the size a power of two, so start itself is always inside the ring.
func (r *Reader) record(start, n uint64) []byte {
	size := uint64(len(r.data))
	if start+n <= size {
		return r.data[start : start+n : start+n]
	}
	first := size - start
	r.wrapped = append(append(r.wrapped[:0], r.data[start:]...), r.data[:n-first]...)
	return r.wrapped[:n:n]
}

// Release hands the space of every record Next returned back to the
// kernel. The slices Next returned must not be used afterwards.
func (r *Reader) Release() {
	if r.pos != r.released {
		atomic.StoreUint64(r.consPos, r.pos)
		r.released = r.pos
	}
}

// Close releases what was read and unmaps the ring.
func (r *Reader) Close() error {
	if r.cons == nil {
		return nil
	}
	r.Release()
	err := errors.Join(unix.Munmap(r.prod), unix.Munmap(r.cons))
	r.cons, r.prod, r.data = nil, nil, nil
	return err
}

// CopyInto appends to dst the committed records from the next one on,
// each with its 8-byte header (discarded ones too: their header says so;
// see Frames), as they lie in the ring, until the producer position, a
// record still being written, or a record that would take dst past its
// capacity (the first record is appended even then). It moves the read
// position past them and returns dst, how many records it appended that
// were not discarded, and the offset in dst of the last one's data (-1 if
// none).
//
// A bulk copy reads the ring once, in order, rather than record by record:
// the loads of the headers, which must be ordered after the kernel's
// commit, are the only per-record work.
func (r *Reader) CopyInto(dst []byte) (out []byte, c Copied, err error) {
	c.Last = -1
	if r.pos >= r.prodSeen {
		r.prodSeen = atomic.LoadUint64(r.prodPos)
	}
	prod := r.prodSeen
	start, end := r.pos, r.pos
	room := uint64(cap(dst) - len(dst))
	for end < prod {
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[end&r.mask])))
		if hdr&busyBit != 0 {
			break
		}
		n := uint64(hdr &^ (busyBit | discardBit))
		total := (n + hdrSize + 7) &^ 7
		if total > prod-end {
			err = ErrCorrupt
			break
		}
		if end-start+total > room && end > start {
			c.Full = true
			break
		}
		if hdr&discardBit == 0 {
			c.Records++
			c.Last = len(dst) + int(end-start) + hdrSize
		}
		end += total
	}
	dst = r.appendRange(dst, start, end)
	r.pos = end
	return dst, c, err
}

// Copied says what one CopyInto appended.
type Copied struct {
	Records int  // records not discarded
	Last    int  // offset of the last one's data in the buffer, -1 if none
	Full    bool // stopped at a record the buffer had no room for
}

// copyPiece is the most one memmove copies out of the ring. Go's memmove
// writes copies of 1 MiB and more with non-temporal stores, past the
// cache, and the writer reads every record of the copy right after.
const copyPiece = 256 << 10

// appendRange appends the ring's bytes between positions start and end.
func (r *Reader) appendRange(dst []byte, start, end uint64) []byte {
	for start < end {
		from := start & r.mask
		n := min(end-start, uint64(len(r.data))-from, copyPiece)
		dst = append(dst, r.data[from:from+n]...)
		start += n
	}
	return dst
}

// DataOff is where a record's data starts after its offset in bytes
// CopyInto appended: past its header.
const DataOff = hdrSize

// FrameAt reads the header of the record at offset off of bytes CopyInto
// appended: the record's data is b[off+DataOff:][:n] and the next record
// starts at next. It reports ok false at the end or when the bytes are not
// whole records. It returns scalars so that it inlines into the loop
// walking a copy.
func FrameAt(b []byte, off int) (n, next int, discarded, ok bool) {
	if off < 0 || off > len(b)-hdrSize {
		return 0, off, false, false
	}
	hdr := binary.NativeEndian.Uint32(b[off:])
	n = int(hdr &^ (busyBit | discardBit))
	next = off + (n+hdrSize+7)&^7
	if hdr&busyBit != 0 || next > len(b) {
		return 0, off, false, false
	}
	return n, next, hdr&discardBit != 0, true
}
