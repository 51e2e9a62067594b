/*
 * platform-outbox.c - deliver the store's outbox to the platform, in order, until
 * every event is acknowledged.
 *
 * The one idea: one batch in flight at a time, the oldest events first (at
 * most 100), each event with the UUID and sequence number it was given when
 * it was recorded. The platform's answer lists the UUIDs it stored; exactly
 * those are deleted, and the rest are sent again. A resent batch is
 * byte-identical (same events, same order, same Idempotency-Key), so the
 * platform can apply it once however often it arrives. Before each batch
 * the outbox is kept under platform.outbox_max_events by shedding the oldest
 * telemetry (never job events), down to 1% below the cap. A 413 answer halves the batch size for
 * the rest of the run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "platform-private.h"
#include "platform-proto.h"

#define LAB_OUTBOX_BATCH 100

/* Timer: retry delivery. */
static int on_outbox_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_outbox_deliver(userdata);
        return 0;
}

/* Build the batch body from the oldest events; *ret_n gets the count. */
static char *batch_body(lab_platform_t *p, size_t *ret_n)
{
        lab_store_event_t *ev = NULL;
        json_auto_t *list = json_array();
        json_auto_t *root = NULL;
        size_t n = 0;
        char *text = NULL;

        *ret_n = 0;
        if (p->outbox_batch == 0)
                p->outbox_batch = LAB_OUTBOX_BATCH;
        if (!list || lab_store_events_peek(p->store, p->outbox_batch, &ev, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                json_t *body = json_loads(ev[i].body, 0, NULL);

                json_array_append_new(
                    list, json_pack("{s:s,s:I,s:s,s:s,s:s*,s:s,s:o}", "uuid", ev[i].uuid, "seq",
                                    (json_int_t)ev[i].seq, "kind", ev[i].kind, "class",
                                    ev[i].cls == LAB_EVENT_TELEMETRY ? "telemetry" : "job",
                                    "job_id", ev[i].job_id, "at", ev[i].created_at, "body",
                                    body ? body : json_object()));
        }
        lab_store_events_free(ev, n);
        if (n > 0) {
                root = json_pack("{s:O}", "events", list);
                text = root ? json_dumps(root, JSON_COMPACT) : NULL;
        }
        *ret_n = text ? n : 0;
        return text;
}

/* The platform answered a batch. */
static void on_events_done(lab_req_t *r, CURLcode rc)
{
        lab_platform_t *p = r->p;
        lab_error_t err = {0};
        char **uuids = NULL;
        size_t n = 0, deleted = 0;
        uint64_t delay;

        p->outbox_busy = false;
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
                lab_req_free(r);
                return;
        }
        if (r->status == 413 && p->outbox_batch > 1) {
                /* The platform takes smaller batches: halve, and send again at once. */
                p->outbox_batch /= 2;
                log_notice("outbox: the platform refused a batch as too large; sending %u "
                           "event(s) per batch",
                           p->outbox_batch);
                lab_req_free(r);
                lab_outbox_deliver(p);
                return;
        }
        if (lab_req_result(r, rc, &err) < 0 ||
            lab_proto_parse_ack(r->resp, r->resp_len, &uuids, &n, &err) < 0) {
                delay = lab_req_retry_delay(r, &p->outbox_backoff);
                log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}),
                           "outbox: delivery failed (%s: %s); trying again in %.1f s", err.keyword,
                           err.message, (double)delay / 1e6);
                lab_timer_arm(p->event, &p->outbox_timer, delay, on_outbox_timer, p,
                              "platform-outbox");
                lab_req_free(r);
                return;
        }
        lab_backoff_reset(&p->outbox_backoff);
        if (lab_store_events_ack(p->store, (const char *const *)uuids, n, &deleted) < 0)
                log_error("outbox: cannot delete %zu acknowledged event(s); they will be sent "
                          "again and counted once by the platform",
                          n);
        p->delivered += (int64_t)deleted;
        log_debug("outbox: %zu event(s) acknowledged", deleted);
        lab_proto_strv_free(uuids);
        lab_req_free(r);
        /* More to send? Go on at once; nothing acknowledged means try later. */
        if (deleted > 0)
                lab_outbox_deliver(p);
        else
                lab_timer_arm(p->event, &p->outbox_timer, 5ULL * 1000000ULL, on_outbox_timer, p,
                              "platform-outbox");
}

void lab_outbox_deliver(lab_platform_t *p)
{
        _cleanup_free_ char *body = NULL, *url = NULL;
        int64_t dropped = 0, count = 0;
        unsigned cap;
        size_t n = 0;
        lab_req_t *r;

        if (!p->started || p->outbox_busy)
                return;
        /*
         * Over the cap, shed down to 1% below it: each shed adds one
         * lab.telemetry_shed event that is never shed itself, so shedding a
         * little at every attempt of a long outage would pile them up.
         */
        cap = p->config->platform.outbox_max_events;
        if (lab_store_event_count(p->store, &count) >= 0 && count > (int64_t)cap &&
            lab_store_events_shed(p->store, (int64_t)(cap - cap / 100), &dropped) >= 0 &&
            dropped > 0)
                log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", "telemetry_shed"}),
                           "outbox: over %u events while the platform is away; dropped the "
                           "%lld oldest telemetry sample(s), no job event",
                           p->config->platform.outbox_max_events, (long long)dropped);
        body = batch_body(p, &n);
        if (!body || n == 0)
                return;
        url = lab_platform_url(p, "/v1/labs/{}/events", NULL, p->config->lab.id, NULL);
        r = url ? lab_req_new(p, "POST", url, body, on_events_done, NULL) : NULL;
        if (!r || lab_req_start(r) < 0) {
                lab_timer_arm(p->event, &p->outbox_timer, 5ULL * 1000000ULL, on_outbox_timer, p,
                              "platform-outbox");
                return;
        }
        p->outbox_busy = true;
}

void lab_platform_kick_outbox(lab_platform_t *p)
{
        if (p && !p->outbox_busy)
                lab_timer_arm(p->event, &p->outbox_timer, 0, on_outbox_timer, p, "platform-outbox");
}
