package eventfmt

import (
	"fmt"
	"strconv"
	"strings"
)

// parseField parses "field:TYPE NAME; offset:N; size:N; signed:N;".
func parseField(l string) (Field, error) {
	var f Field
	parts := strings.Split(l[len("field:"):], ";")
	decl := strings.TrimSpace(parts[0])
	if err := f.parseAttrs(decl, parts[1:]); err != nil {
		return f, err
	}
	// Split off an array suffix "[16]" / "[]" / "[TASK_COMM_LEN]".
	arr, hasArr := "", false
	if strings.HasSuffix(decl, "]") {
		if j := strings.LastIndexByte(decl, '['); j >= 0 {
			arr, hasArr = decl[j:], true
			decl = strings.TrimSpace(decl[:j])
		}
	}
	j := len(decl)
	for j > 0 && isIdent(decl[j-1]) {
		j--
	}
	if j == len(decl) {
		return f, fmt.Errorf("field %q: no name", decl)
	}
	f.Name = decl[j:]
	typ := strings.TrimSpace(decl[:j])
	if typ == "" {
		return f, fmt.Errorf("field %q: no type", decl)
	}
	f.Type = typ + arr
	f.Common = strings.HasPrefix(f.Name, "common_")
	if err := f.setKind(typ, hasArr); err != nil {
		return f, err
	}
	if f.Offset+f.Size > MaxRecord {
		return f, fmt.Errorf("field %s: offset %d + size %d beyond %d", f.Name, f.Offset, f.Size, MaxRecord)
	}
	return f, nil
}

// parseAttrs reads the "offset:N", "size:N" and "signed:N" attributes of
// the field declared as decl; offset and size are required.
func (f *Field) parseAttrs(decl string, attrs []string) error {
	haveOff, haveSize := false, false
	for _, p := range attrs {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return fmt.Errorf("field %q: bad attribute %q", decl, p)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > MaxRecord {
			return fmt.Errorf("field %q: bad %s %q", decl, k, v)
		}
		switch strings.TrimSpace(k) {
		case "offset":
			f.Offset, haveOff = n, true
		case "size":
			f.Size, haveSize = n, true
		case "signed":
			f.Signed = n != 0
		}
	}
	if !haveOff || !haveSize {
		return fmt.Errorf("field %q: missing offset or size", decl)
	}
	return nil
}

// setKind decides the field's layout from its C type typ (without an
// array suffix, which hasArr says it had) and its size.
func (f *Field) setKind(typ string, hasArr bool) error {
	switch {
	case strings.HasPrefix(typ, "__data_loc") || strings.HasPrefix(typ, "__rel_loc"):
		f.Kind = KindDataLoc
		rest := strings.TrimPrefix(typ, "__data_loc")
		if strings.HasPrefix(typ, "__rel_loc") {
			f.Kind = KindRelLoc
			rest = strings.TrimPrefix(typ, "__rel_loc")
		}
		f.Elem = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "[]"))
		f.Text = isChar(f.Elem)
		if f.Size != 4 {
			return fmt.Errorf("field %s: %s of size %d, want 4", f.Name, typ, f.Size)
		}
	case hasArr:
		f.Elem = typ
		if isChar(typ) {
			f.Kind = KindString
		} else {
			f.Kind = KindBytes
		}
	case f.Size == 1 || f.Size == 2 || f.Size == 4 || f.Size == 8:
		f.Kind = KindInt
		f.Hex = strings.Contains(typ, "*")
	default:
		f.Kind = KindBytes
	}
	return nil
}

// isChar reports whether the C type t is a char, the element of a string.
func isChar(t string) bool {
	t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "const "))
	return t == "char" || t == "signed char"
}

// isIdent reports whether c may appear in a C identifier.
func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
