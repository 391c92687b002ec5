# Baseline without kpcap: the kernel's own kprobe_events and trace text for the
# probe definitions kpcap's jobs use, so that a kpcap failure can be told apart
# from a kernel that cannot do it.
mount -t tracefs tracefs /sys/kernel/tracing || exit 1
T=/sys/kernel/tracing
def() { echo "$1" >>$T/kprobe_events || { echo "rejected: $1"; cat $T/error_log; exit 1; }; }
def 'p:kpbase/open do_sys_openat2 filename=+0(%si):string dfd=$arg1:s32 flags=+0(%dx):x64 comm=$comm'
def 'r:kpbase/openret do_sys_openat2 ret=$retval'
def 'p:kpbase/sysopen __x64_sys_openat path=+0(+104(%di)):string head=+0(+104(%di)):u64 caller=+0(%sp):symbol'
cat $T/kprobe_events
cp $T/events/kpbase/open/format open.format
cp $T/events/kpbase/openret/format openret.format
cp $T/events/kpbase/sysopen/format sysopen.format
for i in 1 2 3; do echo "x$i" >/tmp/kpbase-exist-$i; done
echo 1 >$T/events/kpbase/enable
cat /tmp/kpbase-exist-1 /tmp/kpbase-missing-1 /tmp/kpbase-exist-2 /tmp/kpbase-missing-2 /tmp/kpbase-exist-3 /tmp/kpbase-missing-3 >/dev/null 2>&1
echo 0 >$T/events/kpbase/enable
grep -v '^#' $T/trace >trace.txt
echo "-:kpbase/open" >>$T/kprobe_events
echo "-:kpbase/openret" >>$T/kprobe_events
echo "-:kpbase/sysopen" >>$T/kprobe_events
echo "kprobe_events after: [$(cat $T/kprobe_events)]"
