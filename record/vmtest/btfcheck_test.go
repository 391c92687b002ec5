//go:build linux

package vmtest

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The definitions of jobs/btfcheck.sh, by probe: the fields compared.
var btfcheckFields = map[string][]string{
	"rd":    {"name", "len", "count", "flags", "size"},
	"rdret": {"ret"},
	"snd":   {"dport", "family", "reuse", "kern", "size"},
}

// btfcheckComm is the workload process of each probe.
var btfcheckComm = map[string]string{"rd": "dd", "rdret": "dd", "snd": "nc"}

// TestBTFAgainstKernel: names resolved by kpcap from the VM kernel's own BTF
// read the same values as the kernel's own handling of the same named
// definitions (6.12, whose probe events understand BTF), call by call:
// nested member paths, an anonymous union (qstr.len), sock_common's
// anonymous members and a bitfield (skc_reuse, sk_kern_sock), a typed
// $retval. On 6.1 the kernel refuses names and kpcap's values are checked
// against the workload.
func TestBTFAgainstKernel(t *testing.T) {
	forEachKernel(t, "btfcheck", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		expectLog(t, j, "btfcheck exit", "0")
		expectLog(t, j, "dynamic_events after", "[]")
		tr := readTrace(t, j.Files["btfcheck.kpcap"])
		tr.checkNoLoss(t)
		kp := map[string][]string{}
		for probe, fields := range btfcheckFields {
			for _, r := range tr.rows("kp:"+probe, btfcheckComm[probe]) {
				kp[probe] = append(kp[probe], rowValues(r.Fields, fields))
			}
		}
		t.Logf("kpcap: %q", kp)
		// Known from the workload whatever the kernel: two dd reads, one send.
		var names []string
		for _, v := range kp["rd"] {
			if strings.HasPrefix(v, "kpbc-") {
				names = append(names, v)
			}
		}
		wantRd := []string{"kpbc-a 6 777 ", "kpbc-bb 7 4096 "}
		if len(names) != 2 || !strings.HasPrefix(names[0], wantRd[0]) || !strings.HasPrefix(names[1], wantRd[1]) ||
			!strings.HasSuffix(names[0], " 1000") || !strings.HasSuffix(names[1], " 300") {
			t.Errorf("kpcap's vfs_read of the workload files: %q, want name len count flags size of %q with sizes 1000, 300", names, wantRd)
		}
		// dport 5556 in network order read as a little-endian u16 on both
		// architectures, AF_INET, 10 bytes sent.
		sent := false
		for _, v := range kp["snd"] {
			if f := strings.Fields(v); len(f) == 5 && f[1] == "2" && f[4] == "10" && (f[0] == "46101" || f[0] == "5556") {
				sent = true
			}
		}
		if !sent {
			t.Errorf("kpcap's tcp_sendmsg of the 10-byte message to port 5556: none in %q", kp["snd"])
		}

		// kpcap's verdict on $argN past the prototype is the kernel's own:
		// 6.12 (BTF in its probe events) refuses p vfs_read $arg5, 6.1 reads
		// the register; no kernel here takes it in an fprobe.
		for _, v := range []struct{ kernel, kpcap string }{
			{"p:kbtf/arg5 vfs_read $arg5", "p:kp/arg5 vfs_read $arg5"},
			{"f:kbtf/farg5 vfs_read $arg5", "f:kp/farg5 vfs_read $arg5"},
		} {
			kernelOK := strings.Contains(j.Log, "kernel accepts: "+v.kernel)
			kpcapRC := ""
			for _, l := range strings.Split(j.Log, "\n") {
				if rc, ok := strings.CutPrefix(l, "kpcap rc "); ok && strings.Contains(rc, ": "+v.kpcap+" [") {
					kpcapRC, _, _ = strings.Cut(rc, ":")
				}
			}
			if (kernelOK && kpcapRC != "0") || (!kernelOK && kpcapRC != "2") {
				t.Errorf("%s: the kernel accepts it: %v, kpcap exits %q:\n%s", v.kpcap, kernelOK, kpcapRC, j.Log)
			}
		}
		accepts := strings.Contains(j.Log, "kernel accepts: p:kbtf/rd ")
		if k.Name == "6.1" {
			if accepts {
				t.Errorf("6.1 accepted a named definition; its probe events have no BTF:\n%s", j.Log)
			}
			return
		}
		if !accepts || !strings.Contains(j.Log, "kernel accepts: p:kbtf/snd ") || !strings.Contains(j.Log, "kernel accepts: r:kbtf/rdret ") {
			t.Fatalf("6.12 refused a named definition:\n%s", j.Log)
		}
		kt := kernelTrace(t, j.Files["ktrace.txt"])
		for probe := range btfcheckFields {
			if len(kp[probe]) == 0 || !reflect.DeepEqual(kp[probe], kt[probe]) {
				t.Errorf("%s: kpcap read %q, the kernel's own named probe %q", probe, kp[probe], kt[probe])
			}
		}
	})
}

// rowValues joins a row's fields, numbers in decimal.
func rowValues(f map[string]any, names []string) string {
	var vs []string
	for _, n := range names {
		switch v := f[n].(type) {
		case string:
			vs = append(vs, v)
		default:
			if i, ok := asInt(v); ok {
				vs = append(vs, strconv.FormatInt(i, 10))
			} else {
				vs = append(vs, fmt.Sprint(v))
			}
		}
	}
	return strings.Join(vs, " ")
}

var (
	ktraceLine  = regexp.MustCompile(`^\s*(.+)-(\d+)\s+\[\d+\].*?\s[\d.]+: (\w+): \([^)]*\)(.*)$`)
	ktraceField = regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)
)

// kernelTrace reads the kernel's text trace of the kbtf probes into the
// same form as rowValues, per probe, for the workload's process.
func kernelTrace(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		m := ktraceLine.FindStringSubmatch(l)
		if m == nil || btfcheckFields[m[3]] == nil || strings.TrimSpace(m[1]) != btfcheckComm[m[3]] {
			continue
		}
		f := map[string]any{}
		for _, kv := range ktraceField.FindAllStringSubmatch(m[4], -1) {
			if s, ok := strings.CutPrefix(kv[2], `"`); ok {
				f[kv[1]] = strings.TrimSuffix(s, `"`)
			} else if i, err := strconv.ParseInt(kv[2], 0, 64); err == nil {
				f[kv[1]] = i
			} else if u, err := strconv.ParseUint(kv[2], 0, 64); err == nil {
				f[kv[1]] = int64(u)
			} else {
				f[kv[1]] = kv[2]
			}
		}
		out[m[3]] = append(out[m[3]], rowValues(f, btfcheckFields[m[3]]))
	}
	return out
}

// TestVMKernelBTFLayouts runs record/probedef's pahole comparison on the
// BTF each x86-64 VM kernel exposes (brought back by jobs/btfcheck.sh): the
// resolver's member offsets, bitfields and unions on the kernels kpcap
// records from, not only the host's.
func TestVMKernelBTFLayouts(t *testing.T) {
	var mu sync.Mutex
	var files []string
	forEachKernel(t, "btfcheck", func(t *testing.T, k Kernel, res *Result, j *JobResult) {
		if k.Arch == "arm64" {
			t.Skip("the arm64 VM keeps its BTF: megabytes over its emulated console take minutes")
		}
		gz := j.Files["vmlinux.btf.gz"]
		if gz == "" {
			t.Fatal("the VM did not return its BTF")
		}
		dst := filepath.Join(workDir, "btf", k.Name, "vmlinux")
		if err := gunzip(gz, dst); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		files = append(files, dst)
		mu.Unlock()
	})
	if len(files) == 0 || t.Failed() {
		return
	}
	if _, err := exec.LookPath("pahole"); err != nil {
		msg := "the layout check needs pahole (apt-get install dwarves)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(workDir, "probedef.test")
	if err := BuildTestBinary(context.Background(), root, "./record/probedef", runtime.GOARCH, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestBTFFileLayouts$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KPCAP_BTF_FILES="+strings.Join(files, ","))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestBTFFileLayouts") {
		t.Fatalf("record/probedef TestBTFFileLayouts on %v: %v", files, err)
	}
}

func gunzip(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(zr, 1<<30)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
