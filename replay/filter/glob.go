package filter

// glob matches s against pattern with *, ? and [...] classes ([!...] negates,
// ranges a-z), like the kernel's glob_match.
func glob(pattern string, s []byte) bool {
	p := 0
	i := 0
	backP, backI := -1, -1
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				backP, backI = p+1, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if end, match, ok := class(pattern[p:], s[i]); ok {
					if match {
						p += end
						i++
						continue
					}
				} else if s[i] == '[' {
					p++
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if backP < 0 {
			return false
		}
		backI++
		p, i = backP, backI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// class matches c against the class at the start of pat ("[...]"), returning
// the class's length; ok is false when pat has no closing bracket.
func class(pat string, c byte) (n int, match, ok bool) {
	i := 1
	neg := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return i + 1, match != neg, true
		}
		first = false
		lo := pat[i]
		hi := lo
		if i+2 < len(pat) && pat[i+1] == '-' && pat[i+2] != ']' {
			hi = pat[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			match = true
		}
		i++
	}
	return 0, false, false
}
