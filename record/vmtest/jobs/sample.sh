# The committed sample traces testdata/kernels/openat-*.pcapng.zst: a small
# realistic workload (ls, cat, find, sh -c, missing files) traced system-wide
# with the do_sys_openat2 kprobe/kretprobe pair defined by BTF names (kpcap
# translates them itself, on 6.1 as on 6.12), process exec/exit and kernel
# stacks.
cat >/tmp/workload.sh <<'W'
cat /tmp/sample-start 2>/dev/null
ls -l / /etc >/dev/null
cat /etc/passwd /etc/group >/dev/null
find /etc -type f >/dev/null
for i in 1 2 3; do
	sh -c "echo run $i >/tmp/sample-$i; cat /tmp/sample-$i /tmp/missing-$i" >/dev/null 2>&1
done
ls /proc/self/ >/dev/null
cat /proc/cpuinfo /proc/meminfo /proc/version >/dev/null
for f in /proc/[0-9]*/status; do cat "$f"; done >/dev/null 2>&1
find /sys/kernel -maxdepth 2 >/dev/null 2>&1
i=1
while [ $i -le 10 ]; do
	cat /etc/passwd /tmp/missing-loop-$i >/dev/null 2>&1
	i=$((i + 1))
done
sh -c 'grep -l root /etc/* >/dev/null 2>&1; true'
find / -maxdepth 2 -name 'nothing-*' >/dev/null
cat /tmp/sample-end 2>/dev/null
true
W
# System-wide, stopped with SIGINT: on these kernels per-task perf events
# never see sched_process_exit (kpcap record -- CMD or --pid, and perf record
# -- CMD alike; system-wide events do), unlike on 6.18.
start_kpcap sample "$OUT/openat.pcapng.zst" -q -g \
	-e sched:sched_process_exec -e sched:sched_process_exit \
	-p 'p:kprobes/openat2 do_sys_openat2 filename:string' \
	-p 'r:kprobes/openat2_ret do_sys_openat2 ret=$retval' ||
	echo "sample: kpcap did not start"
sh /tmp/workload.sh
sleep 1
stop_kpcap kpcap
show_probes after
