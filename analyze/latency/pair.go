// Package latency pairs entry and return events into durations: per thread
// (or per any key) with a stack, so nesting and recursion pair innermost
// first, and every event that cannot be paired is counted, never guessed.
package latency

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/kpcap/kpcap/format"
)

// Role is what an event source means to the pairer.
type Role uint8

// Roles.
const (
	None  Role = iota // not part of any pair
	Entry             // starts an interval
	Exit              // ends the interval of the same function
)

// Rules map source indexes to (role, function).
type Rules struct {
	Funcs []string // function names, indexed by function id
	Role  []Role   // per source index
	Func  []int    // per source index: function id, -1 for None
}

// SyscallPrefix names the functions paired from syscalls:sys_enter_X and
// syscalls:sys_exit_X tracepoints: "syscall:X".
const SyscallPrefix = "syscall:"

// AutoRules pairs the sources of a trace: kprobe/kretprobe and
// uprobe/uretprobe sources that share a Target (the function is named after
// the Target), and syscalls:sys_enter_X with syscalls:sys_exit_X (named
// "syscall:X"). A function is paired only when both an entry and a return
// source exist; with several entry (or return) sources for one function the
// first is used, so one call is not counted twice.
func AutoRules(sources []format.Source) *Rules {
	r := &Rules{Role: make([]Role, len(sources)), Func: make([]int, len(sources))}
	type ends struct{ entry, exit int }
	byName := map[string]*ends{}
	var order []string
	note := func(name string, i int, isExit bool) {
		e := byName[name]
		if e == nil {
			e = &ends{-1, -1}
			byName[name] = e
			order = append(order, name)
		}
		if isExit && e.exit < 0 {
			e.exit = i
		} else if !isExit && e.entry < 0 {
			e.entry = i
		}
	}
	for i, s := range sources {
		r.Func[i] = -1
		switch s.Kind {
		case format.KindKprobe, format.KindUprobe, format.KindKretprobe, format.KindUretprobe:
			if name, exit, ok := usdtPair(s); ok {
				note("d\x00"+name, i, exit)
			} else if s.Target != "" {
				note(s.Kind.String()[:1]+"\x00"+s.Target, i, s.Kind.IsReturn())
			}
		case format.KindTracepoint:
			if name, ok := strings.CutPrefix(s.Name, "syscalls:sys_enter_"); ok {
				note("s\x00"+name, i, false)
			} else if name, ok := strings.CutPrefix(s.Name, "syscalls:sys_exit_"); ok {
				note("s\x00"+name, i, true)
			}
		}
	}
	for _, key := range order {
		e := byName[key]
		if e.entry < 0 || e.exit < 0 {
			continue
		}
		kind, name, _ := strings.Cut(key, "\x00")
		if kind == "d" { // USDT markers
			name = USDTPrefix + name
		}
		if kind == "s" {
			name = SyscallPrefix + name
		}
		id := len(r.Funcs)
		r.Funcs = append(r.Funcs, name)
		r.Role[e.entry], r.Func[e.entry] = Entry, id
		r.Role[e.exit], r.Func[e.exit] = Exit, id
	}
	return r
}

// USDTPrefix starts the function name of paired USDT markers:
// "usdt:python:function" for python:function__entry and function__return.
const USDTPrefix = "usdt:"

// usdtEnds are the marker name suffixes of entry/return pairs in common
// providers (python, ruby, node, mysql, libstdcxx-style names).
var usdtEnds = [][2]string{{"__entry", "__return"}, {"__start", "__done"}, {"__start", "__end"}, {"_entry", "_return"}, {"_start", "_done"}}

// usdtPair names the function of a USDT marker source that opens or closes
// a pair (kpcap record -p 'usdt:...' names sources PROVIDER:MARKER).
func usdtPair(s format.Source) (name string, exit, ok bool) {
	if s.Kind != format.KindUprobe || !strings.HasPrefix(s.Definition, "usdt:") {
		return "", false, false
	}
	for _, e := range usdtEnds {
		if n, ok := strings.CutSuffix(s.Name, e[0]); ok {
			return n, false, true
		}
		if n, ok := strings.CutSuffix(s.Name, e[1]); ok {
			return n, true, true
		}
	}
	return "", false, false
}

// ExplicitRules pairs any of the start sources with any of the end sources
// as one function called name.
func ExplicitRules(nsources int, start, end []int, name string) *Rules {
	r := &Rules{Funcs: []string{name}, Role: make([]Role, nsources), Func: make([]int, nsources)}
	for i := range r.Func {
		r.Func[i] = -1
	}
	for _, i := range start {
		r.Role[i], r.Func[i] = Entry, 0
	}
	for _, i := range end {
		r.Role[i], r.Func[i] = Exit, 0
	}
	return r
}

// Key identifies the stack an event belongs to: a thread (N = tid, with the
// CPU folded in for tid 0, the per-CPU idle task), or a field value.
type Key struct {
	N uint64
	S string
}

// ThreadKey is the pairing key of a thread.
func ThreadKey(tid int32, cpu uint32) Key {
	if tid == 0 {
		return Key{N: 1<<63 | uint64(cpu)}
	}
	return Key{N: uint64(uint32(tid))}
}

// Payload travels from an entry to its pair.
type Payload struct {
	StackID int64  // the entry's stack, -1 if none
	Group   string // the entry's --by group
	// Aux is opaque to the pairer: what a caller needs of the entry when
	// its pair completes (the Perfetto export keeps its encoded fields).
	Aux []byte
	// Ref is another caller's reference to data about the entry (the
	// report timeline's index of its field text; -1 none).
	Ref int32
	// CPU is the entry's CPU: a loss on it between the entry and its
	// return breaks the pair.
	CPU uint32
}

// Pair is one matched entry and return.
type Pair struct {
	Func  int
	Start uint64
	Dur   uint64
	Payload
}

type open struct {
	fn int
	ts uint64
	Payload
}

// Limits bound a Pairer's memory.
const (
	MaxDepth = 4096    // open entries per key; deeper ones push out the oldest
	MaxKeys  = 1 << 20 // keys with open entries; more evict an arbitrary key
)

// Pairer matches entries and returns per key. Not safe for concurrent use.
type Pairer struct {
	stacks map[Key][]open
	// Per function:
	UnmatchedEntries []uint64 // entries whose return never came (lost, or
	// popped by an outer function's return, or still open at the end)
	UnmatchedReturns []uint64 // returns without an open entry
	OpenAtEnd        []uint64 // part of UnmatchedEntries: still open when the trace ended

	// OnUnmatched, when set, is called for every entry counted in
	// UnmatchedEntries, with the key it was open on: exporters show such
	// entries on their own instead of dropping them.
	OnUnmatched func(k Key, fn int, ts uint64, pl Payload)
}

// NewPairer returns a pairer for nfuncs functions.
func NewPairer(nfuncs int) *Pairer {
	return &Pairer{
		stacks:           map[Key][]open{},
		UnmatchedEntries: make([]uint64, nfuncs),
		UnmatchedReturns: make([]uint64, nfuncs),
		OpenAtEnd:        make([]uint64, nfuncs),
	}
}

// Entry opens an interval of function fn on key k.
func (p *Pairer) Entry(k Key, fn int, ts uint64, pl Payload) {
	st, ok := p.stacks[k]
	if !ok && len(p.stacks) >= MaxKeys {
		for victim, vs := range p.stacks {
			for _, o := range vs {
				p.unmatched(victim, o)
			}
			delete(p.stacks, victim)
			break
		}
	}
	if len(st) >= MaxDepth {
		p.unmatched(k, st[0])
		copy(st, st[1:])
		st = st[:len(st)-1]
	}
	p.stacks[k] = append(st, open{fn, ts, pl})
}

// Exit closes the innermost open interval of fn on k. Intervals opened above
// it (other functions whose return was lost) are counted as unmatched
// entries. Without an open interval of fn the return is counted as unmatched.
func (p *Pairer) Exit(k Key, fn int, ts uint64) (Pair, bool) {
	st := p.stacks[k]
	for i := len(st) - 1; i >= 0; i-- {
		if st[i].fn != fn {
			continue
		}
		o := st[i]
		for _, above := range st[i+1:] {
			p.unmatched(k, above)
		}
		st = st[:i]
		if len(st) == 0 && k.S != "" {
			// Field keys (request ids) come and go: forget them. Threads
			// keep their empty stack, saving an allocation per call.
			delete(p.stacks, k)
		} else {
			p.stacks[k] = st
		}
		if ts < o.ts {
			// Out of order by more than the replay merge window: the pair
			// cannot be trusted.
			p.unmatched(k, o)
			p.UnmatchedReturns[fn]++
			return Pair{}, false
		}
		return Pair{Func: fn, Start: o.ts, Dur: ts - o.ts, Payload: o.Payload}, true
	}
	p.UnmatchedReturns[fn]++
	return Pair{}, false
}

// Finish counts every interval still open as unmatched (and open at end).
func (p *Pairer) Finish() {
	if p.OnUnmatched != nil {
		// Callers that write the entries out get them in a stable order.
		keys := slices.SortedFunc(maps.Keys(p.stacks), func(a, b Key) int {
			return cmp.Or(cmp.Compare(a.N, b.N), cmp.Compare(a.S, b.S))
		})
		for _, k := range keys {
			for _, o := range p.stacks[k] {
				p.unmatched(k, o)
				p.OpenAtEnd[o.fn]++
			}
			delete(p.stacks, k)
		}
		return
	}
	for k, st := range p.stacks {
		for _, o := range st {
			p.unmatched(k, o)
			p.OpenAtEnd[o.fn]++
		}
		delete(p.stacks, k)
	}
}

// unmatched counts an entry that will never pair.
func (p *Pairer) unmatched(k Key, o open) {
	p.UnmatchedEntries[o.fn]++
	if p.OnUnmatched != nil {
		p.OnUnmatched(k, o.fn, o.ts, o.Payload)
	}
}

// Open returns how many entries are open on k.
func (p *Pairer) Open(k Key) int { return len(p.stacks[k]) }
