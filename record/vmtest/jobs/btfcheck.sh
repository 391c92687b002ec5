# kpcap's BTF translation against the kernel's own: the VM's BTF comes back
# (gzipped, x86-64) for the host to check kpcap's layouts with pahole; where probe
# events understand BTF (6.12), the kernel's named probes and kpcap's
# translation of the same definitions are recorded on the same calls, so
# that the host can compare their values one by one.
grep -q " $T tracefs " /proc/mounts || mount -t tracefs tracefs $T
# x86-64 only: megabytes over the emulated arm64's console take minutes.
[ "$(uname -m)" = aarch64 ] || gzip -c /sys/kernel/btf/vmlinux >vmlinux.btf.gz
ip link set lo up
dd if=/dev/zero of=/tmp/kpbc-a bs=1000 count=1 2>/dev/null
dd if=/dev/zero of=/tmp/kpbc-bb bs=300 count=1 2>/dev/null
RD='name=file->f_path.dentry->d_name.name:string len=file->f_path.dentry->d_name.len count flags=file->f_flags size=file->f_inode->i_size'
SND='dport=sk->__sk_common.skc_dport family=sk->__sk_common.skc_family reuse=sk->__sk_common.skc_reuse kern=sk->sk_kern_sock size'
# The kernel's verdict on each definition, by itself.
kdef() {
	if echo "$1" >>$T/dynamic_events 2>/dev/null; then
		echo "kernel accepts: $1"
	else
		echo "kernel refuses: $1 [$(tail -2 $T/error_log | tr '\n' ' ')]"
	fi
}
kdef "p:kbtf/rd vfs_read $RD"
kdef "r:kbtf/rdret vfs_read ret=\$retval"
kdef "p:kbtf/snd tcp_sendmsg $SND"
kdef "p:kbtf/arg5 vfs_read \$arg5"
echo "-:kbtf/arg5" >>$T/dynamic_events 2>/dev/null
kdef "f:kbtf/farg5 vfs_read \$arg5"
echo "-:kbtf/farg5" >>$T/dynamic_events 2>/dev/null
# kpcap's verdict on the same definitions the kernel judged alone.
for d in 'p:kp/arg5 vfs_read $arg5' 'f:kp/farg5 vfs_read $arg5'; do
	kpcap record -q -o /tmp/kpbc-verdict.kpcap -p "$d" -- true 2>/tmp/kpbc-verdict.err
	echo "kpcap rc $?: $d [$(head -1 /tmp/kpbc-verdict.err)]"
done
[ -d $T/events/kbtf ] && echo 1 >$T/events/kbtf/enable
start_kpcap btfcheck "$OUT/btfcheck.kpcap" -q \
	-p "p:kp/rd vfs_read $RD" -p 'r:kp/rdret vfs_read ret=$retval' -p "p:kp/snd tcp_sendmsg $SND" ||
	echo "btfcheck: kpcap did not start"
dd if=/tmp/kpbc-a of=/dev/null bs=777 count=1 2>/dev/null
dd if=/tmp/kpbc-bb of=/dev/null bs=4096 count=1 2>/dev/null
nc -l -p 5556 >/dev/null &
NC=$!
usleep 300000
echo hello-btf | nc -w 2 127.0.0.1 5556
wait $NC
sleep 1
stop_kpcap btfcheck
[ -d $T/events/kbtf ] && echo 0 >$T/events/kbtf/enable
grep -v '^#' $T/trace >ktrace.txt
for e in rd rdret snd; do echo "-:kbtf/$e" >>$T/dynamic_events 2>/dev/null; done
echo "dynamic_events after: [$(cat $T/dynamic_events | tr '\n' ';')]"
