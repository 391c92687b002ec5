# Kernel function patterns for real: p vfs_* and r tcp_v4_* make one source
# per match, expanded from available_filter_functions minus the kprobe
# blacklist (debugfs is mounted so that kpcap can read it), and events arrive
# from a file and a loopback TCP workload; f vfs_read* where the kernel has
# fprobes. p tcp_* attaches several hundred PMU kprobes: every stderr line is
# stamped with the guest uptime so that the host can tell how long attaching
# and releasing took.
grep -q " $T tracefs " /proc/mounts || mount -t tracefs tracefs $T
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
grep -E '^(vfs_|tcp_)' $T/available_filter_functions >aff.txt
grep -E '[[:space:]](vfs_|tcp_)' /sys/kernel/debug/kprobes/blacklist >blacklist.txt
ip link set lo up
kernel_forms
echo hello >/tmp/kpg-a
up() { cut -d' ' -f1 /proc/uptime; }
# stamped NAME CMD...: runs CMD with its stderr lines prefixed by the uptime
# into NAME.stderr, and prints "NAME exit: RC start: S end: E".
stamped() {
	name=$1
	shift
	rm -f /tmp/kpg-fifo
	mkfifo /tmp/kpg-fifo
	(while IFS= read -r l; do echo "$(up) $l"; done </tmp/kpg-fifo >"$name.stderr") &
	st=$!
	s=$(up)
	"$@" 2>/tmp/kpg-fifo
	rc=$?
	e=$(up)
	wait $st
	echo "$name exit: $rc start: $s end: $e"
}
tcpwork='nc -l -p 5555 >/tmp/kpg-got & usleep 300000; echo ping | nc -w 2 127.0.0.1 5555; wait; cat /tmp/kpg-a /tmp/kpg-got >/dev/null; true'

stamped vfs kpcap record -o "$OUT/vfs.kpcap" -p 'p vfs_*' -- sh -c 'cat /tmp/kpg-a >/dev/null; echo x >/tmp/kpg-b; true'
show_probes after-vfs
stamped tcpret kpcap record -o "$OUT/tcpret.kpcap" -p 'r tcp_v4_*' -- sh -c "$tcpwork"
show_probes after-tcpret
stamped fvfs kpcap record -o "$OUT/fvfs.kpcap" -p 'f vfs_read*' -p 'f vfs_write*%return $retval' -- sh -c 'cat /tmp/kpg-a >/dev/null; echo x >/tmp/kpg-b; true'
echo "dynamic_events after-fvfs: [$(cat $T/dynamic_events | tr '\n' ';')]"
# Several hundred probes on x86-64 only: emulated arm64 takes many minutes.
if [ "$(uname -m)" != aarch64 ]; then
	stamped many kpcap record -o "$OUT/many.kpcap" --max-probes 2000 -p 'p tcp_*' -- sh -c "$tcpwork"
	show_probes after-many
fi
