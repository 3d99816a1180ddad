#define _GNU_SOURCE
#include "CSystemShims.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

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

int tessera_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
