# kprobe + kretprobe on do_sys_openat2 with a string fetcharg, following a
# command that opens 40 existing and 40 missing files with unique names.
# tracefs is not mounted when kpcap starts: it must mount it itself.
tracefs_state
for i in $(seq 1 40); do echo "$i" >/tmp/kpo-exist-$i; done
kpcap record -q -o "$OUT/openat.kpcap" \
	-p "p:kprobes/open do_sys_openat2 filename=+0($A2):string" \
	-p 'r:kprobes/openret do_sys_openat2 ret=$retval' \
	-- sh -c 'for i in $(seq 1 40); do cat /tmp/kpo-exist-$i /tmp/kpo-missing-$i; done >/dev/null 2>&1; true'
echo "kpcap exit: $?"
show_probes after

# No -e/-p: the default event set, which adds the do_sys_openat2 kprobes
# where the kernel has them.
kpcap record -q -o "$OUT/defaults.kpcap" -- sh -c 'cat /tmp/kpo-exist-1 /tmp/kpo-default-missing >/dev/null 2>&1; true'
echo "defaults exit: $?"
show_probes after-defaults
