// Package vmtest proves kpcap's kprobe support on real kernels: it boots Debian
// kernels (which have CONFIG_KPROBES, unlike the development machines) in qemu
// with TCG, runs job scripts inside an initramfs made of busybox and a static
// kpcap, and brings the job logs and trace files back to the host over a
// second serial line (ttyS1 on x86-64, a virtio console on arm64).
//
// The harness is Linux-only; `go test ./record/vmtest/` runs it: one boot
// per kernel runs every job of jobs/ in turn (Kernel.Jobs for the arm64
// kernel, which qemu-system-aarch64 emulates), all kernels in parallel.
// `go test ./record/vmtest/ -run TestSampleTraces -update` rewrites the sample
// traces in testdata/kernels.
//
// Environment:
//
//	KPCAP_CACHE          cache root (default ~/.cache/kpcap); kernels go in its "kernels" folder
//	KPCAP_BUSYBOX        static x86-64 busybox to install (default /bin/busybox)
//	KPCAP_BUSYBOX_ARM64  static arm64 busybox (default: Debian's busybox-static:arm64, downloaded, never installed)
//	KPCAP_VMTEST_KEEP    keep the VM outputs (consoles, job channels, files) and print where
//	KPCAP_VMTEST_JOBS    comma-separated jobs to run (development only; ignored when CI=true)
//	KPCAP_VMTEST_KERNELS comma-separated kernels to boot, e.g. 6.12-arm64 (development only; ignored when CI=true)
//	KPCAP_VMTEST_REPLAY  re-check the outputs kept in this directory without booting (development only)
package vmtest
