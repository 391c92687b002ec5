package replay

// Number and string formatting of the text and JSON lines: digits written
// in place, hex, escaped control bytes, JSON-safe integers and strings.

import (
	"bytes"
	"math/bits"
	"slices"
	"unicode/utf8"
)

func appendPad(b []byte, v uint64, width int) []byte {
	for k := decLen(v); k < width; k++ {
		b = append(b, '0')
	}
	return appendUint(b, v)
}

// append6 appends v < 1e6 as exactly six digits (the microseconds).
func append6(b []byte, v uint64) []byte {
	h, m, l := v/10000%100*2, v/100%100*2, v%100*2
	return append(b, digits2[h], digits2[h+1], digits2[m], digits2[m+1], digits2[l], digits2[l+1])
}

// decLen is the number of decimal digits of v.
func decLen(v uint64) int {
	if v < 10 {
		return 1
	}
	// 1233/4096 ~ log10(2): t is floor(log10(v)) or one more.
	t := (bits.Len64(v) * 1233) >> 12
	if v < pow10[t] {
		return t
	}
	return t + 1
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendUint appends v in decimal, writing the digits in place (strconv's
// Append functions format into a temporary and copy).
func appendUint(b []byte, v uint64) []byte {
	// Small values (syscall numbers, return values, CPUs) are the common case.
	if v < 10 {
		return append(b, byte('0'+v))
	}
	if v < 100 {
		return append(b, digits2[v*2], digits2[v*2+1])
	}
	if v < 1000 {
		q := v / 100
		r := (v - q*100) * 2
		return append(b, byte('0'+q), digits2[r], digits2[r+1])
	}
	n := decLen(v)
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	i := l + n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = digits2[v*2], digits2[v*2+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	return b
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-v))
	}
	return appendUint(b, uint64(v))
}

// appendHex64 appends v in lower-case hex without a prefix.
func appendHex64(b []byte, v uint64) []byte {
	if v < 16 {
		return append(b, hexDigits[v])
	}
	// Two digits a step, written in place (a short append of a temporary
	// costs a memmove call).
	n := (bits.Len64(v) + 3) >> 2
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	d := b[l : l+n]
	i := n
	for v >= 256 {
		x := (v & 255) * 2
		i -= 2
		d[i], d[i+1] = hexPairs[x], hexPairs[x+1]
		v >>= 8
	}
	x := v * 2
	if i == 2 {
		d[0], d[1] = hexPairs[x], hexPairs[x+1]
	} else {
		d[0] = hexPairs[x+1]
	}
	return b
}

const hexDigits = "0123456789abcdef"

// hexPairs holds the two hex digits of every byte value.
const hexPairs = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f" +
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" +
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf" +
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

func appendHex(b, v []byte) []byte {
	for _, c := range v {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// appendTextString appends s for the text format, escaping control bytes
// (\n, \t, \r, else \xNN): strings come from traced programs and hostile files,
// and a raw newline would forge an event line, an escape sequence drive the terminal.
func appendTextString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// EscapeControl returns s with its control bytes escaped as the text format
// prints them (\n, \t, \r, else \xNN), for printing names from a trace file.
func EscapeControl(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return string(appendTextString(make([]byte, 0, len(s)+8), s))
		}
	}
	return s
}

// EscapeControlLines is EscapeControl for multi-line text: newlines stay.
// It returns b itself when there is nothing to escape.
func EscapeControlLines(b []byte) []byte {
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			out := make([]byte, 0, len(b)+8)
			for len(b) > 0 {
				line, rest, found := bytes.Cut(b, []byte{'\n'})
				out = appendTextString(out, string(line))
				if found {
					out = append(out, '\n')
				}
				b = rest
			}
			return out
		}
	}
	return b
}

// MaxSafeJSONInt is the largest magnitude WriteJSON writes as a bare JSON
// number (2^53-1, Number.MAX_SAFE_INTEGER): a larger integer (a pointer, a
// sign-extended -100 read as u64, a 64-bit fetcharg) is written as a JSON
// string of its exact decimal value, as protobuf's JSON mapping does for
// 64-bit integers, since JavaScript and jq would round it as a number.
const MaxSafeJSONInt = 1<<53 - 1

// appendJSONUint appends x as a JSON number, or a string above MaxSafeJSONInt.
func appendJSONUint(b []byte, x uint64) []byte {
	if x <= MaxSafeJSONInt {
		return appendUint(b, x)
	}
	b = append(b, '"')
	b = appendUint(b, x)
	return append(b, '"')
}

// appendJSONInt appends x as a JSON number, or a string when its magnitude
// exceeds MaxSafeJSONInt.
func appendJSONInt(b []byte, x int64) []byte {
	if x >= -MaxSafeJSONInt && x <= MaxSafeJSONInt {
		return appendInt(b, x)
	}
	b = append(b, '"')
	b = appendInt(b, x)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
