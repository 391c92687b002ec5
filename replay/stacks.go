package replay

import (
	"encoding/binary"
	"sort"
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/kpcap/kpcap/format"
)

// stackTable deduplicates callchains into stack ids and symbolizes them lazily.
// A symbolized stack keeps one index per frame into a table of distinct
// frames, not a Frame per ip: a file may hold thousands of deep stacks over a
// few symbols, and a 56-byte Frame per ip of each would take gigabytes.
type stackTable struct {
	r      *Reader
	mu     sync.Mutex
	ids    map[string]int64
	keys   []stackKey
	frames [][]uint32 // per stack, indexes into uniq; nil until asked
	uniq   []Frame
	uniqID map[frameKey]uint32
}

// frameKey names a distinct frame: a kernel address, or a user address of a pid.
type frameKey struct {
	addr   uint64
	pid    uint32
	kernel bool
}

func newStackTable(r *Reader) *stackTable {
	return &stackTable{r: r, ids: map[string]int64{}, uniqID: map[frameKey]uint32{}}
}

func (t *stackTable) intern(k stackKey) int64 {
	key := make([]byte, 0, 4+8*len(k.ips))
	key = binary.LittleEndian.AppendUint32(key, k.pid)
	key = append(key, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(k.ips))), len(k.ips)*8)...)
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[string(key)]; ok {
		return id
	}
	id := int64(len(t.keys))
	t.ids[string(key)] = id
	t.keys = append(t.keys, k)
	t.frames = append(t.frames, nil)
	return id
}

func (t *stackTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// appendFrames appends the frames of stack id to dst, symbolizing it on the
// first call.
func (t *stackTable) appendFrames(dst []Frame, id int64) []Frame {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id < 0 || id >= int64(len(t.keys)) {
		return dst
	}
	if t.frames[id] == nil {
		t.frames[id] = t.symbolize(t.keys[id])
		t.keys[id].ips = nil // the frame indexes replace the raw chain
	}
	for _, i := range t.frames[id] {
		dst = append(dst, t.uniq[i])
	}
	return dst
}

// Stack returns the frames of stack id, leaf first, without the perf context
// markers; nil for an unknown id.
func (r *Reader) Stack(id int64) []Frame { return r.stacks.appendFrames(nil, id) }

// StackCount returns how many distinct stacks have been seen so far; ids run
// from 0 to StackCount()-1.
func (r *Reader) StackCount() int { return r.stacks.len() }

// symbolize turns a raw callchain into indexes of distinct frames: context
// markers set whether the following addresses are kernel or user; without
// markers the address decides. The caller holds t.mu.
func (t *stackTable) symbolize(k stackKey) []uint32 {
	out := make([]uint32, 0, len(k.ips))
	ctx := 0 // 0 unknown, 1 kernel, 2 user
	for _, ip := range k.ips {
		if ip >= contextMax {
			switch ip {
			case contextKernel, contextGuestKernel, contextHV:
				ctx = 1
			case contextUser, contextGuestUser:
				ctx = 2
			}
			continue
		}
		kernel := ctx == 1 || ctx == 0 && ip >= 1<<63
		fk := frameKey{addr: ip, kernel: kernel}
		if !kernel {
			fk.pid = k.pid
		}
		i, ok := t.uniqID[fk]
		if !ok {
			i = uint32(len(t.uniq))
			t.uniq = append(t.uniq, t.r.symbolizeFrame(k.pid, ip, kernel))
			t.uniqID[fk] = i
		}
		out = append(out, i)
	}
	return out
}

// symbolizeFrame resolves one address, kernel or of pid's user space.
func (r *Reader) symbolizeFrame(pid uint32, ip uint64, kernel bool) Frame {
	fr := Frame{Addr: ip, Kernel: kernel, Name: "[unknown]"}
	if kernel {
		if s, ok := r.ksyms.lookup(ip); ok {
			fr.Name, fr.Offset, fr.Module = s.Name, ip-s.Addr, s.Module
		}
	} else if uf, ok := r.f.UserSymbol(pid, ip); ok {
		if uf.Name != "" {
			fr.Name = uf.Name
			fr.Offset = uf.Offset
		}
		fr.Module = uf.Object
	}
	return fr
}

// kernelSymbols resolves kernel addresses to symbol, offset and size.
type kernelSymbols struct {
	syms []format.Symbol // sorted by Addr
}

func newKernelSymbols(s []format.Symbol) *kernelSymbols {
	if !sort.SliceIsSorted(s, func(i, j int) bool { return s[i].Addr < s[j].Addr }) {
		s = append([]format.Symbol(nil), s...)
		sort.SliceStable(s, func(i, j int) bool { return s[i].Addr < s[j].Addr })
	}
	return &kernelSymbols{syms: s}
}

// lookup returns the symbol holding addr and its size (its own, or up to the
// next symbol; 0 for the last symbol without a size).
func (k *kernelSymbols) lookup(addr uint64) (format.Symbol, bool) {
	i := sort.Search(len(k.syms), func(i int) bool { return k.syms[i].Addr > addr }) - 1
	if i < 0 {
		return format.Symbol{}, false
	}
	s := k.syms[i]
	if s.Size == 0 && i+1 < len(k.syms) {
		s.Size = k.syms[i+1].Addr - s.Addr
	}
	if s.Size != 0 && addr-s.Addr >= s.Size {
		return format.Symbol{}, false
	}
	if s.Size == 0 && addr-s.Addr > 1<<20 {
		return format.Symbol{}, false // past the last symbol: not plausibly inside it
	}
	return s, true
}

// StacksSchema is the schema of StacksRecord: one row per frame.
var StacksSchema = arrow.NewSchema([]arrow.Field{
	{Name: "stack_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "depth", Type: arrow.PrimitiveTypes.Int32}, // 0 = leaf
	{Name: "addr", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "offset", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "module", Type: arrow.BinaryTypes.String},
	{Name: "kernel", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// StacksRecord returns the symbolized frames of every stack seen so far (call
// it after reading) as one record of StacksSchema; the caller releases it.
func (r *Reader) StacksRecord() arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, StacksSchema)
	defer b.Release()
	id := b.Field(0).(*array.Int64Builder)
	depth := b.Field(1).(*array.Int32Builder)
	addr := b.Field(2).(*array.Uint64Builder)
	name := b.Field(3).(*array.StringBuilder)
	off := b.Field(4).(*array.Uint64Builder)
	mod := b.Field(5).(*array.StringBuilder)
	kern := b.Field(6).(*array.BooleanBuilder)
	var frames []Frame
	for s := 0; s < r.StackCount(); s++ {
		frames = r.stacks.appendFrames(frames[:0], int64(s))
		for d, f := range frames {
			id.Append(int64(s))
			depth.Append(int32(d))
			addr.Append(f.Addr)
			name.Append(f.Name)
			off.Append(f.Offset)
			mod.Append(f.Module)
			kern.Append(f.Kernel)
		}
	}
	return b.NewRecord()
}
