//go:build !linux

package replay

// frameBuf is memory for one decompressed frame.
type frameBuf struct {
	mem []byte
}

func newFrameBuf(n int64) *frameBuf { return &frameBuf{mem: make([]byte, n)} }

// bytes is the buffer, empty, with its full capacity.
func (b *frameBuf) bytes() []byte { return b.mem[:0] }

// free lets the buffer go.
func (b *frameBuf) free() { b.mem = nil }
