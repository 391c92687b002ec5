# Probe features of the perf path, recorded system-wide and stopped with
# SIGINT: a probe without fetchargs (vfs_read, one tracefs probe for both CPUs), $comm, $arg1, :x64, a nested dereference, :symbol,
# kernel stacks (-g); then an in-kernel filter on a fetched string.
tracefs_state
for i in 1 2 3; do echo "features $i" >/tmp/kpf-exist-$i; done
start_kpcap features "$OUT/features.kpcap" -q -g --path perf \
	-p 'p:kprobes/vfs_read vfs_read' \
	-p 'p:kprobes/open do_sys_openat2 filename=+0(%si):string dfd=$arg1:s32 flags=+0(%dx):x64 comm=$comm' \
	-p 'r:kprobes/openret do_sys_openat2 ret=$retval' \
	-p 'p:kprobes/sysopen __x64_sys_openat path=+0(+104(%di)):string head=+0(+104(%di)):u64 caller=+0(%sp):symbol' ||
	echo "features: kpcap did not start"
show_probes during
cat /tmp/kpf-exist-1 /tmp/kpf-missing-1 /tmp/kpf-exist-2 /tmp/kpf-missing-2 /tmp/kpf-exist-3 /tmp/kpf-missing-3 >/dev/null 2>&1
sleep 1
stop_kpcap features
show_probes after

for i in 1 2; do echo "filter $i" >/tmp/kpfilt-$i; done
kpcap record -q -o "$OUT/filter.kpcap" \
	-p 'p:kprobes/fopen do_sys_openat2 filename=+0(%si):string' \
	--filter 'filename ~ "/tmp/kp*"' \
	-- sh -c "cat /etc/passwd /tmp/kpfilt-1 /etc/group /nonexistent-filter /tmp/kpfilt-2 /tmp/kpfilt-missing >/dev/null 2>&1; true"
echo "filter exit: $?"
show_probes after-filter
