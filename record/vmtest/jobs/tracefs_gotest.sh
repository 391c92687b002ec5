# record/internal/tracefs's own tests, built with the kpcapvm tag so that its kprobe
# tests are included, run on a kernel that has kprobes. tracefs is left
# unmounted: the package must mount it itself.
/bin/tracefs.test -test.v -test.count=1 -test.run '^(TestKprobeLifecycle|TestKprobeAvailability|TestPMU|TestGlob|TestFindAndEvents|TestParsers|TestCandidates)$' >gotest.txt 2>&1
echo "gotest exit: $?"
