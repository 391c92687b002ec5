//go:build linux

package vmtest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestProbeNames: argument names and member paths from BTF, translated by
// kpcap into plain fetch arguments, record the names and byte counts the
// workload used, with identical decoded output on 6.1 (no BTF in its probe
// events), 6.12 and arm64 6.12 (no registers in the definitions, so the
// same ones); f and t probes work on 6.12, 6.1 refuses f in one line
// that names what works instead, and both refuse e (no perf output).
func TestProbeNames(t *testing.T) {
	decoded := map[string][]string{}
	forEachKernel(t, "btfnames", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "btf exit", "0")
		expectLog(t, j, "kprobe_events after-btf", "[]")
		tr := readTrace(t, j.Files["btf.kpcap"])
		tr.checkNoLoss(t)
		_, rd := tr.source(t, "btf:rd")
		if !strings.Contains(rd.Created, "count=$arg3:u64") || !strings.Contains(rd.Created, "($arg1))):string") {
			t.Errorf("btf:rd created as %q, want kpcap's translation", rd.Created)
		}
		if rd.Definition != "p:btf/rd vfs_read file->f_path.dentry->d_name.name:string count" {
			t.Errorf("btf:rd definition %q is not the one typed", rd.Definition)
		}
		if len(rd.Fields) != 2 || rd.Fields[1].Name != "count" || rd.Fields[1].CType != "size_t" {
			t.Errorf("btf:rd field types %+v", rd.Fields)
		}
		// Pair each dd read with its return on the same thread.
		var got []string
		pending := map[int64]string{}
		for _, r := range tr.Rows {
			if r.Comm != "dd" {
				continue
			}
			switch r.Probe {
			case "btf:rd":
				name, _ := r.Fields["arg1"].(string)
				cnt, _ := asInt(r.Fields["count"])
				pending[r.TID] = fmt.Sprintf("%s count=%d", name, cnt)
			case "btf:rdret":
				if e, ok := pending[r.TID]; ok && strings.HasPrefix(e, "kpbtf-") {
					ret, _ := asInt(r.Fields["arg1"])
					got = append(got, fmt.Sprintf("%s ret=%d", e, ret))
				}
				delete(pending, r.TID)
			}
		}
		want := []string{"kpbtf-a count=777 ret=777", "kpbtf-b count=4096 ret=300"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("dd's reads: %q, want %q", got, want)
		}
		decoded[k.Name] = got

		// What the kernel's tracefs README lists decides what kpcap must do:
		// Debian's 6.12 has fprobes on x86-64 but not on arm64.
		fprobes := logLine(t, j, "fprobe events") == "yes"
		retargs := logLine(t, j, "return probe arguments") == "yes"
		if retargs {
			expectLog(t, j, "retarg exit", "0")
			rt := readTrace(t, j.Files["retarg.kpcap"])
			var rs []string
			for _, r := range rt.rows("btf:rcount", "dd") {
				c, _ := asInt(r.Fields["count"])
				v, _ := asInt(r.Fields["arg2"])
				rs = append(rs, fmt.Sprintf("count=%d ret=%d", c, v))
			}
			if !reflect.DeepEqual(rs, []string{"count=500 ret=300"}) {
				t.Errorf("r vfs_read count $retval from dd: %q, want [count=500 ret=300]", rs)
			}
		} else {
			expectLog(t, j, "retarg exit", "2")
			if msg := logLine(t, j, "retarg stderr"); !strings.Contains(msg, "need Linux 6.9+") {
				t.Errorf("%s refuses arguments on return with %q, want one line naming the version", k.Name, msg)
			}
		}
		if fprobes {
			// f and t work.
			expectLog(t, j, "fprobe exit", "0")
			ft := readTrace(t, j.Files["fprobe.kpcap"])
			rets := 0
			for _, r := range ft.rows("btf:frd", "dd") {
				if v, _ := asInt(r.Fields["arg1"]); v == 777 {
					rets++
				}
			}
			if rets != 1 {
				t.Errorf("f vfs_read%%return: %d returns of 777 from dd, want 1", rets)
			}
			tt := ft
			n := 0
			for _, r := range tt.rows("btf:sw", "") {
				pid, _ := asInt(r.Fields["arg1"])
				comm, _ := r.Fields["arg3"].(string)
				if pid == r.TID && comm == r.Comm {
					n++
				}
			}
			if n == 0 {
				t.Errorf("t sched_switch: no sample whose prev->pid and prev->comm are the switching task (%d samples)", len(tt.rows("btf:sw", "")))
			}
		} else {
			expectLog(t, j, "fprobe exit", "2")
			msg := logLine(t, j, "fprobe stderr")
			if !strings.Contains(msg, "no fprobe events") || !strings.Contains(msg, `"r vfs_read"`) {
				t.Errorf("%s refuses f with %q, want one line naming what works instead", k.Name, msg)
			}
		}
		if k.Name == "6.12" && (!fprobes || !retargs) {
			t.Errorf("Debian's x86-64 6.12 lists fprobes and return probe arguments in its README:\n%s", j.Log)
		}
		// Event probes feed only the ftrace buffer, never perf: kpcap says so
		// before creating one.
		expectLog(t, j, "eprobe exit", "2")
		if msg := logLine(t, j, "eprobe stderr"); !strings.Contains(msg, "deliver nothing to perf") || !strings.Contains(msg, "record the event itself, syscalls:sys_enter_openat") {
			t.Errorf("e probe refused with %q, want the reason and what works instead", msg)
		}
		expectLog(t, j, "dynamic_events after", "[]")
	})
	// Identical decoded output on every kernel and architecture.
	var first string
	for k := range decoded {
		if first == "" {
			first = k
		} else if !reflect.DeepEqual(decoded[first], decoded[k]) {
			t.Errorf("decoded output differs: %s %q, %s %q", first, decoded[first], k, decoded[k])
		}
	}
}
