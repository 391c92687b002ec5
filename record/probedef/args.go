package probedef

import (
	"fmt"
	"strconv"
	"strings"
)

type fetchKind int

const (
	fkReg fetchKind = iota
	fkDeref
	fkMem // @ADDR, @SYM, @+OFFS
	fkStack
	fkArg
	fkRetval
	fkComm
	fkImm
	fkImmStr
	fkBTF    // a BTF name or member path, resolved by ResolveBTF
	fkArgAll // $arg*
	fkField  // an event probe's $FIELD
)

var reservedArgNames = map[string]bool{
	"common_type": true, "common_flags": true, "common_preempt_count": true, "common_pid": true,
	"common_tgid": true, "__probe_ip": true, "__probe_func": true, "__probe_ret_ip": true,
}

var basicTypes = map[string]bool{
	"u8": true, "u16": true, "u32": true, "u64": true,
	"s8": true, "s16": true, "s32": true, "s64": true,
	"x8": true, "x16": true, "x32": true, "x64": true,
	"string": true, "ustring": true, "symbol": true, "symstr": true, "char": true,
}

const typeHelp = "u8..u64, s8..s64, x8..x64, char, string, ustring, symbol, symstr, b<width>@<offset>/<size>, each optionally [N]"

// parseArg parses one fetch argument token: [NAME=]FETCHARG[:TYPE].
func (ps *parser) parseArg(t token) (FetchArg, int, error) {
	fa := FetchArg{Raw: t.s}
	body, bpos := t.s, t.pos
	namePos := t.pos
	q := strings.IndexByte(body, '"')
	if eq := strings.IndexByte(body, '='); eq >= 0 && (q < 0 || eq < q) {
		if err := ps.checkArgName(body[:eq], t.pos); err != nil {
			return fa, 0, err
		}
		fa.Name = body[:eq]
		body, bpos = body[eq+1:], bpos+eq+1
	}
	if body == "" {
		return fa, 0, ps.errAt(bpos, 1, "missing fetch argument after '='")
	}
	fetch, typ := body, ""
	typPos := -1
	if c := indexOutsideQuotes(body, ':'); c >= 0 {
		fetch, typ, typPos = body[:c], body[c+1:], bpos+c+1
		if typ == "" {
			return fa, 0, ps.errAt(typPos-1, 1, "missing type after ':' (want %s)", typeHelp)
		}
	}
	if len(body) > maxArgLen {
		return fa, 0, ps.errAt(bpos, len(body), "argument too long: %d characters (the kernel allows %d)", len(body), maxArgLen)
	}
	canon, kind, err := ps.parseFetch(fetch, bpos)
	if err != nil {
		return fa, 0, err
	}
	dentry := ""
	if typ == "%pd" || typ == "%pD" {
		if ps.p.IsUprobe() || ps.p.Kind == KindEprobe {
			return fa, 0, ps.errAt(typPos, len(typ), "%s needs a kernel function probe (p, r, f, t)", typ)
		}
		dentry, typ = typ, ""
	}
	if kind == fkArgAll {
		if fa.Name != "" || typ != "" {
			return fa, 0, ps.errAt(bpos, len(body), "$arg* takes no name and no type: it expands to every argument, each named and typed from BTF")
		}
	}
	if typ != "" {
		ct, err := ps.parseType(typ, typPos, kind)
		if err != nil {
			return fa, 0, err
		}
		fa.Type = ct
	}
	fa.Fetch = canon
	fa.pos = bpos
	switch {
	case kind == fkArgAll:
		fa.btf = &btfArg{all: true, pos: bpos}
	case kind == fkBTF:
		fa.btf = &btfArg{expr: canon, pos: bpos, user: fa.Type, dentry: dentry}
		if fa.Name == "" && checkIdent(canon) == "" {
			fa.Name = canon // the kernel names a bare BTF argument after itself
		}
		if fa.Name != "" && reservedArgNames[fa.Name] {
			return fa, 0, ps.errAt(bpos, len(canon), "argument name %q is reserved by the kernel", fa.Name)
		}
	case dentry != "":
		fa.btf = &btfArg{pos: bpos, dentry: dentry}
	}
	if kind == fkBTF || kind == fkArgAll || dentry != "" {
		return fa, namePos, nil
	}
	if n := len(fa.Fetch) + len(fa.Type) + btoi(fa.Type != ""); n > maxArgLen {
		return fa, 0, ps.errAt(bpos, len(body), "argument too long: %d characters (the kernel allows %d)", n, maxArgLen)
	}
	return fa, namePos, nil
}

// checkArgName refuses an argument NAME= (at byte pos) the kernel would.
func (ps *parser) checkArgName(name string, pos int) error {
	if name == "" {
		return ps.errAt(pos, 1, "empty argument name before '='")
	}
	if len(name) > maxArgNameLen {
		return ps.errAt(pos, len(name), "argument name %q is longer than %d characters", name, maxArgNameLen)
	}
	if msg := checkIdent(name); msg != "" {
		return ps.errAt(pos, len(name), "bad argument name %q: %s", name, msg)
	}
	if reservedArgNames[name] {
		return ps.errAt(pos, len(name), "argument name %q is reserved by the kernel", name)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func indexOutsideQuotes(s string, c byte) int {
	inq := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			inq = !inq
		case s[i] == c && !inq:
			return i
		}
	}
	return -1
}

// parseFetch parses a fetch expression at pos and returns its canonical text and kind.
func (ps *parser) parseFetch(s string, pos int) (string, fetchKind, error) {
	p := ps.p
	if s == "" {
		return "", 0, ps.errAt(pos, 1, "missing fetch argument")
	}
	switch s[0] {
	case '%':
		if p.IsDynEvent() {
			return "", 0, ps.errAt(pos, len(s), "%s probes cannot read registers: use $argN, argument names or $retval", p.Kind)
		}
		return ps.parseReg(s, pos)
	case '@':
		return ps.parseMem(s, pos)
	case '$':
		return ps.parseVar(s, pos)
	case '+', '-':
		return ps.parseDeref(s, pos)
	case '\\':
		return ps.parseImm(s, pos)
	case '(', ')':
		return "", 0, ps.errAt(pos, 1, "unbalanced parentheses: %q needs an offset before it, e.g. +0(%%di)", s[:1])
	}
	if s[0] == '_' || isAlpha(s[0]) {
		return ps.parseBTFExpr(s, pos)
	}
	if isDigit(s[0]) {
		return "", 0, ps.errAt(pos, len(s), "bare number %q: write +N(...) to dereference, @ADDR for memory, \\N for a constant", s)
	}
	return "", 0, ps.errAt(pos, len(s), "unknown fetch argument %q (want %%REG, @ADDR, @SYM, $stackN, $stack, $argN, $retval, $comm, +|-[u]OFFS(FETCHARG), \\IMM)", s)
}

// parseMem parses @ADDR, @+FILEOFFSET (uprobes) and @SYM[+|-OFFSET]
// (kprobes): memory at an address.
func (ps *parser) parseMem(s string, pos int) (string, fetchKind, error) {
	p := ps.p
	rest := s[1:]
	if rest == "" {
		return "", 0, ps.errAt(pos, 1, "missing address or symbol after '@'")
	}
	if isDigit(rest[0]) {
		if _, ok := parseUint(rest); !ok {
			return "", 0, ps.errAt(pos, len(s), "bad address %q", rest)
		}
		return s, fkMem, nil
	}
	if rest[0] == '+' {
		if !p.IsUprobe() {
			return "", 0, ps.errAt(pos, len(s), "@+OFFSET (a file offset) only works in uprobes")
		}
		if _, ok := parseUint(rest[1:]); !ok {
			return "", 0, ps.errAt(pos+1, len(rest), "bad file offset %q", rest)
		}
		return s, fkMem, nil
	}
	if p.IsUprobe() {
		return "", 0, ps.errAt(pos, len(s), "@SYMBOL only works in kprobes; use @+FILEOFFSET in uprobes")
	}
	sym := rest
	if i := strings.IndexAny(rest, "+-"); i >= 0 {
		sym = rest[:i]
		if _, ok := parseUint(rest[i+1:]); !ok {
			return "", 0, ps.errAt(pos+1+i, len(rest)-i, "bad offset %q", rest[i:])
		}
	}
	if sym == "" {
		return "", 0, ps.errAt(pos+1, 1, "missing symbol after '@'")
	}
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if !(c == '_' || c == '.' || isAlpha(c) || (i > 0 && isDigit(c))) {
			return "", 0, ps.errAt(pos+1, len(sym), "bad symbol %q", sym)
		}
	}
	return s, fkMem, nil
}

// parseImm parses \NUMBER and \"string": an immediate value.
func (ps *parser) parseImm(s string, pos int) (string, fetchKind, error) {
	imm := s[1:]
	if strings.HasPrefix(imm, `"`) {
		if len(imm) < 2 || !strings.HasSuffix(imm, `"`) {
			return "", 0, ps.errAt(pos+len(s), 1, "unterminated immediate string (want \\\"text\" without spaces)")
		}
		if i := strings.IndexByte(imm[1:len(imm)-1], '"'); i >= 0 {
			return "", 0, ps.errAt(pos+2+i, 1, "'\"' inside an immediate string")
		}
		return s, fkImmStr, nil
	}
	v := imm
	if strings.HasPrefix(v, "-") {
		v = v[1:]
	}
	if _, ok := parseUint(v); !ok {
		return "", 0, ps.errAt(pos+1, len(s)-1, "bad immediate %q (want \\NUMBER or \\\"string\")", s)
	}
	return s, fkImm, nil
}

func (ps *parser) parseVar(s string, pos int) (string, fetchKind, error) {
	p := ps.p
	v := s[1:]
	if p.Kind == KindEprobe {
		// An event probe reads the attached event's fields by name.
		if v == "comm" || v == "COMM" {
			return s, fkComm, nil
		}
		if checkIdent(v) != "" || v == "" {
			return "", 0, ps.errAt(pos, len(s), "bad event field %q (want $FIELD, a field of the attached event, or $comm)", s)
		}
		return s, fkField, nil
	}
	switch {
	case v == "arg*":
		if !ps.atFunction() {
			return "", 0, ps.errAt(pos, len(s), "$arg* needs a probe on a kernel function's entry or return (p SYM, r SYM, f SYM, t TRACEPOINT)")
		}
		return s, fkArgAll, nil
	case strings.HasPrefix(v, "retval->"):
		if !p.IsReturn() {
			return "", 0, ps.errAt(pos, len(s), "$retval only exists in return probes (r, %%return)")
		}
		if p.IsUprobe() {
			return "", 0, ps.errAt(pos, len(s), "member access needs BTF: uprobes have none")
		}
		return s, fkBTF, nil
	case v == "retval":
		if !p.IsReturn() {
			return "", 0, ps.errAt(pos, len(s), "$retval only exists in return probes (r or %%return)")
		}
		return s, fkRetval, nil
	case v == "comm" || v == "COMM":
		return s, fkComm, nil
	case v == "stack":
		return s, fkStack, nil
	case strings.HasPrefix(v, "stack"):
		// Only kernel stacks are bounded (PARAM_MAX_STACK); user stacks are not.
		n, err := strconv.ParseUint(v[len("stack"):], 10, 32)
		if err != nil || (!p.IsUprobe() && n > maxStackParam) {
			return "", 0, ps.errAt(pos, len(s), "bad stack slot %q (want $stack0..$stack%d)", s, maxStackParam)
		}
		return s, fkStack, nil
	case strings.HasPrefix(v, "arg"):
		n, err := strconv.ParseUint(v[len("arg"):], 10, 32)
		if err != nil || n == 0 || n > maxStackParam {
			return "", 0, ps.errAt(pos, len(s), "bad argument number %q (want $arg1, $arg2, ...)", s)
		}
		if p.IsUprobe() {
			return "", 0, ps.errAt(pos, len(s), "$argN only works in kprobes; use registers (%s) in uprobes", ps.argRegsHelp())
		}
		if p.IsDynEvent() {
			return s, fkArg, nil
		}
		if p.Symbol == "" || p.Offset != 0 {
			return "", 0, ps.errAt(pos, len(s), "$argN needs a probe on a function entry (a symbol without +offset)")
		}
		return s, fkArg, nil
	}
	return "", 0, ps.errAt(pos, len(s), "unknown variable %q (want $stackN, $stack, $argN, $retval, $comm)", s)
}

// parseDeref parses +|-[u]OFFS(FETCHARG). Like the kernel, the argument runs
// from the first '(' to the last ')', so a missing ')' is reported at the
// end of the innermost argument, where the kernel's error_log puts it.
func (ps *parser) parseDeref(s string, pos int) (string, fetchKind, error) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return "", 0, ps.errAt(pos, len(s), "a dereference needs (FETCHARG) after the offset, e.g. +8(%%di)")
	}
	num := s[1:open]
	user := strings.HasPrefix(num, "u")
	if user {
		num = num[1:]
	}
	if num == "" {
		return "", 0, ps.errAt(pos, len(s), "missing offset before '(' (want e.g. +0(...))")
	}
	if _, ok := parseUint(num); !ok {
		return "", 0, ps.errAt(pos, len(s), "bad number %q in dereference offset", num)
	}
	closeAt := strings.LastIndexByte(s, ')')
	if closeAt < open {
		return "", 0, ps.errAt(pos+len(s), 1, "unbalanced parentheses: '(' is never closed")
	}
	if closeAt != len(s)-1 {
		return "", 0, ps.errAt(pos+closeAt+1, len(s)-closeAt-1, "unexpected %q after ')'", s[closeAt+1:])
	}
	inner := s[open+1 : closeAt]
	ipos := pos + open + 1
	if inner == "" {
		return "", 0, ps.errAt(pos+open, 2, "empty parentheses: want a fetch argument inside, e.g. +0(%%di)")
	}
	ic, ik, err := ps.parseFetch(inner, ipos)
	if err != nil {
		return "", 0, err
	}
	switch ik {
	case fkComm, fkImmStr:
		return "", 0, ps.errAt(ipos, len(inner), "%s is a string and cannot be dereferenced", inner)
	case fkArgAll:
		return "", 0, ps.errAt(ipos, len(inner), "$arg* expands to several arguments and cannot be dereferenced")
	}
	if n := fetchOps(ic) + 1; n > maxFetchOps {
		return "", 0, ps.errAt(ipos, len(inner), "too many nested dereferences: %d fetch operations (the kernel allows %d)", n, maxFetchOps)
	}
	return s[:open+1] + ic + ")", fkDeref, nil
}

// fetchOps counts the kernel's fetch instructions for a canonical fetch
// argument: one per dereference, two for @ADDR, three for @SYM, one otherwise.
func fetchOps(fetch string) int {
	n := strings.Count(fetch, "(")
	base := fetch[strings.LastIndexByte(fetch, '(')+1:]
	switch {
	case strings.HasPrefix(base, "@") && len(base) > 1 && isDigit(base[1]):
		n += 2
	case strings.HasPrefix(base, "@+"):
		n += 2
	case strings.HasPrefix(base, "@"):
		n += 3
	default:
		n++
	}
	return n
}

// parseType parses and validates TYPE for a fetch of the given kind, returning the canonical type.
func (ps *parser) parseType(t string, pos int, kind fetchKind) (string, error) {
	base, arr := t, ""
	if i := strings.IndexByte(t, '['); i >= 0 {
		base, arr = t[:i], t[i:]
		c := strings.IndexByte(arr, ']')
		if c < 0 {
			return "", ps.errAt(pos+len(t), 1, "unclosed array suffix %q (want [N])", arr)
		}
		if c != len(arr)-1 {
			return "", ps.errAt(pos+i+c+1, len(arr)-c-1, "unexpected %q after the array suffix", arr[c+1:])
		}
		n, ok := parseUint(arr[1 : len(arr)-1])
		if !ok || n == 0 {
			return "", ps.errAt(pos+i+1, len(arr)-2, "bad array length %q (want [1]..[%d])", arr, maxArrayLen)
		}
		if n > maxArrayLen {
			return "", ps.errAt(pos+i+1, len(arr)-2, "array length %d is more than the kernel's %d", n, maxArrayLen)
		}
		arr = fmt.Sprintf("[%d]", n)
		if kind != fkDeref && kind != fkMem && kind != fkBTF {
			return "", ps.errAt(pos+i, len(t)-i, "arrays need a memory fetch (+OFFS(...) or @ADDR)")
		}
	}
	if base == "" {
		return "", ps.errAt(pos, 1, "missing type before '[' (want %s)", typeHelp)
	}
	if base[0] == 'b' && len(base) > 1 && isDigit(base[1]) {
		if arr != "" {
			return "", ps.errAt(pos, len(t), "bitfield arrays are not supported")
		}
		cb, err := ps.parseBitfield(base, pos)
		if err != nil {
			return "", err
		}
		if kind == fkComm || kind == fkImmStr {
			return "", ps.errAt(pos, len(base), "a string argument cannot be a bitfield")
		}
		return cb, nil
	}
	if !basicTypes[base] {
		return "", ps.errAt(pos, len(base), "unknown type %q (want %s)", base, typeHelp)
	}
	switch base {
	case "string", "ustring":
		switch kind {
		case fkDeref, fkMem, fkComm, fkImmStr, fkBTF, fkField:
		default:
			return "", ps.errAt(pos, len(base), "%s needs a memory fetch such as +0(%%di), @ADDR, $comm or \\\"text\"", base)
		}
	default:
		if kind == fkComm || kind == fkImmStr {
			return "", ps.errAt(pos, len(base), "this argument is a string: its type must be string")
		}
	}
	return base + arr, nil
}

// parseBitfield validates b<width>@<offset>/<container size>.
func (ps *parser) parseBitfield(s string, pos int) (string, error) {
	at := strings.IndexByte(s, '@')
	sl := strings.IndexByte(s, '/')
	if at < 0 || sl < at {
		return "", ps.errAt(pos, len(s), "bad bitfield %q (want b<width>@<offset>/<size>, e.g. b4@0/32)", s)
	}
	w, err1 := strconv.ParseUint(s[1:at], 10, 8)
	o, err2 := strconv.ParseUint(s[at+1:sl], 10, 8)
	z, err3 := strconv.ParseUint(s[sl+1:], 10, 8)
	switch {
	case err1 != nil || w == 0:
		return "", ps.errAt(pos, len(s), "bad bitfield width %q", s[1:at])
	case err2 != nil:
		return "", ps.errAt(pos, len(s), "bad bitfield offset %q", s[at+1:sl])
	case err3 != nil || (z != 8 && z != 16 && z != 32 && z != 64):
		return "", ps.errAt(pos, len(s), "bad bitfield container size %q (want 8, 16, 32 or 64)", s[sl+1:])
	case w+o > z:
		return "", ps.errAt(pos, len(s), "bitfield width %d + offset %d exceeds its %d-bit container", w, o, z)
	}
	return fmt.Sprintf("b%d@%d/%d", w, o, z), nil
}

// atFunction reports whether the probe sits on a kernel function's entry or
// return (or a tracepoint for t probes), where BTF names the arguments.
func (ps *parser) atFunction() bool {
	p := ps.p
	switch p.Kind {
	case KindFprobe, KindFretprobe, KindTprobe:
		return true
	case KindKprobe, KindKretprobe:
		return p.Symbol != "" && p.Offset == 0
	}
	return false
}

// parseBTFExpr checks the shape of a BTF argument: NAME, NAME->MEMBER, with
// further ->MEMBER and .MEMBER steps. Whether the names exist is for ResolveBTF.
func (ps *parser) parseBTFExpr(s string, pos int) (string, fetchKind, error) {
	if !ps.atFunction() {
		what := "uprobes"
		switch {
		case ps.p.Kind == KindEprobe:
			what = "event probes (use $FIELD)"
		case !ps.p.IsUprobe():
			what = "probes off a function's entry"
		}
		return "", 0, ps.errAt(pos, len(s), "argument names (BTF) do not work in %s; %q is not a fetch argument", what, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || isAlpha(c) || isDigit(c):
		case c == '.':
			if i == len(s)-1 || !(s[i+1] == '_' || isAlpha(s[i+1])) {
				return "", 0, ps.errAt(pos+i, 1, "'.' must be followed by a member name")
			}
		case c == '-':
			if i+1 >= len(s) || s[i+1] != '>' {
				return "", 0, ps.errAt(pos+i, 1, "'-' must be '->' in a member path")
			}
			if i+2 >= len(s) || !(s[i+2] == '_' || isAlpha(s[i+2])) {
				return "", 0, ps.errAt(pos+i, 2, "'->' must be followed by a member name")
			}
			i++
		default:
			return "", 0, ps.errAt(pos+i, 1, "bad character %q in argument name %q", c, s)
		}
	}
	if i := strings.IndexAny(s, ".-"); i >= 0 && s[i] == '.' {
		return "", 0, ps.errAt(pos+i, 1, "'.' on an argument: a function argument is reached with ->")
	}
	return s, fkBTF, nil
}
