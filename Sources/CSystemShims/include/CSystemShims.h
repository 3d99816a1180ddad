#ifndef TESSERA_CSYSTEMSHIMS_H
#define TESSERA_CSYSTEMSHIMS_H

// The only C Tessera writes: Linux system calls (and their constants) that the
// Swift Glibc module does not export, or exports in a shape Swift cannot use.
// Every wrapper is a thin pass-through; EINTR retry and errno handling live in
// HTTPServer/System.swift.

#include <stdint.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

// `struct epoll_event` is declared `__attribute__((packed))` on x86_64, which
// Swift cannot import as a usable struct; this is the same data unpacked.
typedef struct {
    uint32_t events;
    uint64_t data;
} tessera_epoll_event;

// The epoll event bits, as plain constants (glibc declares them as an enum
// re-exported through macros, which Swift does not import reliably).
static const uint32_t TESSERA_EPOLLIN = EPOLLIN;
static const uint32_t TESSERA_EPOLLOUT = EPOLLOUT;
static const uint32_t TESSERA_EPOLLERR = EPOLLERR;
static const uint32_t TESSERA_EPOLLHUP = EPOLLHUP;
static const uint32_t TESSERA_EPOLLRDHUP = EPOLLRDHUP;
static const int TESSERA_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int TESSERA_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int TESSERA_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

// epoll_create1(EPOLL_CLOEXEC): <sys/epoll.h> is not part of Swift's Glibc module.
int tessera_epoll_create(void);

// epoll_ctl with the event passed by value, so Swift never builds a packed struct.
int tessera_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

// epoll_wait into unpacked events; at most 1024 events per call.
int tessera_epoll_wait(int epfd, tessera_epoll_event *events, int maxevents, int timeout_ms);

// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): <sys/eventfd.h> is not exported to Swift.
int tessera_eventfd_create(void);

// accept4(..., SOCK_NONBLOCK | SOCK_CLOEXEC): accept4 is a GNU extension that
// Glibc's Swift module hides (it needs _GNU_SOURCE); it saves two fcntl calls
// per connection and closes the fork/exec descriptor-leak race.
int tessera_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

// The processors this process may run on: the count of its sched_getaffinity(2) mask (so
// taskset and container cpusets are respected), else the online processors, at least 1.
// CPU_COUNT is a macro Swift cannot call.
int tessera_available_processors(void);

// pthread_setname_np for the calling thread (a GNU extension Glibc's Swift module hides):
// names it in top, perf and gdb. Names are cut to 15 bytes.
void tessera_set_thread_name(const char *name);

/// Installs handlers for SIGTERM and SIGINT that write the signal number (one byte) to a
/// new pipe, and returns the pipe's read end (-1 on failure). Installed synchronously, so
/// no signal is lost or fatal from this call on. Only one pipe is current per process.
int tessera_termination_install(void);

/// Restores the default actions of SIGTERM and SIGINT.
void tessera_termination_restore(void);

#endif
