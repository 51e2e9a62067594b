/*
 * platform-http-get.h - a blocking HTTP GET on libcurl, for drivers.
 *
 * Why: libcurl is agent/platform's alone, yet a meter driver (a Shelly
 * plug's RPC over HTTP) needs a plain GET. drivers/ gets it as a function
 * pointer (lab_http_get_fn, base/http-get.h): the daemon hands it this one.
 * It is not the platform link: no TLS client certificate, no platform
 * headers, and it never runs on the event loop. Each call has an easy
 * handle of its own, made and freed within the call, so calls from worker
 * threads at the same time share nothing but libcurl's global state,
 * initialised once (curl_global_init is thread-safe from libcurl 7.84 on;
 * Debian 12 has 7.88).
 */
#pragma once

#include "http-get.h"

/*
 * A lab_http_get_fn (see base/http-get.h for the contract and the error keywords):
 * GET req->url, blocking up to req->timeout_usec; digest authentication when
 * req->username is set; a body over req->max_body refused while it arrives.
 * Thread-safe; never call it from the event loop.
 */
int lab_platform_http_get(const lab_http_request_t *req, /* I - the request */
                          lab_http_reply_t *ret,         /* O - status and body */
                          lab_error_t *err);             /* O - why it failed */
