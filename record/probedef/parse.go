package probedef

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Kernel limits (include/linux/trace_probe.h, kernel/trace/trace_probe.h).
const (
	maxArgs         = 128  // MAX_TRACE_ARGS
	maxArgLen       = 63   // MAX_ARGSTR_LEN: one fetch argument body, type included
	maxNameLen      = 63   // MAX_EVENT_NAME_LEN - 1
	maxActiveLimit  = 4096 // KRETPROBE_MAXACTIVE_MAX
	maxArrayLen     = 64   // MAX_ARRAY_LEN
	maxArgNameLen   = 32   // MAX_ARG_NAME_LEN
	maxFetchOps     = 15   // FETCH_INSN_MAX - 1: fetch instructions of one argument
	maxStackParam   = 4096 // PARAM_MAX_STACK on x86-64: THREAD_SIZE/8, 2048 or 4096 with KASAN
	returnSuffix    = "%return"
	kprobeDefaultGr = "kprobes"
	uprobeDefaultGr = "uprobes"
)

// SyntaxError is a malformed probe definition or tracepoint spec; Pos and Len (bytes) mark the
// bad token in Def.
type SyntaxError struct {
	What     string // what Def is, for the message: "" means "probe"; "tracepoint"
	Def      string
	Pos, Len int
	Msg      string
}

// Error renders the message, the definition, and a caret line (^~~~) under the bad token.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	// Echo the definition with control characters shown as '?' so the three lines stay three
	// and the caret stays aligned (each replaced byte is one column).
	echo := strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return '?'
		}
		return r
	}, e.Def)
	what := e.What
	if what == "" {
		what = "probe"
	}
	fmt.Fprintf(&b, "bad %s %q: %s\n%s\n", what, e.Def, e.Msg, echo)
	pos := min(max(e.Pos, 0), len(e.Def))
	// Pad per rune, copying tabs, so the caret lines up under the token on a terminal.
	for _, r := range e.Def[:pos] {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('^')
	n := e.Len
	if pos+n > len(e.Def) {
		n = len(e.Def) - pos
	}
	if n > 1 {
		b.WriteString(strings.Repeat("~", utf8.RuneCountInString(e.Def[pos:pos+n])-1))
	}
	return b.String()
}

type token struct {
	s   string
	pos int
}

type parser struct {
	def            string
	p              *Probe
	maxPos, maxLen int   // where r<N> was written, to complain once the target shows a uprobe
	arch           *Arch // registers of the recording machine; nil means HostArch
}

func (ps *parser) errAt(pos, n int, format string, a ...any) *SyntaxError {
	if n < 1 {
		n = 1
	}
	return &SyntaxError{Def: ps.def, Pos: pos, Len: n, Msg: fmt.Sprintf(format, a...)}
}

func (ps *parser) errTok(t token, format string, a ...any) *SyntaxError {
	return ps.errAt(t.pos, len(t.s), format, a...)
}

// Parse parses one probe definition in the kernel's kprobe_events/uprobe_events syntax
// (see the package documentation). Errors are *SyntaxError pointing at the bad token.
func Parse(def string) (*Probe, error) {
	ps := &parser{def: def, p: &Probe{Def: def}}
	if err := ps.parse(); err != nil {
		return nil, err
	}
	return ps.p, nil
}

func (ps *parser) parse() error {
	def := ps.def
	for i := 0; i < len(def); i++ {
		c := def[i]
		switch {
		case c == '\n' || c == '\r':
			return ps.errAt(i, 1, "line break in definition (one probe per definition)")
		case c == '#':
			// The kernel cuts a written line at '#': everything after it would be silently lost.
			return ps.errAt(i, 1, "'#' is not allowed (tracefs treats it as a comment)")
		case (c < 0x20 && c != '\t') || c == 0x7f:
			return ps.errAt(i, 1, "control character 0x%02x in definition", c)
		}
	}
	toks := split(def)
	if len(toks) == 0 {
		return ps.errAt(0, 1, "empty definition")
	}
	if err := ps.parseHead(toks[0]); err != nil {
		return err
	}
	if len(toks) < 2 {
		return ps.errAt(len(strings.TrimRight(def, " \t")), 1, "missing probe target (a symbol, address, or PATH:OFFSET)")
	}
	if err := ps.parseTarget(toks[1]); err != nil {
		return err
	}
	args := toks[2:]
	if len(args) > maxArgs {
		return ps.errTok(args[maxArgs], "too many arguments (the kernel allows %d)", maxArgs)
	}
	seen := map[string]int{}
	allAt := -1
	for i, t := range args {
		fa, namePos, err := ps.parseArg(t)
		if err != nil {
			return err
		}
		if fa.btf != nil && fa.btf.all {
			if allAt >= 0 {
				return ps.errTok(t, "$arg* given twice (argument %d has it)", allAt+1)
			}
			allAt = i
			ps.p.Args = append(ps.p.Args, fa)
			continue
		}
		name := fa.Name
		if name == "" {
			name = fmt.Sprintf("arg%d", i+1)
		}
		if j, dup := seen[name]; dup {
			if fa.Name == "" {
				return ps.errTok(t, "argument %d is named %s by default, which argument %d already uses", i+1, name, j+1)
			}
			return ps.errAt(namePos, len(fa.Name), "duplicate argument name %q (argument %d has it)", name, j+1)
		}
		seen[name] = i
		ps.p.Args = append(ps.p.Args, fa)
	}
	return nil
}

// split cuts a definition into whitespace-separated tokens as the kernel's argv_split does.
func split(s string) []token {
	var toks []token
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' {
			if start >= 0 {
				toks = append(toks, token{s[start:i], start})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return toks
}

func (ps *parser) parseHead(t token) error {
	s := t.s
	p := ps.p
	switch s[0] {
	case 'p':
	case 'r':
		p.Kind = KindKretprobe
	case 'f':
		p.Kind = KindFprobe
	case 't':
		p.Kind = KindTprobe
	case 'e':
		p.Kind = KindEprobe
	case '-':
		return ps.errAt(t.pos, 1, "'-:GROUP/EVENT' deletes a probe; give a probe definition (p, r, f, t or e)")
	default:
		return ps.errAt(t.pos, 1, "definition must start with p (probe), r (return probe), f (fprobe), t (tracepoint probe) or e (event probe), got %q", s[0])
	}
	rest := s[1:]
	colon := strings.IndexByte(rest, ':')
	num := rest
	if colon >= 0 {
		num = rest[:colon]
	}
	if num != "" {
		pos := t.pos + 1
		if !isDigit(num[0]) {
			return ps.errAt(pos, len(num), "expected ':' or a maxactive number after %q", s[:1])
		}
		if s[0] != 'r' {
			return ps.errAt(pos, len(num), "maxactive is only allowed on return probes (r%s)", num)
		}
		v, ok := parseUint(num)
		if !ok {
			return ps.errAt(pos, len(num), "bad maxactive number %q", num)
		}
		if v == 0 || v > maxActiveLimit {
			return ps.errAt(pos, len(num), "maxactive must be 1..%d", maxActiveLimit)
		}
		p.MaxActive = int(v)
		ps.maxPos, ps.maxLen = pos, len(num)
	}
	if colon < 0 {
		return nil
	}
	name := rest[colon+1:]
	npos := t.pos + 1 + colon + 1
	if name == "" {
		return ps.errAt(npos, 1, "missing event name after ':'")
	}
	if slash := strings.IndexByte(name, '/'); slash >= 0 {
		grp := name[:slash]
		if grp == "" {
			return ps.errAt(npos, 1, "empty group name before '/'")
		}
		if msg := checkIdent(grp); msg != "" {
			return ps.errAt(npos, len(grp), "bad group name %q: %s", grp, msg)
		}
		p.Group = grp
		name = name[slash+1:]
		npos += slash + 1
		if name == "" {
			return ps.errAt(npos, 1, "missing event name after '/'")
		}
	}
	if msg := checkIdent(name); msg != "" {
		return ps.errAt(npos, len(name), "bad event name %q: %s", name, msg)
	}
	p.Event = name
	return nil
}

// checkIdent returns why s is not a usable event, group or argument name, or "".
func checkIdent(s string) string {
	if len(s) > maxNameLen {
		return fmt.Sprintf("longer than %d characters", maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || isAlpha(c) || (i > 0 && isDigit(c))) {
			return "want a C identifier (letters, digits, '_', not starting with a digit)"
		}
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// parseUint parses a number the way the kernel's kstrtoul(s, 0) does: 0x hex, leading-0 octal, decimal.
func parseUint(s string) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case (c|0x20) >= 'a' && (c|0x20) <= 'f':
			d = uint64(c|0x20-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if v > (^uint64(0)-d)/base {
			return 0, false // overflow
		}
		v = v*base + d
	}
	return v, true
}

// isPath reports whether a target names a binary (a uprobe) rather than a kernel symbol.
func isPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../")
}

func (ps *parser) parseTarget(t token) error {
	p := ps.p
	s := t.s
	switch p.Kind {
	case KindFprobe, KindTprobe:
		return ps.parseFprobeTarget(t)
	case KindEprobe:
		return ps.parseEprobeTarget(t)
	}
	uprobe := isPath(s)
	if uprobe {
		if p.MaxActive != 0 {
			return ps.errAt(ps.maxPos, ps.maxLen, "maxactive is not supported for uretprobes")
		}
		if p.Kind == KindKretprobe {
			p.Kind = KindUretprobe
		} else {
			p.Kind = KindUprobe
		}
	}
	// A suffix lives after the last ':' of a uprobe target: paths may hold '%' and ':'.
	spec := 0
	if uprobe {
		spec = len(s)
		if c := strings.LastIndexByte(s, ':'); c >= 0 {
			spec = c + 1
		}
	}
	if i := strings.IndexByte(s[spec:], '%'); i >= 0 {
		i += spec
		if s[i:] != returnSuffix {
			return ps.errAt(t.pos+i, len(s)-i, "unknown suffix %q (only %%return is allowed)", s[i:])
		}
		if p.IsReturn() {
			return ps.errAt(t.pos+i, len(returnSuffix), "%%return on an r probe: use either p ...%%return or r")
		}
		if p.Kind == KindKprobe {
			p.Kind = KindKretprobe
		} else {
			p.Kind = KindUretprobe
		}
		s = s[:i]
	}
	if uprobe {
		return ps.parseUprobeTarget(token{s, t.pos})
	}
	return ps.parseKprobeTarget(token{s, t.pos})
}

func (ps *parser) parseKprobeTarget(t token) error {
	p := ps.p
	s := t.s
	if s == "" {
		return ps.errAt(t.pos, 1, "missing symbol before %%return")
	}
	if isDigit(s[0]) {
		if i := strings.IndexAny(s, "+-"); i >= 0 {
			return ps.errAt(t.pos+i, len(s)-i, "an address probe takes no offset: add it to the address")
		}
		v, ok := parseUint(s)
		if !ok {
			return ps.errTok(t, "bad address %q (want a number such as 0xffffffff81000000, or a symbol)", s)
		}
		p.Addr = v
		return nil
	}
	if strings.IndexByte(s, '/') >= 0 {
		return ps.errTok(t, "bad target %q: a binary path for a uprobe must start with / or ./", s)
	}
	symPos := t.pos
	if c := strings.IndexByte(s, ':'); c >= 0 {
		mod := s[:c]
		if mod == "" {
			return ps.errAt(t.pos, 1, "empty module name before ':'")
		}
		for i := 0; i < len(mod); i++ {
			ch := mod[i]
			if !(ch == '_' || ch == '-' || isAlpha(ch) || isDigit(ch)) {
				return ps.errAt(t.pos, len(mod), "bad module name %q", mod)
			}
		}
		p.Module = mod
		s = s[c+1:]
		symPos += c + 1
		if s == "" {
			return ps.errAt(symPos-1, 1, "missing symbol after module %q", mod)
		}
	}
	sym := s
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		sym = s[:i]
		offTok := token{s[i:], symPos + i}
		if s[i] == '-' {
			return ps.errAt(t.pos, len(t.s), "negative offset %q: a probe goes at or after the symbol", offTok.s)
		}
		v, ok := parseUint(s[i+1:])
		if !ok {
			return ps.errAt(t.pos, len(t.s), "bad offset %q (want +NUMBER, e.g. +0x10)", s[i:])
		}
		if v != 0 && p.IsReturn() {
			return ps.errAt(t.pos, len(t.s), "a return probe must be at the function entry (no offset)")
		}
		p.Offset = v
	}
	if sym == "" {
		return ps.errAt(symPos, 1, "missing symbol")
	}
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if !(c == '_' || c == '.' || isAlpha(c) || (i > 0 && isDigit(c))) {
			return ps.errAt(symPos+i, 1, "bad character %q in symbol %q", c, sym)
		}
	}
	p.Symbol = sym
	return nil
}

func (ps *parser) parseUprobeTarget(t token) error {
	p := ps.p
	s := t.s
	c := strings.LastIndexByte(s, ':')
	if c < 0 {
		return ps.errTok(t, "a uprobe target needs PATH:OFFSET or PATH:SYMBOL[+OFFSET]")
	}
	p.Path = s[:c]
	if path.Base(p.Path) == "." || path.Base(p.Path) == ".." || strings.HasSuffix(p.Path, "/") {
		return ps.errAt(t.pos, c, "path %q names a directory, not a binary", p.Path)
	}
	spec := s[c+1:]
	spos := t.pos + c + 1
	if spec == "" {
		return ps.errAt(spos-1, 1, "missing offset or symbol after ':'")
	}
	if i := strings.IndexByte(spec, '('); i >= 0 && isDigit(spec[0]) {
		ref := spec[i:]
		if !strings.HasSuffix(ref, ")") || len(ref) < 3 {
			return ps.errAt(spos+i, len(spec)-i, "bad reference counter %q (want PATH:OFFSET(REF_OFFSET), e.g. /bin/x:0x1234(0x4010))", ref)
		}
		v, ok := parseUint(ref[1 : len(ref)-1])
		if !ok {
			return ps.errAt(spos+i+1, len(ref)-2, "bad reference counter offset %q", ref[1:len(ref)-1])
		}
		p.RefCtr = v
		spec = spec[:i]
	}
	if isDigit(spec[0]) {
		v, ok := parseUint(spec)
		if !ok {
			return ps.errAt(spos, len(spec), "bad offset %q (want a file offset such as 0x1234, or a symbol)", spec)
		}
		p.Offset = v
		return nil
	}
	sym := spec
	if i := strings.IndexByte(spec, '+'); i >= 0 {
		sym = spec[:i]
		v, ok := parseUint(spec[i+1:])
		if !ok {
			return ps.errAt(spos+i, len(spec)-i, "bad offset %q (want +NUMBER, e.g. +0x10)", spec[i:])
		}
		if v != 0 && p.IsReturn() {
			return ps.errAt(spos+i, len(spec)-i, "a return probe must be at the function entry (no offset)")
		}
		p.Offset = v
	}
	if sym == "" {
		return ps.errAt(spos, 1, "missing symbol")
	}
	if strings.HasPrefix(sym, "-") {
		return ps.errAt(spos, len(spec), "negative offset: a probe goes at or after the symbol")
	}
	p.Symbol = sym
	return nil
}

// parseFprobeTarget parses the target of f (a function, "%return" for its
// exit) and t (a tracepoint event name) probes: [MOD:]NAME.
func (ps *parser) parseFprobeTarget(t token) error {
	p := ps.p
	s := t.s
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if s[i:] != returnSuffix || p.Kind == KindTprobe {
			return ps.errAt(t.pos+i, len(s)-i, "unknown suffix %q", s[i:])
		}
		p.Kind = KindFretprobe
		s = s[:i]
	}
	what := "function"
	if p.Kind == KindTprobe {
		what = "tracepoint"
	}
	pos := t.pos
	if c := strings.IndexByte(s, ':'); c >= 0 {
		mod := s[:c]
		if msg := checkIdent(strings.ReplaceAll(mod, "-", "_")); msg != "" || mod == "" {
			return ps.errAt(pos, max(len(mod), 1), "bad module name %q", mod)
		}
		p.Module = mod
		s, pos = s[c+1:], pos+c+1
	}
	if s == "" {
		return ps.errAt(pos, 1, "missing %s name", what)
	}
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		return ps.errAt(t.pos, len(t.s), "an %s probe takes no offset: it fires at the %s's entry", p.Kind, what)
	}
	if isPath(s) || strings.IndexByte(s, '/') >= 0 {
		return ps.errAt(pos, len(s), "bad %s name %q: f and t probes are kernel-only", what, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || isAlpha(c) || (i > 0 && isDigit(c))) {
			return ps.errAt(pos+i, 1, "bad character %q in %s name %q", c, what, s)
		}
	}
	p.Symbol = s
	return nil
}

// parseEprobeTarget parses SYSTEM.EVENT (or SYSTEM/EVENT), the event an event probe attaches to.
func (ps *parser) parseEprobeTarget(t token) error {
	p := ps.p
	s := t.s
	i := strings.IndexAny(s, "./")
	if i < 0 {
		return ps.errTok(t, "an event probe attaches to SYSTEM.EVENT, e.g. syscalls.sys_enter_openat")
	}
	if i == 0 {
		return ps.errAt(t.pos, len(s), "missing system name before %q", s[:1])
	}
	sys, ev := s[:i], s[i+1:]
	if msg := checkIdent(sys); msg != "" {
		return ps.errAt(t.pos, i, "bad system name %q: %s", sys, msg)
	}
	if ev == "" {
		return ps.errAt(t.pos, len(s), "missing event name after %q", s[i:i+1])
	}
	if msg := checkIdent(ev); msg != "" {
		return ps.errAt(t.pos+i+1, len(ev), "bad event name %q: %s", ev, msg)
	}
	p.System, p.Symbol = sys, ev
	return nil
}
