/*
 * platform.c - the link to the platform: reconcile, long poll, accept,
 * cancellations, and the link's life (start, reload, certificate expiry).
 *
 * The one idea: the link is a small loop of one request at a time —
 * reconcile the active jobs after every (re)connect, then long-poll —
 * with jittered backoff (or the platform's Retry-After) after any failure.
 * Offers are claimed with an accept request each; only an accepted job
 * enters the store, together with its job.accepted event, in one
 * transaction. A job the platform takes back (409, reconcile "drop") or
 * cancels is stopped before it reaches a printer. An offer that fails
 * validation is reported once (job.rejected with the field at fault) and
 * remembered by the digest of its JSON, so its repeats stay silent. Every
 * URL comes from lab_platform_url(): data never shapes a path.
 *
 * Never: work on a job before the platform confirmed the accept; send
 * anything to a server that failed TLS verification (curl stops at the
 * handshake); retry in a tight loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "job-spec.h"
#include "job-backpressure.h"
#include "digest.h"
#include "io-util.h"
#include "job-state.h"
#include "log.h"
#include "platform-private.h"
#include "platform-proto.h"
#include "platform-tls.h"

#define LAB_CERT_CHECK_USEC (24ULL * 3600ULL * 1000000ULL)
/* A poll that brought nothing to act on: wait this long before the next one. */
#define LAB_POLL_IDLE_USEC (2ULL * 1000000ULL)
/* An offer the platform took back (409/404 on accept) is not claimed again for this long. */
#define LAB_REFUSED_USEC (10ULL * 60ULL * 1000000ULL)
#define LAB_REFUSED_MAX  1024
/* The longest offered id a job.rejected event carries (as data) in its job_id. */
#define LAB_OFFER_ID_EVENT_MAX 1024

/* An offer the platform refused to let this lab accept. */
typedef struct lab_refused_s {
        char *job_id;
        uint64_t until; /* CLOCK_MONOTONIC usec */
        struct lab_refused_s *next;
} lab_refused_t;

/* Job states in which a job is the lab's and not finished (reported to reconcile). */
static const lab_job_state_t active_states[] = {
    LAB_JOB_ACCEPTED,   LAB_JOB_DOWNLOADING, LAB_JOB_DOWNLOADED, LAB_JOB_RENDERING,
    LAB_JOB_RENDERED,   LAB_JOB_HELD,        LAB_JOB_REROUTED,   LAB_JOB_QUEUED,
    LAB_JOB_SUBMITTING, LAB_JOB_PRINTING,    LAB_JOB_UNCERTAIN};
/* States in which a job is at a printer: a cancellation goes through the cancel hook. */
static const lab_job_state_t printer_states[] = {LAB_JOB_QUEUED, LAB_JOB_SUBMITTING,
                                                 LAB_JOB_PRINTING, LAB_JOB_UNCERTAIN};

static void link_step(lab_platform_t *p);

void lab_platform_update_status(lab_platform_t *p)
{
        int64_t outbox = 0;

        lab_store_event_count(p->store, &outbox);
        snprintf(
            p->status, sizeof p->status,
            "platform %s, %u download(s), outbox %lld, %lld event(s) delivered%s%s%s%s%s%s%s%s",
            !p->started        ? "not started"
            : p->last_error[0] ? "unreachable"
            : p->connected     ? "connected"
                               : "connecting",
            p->n_downloads, (long long)outbox, (long long)p->delivered,
            p->cert_status[0] ? "; " : "", p->cert_status, p->last_error[0] ? "; last error: " : "",
            p->last_error, p->not_accepting[0] ? "; not taking new offers: " : "", p->not_accepting,
            p->devices_error[0] ? "; device list not delivered: " : "", p->devices_error);
}

const char *lab_platform_status(lab_platform_t *p)
{
        lab_platform_update_status(p);
        return p->status;
}

/* Record (and log once per change) the link's last failure. */
static void link_failed(lab_platform_t *p, const lab_error_t *err, uint64_t delay)
{
        char line[sizeof p->last_error];

        snprintf(line, sizeof line, "%s: %s", err->keyword, err->message);
        if (strcmp(line, p->last_error) != 0)
                log_struct(LOG_ERR, LAB_FIELDS({"ERROR_KEYWORD", err->keyword}),
                           "%s; retrying in %.1f s", line, (double)delay / 1e6);
        else
                log_debug("%s; retrying in %.1f s", line, (double)delay / 1e6);
        snprintf(p->last_error, sizeof p->last_error, "%s", line);
        lab_platform_update_status(p);
}

/* The link is working again. */
static void link_ok(lab_platform_t *p)
{
        if (p->last_error[0]) {
                log_notice("platform: reachable again");
                lab_devices_link_up(p); /* a device list backing off goes now */
        }
        p->last_error[0] = '\0';
        p->connected = true;
        lab_backoff_reset(&p->link_backoff);
}

/* Timer: time for the next link request. */
static int on_link_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        link_step(userdata);
        return 0;
}

/* Schedule the next link step after delay. */
static void link_schedule(lab_platform_t *p, uint64_t delay)
{
        int r = lab_timer_arm(p->event, &p->link_timer, delay, on_link_timer, p, "platform-link");
        if (r < 0)
                log_error_errno(r, "platform: cannot arm the link timer: %m");
}

/* A link request failed: remember, back off, reconcile before the next poll. */
static void link_retry(lab_platform_t *p, lab_req_t *r, const lab_error_t *err)
{
        uint64_t delay = lab_req_retry_delay(r, &p->link_backoff);

        p->need_reconcile = true;
        link_failed(p, err, delay);
        link_schedule(p, delay);
}

int lab_platform_stop_job(lab_platform_t *p, const char *job_id, lab_job_state_t to_state,
                          const char *reason, const char *event_kind, const char *event_body)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *job = NULL;
        int r;

        r = lab_store_job_get(p->store, job_id, &job);
        if (r < 0)
                return r;
        if (lab_job_state_is_final(job->state))
                return 0; /* already finished here; its event is in the outbox */
        lab_download_abort(p, job_id, true);
        r = lab_store_job_move(p->store, job_id, job->state, to_state, reason, NULL, event_kind,
                               event_body);
        if (r == -EPERM)
                return lab_log_illegal_transition(job_id, lab_job_state_to_string(job->state),
                                                  lab_job_state_to_string(to_state));
        if (r < 0)
                return log_error_errno(r, "job %s: cannot move from %s to %s: %m", job_id,
                                       lab_job_state_to_string(job->state),
                                       lab_job_state_to_string(to_state));
        if (job->asset_path)
                unlink(job->asset_path);
        log_struct(LOG_NOTICE, LAB_FIELDS({"JOB_ID", job_id}, {"ORDER_ID", job->order_id}),
                   "job %s: %s (%s), was %s", job_id, lab_job_state_to_string(to_state), reason,
                   lab_job_state_to_string(job->state));
        lab_platform_kick_outbox(p);
        return 0;
}

/*
 * The platform canceled a job (poll or reconcile): stop it, or hand it to the
 * printer's hook. Returns whether it acted (false for a repeat).
 */
static bool cancel_job(lab_platform_t *p, const char *job_id, const char *reason)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *job = NULL;
        bool at_printer;
        int r;

        if (lab_store_job_get(p->store, job_id, &job) < 0) {
                log_debug("platform: cancellation of job %s, which this lab does not have", job_id);
                return false;
        }
        if (!lab_job_state_in(job->state, active_states, ELEMENTSOF(active_states)) &&
            !lab_job_state_in(job->state, printer_states, ELEMENTSOF(printer_states)))
                return false; /* already finished or stopped; its event is in the outbox */

        at_printer = lab_job_state_in(job->state, printer_states, ELEMENTSOF(printer_states));
        if (at_printer) {
                r = p->cancel_hook ? p->cancel_hook(job_id, p->cancel_userdata) : -EOPNOTSUPP;
                if (r < 0) {
                        log_struct(LOG_ERR, LAB_FIELDS({"JOB_ID", job_id}),
                                   "job %s: the platform canceled it but the printer job could "
                                   "not be canceled: %s",
                                   job_id, strerror(-r));
                        return false;
                }
        }
        lab_platform_stop_job(p, job_id, LAB_JOB_CANCELED, reason ? reason : "platform_canceled",
                              "job.canceled",
                              at_printer ? "{\"by\":\"platform\",\"reached_printer\":true}"
                                         : "{\"by\":\"platform\",\"reached_printer\":false}");
        return true;
}

/* Reconcile said drop: the job is not the lab's any more. */
static void drop_job(lab_platform_t *p, const char *job_id, const char *reason)
{
        _cleanup_(json_decrefp) json_t *body =
            json_pack("{s:s}", "reason", reason ? reason : "job_reassigned");
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

        if (text)
                lab_platform_stop_job(p, job_id, LAB_JOB_DROPPED,
                                      reason ? reason : "job_reassigned", "job.dropped", text);
}

/* Whether the platform refused job_id recently; forgets entries that expired. */
static bool refused_recently(lab_platform_t *p, const char *job_id)
{
        uint64_t now = 0;
        bool found = false;

        sd_event_now(p->event, CLOCK_MONOTONIC, &now);
        for (lab_refused_t **r = &p->refused; *r;) {
                if ((*r)->until <= now) {
                        lab_refused_t *dead = *r;
                        *r = dead->next;
                        free(dead->job_id);
                        free(dead);
                        p->n_refused--;
                        continue;
                }
                if (strcmp((*r)->job_id, job_id) == 0)
                        found = true;
                r = &(*r)->next;
        }
        return found;
}

/* Remember that the platform refused job_id (bounded: the oldest entry goes first). */
static void refused_add(lab_platform_t *p, const char *job_id)
{
        lab_refused_t *r;
        uint64_t now = 0;

        if (refused_recently(p, job_id))
                return;
        if (p->n_refused >= LAB_REFUSED_MAX) {
                lab_refused_t **last = &p->refused;
                while ((*last)->next)
                        last = &(*last)->next;
                free((*last)->job_id);
                free(*last);
                *last = NULL;
                p->n_refused--;
        }
        r = calloc(1, sizeof *r);
        if (!r || !(r->job_id = strdup(job_id))) {
                free(r);
                return;
        }
        sd_event_now(p->event, CLOCK_MONOTONIC, &now);
        r->until = now + LAB_REFUSED_USEC;
        r->next = p->refused;
        p->refused = r;
        p->n_refused++;
}

/* The accept answer arrived: the claimed job is the lab's (200) or not (409, 404). */
static void on_accept_done(lab_req_t *r, CURLcode rc)
{
        lab_platform_t *p = r->p;
        char *job_id = r->data;
        lab_error_t err = {0};
        json_t *job_json = NULL;
        lab_job_spec_t spec = {0};
        int ret;

        ret = lab_req_result(r, rc, &err);
        if (ret < 0) {
                if (r->status == 409 || r->status == 404) {
                        log_struct(LOG_NOTICE, LAB_FIELDS({"JOB_ID", job_id}),
                                   "job %s: not accepted, dropped without printing: %s", job_id,
                                   err.message);
                        ret = lab_store_job_forget_claim(p->store, job_id);
                        if (ret < 0 && ret != -ENOENT)
                                log_error_errno(ret, "job %s: cannot forget the claim: %m", job_id);
                        refused_add(p, job_id);
                } else if (rc != CURLE_ABORTED_BY_CALLBACK)
                        log_struct(LOG_WARNING, LAB_FIELDS({"JOB_ID", job_id}),
                                   "job %s: accept failed (%s: %s); the claim is sent again",
                                   job_id, err.keyword, err.message);
                goto out;
        }

        /*
         * The platform's copy is informative: the job was stored as offered
         * before the claim was sent, so a crash meanwhile loses nothing.
         */
        if (lab_proto_parse_accept(r->resp, r->resp_len, &job_json, &err) < 0 ||
            lab_job_spec_parse(job_json, &spec, &err) < 0)
                log_struct(LOG_WARNING,
                           LAB_FIELDS({"JOB_ID", job_id}, {"ERROR_KEYWORD", err.keyword}),
                           "job %s: accepted; the platform's answer is unusable (%s: %s), the job "
                           "as offered is kept",
                           job_id, err.keyword, err.message);
        else if (strcmp(spec.id, job_id) != 0)
                log_warning("job %s: the platform's accept answer describes job %s; the job as "
                            "offered is kept",
                            job_id, spec.id);

        ret = lab_store_job_move(p->store, job_id, LAB_JOB_CLAIMING, LAB_JOB_ACCEPTED, NULL, NULL,
                                 "job.accepted", "{}");
        if (ret == -ESTALE || ret == -ENOENT) {
                log_debug("job %s: already accepted", job_id);
        } else if (ret == -EPERM) {
                lab_log_illegal_transition(job_id, lab_job_state_to_string(LAB_JOB_CLAIMING),
                                           lab_job_state_to_string(LAB_JOB_ACCEPTED));
        } else if (ret < 0) {
                log_error_errno(ret, "job %s: cannot record the accepted job: %m", job_id);
        } else {
                _cleanup_(lab_store_job_freep) lab_store_job_t *job = NULL;

                if (lab_store_job_get(p->store, job_id, &job) >= 0)
                        log_struct(LOG_INFO,
                                   LAB_FIELDS({"JOB_ID", job->id}, {"ORDER_ID", job->order_id}),
                                   "job %s: accepted (order %s, %s × %d)", job->id, job->order_id,
                                   job->sku, job->quantity);
                lab_platform_kick_outbox(p);
                lab_download_schedule(p);
        }
out:
        lab_job_spec_done(&spec);
        json_decref(job_json);
        free(job_id);
        lab_req_free(r);
}

/* Send the claim (accept) of a job stored as "claiming"; false when it could not start. */
static bool send_claim(lab_platform_t *p, const char *job_id)
{
        _cleanup_free_ char *url = NULL, *body = NULL;
        lab_req_t *r;

        url = lab_platform_url(p, "/v1/jobs/{}/accept", NULL, job_id, NULL);
        if (!url) {
                log_error("job %s: cannot build the accept URL: %m", job_id);
                return false;
        }
        if (asprintf(&body, "{\"lab\":\"%s\"}", p->config->lab.id) < 0)
                body = NULL;
        r = url && body ? lab_req_new(p, "POST", url, body, on_accept_done, strdup(job_id)) : NULL;
        if (!r || !r->data || lab_req_start(r) < 0) {
                log_error("job %s: cannot send the accept request", job_id);
                return false;
        }
        log_debug("job %s: accepting", job_id);
        return true;
}

/* Whether an accept request for job_id is already in flight. */
static bool accept_in_flight(lab_platform_t *p, const char *job_id)
{
        for (lab_req_t *r = p->reqs; r; r = r->next)
                if (r->done == on_accept_done && strcmp(r->data, job_id) == 0)
                        return true;
        return false;
}

/*
 * Reject an offer before accepting it: record it (so repeats are ignored) with
 * job.rejected {reason, field, detail}.
 */
static void reject_offer(lab_platform_t *p, const lab_job_spec_t *spec, const char *reason,
                         const char *field, const char *detail)
{
        _cleanup_(json_decrefp) json_t *body =
            json_pack("{s:s,s:s,s:s}", "reason", reason, "field", field, "detail", detail);
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        lab_store_job_t row = {
            .id = spec->id,
            .order_id = spec->order_id,
            .sku = spec->sku,
            .quantity = spec->quantity,
            .priority = spec->priority,
            .deadline = spec->deadline,
            .state = LAB_JOB_REJECTED,
            .reason = (char *)reason,
            .detail = (char *)detail,
            .asset_url = spec->asset_url,
            .asset_sha256 = spec->asset_sha256,
            .asset_bytes = spec->asset_bytes,
            .spec = spec->json,
        };
        int r;

        if (!text)
                return;
        r = lab_store_job_insert(p->store, &row, "job.rejected", text);
        if (r == -EPERM) {
                lab_log_illegal_transition(spec->id, NULL, lab_job_state_to_string(row.state));
                return;
        }
        if (r < 0 && r != -EEXIST) {
                log_error_errno(r, "job %s: cannot record the rejection: %m", spec->id);
                return;
        }
        if (r == 0) {
                log_struct(LOG_WARNING, LAB_FIELDS({"JOB_ID", spec->id}, {"ERROR_KEYWORD", reason}),
                           "job %s: rejected: %s: %s", spec->id, reason, detail);
                lab_platform_kick_outbox(p);
        }
}

/*
 * An offer that fails validation (bad_job): report it once with job.rejected
 * {reason, field, detail}, and remember it in the store by the digest of its
 * canonical JSON, so the polls that list it again neither log nor report it
 * (the same id with another body has another digest: judged again). The id
 * as offered goes into the event as data, whatever it holds, and never into
 * a path; none (absent, not a string, NUL inside, longer than
 * LAB_OFFER_ID_EVENT_MAX) leaves the event without a job_id. Returns whether
 * it acted.
 */
static bool reject_bad_offer(lab_platform_t *p, const json_t *obj, const lab_error_t *perr,
                             const char *field)
{
        _cleanup_free_ char *canon =
            json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *text = NULL, *quoted = NULL;
        const json_t *idv = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
        const char *id = json_string_value(idv);
        char digest[LAB_SHA256_HEX_LEN + 1];
        int r;

        if (!canon || lab_sha256_hex(canon, strlen(canon), digest) < 0)
                return false;
        r = lab_store_offer_known(p->store, digest);
        if (r != 0)
                return false; /* reported before (or the store cannot say: try at the next poll) */
        if (id && (json_string_length(idv) != strlen(id) || strlen(id) == 0 ||
                   strlen(id) > LAB_OFFER_ID_EVENT_MAX))
                id = NULL;
        /* A job this lab holds, offered again in a shape it cannot read: not for it to refuse. */
        if (lab_id_valid(id)) {
                _cleanup_(lab_store_job_freep) lab_store_job_t *known = NULL;

                if (lab_store_job_get(p->store, id, &known) == 0)
                        return false;
        }
        body = json_pack("{s:s,s:s*,s:s}", "reason", perr->keyword, "field", field, "detail",
                         perr->message);
        text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!text)
                return false;
        r = lab_store_offer_reject(p->store, digest, id, perr->keyword, field, perr->message, text);
        if (r == -EEXIST)
                return false;
        if (r < 0) {
                log_error_errno(r, "platform: cannot record the rejection of an offered job: %m");
                return false;
        }
        /* The id is quoted and escaped as JSON: it may hold anything, a newline too. */
        quoted = idv ? json_dumps(idv, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
        log_struct(
            LOG_WARNING,
            LAB_FIELDS({"JOB_ID", lab_id_valid(id) ? id : NULL}, {"ERROR_KEYWORD", perr->keyword}),
            "platform: offered job %.200s rejected (reported once): %s: %s",
            quoted ? quoted : "without an id", perr->keyword, perr->message);
        lab_platform_kick_outbox(p);
        return true;
}

/* One offer from the poll: ignore it if known, reject it if unusable, else accept it. Returns
 * whether it acted. */
static bool handle_offer(lab_platform_t *p, json_t *obj)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *known = NULL;
        lab_job_spec_t spec = {0};
        lab_error_t err = {0};
        const char *field = NULL;
        char detail[256];
        bool acted = false;

        if (lab_job_spec_parse_field(obj, &spec, &err, &field) < 0)
                return reject_bad_offer(p, obj, &err, field);
        /* A repeat (offers are listed until accepted), or one the platform just took back. */
        if (lab_store_job_get(p->store, spec.id, &known) == 0 || accept_in_flight(p, spec.id) ||
            refused_recently(p, spec.id))
                goto out;
        acted = true;

        if (!lab_config_find_product(p->config, spec.sku)) {
                snprintf(detail, sizeof detail, "this lab does not sell %s", spec.sku);
                reject_offer(p, &spec, "unknown_sku", "sku", detail);
                goto out;
        }
        if ((uint64_t)spec.asset_bytes > p->config->storage.max_asset_size) {
                snprintf(detail, sizeof detail, "%lld bytes exceeds storage.max_asset_size %llu",
                         (long long)spec.asset_bytes,
                         (unsigned long long)p->config->storage.max_asset_size);
                reject_offer(p, &spec, "asset_too_large", "asset.bytes", detail);
                goto out;
        }

        /* Durable before the platform hears of it: a crash after the claim loses nothing. */
        {
                lab_store_job_t row = {
                    .id = spec.id,
                    .order_id = spec.order_id,
                    .sku = spec.sku,
                    .quantity = spec.quantity,
                    .priority = spec.priority,
                    .deadline = spec.deadline,
                    .state = LAB_JOB_CLAIMING,
                    .asset_url = spec.asset_url,
                    .asset_sha256 = spec.asset_sha256,
                    .asset_bytes = spec.asset_bytes,
                    .spec = spec.json,
                };
                int r = lab_store_job_insert(p->store, &row, NULL, NULL);

                if (r == -EPERM) {
                        lab_log_illegal_transition(spec.id, NULL,
                                                   lab_job_state_to_string(row.state));
                        goto out;
                }
                if (r < 0) {
                        log_error_errno(r, "job %s: cannot record the claim: %m", spec.id);
                        goto out;
                }
        }
        send_claim(p, spec.id);
out:
        lab_job_spec_done(&spec);
        return acted;
}

/*
 * Claims stored but not answered (the agent stopped, or the answer was lost):
 * send them again. Accepting is idempotent; the platform no longer offers a
 * job it counts as claimed, so this is the only way such a job arrives.
 */
static void resend_claims(lab_platform_t *p)
{
        static const lab_job_state_t claiming[] = {LAB_JOB_CLAIMING};
        lab_store_job_t **jobs = NULL;
        size_t n = 0;

        if (lab_store_jobs_list(p->store, claiming, 1, &jobs, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (!accept_in_flight(p, jobs[i]->id))
                        send_claim(p, jobs[i]->id);
        lab_store_jobs_free(jobs, n);
}

/*
 * Whether the lab takes new offers now (job-backpressure.h): its backlog, its
 * spool and its disk. On a change, log it and tell the platform
 * (lab.accepting), so it can send the work elsewhere meanwhile.
 */
static bool check_accepting(lab_platform_t *p, uint64_t spool_bytes)
{
        lab_load_t load = {
            .backlog_max = p->config->jobs.backlog_max,
            .spool_max = p->config->storage.spool_max,
            .reserve = 2 * p->config->storage.max_asset_size,
        };
        int64_t backlog = 0;
        char why[sizeof p->not_accepting];
        bool accepting;

        if (lab_store_jobs_count(p->store, active_states, ELEMENTSOF(active_states), &backlog) >= 0)
                load.backlog = (uint64_t)backlog;
        if (lab_store_jobs_count(p->store, (const lab_job_state_t[]){LAB_JOB_CLAIMING}, 1,
                                 &backlog) >= 0)
                load.backlog += (uint64_t)backlog;
        load.spool_bytes = spool_bytes;
        load.free_bytes = lab_free_bytes(p->state_dir);
        accepting = lab_backpressure_accepting(&load, why, sizeof why);
        if (accepting != p->accepting) {
                _cleanup_(json_decrefp) json_t *body = NULL;
                _cleanup_free_ char *text = NULL;
                char keyword[LAB_ERROR_KEYWORD_MAX];

                snprintf(keyword, sizeof keyword, "%.*s", (int)strcspn(why, ":"), why);
                if (accepting)
                        log_notice("platform: taking new offers again (%llu job(s) waiting)",
                                   (unsigned long long)load.backlog);
                else
                        log_struct(LOG_WARNING, LAB_FIELDS({"ERROR_KEYWORD", keyword}),
                                   "platform: not taking new offers: %s", why);
                body = json_pack("{s:b, s:s, s:s, s:I, s:I}", "accepting", accepting, "reason",
                                 accepting ? "" : keyword, "detail", why, "backlog",
                                 (json_int_t)load.backlog, "spool_bytes",
                                 (json_int_t)load.spool_bytes);
                text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                if (text && lab_store_event_append(p->store, LAB_EVENT_JOB, "lab.accepting", NULL,
                                                   text, NULL) >= 0)
                        lab_platform_kick_outbox(p);
                p->accepting = accepting;
        }
        snprintf(p->not_accepting, sizeof p->not_accepting, "%s", accepting ? "" : why);
        return accepting;
}

/* The poll answer arrived. */
static void on_poll_done(lab_req_t *r, CURLcode rc)
{
        lab_platform_t *p = r->p;
        lab_proto_assignments_t a = {0};
        lab_error_t err = {0};
        bool acted = false;

        p->link_busy = false;
        if (lab_req_result(r, rc, &err) < 0) {
                if (rc != CURLE_ABORTED_BY_CALLBACK)
                        link_retry(p, r, &err);
                lab_req_free(r);
                return;
        }
        link_ok(p);
        resend_claims(p);
        if (r->status == 200) {
                if (lab_proto_parse_assignments(r->resp, r->resp_len, &a, &err) < 0) {
                        lab_req_t *tmp = r;
                        link_retry(p, tmp, &err);
                        lab_req_free(r);
                        return;
                }
                /*
                 * Offers not claimed stay with the platform (and may go to another
                 * lab). Checked before each claim: one poll may list many offers.
                 */
                uint64_t spool = lab_dir_bytes(p->spool_dir) + lab_dir_bytes(p->render_dir);
                bool accepting = check_accepting(p, spool);

                for (size_t i = 0; accepting && i < json_array_size(a.jobs); i++) {
                        acted |= handle_offer(p, json_array_get(a.jobs, i));
                        accepting = check_accepting(p, spool);
                }
                for (size_t i = 0; i < a.n_cancellations; i++)
                        acted |=
                            cancel_job(p, a.cancellations[i].job_id, a.cancellations[i].reason);
                lab_proto_assignments_done(&a);
        } else {
                acted = true; /* 204: the long poll waited; ask again at once */
        }
        lab_req_free(r);
        /*
         * Offers the agent already handled stay listed until the platform has
         * processed the agent's answer: polling again at once would spin.
         */
        link_schedule(p, acted ? 0 : LAB_POLL_IDLE_USEC);
}

/* The reconcile answer arrived. */
static void on_reconcile_done(lab_req_t *r, CURLcode rc)
{
        lab_platform_t *p = r->p;
        lab_proto_job_action_t *actions = NULL;
        lab_error_t err = {0};
        size_t n = 0;

        p->link_busy = false;
        if (lab_req_result(r, rc, &err) < 0 ||
            lab_proto_parse_reconcile(r->resp, r->resp_len, &actions, &n, &err) < 0) {
                if (rc != CURLE_ABORTED_BY_CALLBACK)
                        link_retry(p, r, &err);
                lab_req_free(r);
                return;
        }
        link_ok(p);
        p->need_reconcile = false;
        for (size_t i = 0; i < n; i++) {
                if (actions[i].action == LAB_PROTO_CANCEL)
                        cancel_job(p, actions[i].job_id, actions[i].reason);
                else if (actions[i].action == LAB_PROTO_DROP)
                        drop_job(p, actions[i].job_id, actions[i].reason);
        }
        log_info("platform: reconciled %zu answer(s) for the lab's active jobs", n);
        lab_proto_actions_free(actions, n);
        lab_req_free(r);
        lab_download_schedule(p);
        lab_outbox_deliver(p);
        link_schedule(p, 0);
}

/* Build the reconcile body: {"jobs":[{"id","state"}...]} of every active job. */
static char *reconcile_body(lab_platform_t *p)
{
        lab_store_job_t **jobs = NULL;
        json_auto_t *list = json_array();
        json_auto_t *root = NULL;
        size_t n = 0;
        char *text = NULL;

        if (list && lab_store_jobs_list(p->store, active_states, ELEMENTSOF(active_states), &jobs,
                                        &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(list,
                                              json_pack("{s:s,s:s}", "id", jobs[i]->id, "state",
                                                        lab_job_state_to_string(jobs[i]->state)));
                root = json_pack("{s:O}", "jobs", list);
                text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        }
        lab_store_jobs_free(jobs, n);
        return text;
}

/* Send the next link request: reconcile first after any failure, else the long poll. */
static void link_step(lab_platform_t *p)
{
        _cleanup_free_ char *url = NULL, *body = NULL;
        lab_req_t *r;

        if (!p->started || p->link_busy)
                return;
        if (p->need_reconcile) {
                body = reconcile_body(p);
                url = lab_platform_url(p, "/v1/labs/{}/active-jobs", NULL, p->config->lab.id, NULL);
                r = body && url ? lab_req_new(p, "POST", url, body, on_reconcile_done, NULL) : NULL;
        } else {
                unsigned wait = (unsigned)(p->config->platform.poll_wait / 1000000ULL);
                char query[32];

                snprintf(query, sizeof query, "wait=%u", wait);
                url =
                    lab_platform_url(p, "/v1/labs/{}/assignments", query, p->config->lab.id, NULL);
                r = url ? lab_req_new(p, "GET", url, NULL, on_poll_done, NULL) : NULL;
                if (r)
                        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(wait + 15) * 1000L);
        }
        if (!r || lab_req_start(r) < 0) {
                log_error("platform: cannot start a request; trying again in 5 s");
                link_schedule(p, 5ULL * 1000000ULL);
                return;
        }
        p->link_busy = true;
}

/* Check the client certificate's expiry: STATUS and log, and an event once per level per day. */
static void check_cert_expiry(lab_platform_t *p)
{
        lab_tls_cert_info_t info;
        lab_error_t err = {0};
        lab_tls_expiry_t level;
        long days = 0;
        char body[256], not_after[32];
        struct tm tm;

        if (lab_tls_cert_load_info(p->config->platform.cert_file, &info, &err) < 0) {
                snprintf(p->cert_status, sizeof p->cert_status, "%s", err.keyword);
                return;
        }
        level = lab_tls_expiry_classify(time(NULL), info.not_before, info.not_after, &days);
        gmtime_r(&info.not_after, &tm);
        strftime(not_after, sizeof not_after, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (level == LAB_TLS_EXPIRY_OK) {
                p->cert_status[0] = '\0';
                return;
        }
        snprintf(p->cert_status, sizeof p->cert_status,
                 "%s: the lab certificate expires %s (%ld day(s) left); renew %s",
                 level == LAB_TLS_EXPIRY_WARNING ? "tls_cert_expiring" : "tls_cert_expiring_soon",
                 not_after, days, p->config->platform.cert_file);
        log_struct(level == LAB_TLS_EXPIRY_WARNING ? LOG_WARNING : LOG_ERR,
                   LAB_FIELDS({"ERROR_KEYWORD", "tls_cert_expiring"}), "%s", p->cert_status);
        /* Reloads on the same day do not repeat the event (a restart does). */
        if ((int)level == p->cert_event_level && time(NULL) / 86400 == p->cert_event_day)
                return;
        p->cert_event_level = (int)level;
        p->cert_event_day = (long)(time(NULL) / 86400);
        snprintf(body, sizeof body, "{\"not_after\":\"%s\",\"days_left\":%ld,\"severity\":\"%s\"}",
                 not_after, days, level == LAB_TLS_EXPIRY_WARNING ? "warning" : "error");
        if (lab_store_event_append(p->store, LAB_EVENT_JOB, "lab.certificate_expiring", NULL, body,
                                   NULL) >= 0)
                lab_platform_kick_outbox(p);
}

/* Daily timer: check the certificate again. */
static int on_cert_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        lab_platform_t *p = userdata;

        check_cert_expiry(p);
        lab_timer_arm(p->event, &p->cert_timer, LAB_CERT_CHECK_USEC, on_cert_timer, p,
                      "platform-cert");
        return 0;
}

int lab_platform_check_tls(const lab_config_t *c, lab_error_t *err)
{
        lab_tls_cert_info_t info;
        int r;

        r = lab_tls_check_ca_file(c->platform.ca_file, err);
        if (r >= 0)
                r = lab_tls_check_key_file(c->platform.key_file, getegid(), err);
        if (r >= 0)
                r = lab_tls_cert_load_info(c->platform.cert_file, &info, err);
        if (r >= 0)
                r = lab_tls_check_key_matches(c->platform.cert_file, c->platform.key_file, err);
        if (r < 0)
                return r;
        if (lab_tls_expiry_classify(time(NULL), info.not_before, info.not_after, NULL) ==
            LAB_TLS_EXPIRY_EXPIRED)
                return lab_error_set(err, EKEYEXPIRED, "tls_cert_expired",
                                     "the lab certificate %s has expired; the platform will "
                                     "refuse it. Install a renewed certificate and key",
                                     c->platform.cert_file);
        return 0;
}

int lab_platform_new(lab_platform_t **ret, sd_event *e, lab_store_t *store,
                     const lab_config_t *config, const char *state_dir, lab_error_t *err)
{
        lab_platform_t *p;
        int r;

        r = lab_platform_check_tls(config, err);
        if (r < 0)
                return r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->event = sd_event_ref(e);
        p->store = store;
        p->config = config;
        p->need_reconcile = true;
        p->accepting = true;
        if (asprintf(&p->render_dir, "%s/render", state_dir) < 0)
                p->render_dir = NULL;
        p->state_dir = strdup(state_dir);
        if (!p->render_dir || !p->state_dir || asprintf(&p->spool_dir, "%s/spool", state_dir) < 0) {
                p->spool_dir = NULL;
                lab_platform_free(p);
                return -ENOMEM;
        }
        if (mkdir(p->spool_dir, 0750) < 0 && errno != EEXIST) {
                r = lab_error_set(err, errno, "state_dir_unusable",
                                  "cannot create the spool directory %s: %s", p->spool_dir,
                                  strerror(errno));
                lab_platform_free(p);
                return r;
        }
        r = lab_curl_loop_new(&p->curl, e);
        if (r < 0) {
                lab_platform_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

int lab_platform_start(lab_platform_t *p)
{
        p->started = true;
        check_cert_expiry(p);
        lab_timer_arm(p->event, &p->cert_timer, LAB_CERT_CHECK_USEC, on_cert_timer, p,
                      "platform-cert");
        link_schedule(p, 0);
        lab_outbox_deliver(p);
        lab_devices_deliver(p);
        return 0;
}

void lab_platform_reload(lab_platform_t *p, const lab_config_t *config)
{
        int r;

        p->config = config;
        /* New connections for the new certificate and key: drop the old ones. */
        lab_req_abort_all(p);
        lab_curl_loop_free(p->curl);
        p->curl = NULL;
        r = lab_curl_loop_new(&p->curl, p->event);
        if (r < 0) {
                log_error_errno(r, "platform: cannot restart the link after reload: %m");
                return;
        }
        p->link_busy = false;
        p->outbox_busy = false;
        p->need_reconcile = true;
        check_cert_expiry(p);
        if (p->started) {
                link_schedule(p, 0);
                lab_download_schedule(p);
                lab_outbox_deliver(p);
                lab_devices_restart(p);
        }
}

void lab_platform_set_downloaded_hook(lab_platform_t *p, lab_platform_job_hook_t hook,
                                      void *userdata)
{
        p->downloaded_hook = hook;
        p->downloaded_userdata = userdata;
}

void lab_platform_set_cancel_hook(lab_platform_t *p, lab_platform_cancel_hook_t hook,
                                  void *userdata)
{
        p->cancel_hook = hook;
        p->cancel_userdata = userdata;
}

void lab_platform_free(lab_platform_t *p)
{
        if (!p)
                return;
        p->started = false;
        if (p->curl)
                lab_req_abort_all(p);
        lab_download_free_all(p);
        lab_devices_free(p);
        while (p->refused) {
                lab_refused_t *dead = p->refused;
                p->refused = dead->next;
                free(dead->job_id);
                free(dead);
        }
        lab_curl_loop_free(p->curl);
        sd_event_source_disable_unref(p->link_timer);
        sd_event_source_disable_unref(p->outbox_timer);
        sd_event_source_disable_unref(p->download_timer);
        sd_event_source_disable_unref(p->cert_timer);
        sd_event_unref(p->event);
        free(p->spool_dir);
        free(p->render_dir);
        free(p->state_dir);
        free(p);
}
