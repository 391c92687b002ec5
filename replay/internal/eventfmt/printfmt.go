package eventfmt

import "strings"

// applyPrintFmt reads how the kernel prints each field (hex, symbol) from the
// print fmt: kprobe x8..x64 and symbol fetchargs are only told apart there.
func applyPrintFmt(ev *Event) {
	verbs, args, ok := splitPrintFmt(ev.PrintFmt)
	if !ok || len(verbs) != len(args) {
		return
	}
	for i, a := range args {
		name := recField(a)
		if name == "" {
			continue
		}
		f := ev.Field(name)
		if f == nil || f.Kind != KindInt {
			continue
		}
		v := verbs[i]
		switch {
		case v == "x" || v == "X":
			f.Hex = true
		case v == "pS" || v == "ps" || v == "pB" || v == "pSR":
			f.Symbol, f.Hex = true, false
		case strings.HasPrefix(v, "p"):
			f.Hex = true
		case v == "d" || v == "i" || v == "u":
			f.Hex = false
		}
	}
}

// recField returns NAME when arg is REC->NAME, possibly within casts and
// parentheses, and nothing else; "" otherwise.
func recField(arg string) string {
	i := strings.Index(arg, "REC->")
	if i < 0 || strings.Count(arg, "REC->") != 1 {
		return ""
	}
	// Reject expressions other than casts: anything but identifiers, spaces,
	// parentheses and '*' around the field.
	rest := arg[i+5:]
	j := 0
	for j < len(rest) && isIdent(rest[j]) {
		j++
	}
	name := rest[:j]
	for _, c := range []byte(arg[:i] + rest[j:]) {
		if !(c == '(' || c == ')' || c == ' ' || c == '*' || isIdent(c)) {
			return ""
		}
	}
	return name
}

// splitPrintFmt splits `"fmt", arg, arg` into the conversion verbs of fmt
// ("d", "lx" → "x", "pS") and the top-level arguments.
func splitPrintFmt(p string) (verbs, args []string, ok bool) {
	s, end, ok := cString(p)
	if !ok {
		return nil, nil, false
	}
	return printVerbs(s), topLevelArgs(p[end+1:]), true
}

// cString reads the C string literal that p starts with: its text, with
// escapes resolved, and the index of its closing quote.
func cString(p string) (s string, end int, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return "", 0, false
	}
	var b strings.Builder
	i := 1
	for ; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			i++
			b.WriteByte(p[i])
			continue
		}
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	if i >= len(p) {
		return "", 0, false
	}
	return b.String(), i, true
}

// printVerbs returns the conversions of the printf format s in order:
// the verb letter ("lx" gives "x"), %p with its extension ("pS"), and a
// "*" for each width or precision taken from an argument.
func printVerbs(s string) []string {
	var verbs []string
	for k := 0; k < len(s); k++ {
		if s[k] != '%' {
			continue
		}
		k++
		if k < len(s) && s[k] == '%' {
			continue
		}
		for k < len(s) && strings.IndexByte("-+ #0123456789.*hlLqjzt", s[k]) >= 0 {
			if s[k] == '*' {
				verbs = append(verbs, "*")
			}
			k++
		}
		if k >= len(s) {
			break
		}
		v := string(s[k])
		if s[k] == 'p' {
			e := k + 1
			for e < len(s) && (s[e] >= 'a' && s[e] <= 'z' || s[e] >= 'A' && s[e] <= 'Z') && e-k < 4 {
				e++
			}
			v = s[k:e]
			k = e - 1
		}
		verbs = append(verbs, v)
	}
	return verbs
}

// topLevelArgs splits the text after the format string (", arg, arg") at
// the commas outside brackets and quotes.
func topLevelArgs(rest string) []string {
	var args []string
	depth, start := 0, -1
	inStr := byte(0)
	for k := 0; k < len(rest); k++ {
		c := rest[k]
		switch {
		case inStr != 0:
			if c == '\\' {
				k++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			if start >= 0 {
				args = append(args, strings.TrimSpace(rest[start:k]))
			}
			start = k + 1
		}
	}
	if start >= 0 {
		args = append(args, strings.TrimSpace(rest[start:]))
	}
	return args
}
