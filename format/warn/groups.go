// Package warn groups alike warnings of a damaged file into one line per
// kind, so that a file with thousands of damaged frames reads as a few
// lines, in bounded memory. format's scan and replay's decoding share it.
package warn

import (
	"fmt"
	"strings"
)

// MaxKinds caps the warning lines a Groups keeps: a hostile file with
// thousands of damaged frames or unparsable sources would otherwise print
// thousands of near-identical lines and hold them all in memory.
const MaxKinds = 50

// Groups collects warnings by kind: one line per kind (its first example
// and how many more were like it), in the order kinds appear. The zero
// value is empty and ready.
type Groups struct {
	index   map[string]int // kind key → position in list
	sites   map[string]bool
	list    []group
	dropped int // warnings of kinds beyond MaxKinds
}

type group struct {
	first string
	more  int
}

// Add counts one warning made by fmt.Sprintf(format, a...) and returns the
// position of its kind's line, or false when it is dropped. A warning whose
// format has not been seen yet is always kept, so the cap never hides a
// kind of damage, only variants of one.
func (g *Groups) Add(format string, a ...any) (line int, kept bool) {
	key := warnKind(format, a)
	if i, ok := g.index[key]; ok {
		g.list[i].more++
		return i, true
	}
	if g.index == nil {
		g.index, g.sites = map[string]int{}, map[string]bool{}
	}
	if len(g.list) >= MaxKinds && g.sites[format] {
		g.dropped++
		return 0, false
	}
	g.sites[format] = true
	g.index[key] = len(g.list)
	g.list = append(g.list, group{first: fmt.Sprintf(format, a...)})
	return len(g.list) - 1, true
}

// Line renders the line of kind i: its first example, and how many more
// were like it.
func (g *Groups) Line(i int) string {
	w := g.list[i]
	if w.more == 0 {
		return w.first
	}
	return fmt.Sprintf("%s (and %d more like it)", w.first, w.more)
}

// Dropped counts the warnings not kept (variants of a kind past MaxKinds).
func (g *Groups) Dropped() int { return g.dropped }

// DroppedLine is the line that counts the dropped warnings.
func DroppedLine(n int) string { return fmt.Sprintf("... and %d more warnings", n) }

// Lines renders one line per kind, then the count of warnings dropped.
func (g *Groups) Lines() []string {
	out := make([]string, 0, len(g.list)+1)
	for i := range g.list {
		out = append(out, g.Line(i))
	}
	if g.dropped > 0 {
		out = append(out, DroppedLine(g.dropped))
	}
	return out
}

// Clone copies g, so that a caller can add computed lines without
// changing what g has collected.
func (g *Groups) Clone() *Groups {
	c := &Groups{index: make(map[string]int, len(g.index)), sites: make(map[string]bool, len(g.sites)),
		list: append([]group(nil), g.list...), dropped: g.dropped}
	for k, v := range g.index {
		c.index[k] = v
	}
	for k, v := range g.sites {
		c.sites[k] = v
	}
	return c
}

// warnKind is what makes two warnings alike: the same format and the same
// error texts once numbers (offsets, frame numbers, checksums) are masked.
// Other arguments (source names, counts) only vary within a kind.
func warnKind(format string, a []any) string {
	var b strings.Builder
	b.WriteString(format)
	for _, v := range a {
		if err, ok := v.(error); ok {
			b.WriteByte(0)
			b.WriteString(maskNumbers(err.Error()))
		}
	}
	return b.String()
}

// maskNumbers replaces each word holding a digit, and each long hex word,
// by '#'.
func maskNumbers(s string) string {
	var b strings.Builder
	word := func(w string) {
		digit, hex := false, len(w) >= 8
		for _, c := range w {
			switch {
			case c >= '0' && c <= '9':
				digit = true
			case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			default:
				hex = false
			}
		}
		if digit || hex {
			b.WriteByte('#')
		} else {
			b.WriteString(w)
		}
	}
	start := -1
	for i, c := range s {
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if alnum {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			word(s[start:i])
			start = -1
		}
		b.WriteRune(c)
	}
	if start >= 0 {
		word(s[start:])
	}
	return b.String()
}
