# kprobe + kretprobe on do_sys_openat2 with a string fetcharg, following a
# command that opens 40 existing and 40 missing files with unique names.
# tracefs is not mounted when kpcap starts: it must mount it itself.
tracefs_state
for i in $(seq 1 40); do echo "$i" >/tmp/kpo-exist-$i; done
kpcap record -q -o "$OUT/openat.kpcap" \
	-p "p:kprobes/open do_sys_openat2 filename=+0($A2):string" \
	-p 'r:kprobes/openret do_sys_openat2 ret=$retval' \
	-- sh -c 'for i in $(seq 1 40); do cat /tmp/kpo-exist-$i /tmp/kpo-missing-$i; done >/dev/null 2>&1; true'
echo "kpcap exit: $?"
show_probes after

# No -e/-p: the default event set, which adds the do_sys_openat2 kprobes
# where the kernel has them.
kpcap record -q -o "$OUT/defaults.kpcap" -- sh -c 'cat /tmp/kpo-exist-1 /tmp/kpo-default-missing >/dev/null 2>&1; true'
echo "defaults exit: $?"
show_probes after-defaults

# The BPF capture path, system-wide: syscall tracepoints through generated
# BPF programs (raw syscall programs on x86-64, classic tracepoint programs
# on arm64), cat's openat calls and its -ENOENT return recorded exactly.
kpcap record --path bpf -e syscalls:sys_enter_openat -e syscalls:sys_exit_openat -d 60 -o "$OUT/bpf.kpcap" 2>/tmp/bpf.err &
bpfpid=$!
i=0
while ! grep -q "recording" /tmp/bpf.err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/kpo-exist-1 /tmp/kpo-bpf-missing >/dev/null 2>&1
kill -INT $bpfpid
wait $bpfpid
echo "bpf exit: $?"
