# The kernel's own verdict on every register name of kpcap's table for this
# architecture (and on names kpcap refuses): one kprobe per name in
# kprobe_events, "reg NAME accepted|refused". /jobs/regs.list is written by
# the host from record/probedef's table.
mount -t tracefs tracefs /sys/kernel/tracing || exit 1
T=/sys/kernel/tracing
echo "machine: $(uname -m)"
while read -r verdict name; do
	[ -n "$name" ] || continue
	if echo "p:kpregs/r do_sys_openat2 v=%$name" >>$T/kprobe_events 2>/dev/null; then
		echo "reg $name accepted"
		echo "-:kpregs/r" >>$T/kprobe_events
	else
		echo "reg $name refused"
	fi
done </jobs/regs.list
echo "kprobe_events after: [$(cat $T/kprobe_events)]"
