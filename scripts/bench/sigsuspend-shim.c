/*
 * Preloaded into the server only when it runs under valgrind (scripts/bench-instructions.sh), never
 * built into Tessera.
 *
 * Valgrind 3.19 (Debian 12) edits the signal mask a program passes to rt_sigsuspend, in place, to
 * keep its own signal unblocked. libdispatch's dispatch_main(), which the Swift runtime calls to run
 * an async main, ends the main thread in sigsuspend() with a mask in read-only memory, so valgrind
 * crashes on its own write. This sigsuspend() passes a writable copy of the mask instead; it behaves
 * exactly like the C library's.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    /* The kernel's sigset_t is 64 bits on Linux; glibc's is larger and starts with it. */
    return (int)syscall(SYS_rt_sigsuspend, &copy, sizeof(unsigned long));
}
