/*
 * platform-devices.c - keep the platform's copy of the lab's device list
 * current: PUT /v1/labs/{lab}/devices (PWG 5100.18
 * Update-Output-Device-Attributes; docs/protocol.md, "Devices").
 *
 * Why: the platform routes work to labs by what their printers can do and
 * have loaded now. The body is made elsewhere (the stages know the
 * printers; the daemon passes it on); this module only makes sure the
 * platform ends up with the newest one.
 *
 * The one idea: one pending body, the newest; one PUT in flight at a time.
 * A body set while another is in flight waits for it, then goes (the older
 * one is never sent again); a failed PUT leaves its body pending and is
 * retried with backoff (or Retry-After), whatever the failure, until a 2xx;
 * a body byte-identical to the last one the platform took is not sent.
 * Each new body gets a random salt for its Idempotency-Key, kept across its
 * retries: A, then B, then A again is three requests to the platform, not a
 * replay of the first answer.
 *
 * Never: parse the body beyond checking that it is a JSON object; keep more
 * than the newest body; retry without a delay; log every retry (one warning
 * per kind of failure until it is delivered, one notice when it is).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "platform-private.h"
#include "platform-proto.h"

/* A request that could not even start (no memory, no URL): try again after this. */
#define LAB_DEVICES_RESTART_USEC (5ULL * 1000000ULL)

/* Timer: the backoff is over, send the pending body. */
static int on_devices_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_platform_t *p = userdata;

        p->devices_waiting = false;
        lab_devices_deliver(p);
        return 0;
}

/* Wait delay before the next PUT. */
static void devices_retry_later(lab_platform_t *p, uint64_t delay)
{
        int r = lab_timer_arm(p->event, &p->devices_timer, delay, on_devices_timer, p,
                              "platform-devices");

        if (r < 0) {
                log_error_errno(r, "devices: cannot arm the retry timer: %m");
                return;
        }
        p->devices_waiting = true;
}

/* A fresh salt for a new body's Idempotency-Key: 128 random bits in hex. */
static void devices_new_salt(lab_platform_t *p)
{
        unsigned char raw[16];

        arc4random_buf(raw, sizeof raw);
        for (size_t i = 0; i < sizeof raw; i++)
                snprintf(p->devices_salt + 2 * i, 3, "%02x", raw[i]);
}

/*
 * Whether a failure of this kind is to be logged: the first of its kind since
 * the last delivery (an outage that alternates between two kinds logs two
 * lines, not one per retry).
 */
static bool devices_first_of_kind(lab_platform_t *p, const char *keyword)
{
        for (unsigned i = 0; i < p->n_devices_logged; i++)
                if (strcmp(p->devices_logged[i], keyword) == 0)
                        return false;
        if (p->n_devices_logged < ELEMENTSOF(p->devices_logged))
                snprintf(p->devices_logged[p->n_devices_logged++], sizeof p->devices_logged[0],
                         "%s", keyword);
        return true;
}

/* The PUT ended. */
static void on_devices_done(lab_req_t *r, CURLcode rc)
{
        lab_platform_t *p = r->p;
        lab_error_t err = {0};
        uint64_t delay;

        p->devices_busy = false;
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
                /* Reload or shutdown: the body stays pending; lab_devices_restart sends it. */
                lab_req_free(r);
                return;
        }
        if (lab_req_result(r, rc, &err) < 0) {
                p->devices_failures++;
                delay = lab_req_retry_delay(r, &p->devices_backoff);
                if (devices_first_of_kind(p, err.keyword))
                        log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", err.keyword}),
                                   "devices: the device list was not delivered (%s: %s); it "
                                   "stays pending and is sent again in %.1f s, then with backoff",
                                   err.keyword, err.message, (double)delay / 1e6);
                else
                        log_debug("devices: PUT failed again (%s: %s); next try in %.1f s",
                                  err.keyword, err.message, (double)delay / 1e6);
                snprintf(p->devices_error, sizeof p->devices_error, "%s", err.keyword);
                lab_req_free(r);
                devices_retry_later(p, delay);
                return;
        }

        /* The platform has r's body. It is the newest unless another was set meanwhile. */
        lab_backoff_reset(&p->devices_backoff);
        if (p->devices_error[0])
                log_notice("devices: the device list was delivered after %u failed attempt(s)",
                           p->devices_failures);
        else
                log_debug("devices: the device list was delivered");
        p->devices_error[0] = '\0';
        p->devices_failures = 0;
        p->n_devices_logged = 0;
        free(p->devices_delivered);
        p->devices_delivered = r->body;
        r->body = NULL;
        if (p->devices_pending && p->devices_delivered &&
            strcmp(p->devices_pending, p->devices_delivered) == 0) {
                free(p->devices_pending);
                p->devices_pending = NULL;
        }
        lab_req_free(r);
        lab_devices_deliver(p);
}

void lab_devices_deliver(lab_platform_t *p)
{
        _cleanup_free_ char *url = NULL;
        lab_req_t *r;

        if (!p->started || p->devices_busy || p->devices_waiting || !p->devices_pending)
                return;
        url = lab_platform_url(p, "/v1/labs/{}/devices", NULL, p->config->lab.id, NULL);
        r = url ? lab_req_new_salted(p, "PUT", url, p->devices_pending, p->devices_salt,
                                     on_devices_done, NULL)
                : NULL;
        if (!r || lab_req_start(r) < 0) {
                log_error("devices: cannot start the PUT of the device list; trying again in "
                          "%.0f s",
                          (double)LAB_DEVICES_RESTART_USEC / 1e6);
                devices_retry_later(p, LAB_DEVICES_RESTART_USEC);
                return;
        }
        p->devices_busy = true;
}

void lab_devices_link_up(lab_platform_t *p)
{
        if (!p->devices_waiting || p->devices_busy)
                return;
        p->devices_waiting = false;
        lab_devices_deliver(p);
}

void lab_devices_restart(lab_platform_t *p)
{
        p->devices_busy = false;
        p->devices_waiting = false;
        lab_devices_deliver(p);
}

void lab_devices_free(lab_platform_t *p)
{
        p->devices_timer = sd_event_source_disable_unref(p->devices_timer);
        free(p->devices_pending);
        free(p->devices_delivered);
        p->devices_pending = p->devices_delivered = NULL;
}

void lab_platform_set_devices(lab_platform_t *p, const char *body)
{
        json_error_t jerr;
        json_t *root;
        char *copy;
        size_t len;

        if (!p)
                return;
        if (!body) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "devices_invalid"}),
                           "devices: no device list given; the platform keeps the last one");
                return;
        }
        len = strlen(body);
        if (len > LAB_PROTO_BODY_MAX) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "devices_too_large"}),
                           "devices: the device list is %zu bytes, over the protocol's %d; not "
                           "sent, the platform keeps the last one",
                           len, LAB_PROTO_BODY_MAX);
                return;
        }
        root = json_loadb(body, len, 0, &jerr);
        if (!json_is_object(root)) {
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", "devices_invalid"}),
                           "devices: the device list is not a JSON object (%s); not sent, the "
                           "platform keeps the last one",
                           root ? "another JSON value" : jerr.text);
                json_decref(root);
                return;
        }
        json_decref(root);

        /* Already the newest pending, or (nothing pending) what the platform has. */
        if (p->devices_pending ? strcmp(p->devices_pending, body) == 0
                               : p->devices_delivered && strcmp(p->devices_delivered, body) == 0) {
                log_debug("devices: the device list is unchanged; nothing to send");
                return;
        }
        copy = strdup(body);
        if (!copy) {
                log_error("devices: out of memory; the new device list is not sent");
                return;
        }
        free(p->devices_pending);
        p->devices_pending = copy;
        devices_new_salt(p);
        lab_devices_deliver(p);
}
