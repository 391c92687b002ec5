package probedef

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// needOrFail skips with reason locally and fails under CI=true.
func needOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: cannot skip: %s", reason)
	}
	t.Skip(reason)
}

// hostBTF loads the running kernel's BTF or skips (fails under CI).
func hostBTF(t testing.TB) *BTF {
	t.Helper()
	if _, err := os.Stat(KernelBTFDir + "/vmlinux"); err != nil {
		needOrFail(t, "no /sys/kernel/btf/vmlinux on this kernel")
	}
	b, err := LoadKernelBTF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paholeMember is one member line of `pahole -C STRUCT`: its byte offset,
// bit offset inside that byte's container, and bitfield width.
type paholeMember struct {
	byteOff, bitOff, bits int
}

var paholeLine = regexp.MustCompile(`^\s+[^/]*?[\s*]([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])*(:(\d+))?;\s*/\*\s*(\d+)(:\s*(\d+))?\s+\d+\s*\*/`)

// pahole reads a struct's layout from BTF with pahole, an implementation
// independent of cilium/ebpf, so offsets are checked against a second reader.
func pahole(t *testing.T, path, name string) map[string]paholeMember {
	t.Helper()
	bin, err := exec.LookPath("pahole")
	if err != nil {
		needOrFail(t, "pahole (apt dwarves) is not installed")
	}
	out, err := exec.Command(bin, "-C", name, path).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("pahole -C %s %s: %v", name, path, err)
	}
	ms := map[string]paholeMember{}
	// Members of a named member of anonymous type ("union { ... } d_u;") are
	// not the struct's own: each block's lines are kept until its closing
	// line says whether it was anonymous.
	var stack [][]string
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		tr := strings.TrimSpace(l)
		switch {
		case strings.HasSuffix(tr, "{") && len(stack) == 0 && !strings.HasPrefix(l, "\t"):
			stack = append(stack, nil) // the struct itself
			continue
		case strings.HasSuffix(tr, "{"):
			stack = append(stack, nil)
			continue
		case strings.HasPrefix(tr, "}"):
			if len(stack) == 0 {
				continue
			}
			inner := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if strings.HasPrefix(tr, "};") && len(stack) > 0 { // anonymous: its members are ours
				stack[len(stack)-1] = append(stack[len(stack)-1], inner...)
			} else if len(stack) > 0 {
				stack[len(stack)-1] = append(stack[len(stack)-1], l) // the named member itself
			} else {
				lines = inner
			}
			continue
		}
		if len(stack) > 0 {
			stack[len(stack)-1] = append(stack[len(stack)-1], l)
		}
	}
	for _, l := range lines {
		m := paholeLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		pm := paholeMember{}
		pm.byteOff, _ = strconv.Atoi(m[5])
		if m[4] != "" {
			pm.bits, _ = strconv.Atoi(m[4])
			pm.bitOff, _ = strconv.Atoi(m[7])
		}
		if _, dup := ms[m[1]]; !dup {
			ms[m[1]] = pm
		}
	}
	if len(ms) == 0 {
		t.Fatalf("pahole -C %s printed no members:\n%s", name, out)
	}
	return ms
}

func checkLayouts(t *testing.T, b *BTF) {
	for _, name := range []string{"file", "path", "dentry", "qstr", "sk_buff", "sock_common", "task_struct", "inode"} {
		t.Run(name, func(t *testing.T) {
			ms, err := b.Members("struct " + name)
			if err != nil {
				t.Fatal(err)
			}
			want := pahole(t, b.Source(), name)
			got := map[string]Member{}
			for _, m := range ms {
				if _, dup := got[m.Name]; !dup {
					got[m.Name] = m
				}
			}
			checked, bitfields := 0, 0
			for n, w := range want {
				g, ok := got[n]
				if !ok {
					t.Errorf("member %s: pahole lists it, Members does not", n)
					continue
				}
				checked++
				if w.bits == 0 {
					if g.BitSize != 0 || g.BitOffset != uint32(w.byteOff*8) {
						t.Errorf("member %s: bit offset %d size %d, pahole says byte %d", n, g.BitOffset, g.BitSize, w.byteOff)
					}
					continue
				}
				bitfields++
				// pahole prints the offset of the bitfield's storage unit and the bit inside it.
				if g.BitSize != uint32(w.bits) || g.BitOffset != uint32(w.byteOff*8+w.bitOff) {
					t.Errorf("bitfield %s: bit offset %d width %d, pahole says %d:%d width %d", n, g.BitOffset, g.BitSize, w.byteOff, w.bitOff, w.bits)
				}
			}
			t.Logf("struct %s: %d members agree with pahole (%d bitfields)", name, checked, bitfields)
		})
	}
}

func TestBTFMembersMatchPahole(t *testing.T) {
	checkLayouts(t, hostBTF(t))
}

func TestBTFFuncProto(t *testing.T) {
	b := hostBTF(t)
	f, err := b.Func("", "vfs_read")
	if err != nil {
		t.Fatal(err)
	}
	var names, types []string
	for _, p := range f.Params {
		names = append(names, p.Name)
		types = append(types, p.Type.C)
	}
	if got := strings.Join(names, " "); got != "file buf count pos" {
		t.Errorf("vfs_read params %q, want file buf count pos", got)
	}
	if f.Return == nil || f.Return.C != "ssize_t" || f.Return.Fetch != "s64" {
		t.Errorf("vfs_read returns %+v, want ssize_t fetched as s64", f.Return)
	}
	if types[0] != "struct file *" || f.Params[0].Type.Fetch != "x64" || f.Params[2].Type.Fetch != "u64" {
		t.Errorf("vfs_read param types %q / %s %s", types, f.Params[0].Type.Fetch, f.Params[2].Type.Fetch)
	}
	t.Logf("%s", f)
	if _, err := b.Func("", "no_such_function_kpcap"); err == nil {
		t.Error("a missing function was found")
	}
	tp, err := b.Tracepoint("sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, p := range tp.Params {
		names = append(names, p.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "prev next") {
		t.Errorf("sched_switch tracepoint args %q lack prev next", names)
	}
	t.Logf("%s", tp)
}

func TestBTFEnum(t *testing.T) {
	b := hostBTF(t)
	f, err := b.Func("", "find_get_pid") // struct pid *find_get_pid(pid_t nr)
	if err != nil {
		t.Fatal(err)
	}
	if f.Params[0].Type.C != "pid_t" || f.Params[0].Type.Fetch != "s32" {
		t.Errorf("pid_t param: %+v", f.Params[0].Type)
	}
	ms, err := b.Members("struct pid_namespace")
	if err != nil {
		t.Fatal(err)
	}
	_ = ms
	// enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, ... } has been stable since 4.19.
	ts, err := b.lookupType("enum pid_type")
	if err != nil {
		t.Fatal(err)
	}
	c := newCType(ts)
	if c.Kind != "enum" || c.Enum[0] != "PIDTYPE_PID" || c.Enum[1] != "PIDTYPE_TGID" {
		t.Errorf("enum pid_type: %+v", c)
	}
}

// BenchmarkLoadKernelBTF measures what resolving names adds to a recording's start.
func BenchmarkLoadKernelBTF(b *testing.B) {
	hostBTF(b)
	for b.Loop() {
		k, err := LoadKernelBTF()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Func("", "vfs_read"); err != nil {
			b.Fatal(err)
		}
	}
}
