package discover

import (
	"fmt"
	"path"

	"github.com/kpcap/kpcap/record/internal/elfsym"
	"github.com/kpcap/kpcap/record/internal/usdt"
)

// Symbol is a function of a binary, a uprobe target (PATH:NAME).
type Symbol struct {
	Name   string `json:"name"`
	Addr   uint64 `json:"addr"`   // virtual address in the file
	Offset uint64 `json:"offset"` // file offset: the uprobe's PATH:OFFSET
	Size   uint64 `json:"size"`   // 0 when unknown
}

// Marker is a USDT marker of a binary (see record/internal/usdt).
type Marker = usdt.Marker

// Binary holds what a binary offers to uprobes.
type Binary struct {
	Path      string   `json:"path"`
	Functions []Symbol `json:"functions"`
	Markers   []Marker `json:"markers"`
}

// ReadBinary lists the function symbols (.symtab, else .dynsym) and USDT
// markers of the ELF file at p whose names match the glob pattern ("" for
// all; markers match as PROVIDER:NAME or NAME).
func ReadBinary(p, pattern string) (*Binary, error) {
	if pattern != "" {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
		}
	}
	syms, err := elfsym.Functions(p)
	if err != nil {
		return nil, err
	}
	b := &Binary{Path: p}
	for _, s := range syms {
		if match(pattern, s.Name) {
			b.Functions = append(b.Functions, Symbol{Name: s.Name, Addr: s.Value, Offset: s.Offset, Size: s.Size})
		}
	}
	markers, err := usdt.Load(p)
	if err != nil {
		return b, err
	}
	for _, m := range markers {
		if match(pattern, m.Name) || match(pattern, m.Provider+":"+m.Name) {
			b.Markers = append(b.Markers, m)
		}
	}
	return b, nil
}

// match reports whether name matches the glob pattern; "" matches all.
func match(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, name)
	return ok
}
