/*
 * labctl-client.h - labctl's connection to the daemon's control socket.
 *
 * Why: every labctl command, and the live view, is "send one JSON line,
 * read one JSON line" on a unix socket (docs/control.md). A console must
 * never hang on a stuck daemon nor swallow an endless answer, so each call
 * is bounded in time (poll() against one deadline) and in size (an answer
 * line of at most LAB_CTL_ANSWER_MAX bytes). One connection may carry many
 * calls (`labctl top` keeps one open).
 *
 * Errors are negative errnos with one meaning each, which labctl turns into
 * its keywords and exit codes:
 *   connect: -ENOENT, -ECONNREFUSED (no daemon), -EACCES (socket permissions),
 *            -ENAMETOOLONG (path does not fit a sockaddr_un), others as they come
 *   call:    -ETIMEDOUT (no whole answer in time), -EMSGSIZE (answer line too
 *            large), -EBADMSG (the answer is not one JSON object),
 *            -ECONNRESET (the daemon closed the connection before answering),
 *            -E2BIG (the request is over the daemon's line limit)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Largest answer line read (the newline not counted). */
#define LAB_CTL_ANSWER_MAX (4u * 1024u * 1024u)

/* Largest request line the daemon takes, with its newline. */
#define LAB_CTL_REQUEST_MAX 65536u

/* Time a call (or a connect to a busy daemon) may take, in milliseconds. */
#define LAB_CTL_TIMEOUT_MS 10000

typedef struct lab_ctl_client_s lab_ctl_client_t;

/*
 * Connect to the control socket at path, waiting at most timeout_ms when
 * the daemon's queue of new connections is full. 0 with *ret, or a negative
 * errno (see above).
 */
int lab_ctl_client_connect(const char *path, int timeout_ms, lab_ctl_client_t **ret);

/*
 * Send request as one line and read one answer line, within timeout_ms for
 * the whole exchange. 0 with *answer (a JSON object, the caller's
 * reference), or a negative errno (see above). After an error other than
 * -E2BIG the connection is no longer usable: free it and connect again.
 */
int lab_ctl_client_call(lab_ctl_client_t *c, const json_t *request, int timeout_ms,
                        json_t **answer);

/* Close the connection (NULL is fine). */
void lab_ctl_client_free(lab_ctl_client_t *c);

/* _cleanup_ helper. */
static inline void lab_ctl_client_freep(lab_ctl_client_t **c)
{
        lab_ctl_client_free(*c);
        *c = NULL;
}

/* labctl's exit statuses (docs/control.md; sysexits(3) numbers for 69 and 77). */
#define LAB_CTL_EXIT_OK          0
#define LAB_CTL_EXIT_REFUSED     1
#define LAB_CTL_EXIT_USAGE       2
#define LAB_CTL_EXIT_UNAVAILABLE 69
#define LAB_CTL_EXIT_NOPERM      77

/*
 * What a negative errno from lab_ctl_client_connect() (connecting) or
 * lab_ctl_client_call() means for a person: "keyword: sentence" into buf
 * (no "labctl: " prefix, no newline). Returns the exit status it calls for.
 */
int lab_ctl_client_describe(int err, bool connecting, const char *path, char *buf, size_t size);
