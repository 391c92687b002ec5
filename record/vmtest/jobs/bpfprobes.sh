# The same kprobes and kretprobes on do_sys_openat2 recorded on the perf
# path and on the BPF path, system-wide, while cat opens 20 existing and 20
# missing files: without fetch arguments (the BPF path opens the kprobe
# PMU once, the perf path shares one tracefs probe among the CPUs) and
# with register, $argN, dereference and $retval arguments (head: a plain
# dereference of the user file name, which a kprobe reads as user memory
# where address spaces do not overlap). The host
# compares cat's samples of each pair of files field by field.
#
# The return probe without arguments is recorded apart, on every CPU (the
# perf path shares one tracefs probe among them; the BPF path opens the PMU
# once). Its function, do_filp_open, is global: an IBT kernel starts it
# with endbr (or the nop that seals it), which puts the kprobe and
# __probe_func 4 bytes in.
for i in $(seq 1 20); do echo "$i" >/tmp/kpb-exist-$i; done
rec() {
	name=$1 path=$2
	shift 2
	kpcap record --path $path -d 120 -o "$OUT/$name-$path.kpcap" "$@" 2>"$OUT/$name-$path.stderr" &
	kp=$!
	i=0
	while ! grep -q "recording" "$OUT/$name-$path.stderr" && [ $i -lt 600 ] && kill -0 $kp 2>/dev/null; do sleep 0.1; i=$((i+1)); done
	sh -c "$work"
	kill -INT $kp
	wait $kp
	echo "$name $path exit: $?"
}
catwork='for i in $(seq 1 20); do cat /tmp/kpb-exist-$i /tmp/kpb-missing-$i; done >/dev/null 2>&1'
work=$catwork
printf '#!/bin/sh\ntrue\n' >/tmp/kpb-exec.sh
chmod +x /tmp/kpb-exec.sh
for path in perf bpf; do
	rec probes $path \
		-p "p:kprobes/open do_sys_openat2 dfd=$A1:s32 dfd2=\$arg1:s32 flags=+0($A3):x64 mode=+8($A3):u16 resolve=+16(\$arg3):u64 head=+0($A2):u64" \
		-p 'r:kprobes/openret do_sys_openat2 ret=$retval:s64' \
		-p 'p:kprobes/openpmu do_sys_openat2'
	rec retpmu $path -p 'r:kprobes/filpretpmu do_filp_open'
	# A filter on fetch arguments (the program builds the record on its
	# stack): it keeps cat's read-only opens and drops the shell's
	# O_WRONLY ones.
	rec kfilter $path --filter '!(flags & 3) && dfd < -0x10 && mode == 0' \
		-p "p:kprobes/openf do_sys_openat2 dfd=$A1:s32 flags=+0($A3):x64 mode=+8($A3):u16"
	# Call chains of a kprobe: bpf_get_stack from the probe's registers.
	rec kstack $path -g -p 'p:kprobes/openg do_sys_openat2'
	# String arguments: user strings through :string (the kernel reads an
	# address below its half as user memory) and :ustring, the task's name,
	# a kernel string (do_filp_open's struct filename's name), one that
	# cannot be read (dfd, AT_FDCWD, as an address) and an immediate.
	rec kstrings $path \
		-p "p:kprobes/opens do_sys_openat2 name=+0($A2):string uname=+0($A2):ustring c=\$comm bad=+0($A1):string k=\\\"kpcap\"" \
		-p "p:kprobes/filps do_filp_open kname=+0(+0($A2)):string"
	# A tracepoint with a __data_loc field: the file names of 20 execs of
	# a script (busybox's applets re-exec /proc/self/exe under its name).
	work='for i in $(seq 1 20); do /tmp/kpb-exec.sh; done'
	rec kexec $path -e sched:sched_process_exec
	work=$catwork
done

# Uprobes and uretprobes on kpcap-stepper (x86-64 only: the host builds it
# with its own gcc), without fetch arguments and with
# register, dereference, nested dereference, stack, constant and $retval
# arguments.
S=/bin/kpcap-stepper
if [ -x $S ]; then
	work="$S 200"
	for path in perf bpf; do
		rec uprobes $path \
			-p "p:test/step $S:kpcap_step n=%di id=+0(%si):s32 val=+8(%si):u64 nextid=+0(+16(%si)):u32 k=\\42:u16 ret_addr=\$stack0" \
			-p "r:test/step_ret $S:kpcap_step rv=\$retval:s32" \
			-p "p:test/steppmu $S:kpcap_step" \
			-p "r:test/step_retpmu $S:kpcap_step"
	done
fi
