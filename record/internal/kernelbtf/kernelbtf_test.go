package kernelbtf

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestOneDecode checks that every way into the package returns the same
// decoded spec, whose types are therefore the same objects.
func TestOneDecode(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kernel BTF is Linux's")
	}
	a, err := Spec()
	if errors.Is(err, btf.ErrNotSupported) && os.Getenv("CI") != "true" {
		t.Skip("no kernel BTF: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := Cache().Kernel()
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("Spec and Cache().Kernel() decoded the kernel's BTF twice")
	}
	var x, y *btf.Struct
	if err := a.TypeByName("pt_regs", &x); err != nil {
		t.Fatal(err)
	}
	if err := b.TypeByName("pt_regs", &y); err != nil {
		t.Fatal(err)
	}
	if x != y {
		t.Fatal("two lookups of pt_regs gave two copies")
	}
}
