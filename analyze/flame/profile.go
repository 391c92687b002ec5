// Package flame aggregates stacks into flame graph profiles and writes them as
// folded text (flamegraph.pl, speedscope), self-contained interactive SVG,
// differential SVG and pprof profile.proto.
package flame

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kpcap/kpcap/replay"
)

// Profile is a set of stacks (root first) with weights. Frames are kept as
// strings joined by ';', so memory grows with distinct stacks, not samples.
type Profile struct {
	stacks map[string]uint64
	Total  uint64
	Unit   string // "samples" or "nanoseconds"
}

// New returns an empty profile weighing in unit.
func New(unit string) *Profile { return &Profile{stacks: map[string]uint64{}, Unit: unit} }

// CleanFrame makes a frame name safe for the folded format: ';' separates
// frames, so it becomes ':'; control bytes (a newline would end the record, an
// escape sequence drive a terminal) are escaped as kpcap replay prints them.
func CleanFrame(s string) string {
	return replay.EscapeControl(strings.ReplaceAll(s, ";", ":"))
}

// Add adds weight v to the stack frames (root first; names are cleaned).
func (p *Profile) Add(frames []string, v uint64) {
	var b strings.Builder
	for i, f := range frames {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(CleanFrame(f))
	}
	p.AddFolded(b.String(), v)
}

// AddFolded adds weight v to a stack already joined by ';'.
func (p *Profile) AddFolded(stack string, v uint64) {
	if v == 0 {
		return
	}
	p.stacks[stack] += v
	p.Total += v
}

// Len is the number of distinct stacks.
func (p *Profile) Len() int { return len(p.stacks) }

// Stack is one folded stack and its weight.
type Stack struct {
	Folded string
	Value  uint64
}

// Frames splits the folded stack into frames, root first.
func (s Stack) Frames() []string { return strings.Split(s.Folded, ";") }

// Stacks returns the stacks sorted by folded text.
func (p *Profile) Stacks() []Stack {
	out := make([]Stack, 0, len(p.stacks))
	for k, v := range p.stacks {
		out = append(out, Stack{k, v})
	}
	slices.SortFunc(out, func(a, b Stack) int { return strings.Compare(a.Folded, b.Folded) })
	return out
}

// Map returns a new profile with every frame renamed by fn (stacks that
// become equal merge).
func (p *Profile) Map(fn func(string) string) *Profile {
	q := New(p.Unit)
	for k, v := range p.stacks {
		fr := strings.Split(k, ";")
		for i := range fr {
			fr[i] = fn(fr[i])
		}
		q.Add(fr, v)
	}
	return q
}

// Weight returns the weight of one folded stack.
func (p *Profile) Weight(folded string) uint64 { return p.stacks[folded] }

// WriteFolded writes "frame;frame;frame count" lines, root first, sorted.
func (p *Profile) WriteFolded(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, s := range p.Stacks() {
		bw.WriteString(s.Folded)
		bw.WriteByte(' ')
		bw.WriteString(strconv.FormatUint(s.Value, 10))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ReadFolded parses folded text (the weight follows the last space).
func ReadFolded(r io.Reader, unit string) (*Profile, error) {
	p := New(unit)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		i := strings.LastIndexByte(t, ' ')
		if i <= 0 {
			return nil, fmt.Errorf("folded line %d: no count after the stack", line)
		}
		v, err := strconv.ParseUint(t[i+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("folded line %d: bad count %q", line, t[i+1:])
		}
		p.AddFolded(t[:i], v)
	}
	return p, sc.Err()
}
