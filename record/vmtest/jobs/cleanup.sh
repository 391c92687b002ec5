# Probes are removed after SIGINT, after an error, and (by the next run's
# sweep) after SIGKILL; a SIGKILLed trace stays readable.
tracefs_state
start_kpcap sigint "$OUT/sigint.kpcap" -q \
	-p "p:kprobes/open do_sys_openat2 filename=+0($A2):string" \
	-p 'r:kprobes/openret do_sys_openat2 ret=$retval' || echo "sigint: kpcap did not start"
show_probes during-sigint
cat /etc/passwd /nonexistent-sigint >/dev/null 2>&1
stop_kpcap sigint
show_probes after-sigint

# An invalid second probe: the first one was already created and must go.
kpcap record -q -o "$OUT/error.kpcap" \
	-p "p:kprobes/good do_sys_openat2 filename=+0($A2):string" \
	-p 'p:kprobes/bad no_such_function_kpcap_vmtest' -- true 2>"$OUT/error.stderr"
echo "error exit: $?"
show_probes after-error

# SIGKILL leaves the tracefs probes; the next kpcap run sweeps them.
start_kpcap sigkill "$OUT/sigkill.kpcap" \
	-p "p:kprobes/open do_sys_openat2 filename=+0($A2):string" || echo "sigkill: kpcap did not start"
cat /etc/passwd /nonexistent-sigkill >/dev/null 2>&1
# Frames close about every second: what was recorded 4 s before the kill
# must be in the file.
sleep 4
kill -KILL $KP_PID
wait $KP_PID
echo "sigkill exit: $?"
show_probes after-sigkill
kpcap record -o "$OUT/sweep.kpcap" -p "p:kprobes/open2 do_sys_openat2 filename=+0($A2):string" -- true 2>"$OUT/sweep.stderr"
echo "sweep exit: $?"
show_probes after-sweep
