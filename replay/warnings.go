package replay

import (
	"fmt"
	"strings"
)

// maxWarnKinds caps the warning lines a Reader keeps: a hostile file with
// thousands of damaged frames or unparsable sources would otherwise print
// thousands of near-identical lines and hold them all in memory.
const maxWarnKinds = 50

// warnGroups collects warnings by kind: one line per kind (its first
// example and how many more were like it), in the order kinds appear.
type warnGroups struct {
	index   map[string]int // kind key → position in list
	sites   map[string]bool
	list    []warnGroup
	dropped int // warnings of kinds beyond maxWarnKinds
}

type warnGroup struct {
	first string
	more  int
}

// add counts one warning made by fmt.Sprintf(format, a...). A warning whose
// format has not been seen yet is always kept, so the cap never hides a
// kind of damage, only variants of one.
func (g *warnGroups) add(format string, a ...any) {
	key := warnKind(format, a)
	if i, ok := g.index[key]; ok {
		g.list[i].more++
		return
	}
	if g.index == nil {
		g.index, g.sites = map[string]int{}, map[string]bool{}
	}
	if len(g.list) >= maxWarnKinds && g.sites[format] {
		g.dropped++
		return
	}
	g.sites[format] = true
	g.index[key] = len(g.list)
	g.list = append(g.list, warnGroup{first: fmt.Sprintf(format, a...)})
}

// lines renders one line per kind, then the count of warnings dropped.
func (g *warnGroups) lines() []string {
	out := make([]string, 0, len(g.list)+1)
	for _, w := range g.list {
		if w.more == 0 {
			out = append(out, w.first)
		} else {
			out = append(out, fmt.Sprintf("%s (and %d more like it)", w.first, w.more))
		}
	}
	if g.dropped > 0 {
		out = append(out, fmt.Sprintf("... and %d more warnings", g.dropped))
	}
	return out
}

// clone copies g so that Warnings can add its computed lines without
// changing what the Reader has collected.
func (g *warnGroups) clone() *warnGroups {
	c := &warnGroups{index: make(map[string]int, len(g.index)), sites: make(map[string]bool, len(g.sites)),
		list: append([]warnGroup(nil), g.list...), dropped: g.dropped}
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
