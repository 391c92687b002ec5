package replay

import (
	"sort"
	"sync"

	"github.com/kpcap/kpcap/format"
)

// stackTable deduplicates callchains into stack ids and symbolizes their
// frames lazily. A stack keeps one index per ip into a table of distinct
// frames (context markers included), not its raw ips or a key string: a file
// may hold thousands of deep stacks over a few symbols, and 8 bytes per ip
// twice over would take most of what reading such a file needs.
type stackTable struct {
	r       *Reader
	mu      sync.Mutex
	index   hashIndex
	stacks  []stackEntry
	frames  []frameEntry
	frameID map[frameKey]uint32
}

// stackEntry is one distinct stack: its pid (0 without user frames) and its
// ips as indexes into stackTable.frames, leaf first.
type stackEntry struct {
	pid uint32
	idx []uint32
}

// frameEntry is one distinct frame, symbolized on first use; an entry whose
// address is a context marker stands for the marker.
type frameEntry struct {
	key      frameKey
	resolved bool
	frame    Frame
}

// frameKey names a distinct frame: a kernel address, or a user address of a pid.
type frameKey struct {
	addr   uint64
	pid    uint32
	kernel bool
}

func newStackTable(r *Reader) *stackTable {
	return &stackTable{r: r, frameID: map[frameKey]uint32{}}
}

// intern returns the id of the stack k, adding it if new.
func (t *stackTable) intern(k stackKey) int64 {
	h := stackHash(k.pid, k.ips)
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.index.find(h, func(id int64) bool { return t.equal(id, k) }); ok {
		return id
	}
	id := int64(len(t.stacks))
	t.index.add(h, id)
	t.stacks = append(t.stacks, stackEntry{pid: k.pid, idx: t.frameIndexes(k)})
	return id
}

// equal reports whether stack id is k. The frames' addresses and the pid
// decide: whether a frame is kernel or user follows from the ips before it.
func (t *stackTable) equal(id int64, k stackKey) bool {
	e := t.stacks[id]
	if e.pid != k.pid || len(e.idx) != len(k.ips) {
		return false
	}
	for i, x := range e.idx {
		if t.frames[x].key.addr != k.ips[i] {
			return false
		}
	}
	return true
}

// frameIndexes turns a raw callchain into indexes of distinct frames:
// context markers set whether the following addresses are kernel or user;
// without markers the address decides. The caller holds t.mu.
func (t *stackTable) frameIndexes(k stackKey) []uint32 {
	out := make([]uint32, 0, len(k.ips))
	ctx := 0 // 0 unknown, 1 kernel, 2 user
	for _, ip := range k.ips {
		fk := frameKey{addr: ip}
		if ip >= contextMax {
			switch ip {
			case contextKernel, contextGuestKernel, contextHV:
				ctx = 1
			case contextUser, contextGuestUser:
				ctx = 2
			}
		} else {
			fk.kernel = ctx == 1 || ctx == 0 && ip >= 1<<63
			if !fk.kernel {
				fk.pid = k.pid
			}
		}
		i, ok := t.frameID[fk]
		if !ok {
			i = uint32(len(t.frames))
			t.frames = append(t.frames, frameEntry{key: fk})
			t.frameID[fk] = i
		}
		out = append(out, i)
	}
	return out
}

func (t *stackTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.stacks)
}

// appendFrames appends the frames of stack id to dst, leaf first, without
// the context markers, symbolizing frames on their first use.
func (t *stackTable) appendFrames(dst []Frame, id int64) []Frame {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id < 0 || id >= int64(len(t.stacks)) {
		return dst
	}
	for _, i := range t.stacks[id].idx {
		fe := &t.frames[i]
		if fe.key.addr >= contextMax {
			continue
		}
		if !fe.resolved {
			fe.frame = t.r.symbolizeFrame(fe.key.pid, fe.key.addr, fe.key.kernel)
			fe.resolved = true
		}
		dst = append(dst, fe.frame)
	}
	return dst
}

// Stack returns the frames of stack id, leaf first, without the perf context
// markers; nil for an unknown id.
func (r *Reader) Stack(id int64) []Frame { return r.stacks.appendFrames(nil, id) }

// StackCount returns how many distinct stacks have been seen so far; ids run
// from 0 to StackCount()-1.
func (r *Reader) StackCount() int { return r.stacks.len() }

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
