package filter

import (
	"strings"
	"testing"
)

// row is a test event: ints by id 0..2 (signed, unsigned, unsigned), string by id 3.
type row struct {
	s64  int64
	u64  uint64
	u32  uint64
	str  string
	miss bool // values unreadable
}

func (r *row) Int(id int) (int64, bool) { return r.s64, !r.miss }
func (r *row) Uint(id int) (uint64, bool) {
	if id == 1 {
		return r.u64, !r.miss
	}
	return r.u32, !r.miss
}
func (r *row) Str(id int) ([]byte, bool) { return []byte(r.str), !r.miss }

func resolve(name string) (Field, bool) {
	switch name {
	case "ret":
		return Field{Signed, 0}, true
	case "flags":
		return Field{Unsigned, 1}, true
	case "common_pid":
		return Field{Unsigned, 2}, true
	case "filename", "comm":
		return Field{String, 3}, true
	}
	return Field{}, false
}

func TestEval(t *testing.T) {
	ev := &row{s64: -2, u64: 0x80041, u32: 42, str: "/etc/passwd"}
	cases := []struct {
		expr string
		want bool
	}{
		{"ret == -2", true},
		{"ret < 0", true},
		{"ret >= -2 && ret <= -2", true},
		{"ret > -2", false},
		{"ret != -2", false},
		{"ret == 0xfffffffffffffffe", true}, // hex literal of the same bits
		{"flags & 0x40", true},
		{"flags & 0x2", false},
		{"flags == 524353", true},
		{"common_pid == 42 && filename == \"/etc/passwd\"", true},
		{"common_pid == 42 && filename == '/etc/shadow'", false},
		{"filename ~ \"/etc/*\"", true},
		{"filename ~ \"*pass*\"", true},
		{"filename ~ \"/etc/passw?\"", true},
		{"filename ~ \"/etc/[a-p]asswd\"", true},
		{"filename ~ \"/etc/[!p]asswd\"", false},
		{"filename ~ /etc/*", true}, // bare word
		{"filename != \"x\"", true},
		{"!(ret == -2)", false},
		{"!ret == -2 || common_pid > 41", true},
		{"ret == 1 || ret == 2 || (common_pid < 100 && !(flags & 2))", true},
		{"(ret == -2 || ret == 1) && common_pid == 43", false},
		{"ret == -2 || ret == 1 && common_pid == 43", true}, // && binds tighter
	}
	for _, c := range cases {
		e, err := Parse(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		p, ok, err := e.Compile(resolve)
		if err != nil || !ok {
			t.Errorf("%s: compile %v %v", c.expr, ok, err)
			continue
		}
		if got := p(ev); got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
		if p(&row{miss: true}) && !strings.Contains(c.expr, "!") {
			t.Errorf("%s: true on a row with missing values", c.expr)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		expr, msg string
		col       int
	}{
		{"", "empty expression", 1},
		{"ret ==", "want a number or a string", 7},
		{"ret == 1 &&", "want a field name", 12},
		{"(ret == 1", "want ')'", 10},
		{"ret = 1", "unexpected character '='", 5},
		{"ret == 1)", "unexpected \")\"", 9},
		{"ret 1", "want a comparison", 5},
		{"ret == 0xzz", "bad number", 8},
		{"filename == \"abc", "unterminated string", 13},
		{"ret == 1 $", "unexpected character '$'", 10},
	}
	for _, c := range cases {
		_, err := Parse(c.expr)
		if err == nil {
			t.Errorf("%q: no error", c.expr)
			continue
		}
		fe, ok := err.(*Error)
		if !ok || !strings.Contains(err.Error(), c.msg) || fe.Pos+1 != c.col {
			t.Errorf("%q: %v (col %d), want %q at col %d", c.expr, err, fe.Pos+1, c.msg, c.col)
		}
	}
	typeErrs := []string{`filename < 3`, `ret ~ "x*"`, `ret == "abc"`, `flags == abc`}
	for _, s := range typeErrs {
		e, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if _, _, err := e.Compile(resolve); err == nil {
			t.Errorf("%s: no type error", s)
		}
	}
	e, _ := Parse("nosuch == 1 || ret == -2")
	p, ok, err := e.Compile(resolve)
	if err != nil || ok || p(&row{s64: -2}) {
		t.Errorf("missing field: ok=%v err=%v", ok, err)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"*b*", "abc", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"[abc]x", "bx", true}, {"[a-c]x", "dx", false},
		{"[^a]x", "bx", true}, {"a[", "a[", true}, {"**a", "ba", true}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false}, {"", "", true}, {"", "a", false},
	}
	for _, c := range cases {
		if got := glob(c.p, []byte(c.s)); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ret == -2", "!(a ~ \"x*\") && b & 0x10 || c <= 3", "((((", "a == 'x", "a == [", "f ~ [a-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			_ = err.Error()
			return
		}
		p, _, err := e.Compile(func(name string) (Field, bool) {
			switch len(name) % 3 {
			case 0:
				return Field{Signed, 0}, true
			case 1:
				return Field{Unsigned, 1}, true
			}
			return Field{String, 3}, true
		})
		if err == nil {
			p(&row{str: s})
		}
	})
}
