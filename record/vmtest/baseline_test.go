//go:build linux

package vmtest

import (
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// traceLine matches one line of tracefs "trace" text:
// "cat-108 [001] ..... 2.521221: open: (do_sys_openat2+0x0/0x170) filename=..."
var traceLine = regexp.MustCompile(`^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+[\d.]+: (\w+): \(([^)]*)\)(.*)$`)

// traceArg extracts name=value from the argument text of a trace line; string
// values are unquoted.
func traceArg(args, name string) (string, bool) {
	i := strings.Index(args, " "+name+"=")
	if i < 0 {
		return "", false
	}
	v := args[i+len(name)+2:]
	if strings.HasPrefix(v, `"`) {
		end := strings.Index(v[1:], `"`)
		if end < 0 {
			return "", false
		}
		return v[1 : end+1], true
	}
	if sp := strings.IndexByte(v, ' '); sp >= 0 {
		v = v[:sp]
	}
	return v, true
}

// parseKernelInt parses a value as tracefs prints it: hex u64 ("0xfffffffffffffffe",
// 6.1 $retval) or signed decimal ("-2", 6.12 $retval).
func parseKernelInt(s string) (int64, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 64)
		return int64(u), err
	}
	if strings.HasPrefix(s, "-") {
		return strconv.ParseInt(s, 10, 64)
	}
	u, err := strconv.ParseUint(s, 10, 64)
	return int64(u), err
}

// TestTracefsBaseline proves, without kpcap, that each kernel's kprobe_events
// accepts the definitions the kpcap jobs use and traces what they expect:
// string fetchargs, $arg1, $comm, :x64, a nested dereference, :symbol and
// $retval. It tells a kernel limitation apart from a kpcap bug.
func TestTracefsBaseline(t *testing.T) {
	forEachKernel(t, "tracefs_baseline", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		if j.RC != 0 {
			t.Fatalf("job failed rc=%d:\n%s", j.RC, j.Log)
		}
		if !strings.Contains(j.Log, "kprobe_events after: []") {
			t.Errorf("probes left behind after deleting them:\n%s", j.Log)
		}
		text, err := os.ReadFile(j.Files["trace.txt"])
		if err != nil {
			t.Fatalf("trace.txt not returned: %v\n%s", err, j.Log)
		}
		type open struct {
			args, ret string
			sys       string // args of the sysopen line before it
		}
		opens := map[string]*open{}   // filename -> its probes, for comm cat
		pending := map[string]*open{} // pid -> open waiting for its return
		lastSys := map[string]string{}
		for _, line := range strings.Split(string(text), "\n") {
			m := traceLine.FindStringSubmatch(line)
			if m == nil || strings.TrimSpace(m[1]) != "cat" {
				continue
			}
			pid, event, args := m[2], m[4], m[6]
			switch event {
			case "sysopen":
				lastSys[pid] = args
			case "open":
				fn, _ := traceArg(args, "filename")
				o := &open{args: args, sys: lastSys[pid]}
				opens[fn] = o
				pending[pid] = o
			case "openret":
				if o := pending[pid]; o != nil {
					o.ret, _ = traceArg(args, "ret")
					delete(pending, pid)
				}
			}
		}
		head := binary.LittleEndian.Uint64([]byte("/tmp/kpb"))
		for _, name := range []string{"exist-1", "missing-1", "exist-2", "missing-2", "exist-3", "missing-3"} {
			path := "/tmp/kpbase-" + name
			o := opens[path]
			if o == nil {
				t.Errorf("%s: no open kprobe hit", path)
				continue
			}
			for arg, want := range map[string]string{"dfd": "-100", "flags": "0x8000", "comm": "cat"} {
				if v, _ := traceArg(o.args, arg); v != want {
					t.Errorf("%s: %s=%q, want %q (line args %q)", path, arg, v, want, o.args)
				}
			}
			ret, err := parseKernelInt(o.ret)
			if err != nil {
				t.Errorf("%s: return value %q: %v", path, o.ret, err)
			} else if strings.HasPrefix(name, "missing") && ret != -2 {
				t.Errorf("%s: ret=%d, want -2 (ENOENT)", path, ret)
			} else if strings.HasPrefix(name, "exist") && ret < 0 {
				t.Errorf("%s: ret=%d, want an fd", path, ret)
			}
			if v, _ := traceArg(o.sys, "path"); v != path {
				t.Errorf("%s: nested dereference +0(+104(%%di)):string = %q", path, v)
			}
			if v, _ := traceArg(o.sys, "head"); v != strconv.FormatUint(head, 10) {
				t.Errorf("%s: nested dereference +0(+104(%%di)):u64 = %s, want %d", path, v, head)
			}
			if v, _ := traceArg(o.sys, "caller"); !strings.HasPrefix(v, "do_syscall_64+") && !strings.HasPrefix(v, "x64_sys_call+") {
				t.Errorf("%s: caller=+0(%%sp):symbol = %q, want the syscall dispatcher", path, v)
			}
		}
		if t.Failed() {
			t.Logf("trace:\n%s", text)
		}
	})
}
