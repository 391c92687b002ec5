// Package kernelbtf holds the process's one decode of the running kernel's
// BTF. Decoding /sys/kernel/btf/vmlinux (indexing its ~150,000 types) is
// most of a BPF recording's start-up CPU, so every user in the process
// (probe definitions, the generated programs' offsets, cilium/ebpf's
// tp_btf attach) shares one cilium/ebpf btf.Cache instead of decoding its
// own copy.
package kernelbtf

import "github.com/cilium/ebpf/btf"

// shared is safe for concurrent use; a failed decode is retried by the next
// caller.
var shared = btf.NewCache()

// Cache returns the process's cache of the kernel's BTF, for
// ebpf.CollectionOptions.Cache and module lookups.
func Cache() *btf.Cache { return shared }

// Spec returns the running kernel's BTF, decoded on the first call. Its
// types are shared by every caller: they must not be modified.
func Spec() (*btf.Spec, error) { return shared.Kernel() }
