/*
 * platform-curl.h - libcurl's multi interface driven by the sd-event loop.
 *
 * Why: the main thread owns the loop and must never block on the network.
 * libcurl's multi_socket API tells us which sockets to watch and when to
 * time out; this module turns that into sd-event I/O and timer sources, and
 * calls a completion callback on the loop when a transfer ends. It is the
 * only module that owns a CURLM; transfers are built by platform.c and
 * platform-download.c and handed over here.
 */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

typedef struct lab_curl_loop_s lab_curl_loop_t;

/* Called on the loop when a transfer has ended (result CURLE_OK or the error). */
typedef void (*lab_curl_done_fn)(CURL *easy, CURLcode result, void *userdata);

/* Create a multi handle on event loop e. */
int lab_curl_loop_new(lab_curl_loop_t **ret, /* O - loop */
                      sd_event *e);          /* I - event loop */

/* Abort every transfer (no callbacks) and free. NULL is fine. */
void lab_curl_loop_free(lab_curl_loop_t *l);

/*
 * Start a transfer. done is called exactly once, on the loop, unless the
 * transfer is removed first with lab_curl_loop_remove. The loop does not own
 * easy: the caller frees it (in done, or after remove).
 */
int lab_curl_loop_add(lab_curl_loop_t *l, CURL *easy, lab_curl_done_fn done, void *userdata);

/* Stop a transfer without calling its done callback. */
void lab_curl_loop_remove(lab_curl_loop_t *l, CURL *easy);

/*
 * Check the server's name inside the TLS handshake of easy's transfers, on
 * top of libcurl's check after it: the certificate must name the host of the
 * URL being fetched when it arrives, so a server with the wrong name never
 * receives the lab's client certificate (platform-tls.h, lab_tls_ctx_expect_host).
 */
void lab_curl_easy_check_host_in_handshake(CURL *easy);
