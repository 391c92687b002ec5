package probedef

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBTFFileLayouts checks kpcap's layouts in the BTF files listed in
// KPCAP_BTF_FILES against pahole, and the prototypes the VM jobs probe by
// name. record/vmtest sets it to the VM kernels' own /sys/kernel/btf/vmlinux
// (6.1, 6.12, arm64 6.12), which their jobs bring back; by itself the test
// has nothing to read.
func TestBTFFileLayouts(t *testing.T) {
	files := os.Getenv("KPCAP_BTF_FILES")
	if files == "" {
		t.Skip("KPCAP_BTF_FILES is not set: record/vmtest runs this test on the VM kernels' BTF")
	}
	for _, f := range strings.Split(files, ",") {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			b, err := LoadBTF(f)
			if err != nil {
				t.Fatal(err)
			}
			checkLayouts(t, b)
			for fn, want := range map[string]string{
				"vfs_read":    "file buf count pos",
				"tcp_sendmsg": "sk msg size",
			} {
				p, err := b.Func("", fn)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, prm := range p.Params {
					names = append(names, prm.Name)
				}
				if got := strings.Join(names, " "); got != want {
					t.Errorf("%s arguments %q, want %q", fn, got, want)
				}
			}
		})
	}
}
