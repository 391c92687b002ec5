package format

import (
	"sort"
	"sync"
)

// lookups are the indexes behind CommOf, KernelSymbol and UserSymbol, built
// on first use.
type lookups struct {
	once   sync.Once
	comms  *CommTable
	frames map[userKey]UserFrame
}

type userKey struct {
	pid  uint32
	addr uint64
}

func (f *File) buildLookups() {
	l := &f.look
	l.once.Do(func() {
		l.comms = NewCommTable(f.Comms, f.Header.Host.CPUs)
		l.frames = make(map[userKey]UserFrame, len(f.UserFrames))
		for _, u := range f.UserFrames {
			l.frames[userKey{u.PID, u.Addr}] = u
		}
	})
}

// CommOf returns the command name of thread tid of process pid on cpu at
// time t, "" if the trace does not name it: the name replay shows (see
// CommTable.Lookup), swapper/N for the idle task.
func (f *File) CommOf(pid, tid, cpu uint32, t uint64) string {
	f.buildLookups()
	if i, _, _ := f.look.comms.Lookup(pid, tid, cpu, t); i >= 0 {
		return f.look.comms.Names()[i]
	}
	return ""
}

// maxSymbolSpan is how far past its start an address may lie for a
// symbol of unknown size that has no successor.
const maxSymbolSpan = 1 << 20

// KernelSymbol resolves a kernel address: name, offset into it, ok.
func (f *File) KernelSymbol(addr uint64) (name string, off uint64, ok bool) {
	s := f.Symbols
	i := sort.Search(len(s), func(i int) bool { return s[i].Addr > addr }) - 1
	if i < 0 {
		return "", 0, false
	}
	sym := &s[i]
	off = addr - sym.Addr
	switch {
	case sym.Size > 0:
		if off >= sym.Size {
			return "", 0, false
		}
	case i == len(s)-1 && off >= maxSymbolSpan:
		return "", 0, false
	}
	return sym.Name, off, true
}

// UserSymbol resolves a user address of pid from the recorded UserFrames.
func (f *File) UserSymbol(pid uint32, addr uint64) (UserFrame, bool) {
	f.buildLookups()
	u, ok := f.look.frames[userKey{pid, addr}]
	return u, ok
}
