/*
 * console-control.c - the console socket server (see console-control.h).
 *
 * One listening socket and at most MAX_CONNS connections, all on the loop.
 * A connection reads lines (at most LAB_CONTROL_LINE_MAX bytes each),
 * answers each in order into its output buffer (at most OUT_MAX bytes
 * pending) and writes as the socket accepts. Credentials are read once, at
 * accept (SO_PEERCRED, SO_PEERGROUPS); the role is worked out again for
 * every request so that a reload's new groups apply at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console-control.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"

#define MAX_CONNS  32
#define MAX_GROUPS 256
#define OUT_MAX    (4u << 20)
#define IDLE_USEC  (5ULL * 60 * 1000000)
#define READ_CHUNK 16384

typedef struct conn_s conn_t;

struct conn_s {
        lab_control_t *ctl;
        int fd;
        sd_event_source *io;
        sd_event_source *idle;
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t groups[MAX_GROUPS];
        size_t n_groups;
        char user[64];
        char *in;
        size_t in_len, in_cap;
        char *out;
        size_t out_len, out_off, out_cap;
        bool closing; /* close once the output is written */
        conn_t *prev, *next;
};

struct lab_control_s {
        sd_event *event;
        int fd;
        sd_event_source *listen;
        char *path;
        dev_t dev;
        ino_t ino;
        lab_control_handler_t handler;
        void *userdata;
        gid_t operators, viewers;
        conn_t *conns;
        unsigned n_conns;
};

json_t *lab_control_error(const char *keyword, const char *fmt, ...)
{
        char msg[LAB_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", keyword, "message", msg);
}

/* Close and free a connection. */
static void conn_free(conn_t *c)
{
        lab_control_t *ctl;

        if (!c)
                return;
        ctl = c->ctl;
        LAB_LIST_REMOVE(ctl->conns, c);
        ctl->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle);
        if (c->fd >= 0)
                close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

/* Watch for input, and for room to write while output is pending. */
static void conn_update_events(conn_t *c)
{
        uint32_t ev = c->closing ? 0 : EPOLLIN;

        if (c->out_len > c->out_off)
                ev |= EPOLLOUT;
        sd_event_source_set_io_events(c->io, ev);
}

/* Queue an answer line; false when the client lets too much pile up (then close it). */
static bool conn_queue(conn_t *c, json_t *answer)
{
        _cleanup_free_ char *text = NULL;
        size_t len, need;

        if (!answer)
                answer = lab_control_error("internal_error",
                                           "the daemon could not build the answer (out of "
                                           "memory?); an action may have been done: look with "
                                           "labctl status before repeating it");
        text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        json_decref(answer);
        if (!text)
                return false;
        len = strlen(text);
        if (c->out_off > 0 && c->out_off == c->out_len)
                c->out_off = c->out_len = 0;
        need = c->out_len + len + 1;
        if (need - c->out_off > OUT_MAX) {
                log_warning("control: %s (pid %d) does not read its answers; closing its "
                            "connection",
                            c->user, (int)c->pid);
                return false;
        }
        if (need > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : 4096;
                char *p;

                while (cap < need)
                        cap *= 2;
                p = realloc(c->out, cap);
                if (!p)
                        return false;
                c->out = p;
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, text, len);
        c->out[c->out_len + len] = '\n';
        c->out_len += len + 1;
        return true;
}

/* Answer one line. */
static bool conn_request(conn_t *c, const char *line, size_t len)
{
        lab_control_t *ctl = c->ctl;
        lab_control_request_t req;
        lab_control_peer_t peer = {.uid = c->uid, .pid = c->pid};
        lab_error_t err = {0};
        json_t *answer;

        snprintf(peer.user, sizeof peer.user, "%s", c->user);
        peer.role = lab_control_role(c->uid, c->gid, c->groups, c->n_groups, geteuid(),
                                     ctl->operators, ctl->viewers);
        if (lab_control_request_parse(line, len, &req, &err) < 0)
                return conn_queue(c, lab_control_error(err.keyword, "%s", err.message));
        if (!lab_control_allowed(req.cmd, peer.role)) {
                log_notice("control: %s (uid %u) may not run %s (role %s)", c->user,
                           (unsigned)c->uid, lab_control_cmd_to_string(req.cmd),
                           lab_control_role_to_string(peer.role));
                answer = lab_control_error(
                    "not_authorized", "%s may not %s: %s", c->user,
                    lab_control_cmd_to_string(req.cmd),
                    peer.role == LAB_CONTROL_ROLE_VIEWER
                        ? "viewers may only look; ask lab IT to add you to the operators' group "
                          "(control.operators_group)"
                        : "ask lab IT to add you to the viewers' or operators' group "
                          "(control.viewers_group, control.operators_group), then log in again");
        } else {
                answer = ctl->handler(&req, &peer, ctl->userdata);
        }
        lab_control_request_done(&req);
        return conn_queue(c, answer);
}

/* Answer every complete line in the input buffer; false to close. */
static bool conn_process(conn_t *c)
{
        size_t start = 0;
        char *nl;

        while (!c->closing && (nl = memchr(c->in + start, '\n', c->in_len - start)) != NULL) {
                size_t len = (size_t)(nl - (c->in + start));

                if (len > 0 && c->in[start + len - 1] == '\r')
                        len--;
                if (len > 0 && !conn_request(c, c->in + start, len))
                        return false;
                start = (size_t)(nl - c->in) + 1;
        }
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        if (c->in_len >= LAB_CONTROL_LINE_MAX) {
                /* No newline within the limit: answer once, then hang up. */
                c->closing = true;
                c->in_len = 0;
                return conn_queue(c, lab_control_error("bad_request",
                                                       "the request is longer than %d bytes; "
                                                       "closing the connection",
                                                       LAB_CONTROL_LINE_MAX - 1));
        }
        return true;
}

/* Read what is there; false to close. */
static bool conn_read(conn_t *c)
{
        for (;;) {
                ssize_t n;

                if (c->in_cap - c->in_len < READ_CHUNK) {
                        size_t cap = c->in_len + READ_CHUNK;
                        char *p;

                        if (cap > LAB_CONTROL_LINE_MAX + READ_CHUNK)
                                cap = LAB_CONTROL_LINE_MAX + READ_CHUNK;
                        if (cap <= c->in_cap)
                                return conn_process(c); /* full: the line limit decides */
                        p = realloc(c->in, cap);
                        if (!p)
                                return false;
                        c->in = p;
                        c->in_cap = cap;
                }
                n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? conn_process(c) : false;
                if (n == 0) {
                        /* The client is done sending: answer what came, then close. */
                        if (!conn_process(c))
                                return false;
                        c->closing = true;
                        return true;
                }
                c->in_len += (size_t)n;
                if (!conn_process(c))
                        return false;
                if (c->closing)
                        return true;
        }
}

/* Write what the socket takes; false to close. */
static bool conn_write(conn_t *c)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0)
                        return errno == EAGAIN || errno == EINTR;
                c->out_off += (size_t)n;
        }
        c->out_off = c->out_len = 0;
        return true;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
        conn_t *c = userdata;

        log_debug("control: closing the idle connection of %s", c->user);
        conn_free(c);
        return 0;
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        conn_t *c = userdata;
        bool ok = true;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                ok = c->closing ? true : conn_read(c);
        if (ok && (revents & EPOLLERR))
                ok = false;
        if (ok)
                ok = conn_write(c);
        if (!ok || (c->closing && c->out_off >= c->out_len)) {
                conn_free(c);
                return 0;
        }
        conn_update_events(c);
        lab_timer_arm(c->ctl->event, &c->idle, IDLE_USEC, on_idle, c, "control-idle");
        return 0;
}

/* Read the peer's credentials and name. */
static int conn_credentials(conn_t *c)
{
        struct ucred cred;
        socklen_t len = sizeof cred;
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        c->uid = cred.uid;
        c->gid = cred.gid;
        c->pid = cred.pid;
        len = sizeof c->groups;
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) < 0)
                c->n_groups = 0; /* more than MAX_GROUPS (ERANGE): the primary group only */
        else
                c->n_groups = len / sizeof(gid_t);
        if (getpwuid_r(c->uid, &pw, buf, sizeof buf, &res) == 0 && res)
                snprintf(c->user, sizeof c->user, "%s", pw.pw_name);
        else
                snprintf(c->user, sizeof c->user, "uid=%u", (unsigned)c->uid);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        lab_control_t *ctl = userdata;
        conn_t *c;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(-errno, "control: accept failed: %m");
                return 0;
        }
        if (ctl->n_conns >= MAX_CONNS) {
                log_warning("control: %d consoles connected already; refusing another", MAX_CONNS);
                close(cfd);
                return 0;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
                close(cfd);
                return 0;
        }
        c->ctl = ctl;
        c->fd = cfd;
        LAB_LIST_PREPEND(ctl->conns, c);
        ctl->n_conns++;
        r = conn_credentials(c);
        if (r >= 0)
                r = sd_event_add_io(ctl->event, &c->io, cfd, EPOLLIN, on_conn_io, c);
        if (r >= 0)
                r = lab_timer_arm(ctl->event, &c->idle, IDLE_USEC, on_idle, c, "control-idle");
        if (r < 0) {
                log_warning_errno(r, "control: cannot serve a console connection: %m");
                conn_free(c);
                return 0;
        }
        (void)sd_event_source_set_description(c->io, "control-conn");
        log_debug("control: %s (uid %u, pid %d) connected", c->user, (unsigned)c->uid, (int)c->pid);
        return 0;
}

/* Whether a labagent is listening at addr (connect succeeds). */
static bool socket_live(const struct sockaddr_un *addr)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live;

        if (fd < 0)
                return false;
        live = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
        close(fd);
        return live;
}

int lab_control_new(lab_control_t **ret, sd_event *e, const char *path,
                    lab_control_handler_t handler, void *userdata, lab_error_t *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        lab_control_t *ctl;
        struct stat st;
        int r;

        if (!path || strlen(path) >= sizeof addr.sun_path)
                return lab_error_set(err, ENAMETOOLONG, "control_socket_failed",
                                     "control.socket %s is longer than %zu bytes; choose a "
                                     "shorter path",
                                     path ? path : "(none)", sizeof addr.sun_path - 1);
        memcpy(addr.sun_path, path, strlen(path) + 1);
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return lab_error_set(err, EEXIST, "control_socket_failed",
                                             "%s exists and is not a socket; not touching it. "
                                             "Remove it or set control.socket",
                                             path);
                if (socket_live(&addr))
                        return lab_error_set(err, EADDRINUSE, "control_socket_failed",
                                             "another labagent serves the console at %s; set "
                                             "control.socket to a path of this agent's own",
                                             path);
                (void)unlink(path); /* left by a crash */
        }
        ctl = calloc(1, sizeof *ctl);
        if (!ctl)
                return -ENOMEM;
        ctl->fd = -1;
        ctl->operators = ctl->viewers = (gid_t)-1;
        ctl->handler = handler;
        ctl->userdata = userdata;
        ctl->event = sd_event_ref(e);
        ctl->path = strdup(path);
        ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (!ctl->path || ctl->fd < 0 ||
            bind(ctl->fd, (const struct sockaddr *)&addr, sizeof addr) < 0) {
                r = -errno;
                lab_control_free(ctl);
                return lab_error_set(err, -r, "control_socket_failed",
                                     "cannot create the console socket %s: %s; labctl will not "
                                     "work until it can (does its directory exist?)",
                                     path, strerror(-r));
        }
        /* Bound: from here on lab_control_free removes it. */
        if (stat(path, &st) == 0) {
                ctl->dev = st.st_dev;
                ctl->ino = st.st_ino;
        }
        if (chmod(path, 0666) < 0 || listen(ctl->fd, 16) < 0 ||
            (r = sd_event_add_io(e, &ctl->listen, ctl->fd, EPOLLIN, on_accept, ctl)) < 0) {
                r = -errno;
                lab_control_free(ctl);
                return lab_error_set(err, -r, "control_socket_failed",
                                     "cannot listen on the console socket %s: %s", path,
                                     strerror(-r));
        }
        (void)sd_event_source_set_description(ctl->listen, "control");
        *ret = ctl;
        return 0;
}

/* The gid of group name, or (gid_t)-1 (logged) when there is none. */
static gid_t group_gid(const char *name, const char *key)
{
        struct group gr, *res = NULL;
        char buf[16384];

        if (!name || !*name)
                return (gid_t)-1;
        if (getgrnam_r(name, &gr, buf, sizeof buf, &res) == 0 && res)
                return gr.gr_gid;
        log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", "control_group_missing"}),
                   "control_group_missing: group %s (%s) does not exist; no one has that role "
                   "on the console",
                   name, key);
        return (gid_t)-1;
}

void lab_control_set_groups(lab_control_t *c, const char *operators, const char *viewers)
{
        if (!c)
                return;
        c->operators = group_gid(operators, "control.operators_group");
        c->viewers = group_gid(viewers, "control.viewers_group");
}

void lab_control_free(lab_control_t *c)
{
        struct stat st;

        if (!c)
                return;
        while (c->conns)
                conn_free(c->conns);
        sd_event_source_disable_unref(c->listen);
        if (c->fd >= 0) {
                close(c->fd);
                /* Only our own socket: another agent may have taken the path since. */
                if (c->path && stat(c->path, &st) == 0 && st.st_dev == c->dev &&
                    st.st_ino == c->ino)
                        (void)unlink(c->path);
        }
        sd_event_unref(c->event);
        free(c->path);
        free(c);
}
