#define _GNU_SOURCE
#include "CSystemShims.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int tessera_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int tessera_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

int tessera_epoll_wait(int epfd, tessera_epoll_event *events, int maxevents, int timeout_ms) {
    struct epoll_event native[1024];
    if (maxevents > 1024) {
        maxevents = 1024;
    }
    if (maxevents < 1) {
        maxevents = 1;
    }
    int count = epoll_wait(epfd, native, maxevents, timeout_ms);
    for (int index = 0; index < count; index++) {
        events[index].events = native[index].events;
        events[index].data = native[index].data.u64;
    }
    return count;
}

int tessera_eventfd_create(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int tessera_available_processors(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) {
            return count;
        }
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

void tessera_set_thread_name(const char *name) {
    pthread_setname_np(pthread_self(), name);
}

int tessera_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static volatile sig_atomic_t tessera_termination_write_fd = -1;

/* Async-signal-safe: write(2) only, errno preserved. */
static void tessera_termination_handler(int number) {
    int saved = errno;
    unsigned char byte = (unsigned char)number;
    int fd = tessera_termination_write_fd;
    if (fd >= 0) {
        ssize_t written = write(fd, &byte, 1);
        (void)written;
    }
    errno = saved;
}

int tessera_termination_install(void) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return -1;
    }
    /* The write end never blocks the handler; a full pipe already holds a signal. */
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    tessera_termination_write_fd = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = tessera_termination_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    return fds[0];
}

void tessera_termination_restore(void) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

