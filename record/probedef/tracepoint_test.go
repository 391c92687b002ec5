package probedef

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestParseTracepoint(t *testing.T) {
	for _, tc := range []struct {
		spec         string
		group, event string
	}{
		{"sched:sched_switch", "sched", "sched_switch"},
		{"syscalls:sys_enter_open*", "syscalls", "sys_enter_open*"},
		{"sys*:sys_enter_[ow]*", "sys*", "sys_enter_[ow]*"},
		{"*:sched_process_exec", "*", "sched_process_exec"},
		{"9p:9p_client_req", "9p", "9p_client_req"},
		{"xhci-hcd:xhci_dbg_init", "xhci-hcd", "xhci_dbg_init"},
		{`sched:sched_\[x`, "sched", `sched_\[x`},
		{"sched:sched_[^a-r]*", "sched", "sched_[^a-r]*"},
	} {
		g, e, err := ParseTracepoint(tc.spec)
		if err != nil || g != tc.group || e != tc.event {
			t.Errorf("ParseTracepoint(%q) = %q, %q, %v; want %q, %q", tc.spec, g, e, err, tc.group, tc.event)
		}
	}
}

// TestParseTracepointErrors checks the message and the caret line of every
// kind of malformed spec: the caret must sit under the bad token.
func TestParseTracepointErrors(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		msg   string
		caret string // the third line of the error
	}{
		{"syscalls:[", "no ']' closes", "         ^"},
		{"syscalls:sys_enter_[ab", "no ']' closes", "                   ^~~"},
		{"[:x", "no ']' closes", "^"},
		{"sched:[]", "empty character class", "      ^~"},
		{"sched:[^]x", "empty character class", "      ^~~"},
		{"sched:[-a]x", "bad character class", "      ^~~~"},
		{`sys*:sys_enter_\`, `'\' at the end`, "               ^"},
		{"", "empty: want SUBSYS:EVENT", "^"},
		{":", "missing subsystem", "^"},
		{":foo", "missing subsystem", "^"},
		{"sched:", "missing event name after ':' (e.g. sched:sched_switch", "     ^"},
		{"sched_switch", "missing ':' between subsystem and event", "^~~~~~~~~~~~"},
		{"sched:sched_switch,", "give each tracepoint on its own", "                  ^"},
		{"sched:sched_switch,sched:sched_wakeup", "give each tracepoint on its own", "                  ^"},
		{",", "give each tracepoint on its own", "^"},
		{"a:b:c", "second ':'", "   ^"},
		{"sched/sched_switch", "'/' in a tracepoint", "     ^"},
		{"sched:sched switch", "give one SUBSYS:EVENT each", "           ^"},
		{"p:myopen do_sys_openat2", "looks like a kprobe/uprobe definition, not a tracepoint", "        ^"},
		{"sched:a\x01", "control character 0x01", "       ^"},
	} {
		_, _, err := ParseTracepoint(tc.spec)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseTracepoint(%q): error %v (%T), want *SyntaxError", tc.spec, err, err)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "bad tracepoint ") || !strings.Contains(lines[0], tc.msg) || lines[2] != tc.caret {
			t.Errorf("ParseTracepoint(%q):\n%s\nwant %q and caret line %q", tc.spec, err, tc.msg, tc.caret)
		}
	}
}

// FuzzParseTracepoint checks that ParseTracepoint accepts exactly the specs
// whose two parts path.Match accepts (it must neither let a bad glob through
// to tracefs nor reject a good one), and that errors point inside the spec.
func FuzzParseTracepoint(f *testing.F) {
	for _, s := range []string{"sched:sched_switch", "syscalls:[", "a:[]]", `x:\`, "sys*:sys_[^a-c\\]]x", "a:b:c", "s:[a-]", "s:[\\", ":", "s:[^"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		g, e, err := ParseTracepoint(spec)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *SyntaxError", err)
			}
			if se.Pos < 0 || se.Pos >= max(len(spec), 1) || se.Len < 1 {
				t.Fatalf("bad error span %d+%d in %q", se.Pos, se.Len, spec)
			}
			if n := strings.Count(err.Error(), "\n"); n != 2 {
				t.Fatalf("error has %d line breaks, want 2:\n%s", n, err)
			}
			if gp, ep, ok := strings.Cut(spec, ":"); ok && gp != "" && ep != "" && !strings.ContainsAny(spec, " \t,/") && !strings.Contains(ep, ":") && !hasControl(spec) {
				_, gerr := path.Match(gp, "")
				_, eerr := path.Match(ep, "")
				if gerr == nil && eerr == nil {
					t.Fatalf("%q rejected (%v), but path.Match accepts both parts", spec, err)
				}
			}
			return
		}
		if g+":"+e != spec {
			t.Fatalf("%q split into %q, %q", spec, g, e)
		}
		if _, err := path.Match(g, ""); err != nil {
			t.Fatalf("%q accepted, but group %q is a bad pattern", spec, g)
		}
		if _, err := path.Match(e, ""); err != nil {
			t.Fatalf("%q accepted, but event %q is a bad pattern", spec, e)
		}
	})
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
