/* kpcap-stepper N: calls kpcap_step N times with a pointer to a linked
 * pair of globals. Built static and without PIE, every address a probe
 * reads is the same in every run: record/vmtest's bpfprobes job probes it
 * on both capture paths and compares the samples. */
#include <stdlib.h>
struct item { int id; long val; struct item *next; };
struct item second = {7, 1234567, 0};
struct item first = {5, 99, &second};
__attribute__((noinline)) int kpcap_step(long n, struct item *it) {
	__asm__ volatile("" ::: "memory");
	return (int)(n * 3) - it->id - it->next->id;
}
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long s = 0;
	for (int i = 0; i < n; i++) { first.id = i; s += kpcap_step(i, &first); }
	return s == 42;
}
