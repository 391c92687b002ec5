// Package probedef parses kpcap probe definitions: the kernel's dynamic_events syntax
// (kprobes, fprobes f, tracepoint probes t, event probes e, uprobes), checked up front with
// the kernel's limits so that a mistake gets an error with its caret where the kernel's
// error_log would put it, instead of a bare EINVAL from tracefs. Argument names, member
// paths, $arg* and :%pd/:%pD are resolved through the kernel's BTF (LoadKernelBTF,
// Probe.ResolveBTF) into the plain fetch arguments that Linux 4.20+ reads; BTF also gives
// function prototypes and struct layouts (BTF.Func, BTF.Tracepoint, BTF.Members). ParseTracepoint checks tracepoint specs
// (SUBSYS:EVENT, globs allowed) the same way. It is pure Go and builds on every OS.
//
// # Definitions
//
//	p[:[GRP/]EVENT] [MOD:]SYM[+OFFS] [FETCHARGS]       kprobe on a kernel symbol
//	p[:[GRP/]EVENT] MEMADDR [FETCHARGS]                 kprobe on a kernel address
//	r[MAXACTIVE][:[GRP/]EVENT] [MOD:]SYM[+0] [FETCHARGS] kretprobe
//	p[:[GRP/]EVENT] PATH:OFFSET [FETCHARGS]             uprobe at a file offset
//	p[:[GRP/]EVENT] PATH:SYMBOL[+OFFS] [FETCHARGS]      uprobe on an ELF symbol (kpcap resolves it)
//	r[:[GRP/]EVENT] PATH:OFFSET|PATH:SYMBOL [FETCHARGS] uretprobe
//
// A target starting with "/", "./" or "../" is a binary, making the probe a uprobe; anything
// else is a kernel symbol (a number is an address). Like the kernel, "p TARGET%return" is the
// same as "r TARGET". GRP, EVENT and argument names are C identifiers of at most 63 characters;
// without GRP the kernel uses "kprobes" or "uprobes", and without EVENT it generates a name
// (p_do_sys_openat2_0, r_vfs_read_0, p_bash_0x4f3a0; Probe.Name mirrors it). MAXACTIVE is
// 1..4096 and only for kretprobes. A return probe must sit at the function entry (no offset).
// Numbers are decimal, 0x hex or leading-0 octal, as the kernel's kstrtoul reads them.
// Uprobe reference counters are written PATH:OFFSET(REF).
//
//	f[:[GRP/]EVENT] [MOD:]SYM[%return] [FETCHARGS]       fprobe (Linux 6.5+)
//	t[:[GRP/]EVENT] [MOD:]TRACEPOINT [FETCHARGS]         tracepoint probe (Linux 6.5+)
//	e[:[GRP/]EVENT] SYS.EVENT [FETCHARGS]                event probe ($FIELD reads a field)
//
// # Fetch arguments
//
// Up to 128 arguments, each [NAME=]FETCHARG[:TYPE], at most 63 characters after NAME=:
//
//	%REG              register of the recording machine (HostArch; ParseArch for another):
//	                  x86-64: ax bx cx dx si di bp sp ip flags r8..r15 orig_ax cs ss,
//	                  rax/eax-style spellings accepted and written as the kernel's names;
//	                  arm64: x0..x30 lr sp pc pstate
//	@ADDR             memory at a kernel address (uprobes: a user address)
//	@SYM[+|-OFFS]     memory at a kernel symbol (kprobes only)
//	@+OFFS            memory at a file offset of the probed binary (uprobes only)
//	$stackN, $stack   stack slot N (kprobes: 0..4096), the stack address
//	$argN             function argument N from 1 (kprobes on a function entry only;
//	                  kretprobes need Linux 6.9+)
//	$retval           return value (return probes only)
//	$comm             the task's command name (a string)
//	+|-[u]OFFS(FETCHARG)  memory at FETCHARG+OFFS, nested to any depth; u reads user memory
//	\IMM, \"TEXT"     an immediate number (may be negative) or string (no spaces)
//
// TYPE is u8 u16 u32 u64, s8..s64, x8..x64 (hex), char (Linux 6.5+), string, ustring (user memory), symbol,
// symstr, or a bitfield b<WIDTH>@<OFFSET>/<CONTAINER SIZE> with CONTAINER SIZE 8, 16, 32 or 64
// and WIDTH+OFFSET within it. Any type but a bitfield takes an array suffix [N] (N 1..64) on a
// memory fetch. string and ustring need a memory fetch, $comm or an immediate string. Without
// a name the kernel names an argument argN (N counting from 1); names must be unique and may
// not be the event's own fields (common_pid, __probe_ip, ...).
//
// # Use
//
// A probe without fetch arguments and without MAXACTIVE (UsesPMU) can be created through the
// kprobe/uprobe PMU: private to kpcap and gone when its file descriptor closes (the recorder
// does so where it opens the probe once). Others are
// written to tracefs with TracefsLine under kpcap's own group, after ResolveUprobe has turned
// a uprobe symbol into the file offset the kernel wants.
//
// Examples:
//
//	p:open do_sys_openat2 dfd=%di filename=+0(%si):string flags=+0(%dx):x64
//	r:open_ret do_sys_openat2 ret=$retval:s64
//	r64 tcp_sendmsg
//	p ext4:ext4_file_open
//	p /usr/bin/bash:readline
//	r /usr/lib/x86_64-linux-gnu/libc.so.6:malloc ptr=$retval:x64
package probedef
