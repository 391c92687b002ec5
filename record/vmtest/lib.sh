# Shell helpers sourced before every vmtest job (installed as /lib/vmtest.sh).
T=/sys/kernel/tracing

# Function argument registers of this machine, for the jobs that run on
# every architecture: A1 is the first argument, A2 the second, A3 the third.
case $(uname -m) in
aarch64) A1=%x0 A2=%x1 A3=%x2 ;;
*) A1=%di A2=%si A3=%dx ;;
esac

# tracefs_state prints whether tracefs is mounted, for the host to check
# that kpcap mounted it itself.
tracefs_state() {
	if grep -q " $T tracefs " /proc/mounts; then
		echo "tracefs before kpcap: mounted"
	else
		echo "tracefs before kpcap: not mounted"
	fi
}

# show_probes LABEL prints kprobe_events on one line as
# "kprobe_events LABEL: [...]" (mounting tracefs to look, if needed).
show_probes() {
	grep -q " $T tracefs " /proc/mounts || mount -t tracefs tracefs $T
	echo "kprobe_events $1: [$(cat $T/kprobe_events | tr '\n' ';')]"
}

# wait_file FILE PID waits up to 30 s for FILE to be non-empty, giving up
# early when process PID has exited.
wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && { echo "timed out waiting for $1"; return 1; }
		kill -0 "$2" 2>/dev/null || { echo "process $2 exited before creating $1"; return 1; }
		usleep 100000
	done
}

# wait_grow FILE PID waits up to 60 s for FILE to grow past its current
# size, giving up early when process PID has exited.
wait_grow() {
	size0=$(stat -c %s "$1")
	i=0
	while [ "$(stat -c %s "$1")" -le "$size0" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "timed out waiting for $1 to grow"; return 1; }
		kill -0 "$2" 2>/dev/null || { echo "process $2 exited before $1 grew"; return 1; }
		usleep 100000
	done
}

# start_kpcap NAME FILE ARGS... runs "kpcap record -o FILE ARGS" in the
# background (stderr in $OUT/NAME.stderr, pid in KP_PID) and returns once the
# capture is live: kpcap writes FILE's header frame (in one write) before
# enabling the events, and the next frame (process names, samples) from its
# capture loop, after enabling them. Jobs open a sentinel file first thing so
# that the host can tell a late start from lost events.
start_kpcap() {
	name=$1 file=$2
	shift 2
	kpcap record -o "$file" "$@" 2>"$OUT/$name.stderr" &
	KP_PID=$!
	wait_file "$file" $KP_PID && wait_grow "$file" $KP_PID || { cat "$OUT/$name.stderr"; return 1; }
}

# stop_kpcap NAME sends SIGINT to the background kpcap and waits for it,
# printing "NAME exit: N".
stop_kpcap() {
	kill -INT $KP_PID
	wait $KP_PID
	echo "$1 exit: $?"
}

# kernel_forms prints which probe forms this kernel's tracefs README lists
# ("fprobe events: yes|no", "return probe arguments: yes|no"), for the host
# to expect kpcap's behaviour on each kernel from the kernel itself.
kernel_forms() {
	grep -q " $T tracefs " /proc/mounts || mount -t tracefs tracefs $T
	if grep -qF 'f[:[<group>/][<event>]]' $T/README; then echo "fprobe events: yes"; else echo "fprobe events: no"; fi
	if grep -qF 'kernel return probes support:' $T/README; then echo "return probe arguments: yes"; else echo "return probe arguments: no"; fi
}
