package replay

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

// TestTextEscapesControlBytes checks that strings from the trace (a traced
// program's argument, a command name) cannot add lines to the text output or
// send escape sequences to the terminal, while JSON keeps them exactly.
func TestTextEscapesControlBytes(t *testing.T) {
	kp := loadFormat(t, "kprobe_open")
	exec := loadFormat(t, "sched_process_exec")
	evil := "/tmp/x\n            bash-1 [000] 9.000000: forged:\x1b[2J\tend\x7f"
	spec := traceSpec{
		sources: []format.Source{
			{Name: "kpcap:open", Kind: format.KindKprobe, Target: "do_sys_openat2", Format: kp},
			{Name: "sched:sched_process_exec", Kind: format.KindTracepoint, Format: exec},
		},
		comms: []format.Comm{{PID: 7, TID: 7, Comm: "ev\x1b]0;il\r"}},
		samples: []format.Sample{
			{Source: 0, Time: 1_000_000_000, PID: 7, TID: 7, Raw: payload(t, kp, map[string]any{
				"common_pid": 7, "__probe_ip": uint64(0xffffffff81400000), "dfd": -100, "filename": evil,
				"flags": 0, "caller": uint64(0)}, 0)},
			{Source: 1, Time: 2_000_000_000, PID: 7, TID: 7, Raw: payload(t, exec, map[string]any{
				"common_pid": 7, "filename": evil, "pid": 7, "old_pid": 7}, 0)},
		},
	}
	p := filepath.Join(t.TempDir(), "evil.kpcap")
	writeTrace(t, p, spec)
	got, _ := readAllText(t, p, Options{}, false)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	esc := `/tmp/x\n            bash-1 [000] 9.000000: forged:\x1b[2J\tend\x7f`
	if len(lines) != 2 || strings.ContainsAny(got, "\x1b\r\t\x7f") ||
		!strings.Contains(lines[0], `ev\x1b]0;il\r-7 `) ||
		!strings.Contains(lines[0], `filename="`+esc+`"`) || !strings.Contains(lines[1], "filename="+esc+" pid=7") {
		t.Errorf("text output:\n%s", got)
	}
	js, _ := readAllText(t, p, Options{}, true)
	if !strings.Contains(js, `"filename":"/tmp/x\n            bash-1 [000] 9.000000: forged:\u001b[2J\tend`+"\x7f"+`"`) {
		t.Errorf("JSON output:\n%s", js)
	}
}

func TestAppendTextString(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"plain /path":   "plain /path",
		"a\nb":          `a\nb`,
		"\x00\x01\x1f":  `\x00\x01\x1f`,
		"tab\there\r":   `tab\there\r`,
		"utf8 é 😀":      "utf8 é 😀",
		`back\slash"q"`: `back\slash"q"`, // as ftrace prints them
	} {
		if got := string(appendTextString(nil, in)); got != want {
			t.Errorf("appendTextString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeControlLines(t *testing.T) {
	for in, want := range map[string]string{
		"two\nlines\n":          "two\nlines\n",
		"esc\x1b[2J\nnext\tcol": "esc\\x1b[2J\nnext\\tcol",
		"\r\n":                  "\\r\n",
	} {
		if got := string(EscapeControlLines([]byte(in))); got != want {
			t.Errorf("EscapeControlLines(%q) = %q, want %q", in, got, want)
		}
	}
}
