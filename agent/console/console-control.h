/*
 * console-control.h - the console's unix socket on the daemon's loop
 * (docs/control.md, "Wire format").
 *
 * Why: technicians act on the running daemon through labctl, and the daemon
 * must never wait for them. The socket is served on the sd-event loop, each
 * connection with its own bounded input and output buffers; a slow, stuck or
 * hostile client costs one connection, never the loop. Who may do what is
 * decided from the kernel's credentials of the connecting process.
 */
#pragma once

#include <sys/types.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "console-request.h"
#include "error.h"

typedef struct lab_control_s lab_control_t;

/* Who sent a request. */
typedef struct lab_control_peer_s {
        uid_t uid;
        pid_t pid;
        lab_control_role_t role;
        char user[64]; /* login name, or "uid=N" */
} lab_control_peer_t;

/*
 * Answer one request that its sender's role allows: a new JSON object with
 * "ok" (true, or false with "error" and "message"). NULL is answered as an
 * internal error.
 */
typedef json_t *(*lab_control_handler_t)(const lab_control_request_t *req,
                                         const lab_control_peer_t *peer, void *userdata);

/*
 * Listen on path (mode 0666; roles do the rest). A stale socket left by a
 * crash is replaced; a live one (another labagent) or a file that is not a
 * socket is refused. Error keyword: control_socket_failed.
 */
int lab_control_new(lab_control_t **ret,           /* O - the server */
                    sd_event *e,                   /* I - the loop */
                    const char *path,              /* I - socket path */
                    lab_control_handler_t handler, /* I - answers requests */
                    void *userdata,                /* I - for handler */
                    lab_error_t *err);             /* O - why not */

/*
 * The groups whose members are operators and viewers (at start and after
 * every reload). A group that does not exist gives no one that role and is
 * logged as control_group_missing.
 */
void lab_control_set_groups(lab_control_t *c, const char *operators, const char *viewers);

/* Close every connection and the socket, and remove it. NULL is fine. */
void lab_control_free(lab_control_t *c);

/* The answer {"ok": false, "error": keyword, "message": sentence}. */
json_t *lab_control_error(const char *keyword, const char *fmt, ...) _printf_(2, 3);
