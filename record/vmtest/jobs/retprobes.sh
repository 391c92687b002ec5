# A kretprobe without fetch arguments recorded system-wide on both CPUs,
# with syscalls:sys_enter_openat as an independent count, while cat opens
# 10 files pinned to each CPU. The kernel must hold one kprobe on the
# function while kpcap records (debugfs lists every registered kprobe), and
# each return must be recorded once, with the caller's address as
# __probe_ret_ip, never a return trampoline: kallsyms gives the host the
# trampolines and the openat syscall functions the returns land in.
grep -q " /sys/kernel/debug " /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
for i in $(seq 1 10); do echo "$i" >/tmp/kpr-$i; done
start_kpcap retprobes "$OUT/retprobes.kpcap" -d 120 \
	-p 'r:kprobes/openret do_sys_openat2' -e syscalls:sys_enter_openat || echo "retprobes: kpcap did not start"
echo "kprobes on do_sys_openat2 while recording: $(grep -c ' do_sys_openat2+0x0' /sys/kernel/debug/kprobes/list)"
for mask in 1 2; do
	taskset $mask sh -c 'for i in $(seq 1 10); do cat /tmp/kpr-$i; done' >/dev/null
done
stop_kpcap retprobes
show_probes after
# On one CPU the same kretprobe goes through the kprobe PMU: nothing in
# kprobe_events, one kprobe.
start_kpcap onecpu "$OUT/onecpu.kpcap" -d 120 --cpu 0 \
	-p 'r:kprobes/openret do_sys_openat2' -e syscalls:sys_enter_openat || echo "onecpu: kpcap did not start"
echo "onecpu kprobes on do_sys_openat2 while recording: $(grep -c ' do_sys_openat2+0x0' /sys/kernel/debug/kprobes/list)"
show_probes onecpu-during
taskset 1 sh -c 'for i in $(seq 1 10); do cat /tmp/kpr-$i; done' >/dev/null
stop_kpcap onecpu
sort /proc/kallsyms | grep -A1 -E ' (__kretprobe_trampoline|kretprobe_trampoline|arch_rethook_trampoline|rethook_trampoline)$|sys_open' >"$OUT/kallsyms.txt"
