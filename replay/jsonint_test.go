package replay

import (
	"bytes"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpcap/kpcap/format"
)

func TestAppendJSONInts(t *testing.T) {
	for _, c := range []struct {
		u    uint64
		want string
	}{
		{0, "0"}, {MaxSafeJSONInt, "9007199254740991"}, {MaxSafeJSONInt + 1, `"9007199254740992"`},
		{0xffffffffffffff9c, `"18446744073709551516"`}, {math.MaxUint64, `"18446744073709551615"`},
	} {
		if got := string(appendJSONUint(nil, c.u)); got != c.want {
			t.Errorf("appendJSONUint(%d) = %s, want %s", c.u, got, c.want)
		}
	}
	for _, c := range []struct {
		i    int64
		want string
	}{
		{-100, "-100"}, {MaxSafeJSONInt, "9007199254740991"}, {-MaxSafeJSONInt, "-9007199254740991"},
		{MaxSafeJSONInt + 1, `"9007199254740992"`}, {-MaxSafeJSONInt - 1, `"-9007199254740992"`},
		{math.MinInt64, `"-9223372036854775808"`}, {math.MaxInt64, `"9223372036854775807"`},
	} {
		if got := string(appendJSONInt(nil, c.i)); got != c.want {
			t.Errorf("appendJSONInt(%d) = %s, want %s", c.i, got, c.want)
		}
	}
}

// TestJSONLargeIntsExactInNode writes 64-bit fields on both sides of 2^53
// through WriteJSON and parses each line with node's JSON.parse: every value
// must come back exact (safe ones as numbers, larger ones as decimal strings).
func TestJSONLargeIntsExactInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	requireCI(t, err == nil, "node is not installed")
	kp := loadFormat(t, "kprobe_open")
	sw := loadFormat(t, "sched_switch")
	spec := traceSpec{
		sources: []format.Source{
			{Name: "kpcap:open", Kind: format.KindKprobe, Target: "do_sys_openat2", Format: kp},
			{Name: "sched:sched_switch", Kind: format.KindTracepoint, Format: sw},
		},
		comms: []format.Comm{{PID: 100, TID: 100, Comm: "cat"}},
	}
	// flags (u64) and prev_state (s64) per line, and what node must print.
	rows := []struct {
		flags, caller uint64
		state         int64
		want          string
	}{
		{MaxSafeJSONInt, 0xffffffff81400210, -MaxSafeJSONInt,
			"number:9007199254740991 string:18446744071583040016 number:-9007199254740991"},
		{MaxSafeJSONInt + 1, 0, -MaxSafeJSONInt - 1,
			"string:9007199254740992 number:0 string:-9007199254740992"},
		{math.MaxUint64, 0xffffffffffffff9c, math.MinInt64,
			"string:18446744073709551615 string:18446744073709551516 string:-9223372036854775808"},
	}
	var want []string
	for i, r := range rows {
		ts := uint64(1_000_000_000 + i*1000)
		spec.samples = append(spec.samples,
			format.Sample{Source: 0, Time: ts, PID: 100, TID: 100, Raw: payload(t, kp, map[string]any{
				"common_pid": 100, "__probe_ip": uint64(0xffffffff81400000), "dfd": -100, "filename": "/x",
				"flags": r.flags, "caller": r.caller}, 0)},
			format.Sample{Source: 1, Time: ts + 1, PID: 100, TID: 100, Raw: payload(t, sw, map[string]any{
				"prev_comm": "cat", "prev_pid": 100, "prev_state": r.state, "next_comm": "x", "next_pid": 1}, 0)})
		want = append(want, strings.Fields(r.want)[0]+" "+strings.Fields(r.want)[1], strings.Fields(r.want)[2])
	}
	p := filepath.Join(t.TempDir(), "ints.kpcap")
	writeTrace(t, p, spec)
	js, _ := readAllText(t, p, Options{}, true)

	const script = `
const lines = require('fs').readFileSync(0, 'utf8').trim().split('\n');
for (const l of lines) {
  const o = JSON.parse(l);
  const show = v => typeof v + ':' + String(v);
  if (o.probe === 'kpcap:open') console.log(show(o.flags) + ' ' + show(o.caller));
  else console.log(show(o.prev_state));
}`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = strings.NewReader(js)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\n%s\ninput:\n%s", err, errb.String(), js)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("node read:\n%s\nwant:\n%s\nJSON:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), js)
	}
}
