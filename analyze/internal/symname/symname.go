// Package symname normalizes function names so that stacks and probes of two
// kernels (or two builds) match by name: compiler-generated clone suffixes are
// removed.
package symname

import "strings"

// suffixes are the clone and split markers GCC and LLVM append to a symbol.
// Each may be followed by ".N" digits (".isra.0", ".cold.12").
var suffixes = []string{"isra", "constprop", "part", "cold", "llvm", "lto_priv", "localalias", "specialized"}

// Normalize strips trailing compiler suffixes (".isra.0", ".constprop.0",
// ".cold", ".part.0", ".llvm.123456", in any combination) from a function
// name: "tcp_sendmsg_locked.constprop.0.isra.0" → "tcp_sendmsg_locked". A name
// that is only a suffix is returned unchanged.
func Normalize(name string) string {
	for {
		s, ok := stripOne(name)
		if !ok || s == "" {
			return name
		}
		name = s
	}
}

// stripOne removes one ".suffix" or ".suffix.N" from the end of name.
func stripOne(name string) (string, bool) {
	rest := name
	// Optional trailing ".digits".
	if i := strings.LastIndexByte(rest, '.'); i >= 0 && i < len(rest)-1 && allDigits(rest[i+1:]) {
		rest = rest[:i]
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return name, false
	}
	for _, s := range suffixes {
		if rest[i+1:] == s {
			return rest[:i], true
		}
	}
	return name, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
