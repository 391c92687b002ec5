//go:build linux

package bpfprog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD, up to
// attach_btf_obj_fd: the kernel takes a shorter attr as zeros after it.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
	progBTFFD          uint32
	funcInfoRecSize    uint32
	funcInfo           uint64
	funcInfoCnt        uint32
	lineInfoRecSize    uint32
	lineInfo           uint64
	lineInfoCnt        uint32
	attachBTFID        uint32
	attachBTFObjFD     uint32
	_                  uint32
}

// loadRawTp loads insns as a tp_btf program named name attached to the
// vmlinux BTF type target (a btf_trace_ typedef), by BPF_PROG_LOAD
// itself: cilium/ebpf takes an attach target by name only, and finds it
// in a decode of the whole kernel BTF. The kernel checks the target and
// the program as it would for cilium's load; without a verifier log, a
// refusal says only the errno.
func loadRawTp(name string, insns asm.Instructions, target btf.TypeID) (*ebpf.Program, error) {
	if target == 0 {
		return nil, fmt.Errorf("load BPF %s program: no attach target", name)
	}
	var code bytes.Buffer
	// Marshal resolves the jumps' labels in place: on a copy, as
	// cilium/ebpf's loader does.
	if err := slices.Clone(insns).Marshal(&code, hostOrder()); err != nil {
		return nil, fmt.Errorf("load BPF %s program: %w", name, err)
	}
	license := []byte(programLicense + "\x00")
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_TRACING,
		insnCnt:            uint32(code.Len() / asm.InstructionSize),
		insns:              uint64(uintptr(unsafe.Pointer(&code.Bytes()[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_TRACE_RAW_TP,
		attachBTFID:        uint32(target),
	}
	copy(attr.progName[:len(attr.progName)-1], name)
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code.Bytes())
	runtime.KeepAlive(license)
	if errno != 0 {
		return nil, fmt.Errorf("load BPF %s program: %w", name, errno)
	}
	p, err := ebpf.NewProgramFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("load BPF %s program: %w", name, err)
	}
	return p, nil
}

// hostOrder returns the host's byte order as the value asm accepts
// (binary.LittleEndian or binary.BigEndian, not binary.NativeEndian).
func hostOrder() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}
