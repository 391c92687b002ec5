#!/bin/busybox sh
# /init of the vmtest initramfs: runs every job of /jobs/order in turn and
# sends logs and output files to the host on the job channel (/dev/ttyS1 on
# x86-64, the virtio console /dev/hvc0 on arm64), then powers off.
# tracefs is deliberately NOT mounted: kpcap must mount it itself, and jobs
# that write tracefs by hand mount it first (see tracefs_mount below).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
case $(uname -m) in
aarch64) exec 3>/dev/hvc0 ;;
*) exec 3>/dev/ttyS1 ;;
esac
uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "KPCAP-VM-BOOTED $(uname -r) $(uptime_s)" >&3
limit=$(cat /jobs/timeout)
for job in $(cat /jobs/order); do
	out=/out/$job
	mkdir -p "$out"
	echo "KPCAP-JOB-BEGIN $job" >&3
	t0=$(uptime_s)
	# Each job starts without tracefs, whatever the previous one did.
	umount /sys/kernel/tracing 2>/dev/null
	(cd "$out" && OUT="$out" timeout -s KILL "$limit" sh -c ". /lib/vmtest.sh && . /jobs/$job.sh") >"/tmp/$job.log" 2>&1
	rc=$?
	t1=$(uptime_s)
	cat "/tmp/$job.log" >&3
	for f in "$out"/*; do
		[ -f "$f" ] || continue
		echo "KPCAP-FILE-BEGIN ${f##*/}" >&3
		base64 "$f" >&3
		echo "KPCAP-FILE-END" >&3
	done
	echo "KPCAP-JOB-END $job rc=$rc secs=$(awk "BEGIN{print $t1-$t0}")" >&3
	rm -rf "$out"
done
echo "KPCAP-VM-DONE $(uptime_s)" >&3
sync
poweroff -f
