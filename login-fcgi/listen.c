/* listen.c -- opening the FastCGI listen socket (see listen.h). */
#include "listen.h"

#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


static int is_unix_path(const char *addr)
{
    return strchr(addr, ':') == NULL;
}

static int bind_unix(const char *path, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_error("cannot listen on %s: the path is longer than %zu bytes", path,
                  sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    unlink(path); /* a socket left by a process that did not stop cleanly */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        log_error("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (chmod(path, 0666) < 0)
        log_warn("chmod %s: %s", path, strerror(errno));
    return fd;
}

static int bind_tcp(const char *addr, int backlog)
{
    const char *colon = strrchr(addr, ':');
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        log_error("cannot listen on %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        log_error("cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int listen_open(const char *addr, int backlog)
{
    return is_unix_path(addr) ? bind_unix(addr, backlog) : bind_tcp(addr, backlog);
}

void listen_close(int fd, const char *addr)
{
    if (fd < 0)
        return;
    close(fd);
    if (is_unix_path(addr))
        unlink(addr);
}
