/*
 * http-get.h - a blocking HTTP GET, as a type: what a driver is handed to
 * talk HTTP without owning libcurl.
 *
 * Why: one owner per resource. libcurl belongs to agent/platform
 * (scripts/layers.conf), yet a meter driver in drivers/ (a Shelly plug's
 * RPC over HTTP) needs one GET now and then. So the driver takes a
 * lab_http_get_fn in its settings and the daemon passes
 * lab_platform_http_get (agent/platform/platform-http-get.h); the driver
 * includes this header only, and its tests may hand it any function. Types
 * only: nothing here links anything.
 *
 * The contract of a lab_http_get_fn:
 *   - it blocks for up to req->timeout_usec (the whole request: name
 *     lookup, connection, authentication round trip, answer), so it is
 *     called from a worker thread, never from the event loop; calls from
 *     different threads at the same time are independent;
 *   - an answer with any HTTP status (401, 404, 500, ...) is a success:
 *     0 with ret->status and the body; what a status means is the caller's;
 *   - a failure returns a negative errno, fills err and leaves *ret empty
 *     (status 0, body NULL), with one of these keywords:
 *       http_unreachable  no answer could be had: the name does not resolve,
 *                         the connection is refused or reset, the server
 *                         closed it without answering
 *       http_timeout      no whole answer within timeout_usec
 *       http_too_large    the body is longer than max_body: nothing returned
 *       http_tls          https: the TLS handshake or the server's
 *                         certificate failed
 *       http_protocol     the answer is not HTTP this client can read
 *                         (garbled, cut short, a content encoding)
 *       http_config       the request cannot be made (not an http:// or
 *                         https:// URL, a timeout or body limit of 0)
 *     -ENOMEM has no keyword.
 *   - No redirect is followed, no proxy is used (whatever the environment
 *     says), no protocol but http and https is spoken, no content encoding
 *     is asked for or decoded: the body is the bytes the server sent.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"

typedef struct lab_http_request_s {
        const char *url;       /* http://host[:port]/path?query or https://... */
        const char *username;  /* NULL: no authentication; else HTTP digest (RFC 7616: a
                                  Shelly asks for SHA-256, realm its device id) */
        const char *password;  /* with username; NULL is the empty password */
        uint64_t timeout_usec; /* the whole request, > 0 */
        size_t max_body;       /* > 0: a longer body fails (http_too_large), nothing returned */
} lab_http_request_t;

typedef struct lab_http_reply_s {
        long status; /* the HTTP status of the (last) answer: 200, 401, ... */
        char *body;  /* NUL-terminated (len bytes before the NUL; it may hold NULs); the
                        caller frees it (lab_http_reply_done) */
        size_t len;
} lab_http_reply_t;

/* One blocking GET: 0 and *ret (any status), or a negative errno, err (keywords above)
   and *ret empty. */
typedef int (*lab_http_get_fn)(const lab_http_request_t *req, lab_http_reply_t *ret,
                               lab_error_t *err);

/* Free a reply's body and empty it (a reply never filled, all zero, is fine). */
static inline void lab_http_reply_done(lab_http_reply_t *r)
{
        free(r->body);
        *r = (lab_http_reply_t){0};
}
