package filter

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNum
	tStr
	tOp
	tLParen
	tRParen
)

// token is one lexeme of an expression and its byte position.
type token struct {
	kind tokKind
	text string // identifier, operator, number text or unquoted string
	pos  int
}

// lex splits s into tokens, ended by a tEOF token.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, &Error{s, i, "unterminated string"}
			}
			toks = append(toks, token{tStr, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isWord(s[j])) {
				j++
			}
			toks = append(toks, token{tNum, s[i:j], i})
			i = j
		case isWord(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"&&", "||", "==", "!=", "<=", ">=", "<", ">", "&", "~", "!"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &Error{s, i, fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}

// isWord accepts the characters of field names and bare words (paths and
// globs included, so `filename ~ /etc/*` works unquoted).
func isWord(c byte) bool {
	return c == '_' || c == '.' || c == ':' || c == '/' || c == '*' || c == '?' || c == '[' || c == ']' || c == '-' ||
		c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
