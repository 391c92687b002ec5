//go:build linux

package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestListBTF prints a function prototype and a struct layout from the
// host kernel's BTF, text and JSON, and fails clearly for unknown names.
func TestListBTF(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kpcap list -v needs root and /sys/kernel/btf/vmlinux: %v", err)
		}
		t.Skip("kpcap list -v needs root and /sys/kernel/btf/vmlinux")
	}
	bin := buildKpcap(t)
	out, stderr, code := runKpcap(t, bin, "list", "-v", "vfs_read")
	if code != 0 || !strings.Contains(out, "vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)") ||
		!strings.Contains(out, "$arg1\tfile") {
		t.Errorf("list -v vfs_read: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runKpcap(t, bin, "list", "-v", "--json", "struct file")
	var st struct {
		Type    string `json:"type"`
		Members []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Offset uint32 `json:"offset"`
			Size   int    `json:"size"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("list -v --json 'struct file': exit %d, %v\n%s%s", code, err, out, stderr)
	}
	seen := map[string]bool{}
	last := uint32(0)
	for _, m := range st.Members {
		seen[m.Name] = true
		if m.Offset < last {
			t.Errorf("member %s at %d after one at %d", m.Name, m.Offset, last)
		}
		last = m.Offset
	}
	for _, want := range []string{"f_mode", "f_path", "f_inode", "f_flags"} {
		if !seen[want] {
			t.Errorf("struct file lacks %s: %+v", want, st.Members)
		}
	}
	// struct path has been {mnt, dentry} for many years: offsets 0 and 8.
	out, stderr, code = runKpcap(t, bin, "list", "-v", "struct path")
	if code != 0 || !strings.Contains(out, "struct vfsmount *mnt;") || !regexp.MustCompile(`struct dentry \*dentry;\s+/\* offset\s+8 size\s+8 \*/`).MatchString(out) {
		t.Errorf("list -v 'struct path': exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runKpcap(t, bin, "list", "-v", "no_such_fn_kpcap"); code != 1 || !strings.Contains(stderr, "not found in the kernel's BTF") {
		t.Errorf("list -v no_such_fn_kpcap: exit %d, %s", code, stderr)
	}
}
