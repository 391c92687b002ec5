//go:build linux

package bpfring

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// need skips with reason locally and fails under CI=true.
func need(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: cannot skip: %s", reason)
	}
	t.Skip(reason)
}

// writer is a BPF program per record size that the kernel runs on demand
// (BPF_PROG_TEST_RUN): each reserves a record of its size in the ring,
// writes the sequence number held in seq into its first 8 bytes and a
// pattern after them, and submits it (or discards it).
type writer struct {
	ring, seq *ebpf.Map
	progs     map[[2]int]*ebpf.Program // size, discard -> program
}

func newWriter(t *testing.T, ringBytes int) *writer {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, "needs root for BPF")
	}
	ring, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: uint32(ringBytes)})
	if err != nil {
		need(t, "no BPF ring buffer: "+err.Error())
	}
	t.Cleanup(func() { ring.Close() })
	seq, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seq.Close() })
	return &writer{ring: ring, seq: seq, progs: map[[2]int]*ebpf.Program{}}
}

// pattern is byte i of a record of size n after its sequence number.
func pattern(n, i int) byte { return byte(i*7 + n) }

func (w *writer) program(t *testing.T, size int, discard bool) *ebpf.Program {
	key := [2]int{size, 0}
	if discard {
		key[1] = 1
	}
	if p := w.progs[key]; p != nil {
		return p
	}
	insns := asm.Instructions{
		asm.LoadMapValue(asm.R6, w.seq.FD(), 0),
		asm.LoadMem(asm.R6, asm.R6, 0, asm.DWord),
		asm.LoadMapPtr(asm.R1, w.ring.FD()),
		asm.Mov.Imm(asm.R2, int32(size)),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R7, asm.R0),
	}
	for i := 8; i < size; i++ {
		insns = append(insns, asm.StoreImm(asm.R7, int16(i), int64(pattern(size, i)), asm.Byte))
	}
	insns = append(insns, asm.StoreMem(asm.R7, 0, asm.R6, asm.DWord), asm.Mov.Reg(asm.R1, asm.R7), asm.Mov.Imm(asm.R2, 0))
	if discard {
		insns = append(insns, asm.FnRingbufDiscard.Call())
	} else {
		insns = append(insns, asm.FnRingbufSubmit.Call())
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return())
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: insns, License: "Dual BSD/GPL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	w.progs[key] = p
	return p
}

// write has the kernel write one record of size bytes (at least 8)
// numbered seq.
func (w *writer) write(t *testing.T, seq uint64, size int, discard bool) {
	t.Helper()
	if err := w.seq.Put(uint32(0), seq); err != nil {
		t.Fatal(err)
	}
	if _, err := w.program(t, size, discard).Run(&ebpf.RunOptions{Data: make([]byte, 14)}); err != nil {
		t.Fatal(err)
	}
}

// check verifies that rec is record seq of size bytes.
func check(t *testing.T, rec []byte, seq uint64, size int) {
	t.Helper()
	if len(rec) != size {
		t.Fatalf("record %d: %d bytes, want %d", seq, len(rec), size)
	}
	if got := binary.NativeEndian.Uint64(rec); got != seq {
		t.Fatalf("record %d read as record %d", seq, got)
	}
	for i := 8; i < size; i++ {
		if rec[i] != pattern(size, i) {
			t.Fatalf("record %d byte %d: %#x, want %#x", seq, i, rec[i], pattern(size, i))
		}
	}
}

// wrapFeed has the kernel write records of several sizes, some
// discarded, into a one-page ring, never more than the ring holds since
// the reader's last Release, and keeps what was written for checking.
type wrapFeed struct {
	w             *writer
	r             *Reader
	seq           uint64
	held, written int      // bytes since the last release, and in all
	want          []uint64 // written and not yet read, discarded ones too
	size          map[uint64]int
}

var wrapSizes = []int{8, 13, 100, 1001, 64, 9, 250}

func newWrapFeed(t *testing.T) *wrapFeed {
	w := newWriter(t, os.Getpagesize())
	r, err := Open(w.ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &wrapFeed{w: w, r: r, size: map[uint64]int{}}
}

// discarded tells whether record seq is written discarded.
func discarded(seq uint64) bool { return seq%5 == 0 }

// batch writes up to n records, fewer when the ring is full.
func (f *wrapFeed) batch(t *testing.T, n int) {
	for range n {
		seq := f.seq + 1
		size := wrapSizes[seq%uint64(len(wrapSizes))]
		total := (size + hdrSize + 7) &^ 7
		if f.held+total >= f.r.Size() {
			return // not released yet: the kernel would refuse it
		}
		f.seq = seq
		f.held += total
		f.written += total
		f.w.write(t, seq, size, discarded(seq))
		f.want = append(f.want, seq)
		f.size[seq] = size
	}
}

// release hands the read records' space back.
func (f *wrapFeed) release() {
	f.r.Release()
	f.held = 0
}

// next returns the oldest record written and not yet checked off.
func (f *wrapFeed) next(t *testing.T) uint64 {
	t.Helper()
	if len(f.want) == 0 {
		t.Fatal("a record nobody submitted")
	}
	seq := f.want[0]
	f.want = f.want[1:]
	return seq
}

// done checks that every record came back and that the ring wrapped often.
func (f *wrapFeed) done(t *testing.T) {
	t.Helper()
	if len(f.want) > 0 {
		t.Fatalf("%d submitted records never read, first %d", len(f.want), f.want[0])
	}
	if f.written < 20*f.r.Size() {
		t.Fatalf("only %d bytes written through a %d-byte ring: it did not wrap often", f.written, f.r.Size())
	}
}

// TestReadsAcrossWraps reads a wrapFeed a few records at a time,
// releasing after every other batch, so that records wrap around the
// ring's end many times; every submitted record must come back once, in
// order, with its bytes.
func TestReadsAcrossWraps(t *testing.T) {
	f := newWrapFeed(t)
	for batch := range 400 {
		f.batch(t, batch%4+1)
		for {
			rec, err := f.r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if rec == nil {
				break
			}
			seq := f.next(t)
			for discarded(seq) {
				seq = f.next(t) // Next skips them
			}
			check(t, rec, seq, f.size[seq])
		}
		for len(f.want) > 0 && discarded(f.want[0]) {
			f.want = f.want[1:]
		}
		if batch%2 == 1 {
			f.release()
		}
	}
	f.done(t)
}

// TestReleaseFreesSpace checks that the kernel sees the consumer position
// only when Release moves it: records read but not released still take
// their space, so the kernel refuses new ones until Release.
func TestReleaseFreesSpace(t *testing.T) {
	w := newWriter(t, os.Getpagesize())
	r, err := Open(w.ring)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// 512 bytes with the header: 7 fit in a 4 KiB ring, as the kernel
	// keeps the producer less than the ring's size ahead of the consumer.
	const size = 504
	n := (r.Size() - 1) / (size + hdrSize)
	for i := range n + 3 {
		w.write(t, uint64(i), size, false)
	}
	read := 0
	for rec, _ := r.Next(); rec != nil; rec, _ = r.Next() {
		check(t, rec, uint64(read), size)
		read++
	}
	if read != n {
		t.Fatalf("read %d records of %d bytes from a %d-byte ring, want %d (the rest refused)", read, size, r.Size(), n)
	}
	w.write(t, 100, size, false)
	if rec, _ := r.Next(); rec != nil {
		t.Fatal("the kernel took a record before the reader released any space")
	}
	r.Release()
	w.write(t, 101, size, false)
	rec, err := r.Next()
	if err != nil || rec == nil {
		t.Fatalf("after Release: %v, %v; want record 101", rec, err)
	}
	check(t, rec, 101, size)
}

// TestCopyIntoAcrossWraps reads a wrapFeed through CopyInto and FrameAt,
// with buffers of a few sizes so that copies stop short of the producer
// (at a record that does not fit) as well as at it: every submitted
// record must come back once, in order, with its bytes, the discarded ones
// marked, and the counts and last offsets CopyInto returns must match the
// frames.
func TestCopyIntoAcrossWraps(t *testing.T) {
	f := newWrapFeed(t)
	caps := []int{64, 300, 1100, 4096}
	oversize := 0
	for batch := range 400 {
		f.batch(t, batch%4+1)
		for {
			room := caps[batch%len(caps)]
			buf, cp, err := f.r.CopyInto(make([]byte, 0, room))
			if err != nil {
				t.Fatal(err)
			}
			if len(buf) == 0 {
				break
			}
			if len(buf) > room {
				oversize++ // one record larger than the buffer
			}
			got, gotLast := 0, -1
			for off := 0; off < len(buf); {
				n, next, disc, ok := FrameAt(buf, off)
				if !ok {
					t.Fatalf("bytes at %d of %d are not a whole record", off, len(buf))
				}
				seq := f.next(t)
				if disc != discarded(seq) {
					t.Fatalf("record %d: discarded %v, want %v", seq, disc, discarded(seq))
				}
				if !disc {
					check(t, buf[off+DataOff:off+DataOff+n], seq, f.size[seq])
					got++
					gotLast = off + DataOff
				}
				off = next
			}
			if got != cp.Records || gotLast != cp.Last {
				t.Fatalf("CopyInto said %d records, last at %d; the frames hold %d, last at %d", cp.Records, cp.Last, got, gotLast)
			}
			if cp.Full && len(buf) <= room && f.r.Available() == 0 {
				t.Fatal("CopyInto said the buffer was full with the ring read to its end")
			}
		}
		if batch%2 == 1 {
			f.release()
		}
	}
	f.done(t)
	if oversize == 0 {
		t.Fatal("no record was larger than its buffer")
	}
}

// FuzzFrameAt walks arbitrary bytes as copied records: it must stop at
// the end or at a malformed header, never read past the bytes, and always
// move forward.
func FuzzFrameAt(f *testing.F) {
	f.Add([]byte{16, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0x40, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for off := 0; ; {
			n, next, _, ok := FrameAt(b, off)
			if !ok {
				return
			}
			if next <= off || next > len(b) || off+DataOff+n > next {
				t.Fatalf("frame at %d: next %d, %d bytes of %d", off, next, n, len(b))
			}
			off = next
		}
	})
}
