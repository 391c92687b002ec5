package probedef

// archX86 is x86-64: the pt_regs names of arch/x86/kernel/ptrace.c's
// regoffset_table, and the rax/eax spellings mapped onto them (the kernel
// itself only knows the short ones). ds, es, fs and gs are in that table only
// for 32-bit kernels: 64-bit ones refuse them (checked by record/vmtest).
var archX86 = &Arch{
	GOARCH:  "amd64",
	Machine: "x86_64",
	ArgRegs: []string{"di", "si", "dx", "cx", "r8", "r9"},
	RetReg:  "ax",
	regs: map[string]bool{
		"ax": true, "bx": true, "cx": true, "dx": true, "si": true, "di": true, "bp": true, "sp": true,
		"ip": true, "flags": true, "orig_ax": true, "cs": true, "ss": true,
		"r8": true, "r9": true, "r10": true, "r11": true, "r12": true, "r13": true, "r14": true, "r15": true,
	},
	aliases: map[string]string{
		"rax": "ax", "eax": "ax", "rbx": "bx", "ebx": "bx", "rcx": "cx", "ecx": "cx", "rdx": "dx", "edx": "dx",
		"rsi": "si", "esi": "si", "rdi": "di", "edi": "di", "rbp": "bp", "ebp": "bp", "rsp": "sp", "esp": "sp",
		"rip": "ip", "eip": "ip", "rflags": "flags", "eflags": "flags",
	},
	help: "x86-64: ax bx cx dx si di bp sp ip flags r8..r15 orig_ax cs ss, or rax/eax forms",
}
