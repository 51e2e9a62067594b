/*
 * labctl-client.c - one connection to the control socket (see
 * labctl-client.h).
 *
 * Why: the only place labctl does socket I/O. The socket is non-blocking
 * after connect and every wait is a poll() bounded by the call's deadline,
 * so a daemon that stops answering costs the technician at most
 * LAB_CTL_TIMEOUT_MS, and the receive buffer never grows past one answer
 * line plus its newline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "labctl-client.h"
#include "macro.h"

/* Bytes asked of recv() at a time. */
#define RECV_CHUNK 65536u

struct lab_ctl_client_s {
        int fd;
        char *buf;  /* received, not yet consumed: at most LAB_CTL_ANSWER_MAX + 1 bytes */
        size_t len; /* bytes in buf */
};

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -errno. */
static int wait_for(int fd, short events, long long deadline)
{
        for (;;) {
                long long left = deadline - now_ms();
                struct pollfd p = {.fd = fd, .events = events};
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0; /* ready, or POLLHUP/POLLERR: the next call says which */
        }
}

int lab_ctl_client_connect(const char *path, int timeout_ms, lab_ctl_client_t **ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
        _cleanup_close_ int fd = -1;
        lab_ctl_client_t *c;
        int flags;

        if (!path || !*path)
                return -EINVAL;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A blocking unix connect waits for room in the listener's backlog up to SO_SNDTIMEO. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                if (errno == EAGAIN || errno == EINPROGRESS)
                        return -ETIMEDOUT;
                return -errno;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        *ret = c;
        return 0;
}

void lab_ctl_client_free(lab_ctl_client_t *c)
{
        if (!c)
                return;
        lab_closep(&c->fd);
        free(c->buf);
        free(c);
}

/* Send all of buf before the deadline. */
static int send_all(lab_ctl_client_t *c, const char *buf, size_t n, long long deadline)
{
        while (n > 0) {
                ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                int r;

                if (w < 0) {
                        if (errno == EPIPE || errno == ECONNRESET)
                                return -ECONNRESET;
                        if (errno != EAGAIN && errno != EINTR)
                                return -errno;
                        r = wait_for(c->fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Receive until buf holds a newline; its offset in *ret_nl. */
static int recv_line(lab_ctl_client_t *c, long long deadline, size_t *ret_nl)
{
        size_t scanned = 0;

        if (!c->buf) {
                c->buf = malloc(LAB_CTL_ANSWER_MAX + 1);
                if (!c->buf)
                        return -ENOMEM;
        }
        for (;;) {
                char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
                size_t room = LAB_CTL_ANSWER_MAX + 1 - c->len;
                ssize_t n;
                int r;

                if (nl) {
                        *ret_nl = (size_t)(nl - c->buf);
                        return 0;
                }
                scanned = c->len;
                if (room == 0)
                        return -EMSGSIZE;
                n = recv(c->fd, c->buf + c->len, room < RECV_CHUNK ? room : RECV_CHUNK,
                         MSG_DONTWAIT);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0) {
                        if (errno == ECONNRESET)
                                return -ECONNRESET;
                        if (errno != EAGAIN && errno != EINTR)
                                return -errno;
                        r = wait_for(c->fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                c->len += (size_t)n;
        }
}

int lab_ctl_client_call(lab_ctl_client_t *c, const json_t *request, int timeout_ms, json_t **answer)
{
        long long deadline = now_ms() + timeout_ms;
        _cleanup_free_ char *line = NULL;
        json_t *a;
        size_t n, nl = 0;
        int r;

        line = json_dumps(request, JSON_COMPACT);
        if (!line)
                return -ENOMEM;
        n = strlen(line);
        if (n + 1 > LAB_CTL_REQUEST_MAX)
                return -E2BIG;
        line[n] = '\n'; /* json_dumps' terminator becomes the line's end */

        r = send_all(c, line, n + 1, deadline);
        if (r < 0)
                return r;
        r = recv_line(c, deadline, &nl);
        if (r < 0)
                return r;

        a = json_loadb(c->buf, nl, 0, NULL);
        c->len -= nl + 1;
        memmove(c->buf, c->buf + nl + 1, c->len);
        if (!json_is_object(a)) {
                json_decref(a);
                return -EBADMSG;
        }
        *answer = a;
        return 0;
}

int lab_ctl_client_describe(int err, bool connecting, const char *path, char *buf, size_t size)
{
        err = err < 0 ? -err : err;
        if (connecting && err == EACCES) {
                snprintf(buf, size,
                         "not_authorized: you may not use %s: ask lab IT to add you to group "
                         "labagent-viewers (to look) or labagent-operators (to act), then log "
                         "in again",
                         path);
                return LAB_CTL_EXIT_NOPERM;
        }
        switch (err) {
        case ETIMEDOUT:
                snprintf(buf, size,
                         "agent_timeout: labagent at %s did not answer within %d s: is it "
                         "stuck? systemctl status labagent",
                         path, LAB_CTL_TIMEOUT_MS / 1000);
                return LAB_CTL_EXIT_UNAVAILABLE;
        case ENAMETOOLONG:
                snprintf(buf, size, "bad_socket: %s is too long for a unix socket path", path);
                return LAB_CTL_EXIT_USAGE;
        case E2BIG:
                snprintf(buf, size,
                         "request_too_large: the request is over the %u bytes labagent takes",
                         LAB_CTL_REQUEST_MAX);
                return LAB_CTL_EXIT_USAGE;
        case EMSGSIZE:
                snprintf(buf, size,
                         "answer_too_large: labagent's answer is over %u MiB; ask for less "
                         "(labctl jobs --limit N)",
                         LAB_CTL_ANSWER_MAX / (1024u * 1024u));
                return LAB_CTL_EXIT_REFUSED;
        case EBADMSG:
                snprintf(buf, size,
                         "bad_answer: labagent at %s answered with something that is not a "
                         "JSON object",
                         path);
                return LAB_CTL_EXIT_REFUSED;
        case ECONNRESET:
                snprintf(buf, size,
                         "agent_closed: labagent at %s closed the connection without answering "
                         "(stopping, or too many consoles open?)",
                         path);
                return LAB_CTL_EXIT_UNAVAILABLE;
        default:
                break;
        }
        if (connecting)
                snprintf(buf, size,
                         "agent_not_running: cannot reach labagent at %s (%s): is the service "
                         "running? systemctl status labagent",
                         path, strerror(err));
        else
                snprintf(buf, size, "agent_io: talking to labagent at %s failed: %s", path,
                         strerror(err));
        return LAB_CTL_EXIT_UNAVAILABLE;
}
