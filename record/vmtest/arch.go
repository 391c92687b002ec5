//go:build linux

package vmtest

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Arch is how the harness boots and fills a VM of one machine architecture.
type Arch struct {
	GOARCH  string      // Go's and Debian's name: "amd64", "arm64"
	Machine elf.Machine // of the static binaries the initramfs holds
	Qemu    string      // qemu system emulator
	// machineArgs are qemu's machine, CPU and accelerator options.
	machineArgs []string
	// console is the kernel console device; channelArgs attach the job
	// channel (a second serial line) to the host file path. init.sh picks the
	// matching guest device (ttyS1, hvc0) from uname -m.
	console     string
	channelArgs func(path string) []string
	// timeout bounds a whole boot (default 1200 s, far above the 2-4 minutes
	// an idle machine needs for every job: a host shared with builds slows
	// TCG tenfold).
	timeout time.Duration
}

// Archs are the architectures the harness boots.
var Archs = map[string]*Arch{
	"amd64": {
		GOARCH: "amd64", Machine: elf.EM_X86_64, Qemu: "qemu-system-x86_64",
		// thread=single: with multi-threaded TCG, 6.12 once oopsed with a stray
		// "int3" in finish_task_switch while kpcap opened perf events (kernel text
		// patching racing with the other vCPU, it seems); single-threaded TCG has
		// not, and is no slower here. It still emulates two guest CPUs.
		machineArgs: []string{"-accel", "tcg,thread=single", "-cpu", "max"},
		console:     "ttyS0",
		channelArgs: func(path string) []string { return []string{"-serial", "file:" + path} },
	},
	"arm64": {
		GOARCH: "arm64", Machine: elf.EM_AARCH64, Qemu: "qemu-system-aarch64",
		// Multi-threaded TCG (qemu's default here): with both vCPUs on one host
		// thread, a busy host starves them into soft lockups before /init.
		machineArgs: []string{"-M", "virt", "-accel", "tcg", "-cpu", "max"},
		timeout:     1500 * time.Second,
		console:     "ttyAMA0",
		// The virt board has one PL011 UART; the job channel is a virtio
		// console (/dev/hvc0; Debian's arm64 kernel has VIRTIO_PCI and
		// VIRTIO_CONSOLE built in, VIRTIO_MMIO only as a module), which keeps
		// kernel messages out of the base64 stream.
		channelArgs: func(path string) []string {
			return []string{"-device", "virtio-serial-pci", "-chardev", "file,id=kpcapjobs,path=" + path,
				"-device", "virtconsole,chardev=kpcapjobs"}
		},
	},
}

// ArchOf returns the Arch of a kernel (amd64 when Kernel.Arch is empty).
func ArchOf(k Kernel) (*Arch, error) {
	name := k.Arch
	if name == "" {
		name = "amd64"
	}
	a := Archs[name]
	if a == nil {
		return nil, fmt.Errorf("kernel %s: unknown architecture %q", k.Name, name)
	}
	return a, nil
}

// Busybox returns a static busybox for a: $KPCAP_BUSYBOX (amd64) or
// $KPCAP_BUSYBOX_ARM64 if set, the host's /bin/busybox on amd64, otherwise
// Debian's busybox-static package of that architecture, downloaded once into
// cacheDir and unpacked there. The foreign package is never installed: it
// would replace the host's /bin/busybox.
func (a *Arch) Busybox(ctx context.Context, cacheDir string) (string, error) {
	env := "KPCAP_BUSYBOX"
	if a.GOARCH != "amd64" {
		env = "KPCAP_BUSYBOX_" + map[string]string{"arm64": "ARM64"}[a.GOARCH]
	}
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if a.GOARCH == "amd64" {
		return "/bin/busybox", nil
	}
	dst := filepath.Join(cacheDir, "busybox-static-"+a.GOARCH, "busybox")
	if err := fetchDebMember(ctx, "busybox-static:"+a.GOARCH, "bin/busybox", dst); err != nil {
		return "", err
	}
	return dst, nil
}

// qemuArgs returns the full qemu command line of a boot.
func (a *Arch) qemuArgs(kernel, initrd, console, channel string) []string {
	args := append([]string{}, a.machineArgs...)
	args = append(args, "-m", "1024", "-smp", "2", "-display", "none", "-no-reboot", "-nodefaults",
		"-serial", "file:"+console)
	args = append(args, a.channelArgs(channel)...)
	return append(args, "-kernel", kernel, "-initrd", initrd,
		// no_timer_check: on an overloaded host TCG is too slow for the IO-APIC
		// timer check, and 6.1 panicked in it.
		"-append", "console="+a.console+" quiet panic=-1 oops=panic no_timer_check")
}

// bootTimeout is how long a boot of a may take, jobs included.
func (a *Arch) bootTimeout() time.Duration {
	if a.timeout > 0 {
		return a.timeout
	}
	return 1200 * time.Second
}
