// Package elfsym resolves ELF symbols to file offsets, for uprobes (PATH:SYMBOL → PATH:OFFSET),
// and file offsets back to function names, for symbolizing user-space stacks.
package elfsym

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/kpcap/kpcap/record/internal/closest"
)

// ErrNotFound is wrapped by errors for symbols that are not in the file.
var ErrNotFound = errors.New("symbol not found")

// ErrAmbiguous is wrapped by errors for names defined at several addresses.
var ErrAmbiguous = errors.New("ambiguous symbol")

// Symbol is a function (or untyped code) symbol.
type Symbol struct {
	Name  string
	Value uint64 // virtual address in the file's own address space
	Size  uint64 // 0 when unknown
}

// open opens an ELF file with clear errors; debug/elf may panic on hostile input, so recover.
func open(path string) (f *elf.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: malformed ELF file (%v)", path, r)
		}
	}()
	if st, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err = elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s: not an ELF binary (%v)", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// funcSymbols returns the defined code symbols of f: .symtab first, then .dynsym.
func funcSymbols(f *elf.File) (syms []Symbol, err error) {
	defer func() {
		if r := recover(); r != nil {
			syms, err = nil, fmt.Errorf("malformed symbol table (%v)", r)
		}
	}()
	add := func(list []elf.Symbol) {
		for _, s := range list {
			typ := elf.ST_TYPE(s.Info)
			if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC && typ != elf.STT_NOTYPE {
				continue
			}
			if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS || s.Name == "" || s.Value == 0 {
				continue
			}
			if typ == elf.STT_NOTYPE && (strings.HasPrefix(s.Name, "$") || strings.HasPrefix(s.Name, ".L")) {
				continue // mapping and local labels
			}
			syms = append(syms, Symbol{Name: s.Name, Value: s.Value, Size: s.Size})
		}
	}
	st, err1 := f.Symbols()
	add(st)
	dy, err2 := f.DynamicSymbols()
	add(dy)
	if len(syms) == 0 && err1 != nil && err2 != nil {
		return nil, errors.New("no symbol table (stripped binary?)")
	}
	return syms, nil
}

// execSegment returns the PT_LOAD program header containing vaddr, preferring executable ones.
func execSegment(f *elf.File, vaddr uint64) *elf.Prog {
	var any *elf.Prog
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || vaddr < p.Vaddr || vaddr-p.Vaddr >= p.Memsz {
			continue
		}
		if p.Flags&elf.PF_X != 0 {
			return p
		}
		if any == nil {
			any = p
		}
	}
	return any
}

// FileOffset returns the file offset of symbol+off in the ELF file at path, as uprobes want it:
// sym.Value - seg.Vaddr + seg.Off of the PT_LOAD segment holding the symbol. It searches
// .symtab, then .dynsym. Errors say whether the file is missing or not ELF, suggest close
// names for unknown symbols (wrapping ErrNotFound), and list the candidates of ambiguous
// ones (wrapping ErrAmbiguous).
func FileOffset(path, symbol string, off uint64) (uint64, error) {
	f, err := open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return fileOffset(f, path, symbol, off)
}

func fileOffset(f *elf.File, path, symbol string, off uint64) (uint64, error) {
	syms, err := funcSymbols(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var match []Symbol
	for _, s := range syms {
		if s.Name != symbol && !versionedMatch(s.Name, symbol) {
			continue
		}
		dup := false
		for _, m := range match {
			dup = dup || m.Value == s.Value
		}
		if !dup {
			match = append(match, s)
		}
	}
	switch len(match) {
	case 0:
		msg := fmt.Sprintf("%s: %s %q", path, ErrNotFound, symbol)
		if sug := suggest(syms, symbol, 5); len(sug) > 0 {
			msg += "; did you mean " + strings.Join(sug, ", ") + "?"
		}
		return 0, &wrapped{msg, ErrNotFound}
	case 1:
	default:
		var c []string
		for _, m := range match {
			if seg := execSegment(f, m.Value); seg != nil {
				c = append(c, fmt.Sprintf("0x%x", m.Value-seg.Vaddr+seg.Off))
			}
		}
		return 0, &wrapped{fmt.Sprintf("%s: %s %q: defined %d times (file offsets %s); probe PATH:OFFSET instead",
			path, ErrAmbiguous, symbol, len(match), strings.Join(c, ", ")), ErrAmbiguous}
	}
	s := match[0]
	if s.Size > 0 && off >= s.Size {
		return 0, fmt.Errorf("%s: offset 0x%x is beyond the end of %s (size 0x%x)", path, off, symbol, s.Size)
	}
	seg := execSegment(f, s.Value+off)
	if seg == nil {
		return 0, fmt.Errorf("%s: %s at 0x%x is in no loadable segment", path, symbol, s.Value)
	}
	return s.Value + off - seg.Vaddr + seg.Off, nil
}

// versionedMatch accepts "name@VERSION" and "name@@VERSION" spellings in .symtab.
func versionedMatch(have, want string) bool {
	i := strings.IndexByte(have, '@')
	return i > 0 && have[:i] == want
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// suggest returns up to n symbol names close to want: containing it, or within a small edit distance.
func suggest(syms []Symbol, want string, n int) []string {
	seen := map[string]bool{}
	var cs closest.Ranked
	lw := strings.ToLower(want)
	limit := max(2, len(want)/3)
	for _, s := range syms {
		if seen[s.Name] || len(s.Name) > 3*len(want)+8 {
			continue
		}
		seen[s.Name] = true
		ln := strings.ToLower(s.Name)
		d := -1
		if strings.Contains(ln, lw) || (len(lw) >= 4 && strings.Contains(lw, ln) && len(ln) >= 4) {
			d = abs(len(ln)-len(lw)) / 4
		} else if abs(len(ln)-len(lw)) <= limit {
			if e := closest.Distance(ln, lw, limit); e <= limit {
				d = e
			}
		}
		if d >= 0 {
			cs.Add(s.Name, d)
		}
	}
	return cs.Best(n)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Table holds the function symbols and loadable segments of one ELF file, for symbolization.
type Table struct {
	Path string
	syms []Symbol // sorted by Value
	segs []segment
}

type segment struct{ off, filesz, vaddr uint64 }

// Load reads the function symbols of the ELF file at path.
func Load(path string) (*Table, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return newTable(f, path)
}

// parse reads an ELF image from r; debug/elf may panic on hostile input, so recover.
func parse(r io.ReaderAt, path string) (f *elf.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%s: malformed ELF file (%v)", path, p)
		}
	}()
	f, err = elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF binary (%v)", path, err)
	}
	return f, nil
}

func newTable(f *elf.File, path string) (*Table, error) {
	syms, err := funcSymbols(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sort.Slice(syms, func(i, j int) bool {
		if syms[i].Value != syms[j].Value {
			return syms[i].Value < syms[j].Value
		}
		// Prefer sized symbols, then the shorter name (foo over foo@@GLIBC), for stable output.
		if (syms[i].Size > 0) != (syms[j].Size > 0) {
			return syms[i].Size > 0
		}
		return len(syms[i].Name) < len(syms[j].Name)
	})
	// Drop duplicates (the same function in .symtab and .dynsym).
	out := syms[:0]
	for i, s := range syms {
		if i > 0 && s.Value == out[len(out)-1].Value {
			continue
		}
		out = append(out, s)
	}
	t := &Table{Path: path, syms: out}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.segs = append(t.segs, segment{p.Off, p.Filesz, p.Vaddr})
		}
	}
	return t, nil
}

// Len returns the number of distinct function addresses in the table.
func (t *Table) Len() int { return len(t.syms) }

// Lookup returns the function containing fileOffset (an address relative to the file, as
// computed from /proc/PID/maps: addr - start + pgoff) and the offset into it.
func (t *Table) Lookup(fileOffset uint64) (name string, off uint64, ok bool) {
	for _, s := range t.segs {
		if fileOffset >= s.off && fileOffset-s.off < s.filesz {
			return t.LookupVaddr(fileOffset - s.off + s.vaddr)
		}
	}
	return "", 0, false
}

// LookupVaddr returns the function containing the link-time virtual address vaddr and the
// offset into it. Symbols without a size cover addresses up to the next symbol.
func (t *Table) LookupVaddr(vaddr uint64) (name string, off uint64, ok bool) {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Value > vaddr }) - 1
	if i < 0 {
		return "", 0, false
	}
	s := t.syms[i]
	if s.Size > 0 && vaddr-s.Value >= s.Size {
		return "", 0, false
	}
	return s.Name, vaddr - s.Value, true
}
