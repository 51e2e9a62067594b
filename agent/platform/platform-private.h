/*
 * platform-private.h - what platform.c, platform-http.c, platform-download.c,
 * platform-outbox.c and platform-devices.c share: the link's state and the HTTP request helper.
 * Nobody outside the platform module includes this.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "backoff.h"
#include "platform-curl.h"
#include "event-util.h"
#include "job-state.h"
#include "platform.h"

typedef struct lab_req_s lab_req_t;
typedef struct lab_download_s lab_download_t;

/* Called once when a request ends: rc is curl's result (CURLE_ABORTED_BY_CALLBACK on reload). */
typedef void (*lab_req_done_fn)(lab_req_t *r, CURLcode rc);

struct lab_req_s {
        lab_platform_t *p;
        CURL *easy;
        struct curl_slist *headers;
        char *url;
        char *body; /* request body, owned */
        char *resp; /* response body (not for downloads) */
        size_t resp_len, resp_cap, resp_max;
        bool too_large;
        long status; /* HTTP status, 0 if none */
        char errbuf[CURL_ERROR_SIZE];
        char retry_after[64];    /* Retry-After header */
        char content_range[128]; /* Content-Range header */
        lab_req_done_fn done;
        void *data; /* the caller's: job id, download */
        lab_req_t *prev, *next;
};

struct lab_platform_s {
        sd_event *event;
        lab_store_t *store;
        const lab_config_t *config;
        char *spool_dir;
        char *render_dir;
        char *state_dir;
        bool accepting;           /* new offers are claimed (job-backpressure.h) */
        char not_accepting[1200]; /* why not, "" while accepting */
        lab_curl_loop_t *curl;
        lab_req_t *reqs; /* every request in flight */

        /* The link: reconcile, then long poll, with backoff on failure. */
        bool started;
        bool need_reconcile;
        bool link_busy;
        lab_backoff_t link_backoff;
        sd_event_source *link_timer;
        char last_error[1200]; /* "keyword: sentence" of the last link failure, "" when fine */
        struct lab_refused_s *refused; /* offers the platform took back (409/404), for a while */
        unsigned n_refused;

        /* Downloads. */
        lab_download_t *downloads; /* in flight */
        unsigned n_downloads;
        sd_event_source *download_timer;
        struct lab_retry_s *retries; /* per-job backoff for downloads */

        /* The outbox. */
        bool outbox_busy;
        lab_backoff_t outbox_backoff;
        sd_event_source *outbox_timer;
        int64_t delivered;     /* events acknowledged since start */
        unsigned outbox_batch; /* events per batch: 100, halved on each 413 */

        /* The device list (platform-devices.c): one PUT in flight, the newest body wins. */
        char *devices_pending;   /* newest body the platform has not taken (2xx), NULL if none */
        char devices_salt[33];   /* its Idempotency-Key salt: new per body, kept for retries */
        char *devices_delivered; /* the last body the platform took, NULL before the first */
        bool devices_busy;       /* a PUT in flight */
        bool devices_waiting;    /* backing off: devices_timer will send the pending body */
        lab_backoff_t devices_backoff;
        sd_event_source *devices_timer;
        char devices_error[LAB_ERROR_KEYWORD_MAX];     /* keyword of the last failure, "" if fine */
        unsigned devices_failures;                     /* failed PUTs since the last delivery */
        char devices_logged[8][LAB_ERROR_KEYWORD_MAX]; /* failure kinds logged since then */
        unsigned n_devices_logged;

        /* Certificate expiry, checked daily. */
        sd_event_source *cert_timer;
        char cert_status[160]; /* "" or a warning for STATUS */
        int cert_event_level;  /* lab_tls_expiry_t of the last lab.certificate_expiring event */
        long cert_event_day;   /* and the day (since the epoch) it was recorded */
        bool connected;        /* a link request has succeeded since start */

        lab_platform_cancel_hook_t cancel_hook;
        void *cancel_userdata;
        lab_platform_job_hook_t downloaded_hook;
        void *downloaded_userdata;
        char status[3200];
};

/* platform-http.c */

/* A new request on the platform's TLS settings; method "GET", "POST" or "PUT"; body may be NULL. */
lab_req_t *lab_req_new(lab_platform_t *p, const char *method, const char *url, const char *body,
                       lab_req_done_fn done, void *data);
/*
 * As lab_req_new, with key_salt (NULL for none) added to what the
 * Idempotency-Key is derived from: for a caller that may send the same body
 * again as a new request; its retries pass the same salt.
 */
lab_req_t *lab_req_new_salted(lab_platform_t *p, const char *method, const char *url,
                              const char *body, const char *key_salt, lab_req_done_fn done,
                              void *data);
/* Hand the request to the curl loop. On failure the request is freed and done is not called. */
int lab_req_start(lab_req_t *r);
/* Free a finished (or never started) request. */
void lab_req_free(lab_req_t *r);
/* Abort one request in flight: its done callback gets CURLE_ABORTED_BY_CALLBACK. */
void lab_req_abort(lab_req_t *r);
/* Abort every request in flight: their done callbacks get CURLE_ABORTED_BY_CALLBACK. */
void lab_req_abort_all(lab_platform_t *p);
/* Most "{}" segments in one URL template. */
#define LAB_URL_SEGMENTS_MAX 4
/*
 * The URL of a platform call: platform.url + tmpl, each "{}" of tmpl replaced
 * by the next of the NULL-terminated segments, percent-encoded, + "?query"
 * unless query is NULL (url-path.h, lab_url_build). Every URL the agent builds
 * goes through here. malloc'd; NULL with errno EINVAL for a segment that is
 * empty, "." or ".." (it would change the path), ENOMEM.
 */
char *lab_platform_url(lab_platform_t *p, const char *tmpl, const char *query, ...)
    __attribute__((sentinel));
/*
 * Classify a finished request for logs and retries: 0 for a 2xx answer, else
 * a negative errno with err holding "keyword" and a sentence (TLS failures,
 * connection errors, HTTP problems).
 */
int lab_req_result(lab_req_t *r, CURLcode rc, lab_error_t *err);
/* The delay before retrying after r failed: Retry-After if given, else backoff b (equal jitter). */
uint64_t lab_req_retry_delay(lab_req_t *r, lab_backoff_t *b);

/* platform.c, for the other parts */
void lab_platform_update_status(lab_platform_t *p);
/* Stop a job locally (cancel/drop): abort its download, delete its files, move it to state with
 * event. */
int lab_platform_stop_job(lab_platform_t *p, const char *job_id, lab_job_state_t to_state,
                          const char *reason, const char *event_kind, const char *event_body);

/* platform-download.c */
/* Start downloads for jobs waiting in the store, up to the concurrency limit. */
void lab_download_schedule(lab_platform_t *p);
/* Abort a job's download if running (files kept for a resume unless delete_files). */
void lab_download_abort(lab_platform_t *p, const char *job_id, bool delete_files);
/* Free download bookkeeping. */
void lab_download_free_all(lab_platform_t *p);

/* platform-outbox.c */
/* Deliver the next batch if none is in flight. */
void lab_outbox_deliver(lab_platform_t *p);

/* platform-devices.c */
/* Send the pending device list if none is in flight and no retry is waiting. */
void lab_devices_deliver(lab_platform_t *p);
/* The link is reachable again after failures: a device list waiting for a retry goes now. */
void lab_devices_link_up(lab_platform_t *p);
/* After a reload aborted every request: send the pending device list again at once. */
void lab_devices_restart(lab_platform_t *p);
/* Free the device list state (requests already aborted). */
void lab_devices_free(lab_platform_t *p);
