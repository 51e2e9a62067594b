/*
 * notify-peer.h - play systemd's part for a Type=notify service under test.
 *
 * Why: the lifecycle tests must see exactly what the daemon tells systemd
 * (READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1) without a systemd
 * here. The peer binds the AF_UNIX datagram socket named by NOTIFY_SOCKET,
 * starts the real binary with it, and records every message with the
 * monotonic time it arrived.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NOTIFY_MAX_MESSAGES 512

typedef struct notify_msg_s {
        long long at_ms; /* monotonic arrival time */
        char *text;      /* the datagram, NUL-terminated */
} notify_msg_t;

typedef struct notify_peer_s {
        char *dir;         /* scratch directory: notify socket, stderr log */
        char *socket_path; /* NOTIFY_SOCKET */
        char *stderr_path; /* the daemon's stderr */
        int fd;            /* bound datagram socket */
        pid_t pid;         /* the daemon, 0 when not running */
        notify_msg_t msgs[NOTIFY_MAX_MESSAGES];
        size_t n_msgs;
} notify_peer_t;

/* Bind a notify socket in dir. */
void notify_peer_init(notify_peer_t *p, const char *dir);

/* Start labagent with args (NULL-terminated) and extra env "K=V" (NULL-terminated, may be NULL). */
void notify_peer_spawn(notify_peer_t *p, const char *const *args, const char *const *env);

/*
 * Receive until a message containing the line `line` arrives after message
 * index `from`, or timeout_ms passes. Returns the message index or -1.
 */
int notify_peer_wait_for(notify_peer_t *p, size_t from, const char *line, int timeout_ms);

/* Receive everything for duration_ms (bounded). */
void notify_peer_collect(notify_peer_t *p, int duration_ms);

/* Whether message i contains the line `line` (an exact line, or a line starting with it when it
 * ends in '='). */
bool notify_msg_has_line(const notify_msg_t *m, const char *line);

/* Find the value of "KEY=" in message i, or NULL. Returns a pointer into a static buffer. */
const char *notify_msg_value(const notify_msg_t *m, const char *key);

/* Wait up to timeout_ms for the daemon to exit; returns its wait status, or -1 on timeout. */
int notify_peer_wait_exit(notify_peer_t *p, int timeout_ms);

/* Whether the daemon is still running. */
bool notify_peer_alive(notify_peer_t *p);

/* The daemon's stderr so far (malloc'd). */
char *notify_peer_stderr(notify_peer_t *p);

/* Kill the daemon if still running, close the socket, free messages. */
void notify_peer_done(notify_peer_t *p);
