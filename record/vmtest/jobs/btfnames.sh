# Probes by name: BTF argument names and member paths (translated by kpcap
# itself, so 6.1 works like 6.12), a typed $retval, and the f, t and e forms
# where the kernel has them. dd reads files of known sizes with known counts.
dd if=/dev/zero of=/tmp/kpbtf-a bs=1000 count=1 2>/dev/null
dd if=/dev/zero of=/tmp/kpbtf-b bs=300 count=1 2>/dev/null
kpcap record -q -o "$OUT/btf.kpcap" \
	-p 'p:btf/rd vfs_read file->f_path.dentry->d_name.name:string count' \
	-p 'r:btf/rdret vfs_read $retval' \
	-- sh -c 'dd if=/tmp/kpbtf-a of=/dev/null bs=777 count=1 2>/dev/null; dd if=/tmp/kpbtf-b of=/dev/null bs=4096 count=1 2>/dev/null; true' 2>"$OUT/btf.stderr"
echo "btf exit: $?"
show_probes after-btf
kernel_forms

# fprobes and tracepoint probes: a kernel without them says so in one line.
kpcap record -q -o "$OUT/fprobe.kpcap" -p 'f:btf/frd vfs_read%return $retval' \
	-p 't:btf/sw sched_switch prev->pid next->pid prev->comm' \
	-- sh -c 'dd if=/tmp/kpbtf-a of=/dev/null bs=777 count=1 2>/dev/null; usleep 1000; true' 2>"$OUT/fprobe.stderr"
echo "fprobe exit: $?"
echo "fprobe stderr: $(head -1 "$OUT/fprobe.stderr")"
# Function arguments on return (Linux 6.9+): 6.12 records them, 6.1 says so.
kpcap record -q -o "$OUT/retarg.kpcap" -p 'r:btf/rcount vfs_read count $retval' \
	-- sh -c 'dd if=/tmp/kpbtf-b of=/dev/null bs=500 count=1 2>/dev/null; true' 2>"$OUT/retarg.stderr"
echo "retarg exit: $?"
echo "retarg stderr: $(head -1 "$OUT/retarg.stderr")"
kpcap record -q -o "$OUT/eprobe.kpcap" -p 'e:btf/op syscalls.sys_enter_openat name=+0($filename):ustring' \
	-- sh -c 'cat /tmp/kpbtf-b >/dev/null; true' 2>"$OUT/eprobe.stderr"
echo "eprobe exit: $?"
echo "eprobe stderr: $(head -1 "$OUT/eprobe.stderr")"
echo "dynamic_events after: [$(cat $T/dynamic_events | tr '\n' ';')]"
