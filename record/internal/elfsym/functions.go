package elfsym

import (
	"debug/elf"
	"fmt"
	"sort"
)

// Function is a function symbol with the file offset a uprobe on it uses.
type Function struct {
	Symbol
	Offset uint64 // Value - seg.Vaddr + seg.Off of the PT_LOAD segment holding it
}

// Functions returns the function symbols of the ELF file at path (.symtab
// and .dynsym, each name and address once) sorted by name, with their file
// offsets. Symbols outside the executable segments are left out: no uprobe
// can sit there.
func Functions(path string) ([]Function, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := funcSymbols(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	type key struct {
		name  string
		value uint64
	}
	seen := make(map[key]bool, len(syms))
	out := make([]Function, 0, len(syms))
	for _, s := range syms {
		k := key{s.Name, s.Value}
		if seen[k] {
			continue
		}
		seen[k] = true
		seg := execSegment(f, s.Value)
		if seg == nil || seg.Flags&elf.PF_X == 0 {
			continue // data symbols without a type (_edata) are not functions
		}
		out = append(out, Function{Symbol: s, Offset: s.Value - seg.Vaddr + seg.Off})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}
