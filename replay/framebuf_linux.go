//go:build linux

package replay

import "golang.org/x/sys/unix"

// frameBuf is memory for one decompressed frame, mapped outside the Go
// heap: it holds no pointers, and counting it would only make the garbage
// collector run (and stop the decoders) for nothing. Large mappings ask
// for huge pages: fewer page faults when it is first filled.
type frameBuf struct {
	mem []byte
}

func newFrameBuf(n int64) *frameBuf {
	if n <= 0 {
		return &frameBuf{}
	}
	mem, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return &frameBuf{mem: make([]byte, n)}
	}
	if n >= 2<<20 {
		_ = unix.Madvise(mem, unix.MADV_HUGEPAGE) // only a hint
	}
	return &frameBuf{mem: mem}
}

// bytes is the buffer, empty, with its full capacity.
func (b *frameBuf) bytes() []byte { return b.mem[:0] }

// free unmaps the buffer; no slice of it may be used afterwards.
func (b *frameBuf) free() {
	if b.mem != nil {
		_ = unix.Munmap(b.mem)
		b.mem = nil
	}
}
