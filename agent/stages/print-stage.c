/*
 * print-stage.c - copies to printers, exactly once (see print-stage.h).
 *
 * Loop thread: decide the next driver call for each printer (step), persist
 * what must be durable before it (a copy's new attempt), hand the call to
 * the printer pool with its own copies of every input, and apply the result
 * to the store when it comes back. Worker thread: driver calls only, on the
 * printer's one handle; never the store.
 *
 * Order of business for an idle printer: reconcile (once, before anything is
 * sent), cancellations, health, checks on copies being printed, then the
 * next queued copy if the printer is available and under its queue depth.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "deadline-stage.h"
#include "event-util.h"
#include "job-state.h"
#include "log.h"
#include "macro.h"
#include "print-stage.h"
#include "printer-faults.h"
#include "printer.h"
#include "render-printer-color.h"
#include "render-plan.h"
#include "rfc3339.h"
#include "stock.h"
#include "telemetry-stage.h"
#include "worker-pool.h"

#define POLL_BATCH 32

typedef enum op_kind_e {
        OP_RECONCILE, /* find every copy on its way or printing by its job name */
        OP_STATUS,    /* printer health, supplies, media */
        OP_POLL,      /* status of copies being printed */
        OP_SUBMIT,    /* send one copy */
        OP_CANCEL,    /* cancel copies of canceled jobs at the printer */
        OP_CAPS,      /* what the printer can do (document formats) */
} op_kind_t;

typedef struct pst_printer_s pst_printer_t;

/* One copy an operation is about, with what the driver said of it. */
typedef struct op_copy_s {
        char *job_id;
        char *sku; /* the job's product (what a print of it uses), or NULL */
        int copy;
        int attempt;
        lab_copy_state_t state; /* copy state when the op was planned */
        char *handle;           /* driver handle known, or NULL */
        time_t since;           /* when the copy entered its state (store), 0 unknown */
        char job_name[LAB_PRINTER_JOB_NAME_MAX];
        /* results */
        int r;
        lab_error_t err;
        lab_pjob_status_t st;
        bool found;               /* find_job found it */
        char *found_handle;       /* its handle then */
        lab_printer_memory_t mem; /* what find_job said of the printer's memory */
} op_copy_t;

typedef struct op_s {
        pst_printer_t *printer;
        op_kind_t kind;
        op_copy_t *copies;
        size_t n_copies;
        /* submit */
        char *file, *format, *media, *media_type, *order_id;
        char *queue_media;          /* printers[].media's name for media, or NULL */
        lab_config_pair_t *options; /* printers[].options, copied: a reload may free the config */
        size_t n_options;
        char *handle; /* result */
        /* status */
        lab_printer_status_t status;
        /* capabilities */
        lab_printer_caps_t caps;
        /* result of the main call */
        int r;
        lab_error_t err;
} op_t;

struct pst_printer_s {
        lab_print_stage_t *stage;
        char *name;
        lab_printer_t *drv;
        unsigned queue_depth;
        uint64_t history; /* usec: printers[].job_history */
        bool busy;        /* a call is on the pool */
        bool removed;     /* gone from the config: free when idle */
        bool reconciled;  /* the start-up reconcile is done */
        bool status_known;
        bool available;
        bool cancel_pending;
        bool paused; /* by a technician (labctl pause): nothing new is sent */
        char pause_why[LAB_ERROR_KEYWORD_MAX + LAB_ERROR_MESSAGE_MAX + 8];
        bool healthy; /* what the last health check said, pause aside */
        char health_why[LAB_ERROR_KEYWORD_MAX + LAB_ERROR_MESSAGE_MAX + 8];
        lab_printer_state_t state; /* from the last health check */
        int64_t boot;              /* when it last started (CLOCK_REALTIME s), 0 unknown */
        bool announced;            /* availability told (log, printer.status, reroutes) */
        bool announced_available;  /* what was told */
        char announced_kw[LAB_ERROR_KEYWORD_MAX]; /* the reason keyword told */
        char reason[LAB_ERROR_KEYWORD_MAX + LAB_ERROR_MESSAGE_MAX + 8]; /* why not available */
        lab_media_ready_t loaded[LAB_PRINTER_MEDIA_MAX];                /* from the last status */
        lab_faults_t faults; /* its faults as read and as told (printer.fault) */
        size_t n_loaded;
        char **formats; /* document formats it takes (capabilities), NULL until known */
        size_t n_formats;
        struct {
                char media[64];
                char why[LAB_ERROR_MESSAGE_MAX];
        } misfit[LAB_PRINTER_MEDIA_MAX]; /* media it lacks, or would crop or resample (caps) */
        size_t n_misfit;
        bool caps_known;
        uint64_t next_status; /* CLOCK_MONOTONIC usec */
        uint64_t next_poll;
        uint64_t next_reconcile; /* when to ask again after an unanswered reconcile */
        uint64_t next_caps;
        sd_event_source *timer;
        pst_printer_t *next;
};

struct lab_print_stage_s {
        sd_event *event;
        lab_store_t *store;
        lab_pool_t *pool;
        const lab_config_t *config;
        const lab_color_setup_t *color; /* the registry in force (media tables), may be NULL */
        pst_printer_t *printers;
        sd_event_source *defer;
        bool started;
        bool stopping;
        lab_telemetry_t *telemetry; /* stock, quality, devices: told of reads and prints */
        lab_print_stage_hook_t events_hook, rerouted_hook;
        void *hook_userdata;
        unsigned long printed, aborted, uncertain, rerouted;
        char status[256];
};

static void step(pst_printer_t *p);
static void health_set(pst_printer_t *p, bool healthy, const char *health_why,
                       lab_printer_state_t state, const lab_printer_status_t *st);

/* Monotonic now. */
static uint64_t now_usec(lab_print_stage_t *s)
{
        uint64_t now = 0;

        sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        return now;
}

/* Tell the daemon events were appended. */
static void events_appended(lab_print_stage_t *s)
{
        if (s->events_hook)
                s->events_hook(s->hook_userdata);
}

/* The printer called name, or NULL. */
static pst_printer_t *find_printer(lab_print_stage_t *s, const char *name)
{
        for (pst_printer_t *p = s->printers; p; p = p->next)
                if (!p->removed && strcmp(p->name, name) == 0)
                        return p;
        return NULL;
}

/* Into op: the printer's options and its name for media (its config may be freed by a reload). */
static int pairs_copy(const lab_config_printer_t *cp, const char *media, op_t *op)
{
        const char *queue_media;

        if (!cp)
                return 0;
        queue_media = lab_config_pair_get(cp->media, cp->n_media, media);
        if (queue_media && !(op->queue_media = strdup(queue_media)))
                return -ENOMEM;
        if (cp->n_options == 0)
                return 0;
        op->options = calloc(cp->n_options, sizeof *op->options);
        if (!op->options)
                return -ENOMEM;
        for (size_t i = 0; i < cp->n_options; i++) {
                op->options[i].name = strdup(cp->options[i].name);
                op->options[i].value = strdup(cp->options[i].value);
                op->n_options++;
                if (!op->options[i].name || !op->options[i].value)
                        return -ENOMEM;
        }
        return 0;
}

/* Free an op and everything it holds. */
static void op_free(op_t *op)
{
        if (!op)
                return;
        for (size_t i = 0; i < op->n_copies; i++) {
                free(op->copies[i].job_id);
                free(op->copies[i].sku);
                free(op->copies[i].handle);
                free(op->copies[i].found_handle);
        }
        free(op->copies);
        free(op->file);
        free(op->format);
        free(op->media);
        free(op->media_type);
        free(op->order_id);
        free(op->queue_media);
        for (size_t i = 0; i < op->n_options; i++) {
                free(op->options[i].name);
                free(op->options[i].value);
        }
        free(op->options);
        free(op->handle);
        lab_printer_caps_done(&op->caps);
        free(op);
}

/* Add copy c to op; 0 or -ENOMEM. */
static int op_add_copy(op_t *op, const lab_store_copy_t *c, int attempt)
{
        op_copy_t *v = reallocarray(op->copies, op->n_copies + 1, sizeof *v);
        op_copy_t *oc;

        if (!v)
                return -ENOMEM;
        op->copies = v;
        oc = &v[op->n_copies];
        *oc = (op_copy_t){.copy = c->copy, .attempt = attempt};
        oc->job_id = strdup(c->job_id);
        oc->sku = c->sku ? strdup(c->sku) : NULL;
        oc->state = c->state;
        oc->handle = c->handle ? strdup(c->handle) : NULL;
        if (!c->updated_at || lab_parse_rfc3339(c->updated_at, &oc->since) < 0)
                oc->since = 0;
        op->n_copies++;
        if (!oc->job_id || (c->handle && !oc->handle) || (c->sku && !oc->sku))
                return -ENOMEM;
        if (lab_printer_job_name(oc->job_name, sizeof oc->job_name, c->job_id, (unsigned)c->copy,
                                 (unsigned)(attempt > 0 ? attempt : 1)) < 0)
                return -EINVAL;
        return 0;
}

/* ---- worker thread ---- */

/* Whether a failed submit may still have reached the printer (ask it by name). */
static bool submit_ambiguous(const lab_error_t *err)
{
        return strcmp(err->keyword, "printer_refused") != 0 &&
               strcmp(err->keyword, "printer_file_error") != 0 &&
               strcmp(err->keyword, "printer_config") != 0 &&
               strcmp(err->keyword, "printer_busy") != 0;
}

/* Find oc at the printer by its job name. */
static void find_copy(lab_printer_t *drv, op_copy_t *oc)
{
        int r =
            lab_printer_find_job(drv, oc->job_name, &oc->found_handle, &oc->st, &oc->mem, &oc->err);

        oc->found = r >= 0;
        oc->r = r;
}

/* Worker: run the driver calls of op on the printer's handle. */
static void op_work(void *userdata)
{
        op_t *op = userdata;
        lab_printer_t *drv = op->printer->drv;

        switch (op->kind) {
        case OP_RECONCILE:
                for (size_t i = 0; i < op->n_copies; i++)
                        find_copy(drv, &op->copies[i]);
                break;
        case OP_STATUS:
                op->r = lab_printer_status(drv, &op->status, &op->err);
                break;
        case OP_CAPS:
                op->r = lab_printer_capabilities(drv, &op->caps, &op->err);
                break;
        case OP_POLL:
                for (size_t i = 0; i < op->n_copies; i++) {
                        op_copy_t *oc = &op->copies[i];

                        oc->r = oc->handle
                                    ? lab_printer_job_status(drv, oc->handle, &oc->st, &oc->err)
                                    : -ENOENT;
                        /* Another job under that handle: the printer restarted and gave its id
                           to a new job. Ours is asked for by name, as one it does not know. */
                        if (oc->r >= 0 && oc->st.job_name[0] &&
                            strcmp(oc->st.job_name, oc->job_name) != 0)
                                oc->r = -ENOENT;
                        /* Held where it will not go on by itself (a CUPS filter failed): take
                           it back, so it cannot print later, and count the attempt failed. */
                        if (oc->r >= 0 && oc->st.stopped && oc->st.state == LAB_PJOB_PROCESSING) {
                                lab_error_t cancel_err = {0};

                                /* Not taken back (printer gone): polled again, still stopped. */
                                if (lab_printer_cancel(drv, oc->handle, &cancel_err) >= 0)
                                        oc->st.state = LAB_PJOB_ABORTED;
                        }
                        /* The handle is not known there: ask by name before judging. */
                        if (oc->r == -ENOENT) {
                                lab_error_clear(&oc->err);
                                find_copy(drv, oc);
                        }
                }
                break;
        case OP_SUBMIT: {
                op_copy_t *oc = &op->copies[0];
                lab_print_request_t req = {
                    .file = op->file,
                    .format = op->format,
                    .job_name = oc->job_name,
                    .copies = 1,
                    .media = op->media,
                    .media_type = op->media_type,
                    .order_id = op->order_id,
                    .queue_media = op->queue_media,
                    .options = op->options,
                    .n_options = op->n_options,
                };

                op->r = lab_printer_submit(drv, &req, &op->handle, &op->err);
                if (op->r < 0 && submit_ambiguous(&op->err))
                        find_copy(drv, oc);
                break;
        }
        case OP_CANCEL:
                for (size_t i = 0; i < op->n_copies; i++) {
                        op_copy_t *oc = &op->copies[i];

                        oc->r = oc->handle ? lab_printer_cancel(drv, oc->handle, &oc->err) : 0;
                }
                break;
        }
}

/* ---- applying results (loop thread) ---- */

/* A JSON body for a copy event. */
static json_t *copy_json(const pst_printer_t *p, const op_copy_t *oc, const char *reason,
                         const char *message)
{
        json_t *o = json_pack("{s:i, s:s, s:i, s:s}", "copy", oc->copy, "printer", p->name,
                              "attempt", oc->attempt, "job_name", oc->job_name);

        if (o && reason)
                json_object_set_new(o, "reason", json_string(reason));
        if (o && message)
                json_object_set_new(o, "message", json_string(message));
        return o;
}

static char *copy_body(const pst_printer_t *p, const op_copy_t *oc, const char *reason,
                       const char *message)
{
        json_auto_t *o = copy_json(p, oc, reason, message);

        return o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* The values of a comma-separated list (IPP reasons), as a JSON array; NULL out of memory. */
static json_t *json_words(const char *csv)
{
        json_t *v = json_array();
        char buf[512], *save = NULL;

        snprintf(buf, sizeof buf, "%s", csv);
        for (char *w = strtok_r(buf, ",", &save); v && w; w = strtok_r(NULL, ",", &save))
                json_array_append_new(v, json_string(w));
        return v;
}

/*
 * The body of job.copy_aborted / job.copy_failed: the copy's, plus the
 * printer's job-state-reasons for it and the fault the printer had then
 * (media_jam, ...; null when none is known), for the platform's figures.
 */
static char *copy_failure_body(const pst_printer_t *p, const op_copy_t *oc, const char *reason,
                               const char *message)
{
        json_auto_t *o = copy_json(p, oc, reason, message);
        json_t *reasons = json_words(oc->st.reasons);

        if (!o || !reasons) {
                json_decref(reasons);
                return NULL;
        }
        json_object_set_new(o, "job_state_reasons", reasons);
        json_object_set_new(o, "fault", oc->st.fault[0] ? json_string(oc->st.fault) : json_null());
        return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

/*
 * A copy's change was refused (-EPERM): its job may not move where its
 * copies would take it (the store says which move), or the copy was printed.
 */
static void copy_refused(lab_store_t *store, const char *job_id, int copy, lab_copy_state_t from,
                         lab_copy_state_t to)
{
        lab_job_state_t job_from, job_to;

        if (lab_store_job_refused(store, &job_from, &job_to))
                lab_log_illegal_transition(job_id, lab_job_state_to_string(job_from),
                                           lab_job_state_to_string(job_to));
        else
                log_error("job %s copy %d: cannot move from %s to %s: a printed copy never moves",
                          job_id, copy, lab_copy_state_to_string(from),
                          lab_copy_state_to_string(to));
}

/* Move a copy; log a failure (a stale state means someone else moved it: fine). */
static int move_copy(pst_printer_t *p, const op_copy_t *oc, lab_copy_state_t from,
                     lab_copy_state_t to, const lab_store_copy_change_t *chg, const char *kind,
                     const char *body)
{
        int r = lab_store_copy_move(p->stage->store, oc->job_id, oc->copy, from, to, chg, kind,
                                    body, NULL);

        if (r == -EPERM)
                copy_refused(p->stage->store, oc->job_id, oc->copy, from, to);
        else if (r < 0 && r != -ESTALE && r != -ENOENT)
                log_error_errno(r, "job %s copy %d: cannot move from %s to %s: %m", oc->job_id,
                                oc->copy, lab_copy_state_to_string(from),
                                lab_copy_state_to_string(to));
        /* The job's own events (job.printing, job.printed, ...) come with any copy move. */
        if (r >= 0)
                events_appended(p->stage);
        return r;
}

/*
 * A copy the printer cannot account for: held uncertain for a technician,
 * never sent again. why: "keyword: sentence" from lab_printer_may_resend(),
 * or NULL for a copy that had reached the printer (its reason then follows
 * from whether the printer started after the copy went there and lost it).
 */
static void copy_uncertain(pst_printer_t *p, const op_copy_t *oc, lab_copy_state_t from,
                           const char *why)
{
        char kw[LAB_ERROR_KEYWORD_MAX];
        const char *detail;
        _cleanup_free_ char *body = NULL;
        bool restarted;

        if (why) {
                snprintf(kw, sizeof kw, "%.*s", (int)strcspn(why, ":"), why);
                detail = why + strcspn(why, ":") + (why[strcspn(why, ":")] ? 2 : 0);
        } else {
                /*
                 * Found with its fate lost (a hot-folder item whose result is gone):
                 * the printer still has it, so no restart wiped it; gone entirely
                 * after the printer started again: restarted.
                 */
                restarted = !oc->found && oc->mem.boot > 0 && oc->since > 0 &&
                            oc->mem.boot >= (int64_t)oc->since - LAB_PRINTER_CLOCK_SLACK;
                snprintf(kw, sizeof kw, "%s", restarted ? "printer_restarted" : "printer_forgot");
                detail = restarted ? "the printer restarted while it had this copy; check whether "
                                     "it printed"
                                   : "the printer no longer knows this copy; check whether it "
                                     "printed";
        }
        const lab_store_copy_change_t chg = {.keep_handle = true, .reason = kw, .detail = detail};

        body = copy_body(p, oc, kw, detail);
        p->stage->uncertain++;
        log_struct(LOG_ERR,
                   LAB_FIELDS({"JOB_ID", oc->job_id}, {"PRINTER", p->name},
                              {"ERROR_KEYWORD", "copy_uncertain"}),
                   "copy_uncertain: job %s copy %d on %s (%s): %s: %s; a technician must check "
                   "(labctl printed, or labctl reprint --defect not_printed), it is not sent "
                   "again",
                   oc->job_id, oc->copy, p->name, oc->job_name, kw, detail);
        move_copy(p, oc, from, LAB_COPY_UNCERTAIN, &chg, "job.copy_uncertain", body);
}

/*
 * A copy on its way (submitting) that the printer does not list. It never
 * got there only if the printer's memory reaches back past the send (one
 * rule for every path that could send it again: lab_printer_may_resend);
 * then the attempt is spent and it waits again; otherwise it is held
 * uncertain.
 */
static void absent_copy(pst_printer_t *p, const op_copy_t *oc, const char *reason,
                        const char *detail)
{
        char why[LAB_ERROR_MESSAGE_MAX];
        lab_resend_t v = lab_printer_may_resend(&oc->mem, (int64_t)oc->since, p->history,
                                                (int64_t)time(NULL), why, sizeof why);

        if (v != LAB_RESEND_OK) {
                copy_uncertain(p, oc, LAB_COPY_SUBMITTING, why);
                return;
        }
        const lab_store_copy_change_t chg = {.reason = reason, .detail = detail};
        log_notice("job %s copy %d: %s does not have %s and would list it had it arrived; "
                   "sending it again",
                   oc->job_id, oc->copy, p->name, oc->job_name);
        move_copy(p, oc, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED, &chg, NULL, NULL);
}

static void reroute_queued(pst_printer_t *p, const char *kw, const char *why);
static void health_set(pst_printer_t *p, bool healthy, const char *health_why,
                       lab_printer_state_t state, const lab_printer_status_t *st);

/*
 * A job ended badly on a printer whose reasons then (js->printer_reasons)
 * hold an error fault: the printer is unavailable now, judged by the same
 * rule as a health check (lab_printer_status_available), its waiting copies
 * rerouted; its next health check says when it is back.
 */
static void printer_faulted(pst_printer_t *p, const lab_pjob_status_t *js)
{
        lab_printer_status_t st = {.state = LAB_PRINTER_PROCESSING, .accepting = true};
        char why[sizeof p->reason], buf[sizeof js->printer_reasons], *save = NULL;

        snprintf(buf, sizeof buf, "%s", js->printer_reasons);
        for (char *r = strtok_r(buf, ",", &save); r && st.n_reasons < LAB_PRINTER_REASONS_MAX;
             r = strtok_r(NULL, ",", &save))
                lab_printer_reason_parse(r, &st.reasons[st.n_reasons++]);
        if (!lab_printer_status_available(&st, why, sizeof why))
                health_set(p, false, why, p->state, NULL);
}

/* What the printer said of a copy being printed: printed, aborted, gone, or still going. */
static void apply_job_status(pst_printer_t *p, op_copy_t *oc, lab_copy_state_t from)
{
        lab_print_stage_t *s = p->stage;
        const lab_store_copy_change_t keep = {.keep_handle = true};
        _cleanup_free_ char *body = NULL;

        switch (oc->st.state) {
        case LAB_PJOB_COMPLETED: {
                /* What the print used, counted in the move's own transaction. */
                const lab_config_product_t *product =
                    oc->sku ? lab_config_find_product(s->config, oc->sku) : NULL;
                lab_stock_use_t uses[16];
                lab_store_copy_change_t chg = keep;

                chg.uses = uses;
                chg.n_uses =
                    lab_stock_uses(lab_config_find_printer(s->config, p->name),
                                   product ? product->media : NULL, uses, ELEMENTSOF(uses));
                body = copy_body(p, oc, NULL, NULL);
                if (move_copy(p, oc, from, LAB_COPY_PRINTED, &chg, "job.copy_printed", body) >= 0) {
                        s->printed++;
                        if (s->telemetry)
                                lab_telemetry_review(s->telemetry, p->name);
                        log_struct(LOG_INFO,
                                   LAB_FIELDS({"JOB_ID", oc->job_id}, {"PRINTER", p->name}),
                                   "job %s copy %d: printed on %s (%s)", oc->job_id, oc->copy,
                                   p->name, oc->job_name);
                }
                break;
        }
        case LAB_PJOB_ABORTED:
        case LAB_PJOB_CANCELED: {
                const char *why = lab_pjob_failure(&oc->st);
                bool last = oc->attempt >= (int)s->config->jobs.max_attempts, moved;
                lab_store_copy_change_t chg = {
                    .reason = why, .detail = oc->st.message, .aborted = true};

                body = copy_failure_body(p, oc, why,
                                         oc->st.message[0] ? oc->st.message : oc->st.reasons);
                s->aborted++;
                log_struct(LOG_WARNING,
                           LAB_FIELDS({"JOB_ID", oc->job_id}, {"PRINTER", p->name},
                                      {"ERROR_KEYWORD", why}),
                           "job %s copy %d: %s on %s (attempt %d of %u): %s %s%s%s%s", oc->job_id,
                           oc->copy, why, p->name, oc->attempt, s->config->jobs.max_attempts,
                           oc->st.reasons, oc->st.message,
                           oc->st.fault[0] ? "; the printer has " : "", oc->st.fault,
                           last ? "; giving up" : "; sending again");
                moved = move_copy(p, oc, from, last ? LAB_COPY_FAILED : LAB_COPY_QUEUED, &chg,
                                  last ? "job.copy_failed" : "job.copy_aborted", body) >= 0;
                /*
                 * The printer said why (a jam, read when the job ended): it takes
                 * nothing more until a health check finds it clear, rather than
                 * spending the copy's attempts on it.
                 */
                if (oc->st.fault[0])
                        printer_faulted(p, &oc->st);
                if (moved && !last && p->status_known && !p->available && !p->paused) {
                        /*
                         * Back in the queue of a printer already known unavailable
                         * (its status came before this abort): the reroute that
                         * came with the news has passed it by, so do it now.
                         */
                        char kw[LAB_ERROR_KEYWORD_MAX];

                        snprintf(kw, sizeof kw, "%.*s", (int)strcspn(p->reason, ":"), p->reason);
                        reroute_queued(p, kw, p->reason);
                }
                break;
        }
        case LAB_PJOB_UNKNOWN:
                copy_uncertain(p, oc, from, NULL);
                break;
        case LAB_PJOB_PENDING:
        case LAB_PJOB_PROCESSING:
                if (from == LAB_COPY_SUBMITTING) {
                        const lab_store_copy_change_t chg = {
                            .handle = oc->found_handle ? oc->found_handle : oc->handle};
                        move_copy(p, oc, from, LAB_COPY_PRINTING, &chg, NULL, NULL);
                }
                break;
        }
}

/* A printer call failed in a way that says the printer is not there (or does not answer). */
static void printer_lost(pst_printer_t *p, const lab_error_t *err)
{
        char why[sizeof p->reason];

        if (strcmp(err->keyword, "printer_unreachable") != 0 &&
            strcmp(err->keyword, "printer_timeout") != 0 &&
            strcmp(err->keyword, "hotfolder_unwritable") != 0)
                return;
        snprintf(why, sizeof why, "%s: %s", err->keyword, err->message);
        /* Also while its health is not known yet: it gets nothing until it answers. */
        health_set(p, false, why, LAB_PRINTER_UNREACHABLE, NULL);
        p->next_status = now_usec(p->stage); /* look again soon */
}

static void apply_reconcile(pst_printer_t *p, op_t *op)
{
        bool all = true;

        for (size_t i = 0; i < op->n_copies; i++) {
                op_copy_t *oc = &op->copies[i];

                if (oc->found) {
                        free(oc->handle);
                        oc->handle = oc->found_handle ? strdup(oc->found_handle) : NULL;
                        log_info("job %s copy %d: found at %s as %s (%s)", oc->job_id, oc->copy,
                                 p->name, oc->job_name, lab_pjob_state_to_string(oc->st.state));
                        if (oc->state == LAB_COPY_SUBMITTING && oc->st.state != LAB_PJOB_PENDING &&
                            oc->st.state != LAB_PJOB_PROCESSING) {
                                /* Record that it got there, then what became of it. */
                                const lab_store_copy_change_t chg = {.handle = oc->handle};
                                if (move_copy(p, oc, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING, &chg,
                                              NULL, NULL) >= 0)
                                        apply_job_status(p, oc, LAB_COPY_PRINTING);
                        } else {
                                apply_job_status(p, oc, oc->state);
                        }
                } else if (oc->r == -ENOENT) {
                        /* Not there: never got there, or printed and forgotten (the rule). */
                        if (oc->state == LAB_COPY_SUBMITTING)
                                absent_copy(p, oc, "not_at_printer",
                                            "the agent stopped while sending it; the printer "
                                            "does not have it");
                        else
                                copy_uncertain(p, oc, oc->state, NULL);
                } else {
                        all = false;
                        printer_lost(p, &oc->err);
                }
        }
        p->reconciled = all;
        if (all)
                log_info("printer %s: reconciled %zu copy(ies) with the printer", p->name,
                         op->n_copies);
        else
                log_debug("printer %s: reconcile not answered; nothing new is sent to it until "
                          "it is (next try with the health check)",
                          p->name);
}

/*
 * The printer is unavailable (not paused: a paused printer keeps its queue):
 * every job whose copies all wait here, none sent, is rerouted (rendered
 * again for another printer), with kw and why as its reason.
 */
static void reroute_queued(pst_printer_t *p, const char *kw, const char *why)
{
        static const lab_copy_state_t queued[] = {LAB_COPY_QUEUED};
        lab_print_stage_t *s = p->stage;
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        unsigned moved = 0;
        int r;

        if (lab_store_copies_list(s->store, p->name, queued, 1, &v, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                /* A job once: its copies are listed one after another. */
                if (i > 0 && strcmp(v[i]->job_id, v[i - 1]->job_id) == 0)
                        continue;
                r = lab_store_job_reroute(s->store, v[i]->job_id, kw, why);
                if (r == -EPERM)
                        lab_log_illegal_transition(v[i]->job_id,
                                                   lab_job_state_to_string(LAB_JOB_QUEUED),
                                                   lab_job_state_to_string(LAB_JOB_REROUTED));
                if (r >= 0) {
                        moved++;
                        log_struct(LOG_NOTICE,
                                   LAB_FIELDS({"JOB_ID", v[i]->job_id}, {"PRINTER", p->name}),
                                   "job %s: rerouted away from %s: %s", v[i]->job_id, p->name, why);
                }
        }
        lab_store_copies_free(v, n);
        if (moved) {
                s->rerouted += moved;
                events_appended(s);
                if (s->rerouted_hook)
                        s->rerouted_hook(s->hook_userdata);
        }
}

/*
 * What a health check (st), or a call that found the printer gone (st NULL),
 * says: kept for the router and the console; on a change of availability or
 * of reason keyword (not of wording: messages carry details that change from
 * one check to the next) logged once, told to the platform (printer.status)
 * and, for an unavailable printer, its queued jobs rerouted.
 */
static void health_set(pst_printer_t *p, bool healthy, const char *health_why,
                       lab_printer_state_t state, const lab_printer_status_t *st)
{
        lab_print_stage_t *s = p->stage;
        char why[sizeof p->reason], kw[LAB_ERROR_KEYWORD_MAX], up_since[32] = "";
        bool available = healthy, changed;
        json_auto_t *o = NULL;
        _cleanup_free_ char *body = NULL;

        p->healthy = healthy; /* also while paused: a resume must not trust an old check */
        snprintf(p->health_why, sizeof p->health_why, "%s", healthy ? "" : health_why);
        snprintf(why, sizeof why, "%s", healthy ? "" : health_why);
        if (p->paused) {
                /* Paused by a person: not available whatever its health, its queue stays. */
                available = false;
                snprintf(why, sizeof why, "%s", p->pause_why);
        }
        snprintf(kw, sizeof kw, "%.*s", (int)strcspn(why, ":"), available ? "" : why);
        changed = !p->announced || available != p->announced_available ||
                  strcmp(kw, p->announced_kw) != 0;
        p->state = state;
        p->status_known = true;
        p->available = available;
        p->announced = true;
        p->announced_available = available;
        snprintf(p->announced_kw, sizeof p->announced_kw, "%s", kw);
        if (st && st->state != LAB_PRINTER_UNREACHABLE) {
                memcpy(p->loaded, st->media, sizeof p->loaded);
                p->n_loaded = st->n_media;
        }
        snprintf(p->reason, sizeof p->reason, "%s", available ? "" : why);
        if (!changed)
                return;

        if (available)
                log_notice("printer %s: available (%s)", p->name,
                           lab_printer_state_to_string(state));
        else
                log_struct(LOG_WARNING, LAB_FIELDS({"PRINTER", p->name}, {"ERROR_KEYWORD", kw}),
                           "printer %s: unavailable: %s; nothing new is sent to it until it is "
                           "available again",
                           p->name, why);
        o = json_pack("{s:s, s:b, s:s, s:s}", "printer", p->name, "available", available, "state",
                      lab_printer_state_to_string(state), "reason", available ? "" : why);
        if (o) {
                json_t *supplies = json_array();

                for (size_t i = 0; st && supplies && i < st->n_supplies; i++) {
                        const lab_supply_t *sp = &st->supplies[i];
                        json_array_append_new(
                            supplies, json_pack("{s:s, s:i, s:I}", "name", sp->name, "level",
                                                sp->level, "remaining", (json_int_t)sp->remaining));
                }
                json_object_set_new(o, "supplies", supplies ? supplies : json_null());
                if (p->boot > 0) {
                        lab_format_rfc3339((time_t)p->boot, up_since, sizeof up_since);
                        json_object_set_new(o, "up_since", json_string(up_since));
                }
                body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        }
        if (body && lab_store_event_append(s->store, LAB_EVENT_TELEMETRY, "printer.status", NULL,
                                           body, NULL) >= 0)
                events_appended(s);

        if (!available && !p->paused) {
                reroute_queued(p, kw, why);
        } else if (s->rerouted_hook) {
                /* A printer came back: held jobs may now have somewhere to go. */
                s->rerouted_hook(s->hook_userdata);
        }
}

/*
 * A status read: the faults it raises or clears (two reads in a row, the
 * rule of printer-faults.h) are told as printer.fault, a job-class event,
 * and logged.
 */
static void tell_faults(pst_printer_t *p, const lab_printer_status_t *st)
{
        lab_fault_change_t ch[LAB_FAULTS_MAX];
        time_t now = time(NULL);
        size_t n = lab_faults_update(&p->faults, st, (int64_t)now, ch, ELEMENTSOF(ch));

        for (size_t i = 0; i < n; i++) {
                const char *sev = ch[i].severity == LAB_SEVERITY_ERROR ? "error" : "warning";
                const char *state = ch[i].raised ? "raised" : "cleared";
                json_auto_t *o = NULL;
                json_t *reasons = json_words(ch[i].ipp_reasons);
                _cleanup_free_ char *body = NULL;
                char since[40];

                /* A flapping fault that settled cleared has no one start: the settling read. */
                lab_format_rfc3339(ch[i].since > 0 ? (time_t)ch[i].since : now, since,
                                   sizeof since);
                o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:b}", "printer", p->name,
                              "fault", ch[i].keyword, "severity", sev, "state", state,
                              "ipp_reasons", reasons ? reasons : json_array(), "message",
                              st->message, "since", since, "duration_s",
                              (json_int_t)ch[i].duration_s, "flapping", ch[i].flapping);
                body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                log_struct(ch[i].severity == LAB_SEVERITY_ERROR && ch[i].raised ? LOG_WARNING
                                                                                : LOG_NOTICE,
                           LAB_FIELDS({"PRINTER", p->name}, {"ERROR_KEYWORD", ch[i].keyword}),
                           "printer %s: fault %s %s (%s%s; %s)", p->name, ch[i].keyword, state, sev,
                           ch[i].flapping ? ", flapping" : "", ch[i].ipp_reasons);
                if (!body || lab_store_printer_fault(p->stage->store, p->name,
                                                     ch[i].since > 0 ? ch[i].since : now,
                                                     ch[i].raised && !ch[i].flapping, body) < 0)
                        log_error("printer %s: cannot record printer.fault %s %s", p->name,
                                  ch[i].keyword, state);
                else
                        events_appended(p->stage);
        }
}

/* A health check came back. */
static void apply_status(pst_printer_t *p, op_t *op)
{
        char why[sizeof p->reason];
        bool available = lab_printer_status_available(&op->status, why, sizeof why);
        const lab_config_printer_t *cp = lab_config_find_printer(p->stage->config, p->name);

        if (op->r < 0 && !available && op->status.state != LAB_PRINTER_UNREACHABLE)
                snprintf(why, sizeof why, "%s: %s", op->err.keyword, op->err.message);
        /* Colour is the agent's: a queue default that alters it makes the printer unusable. */
        if (available && cp &&
            !lab_printer_colour_ok(&op->status, p->name, cp->options, cp->n_options, why,
                                   sizeof why))
                available = false;
        /* A new boot instant: whatever the printer had is forgotten (its polls will say). */
        if (op->status.boot > 0) {
                if (p->boot > 0 && op->status.boot > p->boot + LAB_PRINTER_CLOCK_SLACK)
                        log_struct(LOG_WARNING,
                                   LAB_FIELDS({"PRINTER", p->name},
                                              {"ERROR_KEYWORD", "printer_restarted"}),
                                   "printer %s: printer_restarted: it started again %lld s ago "
                                   "(it had been up since %lld s before); copies it had and no "
                                   "longer lists are held for a technician",
                                   p->name, (long long)(time(NULL) - op->status.boot),
                                   (long long)(op->status.boot - p->boot));
                p->boot = op->status.boot;
        }
        tell_faults(p, &op->status);
        if (p->stage->telemetry) {
                lab_telemetry_status(p->stage->telemetry, p->name, &op->status, available,
                                     available ? "" : why);
                /* A counted stock at zero stops the printer only where lab IT said so. */
                if (available && lab_telemetry_holds(p->stage->telemetry, p->name, why, sizeof why))
                        available = false;
        }
        health_set(p, available, why, op->status.state, &op->status);
}

static void apply_submit(pst_printer_t *p, op_t *op)
{
        op_copy_t *oc = &op->copies[0];
        int r;

        if (op->r >= 0) {
                const lab_store_copy_change_t chg = {.handle = op->handle};
                log_debug("job %s copy %d: sent to %s as %s (handle %s)", oc->job_id, oc->copy,
                          p->name, oc->job_name, op->handle);
                move_copy(p, oc, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING, &chg, NULL, NULL);
                return;
        }
        if (oc->found) {
                /* The answer was lost, but the printer has it. */
                oc->handle = oc->found_handle ? strdup(oc->found_handle) : NULL;
                const lab_store_copy_change_t chg = {.handle = oc->handle};
                if (move_copy(p, oc, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING, &chg, NULL, NULL) >= 0)
                        apply_job_status(p, oc, LAB_COPY_PRINTING);
                return;
        }
        log_struct(LOG_WARNING,
                   LAB_FIELDS({"JOB_ID", oc->job_id}, {"PRINTER", p->name},
                              {"ERROR_KEYWORD", op->err.keyword}),
                   "job %s copy %d: not sent to %s: %s: %s", oc->job_id, oc->copy, p->name,
                   op->err.keyword, op->err.message);
        if (submit_ambiguous(&op->err)) {
                if (oc->r != -ENOENT) {
                        /* Neither sent for sure nor known absent: ask again before anything else.
                         */
                        p->reconciled = false;
                        printer_lost(p, &oc->err);
                        return;
                }
                /* Not listed after a send that may have reached it: it may have restarted. */
                absent_copy(p, oc, op->err.keyword, op->err.message);
                printer_lost(p, &op->err);
                return;
        }
        /* It never left: refused (render it for another printer), or the printer was busy. */
        const lab_store_copy_change_t chg = {.reason = op->err.keyword, .detail = op->err.message};
        if (move_copy(p, oc, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED, &chg, NULL, NULL) < 0 ||
            strcmp(op->err.keyword, "printer_busy") == 0)
                return;
        char why[LAB_ERROR_MESSAGE_MAX + 64];
        snprintf(why, sizeof why, "%s: %s", op->err.keyword, op->err.message);
        r = lab_store_job_reroute(p->stage->store, oc->job_id, op->err.keyword, why);
        if (r == -EPERM)
                lab_log_illegal_transition(oc->job_id, lab_job_state_to_string(LAB_JOB_QUEUED),
                                           lab_job_state_to_string(LAB_JOB_REROUTED));
        if (r >= 0) {
                p->stage->rerouted++;
                events_appended(p->stage);
                if (p->stage->rerouted_hook)
                        p->stage->rerouted_hook(p->stage->hook_userdata);
        }
}

static void apply_poll(pst_printer_t *p, op_t *op)
{
        for (size_t i = 0; i < op->n_copies; i++) {
                op_copy_t *oc = &op->copies[i];

                if (oc->found || oc->r >= 0) {
                        if (oc->found && oc->found_handle &&
                            (!oc->handle || strcmp(oc->handle, oc->found_handle) != 0)) {
                                const lab_store_copy_change_t chg = {.handle = oc->found_handle};
                                move_copy(p, oc, LAB_COPY_PRINTING, LAB_COPY_PRINTING, &chg, NULL,
                                          NULL);
                        }
                        apply_job_status(p, oc, LAB_COPY_PRINTING);
                } else if (oc->r == -ENOENT) {
                        copy_uncertain(p, oc, LAB_COPY_PRINTING, NULL);
                } else {
                        printer_lost(p, &oc->err);
                }
        }
}

static void apply_cancel(pst_printer_t *p, op_t *op)
{
        for (size_t i = 0; i < op->n_copies; i++) {
                op_copy_t *oc = &op->copies[i];
                const lab_store_copy_change_t chg = {.keep_handle = true,
                                                     .reason = "platform_canceled"};

                if (oc->r < 0) {
                        log_warning("job %s copy %d: cannot cancel it at %s: %s: %s", oc->job_id,
                                    oc->copy, p->name, oc->err.keyword, oc->err.message);
                        continue;
                }
                move_copy(p, oc, oc->state, LAB_COPY_CANCELED, &chg, NULL, NULL);
        }
}

/*
 * The registry's media table for p's model against the sizes p offers. A
 * size p does not have, or has twice (printer_refused, naming p's sizes),
 * and a size whose imageable area the table's pixels do not fill exactly
 * (media_size_mismatch: the queue's filter would crop or resample it) are
 * not sent to p: lab_print_stage_unfit says why, so the router looks
 * elsewhere (or holds the job with that reason). Submit refuses them too.
 */
static void check_media_table(pst_printer_t *p, const lab_printer_caps_t *caps)
{
        const lab_print_stage_t *s = p->stage;
        const lab_config_printer_t *cp = lab_config_find_printer(s->config, p->name);
        const lab_model_t *m = cp && cp->model && s->color && s->color->registry
                                   ? lab_registry_model(s->color->registry, cp->model)
                                   : NULL;

        p->n_misfit = 0;
        for (size_t i = 0; m && i < m->n_media; i++) {
                const lab_media_t *mm = &m->media[i];
                const lab_printer_size_t *size = NULL;
                char why[LAB_ERROR_MESSAGE_MAX];

                if (lab_printer_media_choose(caps, p->name, mm->name,
                                             lab_config_pair_get(cp->media, cp->n_media, mm->name),
                                             &size, why, sizeof why) >= 0 &&
                    (!size || !caps->ppd ||
                     lab_printer_size_fits(size, p->name, mm->width, mm->height, mm->dpi, why,
                                           sizeof why)))
                        continue;
                log_struct(
                    LOG_WARNING,
                    LAB_FIELDS({"PRINTER", p->name},
                               {"ERROR_KEYWORD", size ? "media_size_mismatch" : "printer_refused"}),
                    "printer %s: %s (model %s) is not sent to it: %s", p->name, mm->name, m->name,
                    why);
                if (p->n_misfit < ELEMENTSOF(p->misfit)) {
                        snprintf(p->misfit[p->n_misfit].media, sizeof p->misfit[0].media, "%s",
                                 mm->name);
                        snprintf(p->misfit[p->n_misfit].why, sizeof p->misfit[0].why, "%s", why);
                        p->n_misfit++;
                }
        }
}

/* What the printer takes: keep its document formats for the router, check its sizes. */
static void apply_caps(pst_printer_t *p, op_t *op)
{
        if (op->r < 0) {
                printer_lost(p, &op->err);
                return;
        }
        check_media_table(p, &op->caps);
        if (p->stage->telemetry)
                lab_telemetry_caps(p->stage->telemetry, p->name, &op->caps);
        for (size_t i = 0; i < p->n_formats; i++)
                free(p->formats[i]);
        free(p->formats);
        p->formats = TAKE_PTR(op->caps.formats);
        p->n_formats = op->caps.n_formats;
        op->caps.n_formats = 0;
        p->caps_known = true;
        log_debug("printer %s: %zu document format(s), %zu media size(s)", p->name, p->n_formats,
                  op->caps.n_media);
}

/* Loop: a driver call came back. */
static void op_done(void *userdata, bool ran)
{
        op_t *op = userdata;
        pst_printer_t *p = op->printer;
        lab_print_stage_t *s = p->stage;

        p->busy = false;
        if (ran && !p->removed) {
                switch (op->kind) {
                case OP_RECONCILE:
                        apply_reconcile(p, op);
                        break;
                case OP_STATUS:
                        apply_status(p, op);
                        break;
                case OP_POLL:
                        apply_poll(p, op);
                        break;
                case OP_SUBMIT:
                        apply_submit(p, op);
                        break;
                case OP_CANCEL:
                        apply_cancel(p, op);
                        break;
                case OP_CAPS:
                        apply_caps(p, op);
                        break;
                }
        }
        op_free(op);
        if (!s->stopping)
                step(p);
}

/* ---- planning (loop thread) ---- */

/* Hand op to the pool. */
static void dispatch(pst_printer_t *p, op_t *op)
{
        int r = lab_pool_submit(p->stage->pool, op_work, op_done, op);

        if (r < 0) {
                log_error_errno(r, "printer %s: cannot start a driver call: %m", p->name);
                op_free(op);
                return;
        }
        p->busy = true;
}

/* A new op for p. */
static op_t *op_new(pst_printer_t *p, op_kind_t kind)
{
        op_t *op = calloc(1, sizeof *op);

        if (op) {
                op->printer = p;
                op->kind = kind;
        }
        return op;
}

/* Copies of p in the given states. */
static int copies_of(pst_printer_t *p, const lab_copy_state_t *states, size_t n_states,
                     lab_store_copy_t ***v, size_t *n)
{
        int r = lab_store_copies_list(p->stage->store, p->name, states, n_states, v, n);

        if (r < 0)
                log_error_errno(r, "printer %s: cannot read its copies: %m", p->name);
        return r;
}

/* Plan an op over copies in states (at most max); NULL when there are none. */
static op_t *plan_copies(pst_printer_t *p, op_kind_t kind, const lab_copy_state_t *states,
                         size_t n_states, size_t max, bool only_canceled_jobs)
{
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        op_t *op;

        if (copies_of(p, states, n_states, &v, &n) < 0 || n == 0) {
                lab_store_copies_free(v, n);
                return NULL;
        }
        op = op_new(p, kind);
        for (size_t i = 0; op && i < n && op->n_copies < max; i++) {
                if (only_canceled_jobs && v[i]->job_state != LAB_JOB_CANCELED)
                        continue;
                if (op_add_copy(op, v[i], v[i]->attempt) < 0) {
                        op_free(op);
                        op = NULL;
                }
        }
        lab_store_copies_free(v, n);
        if (op && op->n_copies == 0) {
                op_free(op);
                op = NULL;
        }
        return op;
}

/* The MIME type of a print file, by the extension the render stage gives it. */
static const char *format_of(const char *path)
{
        const char *dot = path ? strrchr(path, '.') : NULL;

        if (dot && strcmp(dot, ".tif") == 0)
                return "image/tiff";
        if (dot && strcmp(dot, ".pwg") == 0)
                return "image/pwg-raster";
        return "image/jpeg";
}

/* Plan sending the next queued copy (attempt persisted first); NULL when none can go. */
static op_t *plan_submit(pst_printer_t *p)
{
        static const lab_copy_state_t queued[] = {LAB_COPY_QUEUED},
                                      busy[] = {LAB_COPY_SUBMITTING, LAB_COPY_PRINTING};
        lab_print_stage_t *s = p->stage;
        lab_store_copy_t **v = NULL, **b = NULL;
        size_t n = 0, nb = 0;
        op_t *op = NULL;

        if (copies_of(p, busy, 2, &b, &nb) < 0)
                return NULL;
        lab_store_copies_free(b, nb);
        if (nb >= p->queue_depth)
                return NULL;
        if (copies_of(p, queued, 1, &v, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n && !op; i++) {
                const lab_store_copy_t *c = v[i];
                const lab_config_product_t *product = lab_config_find_product(s->config, c->sku);
                const lab_store_copy_change_t begin = {.new_attempt = true};
                int attempt = 0, r;

                if (c->job_state == LAB_JOB_CANCELED || c->job_state == LAB_JOB_DROPPED)
                        continue;
                if (!product || !c->output_path) {
                        log_error("job %s: cannot send copy %d to %s: %s", c->job_id, c->copy,
                                  p->name,
                                  !product ? "its product is no longer configured"
                                           : "it has no print file for this printer");
                        continue;
                }
                /* Durable before the driver is called: the name it will carry. */
                r = lab_store_copy_move(s->store, c->job_id, c->copy, LAB_COPY_QUEUED,
                                        LAB_COPY_SUBMITTING, &begin, NULL, NULL, &attempt);
                if (r == -EPERM)
                        copy_refused(s->store, c->job_id, c->copy, LAB_COPY_QUEUED,
                                     LAB_COPY_SUBMITTING);
                else if (r < 0 && r != -ESTALE)
                        log_error_errno(r, "job %s copy %d: cannot record the attempt: %m",
                                        c->job_id, c->copy);
                if (r < 0)
                        continue;
                op = op_new(p, OP_SUBMIT);
                if (!op || op_add_copy(op, c, attempt) < 0) {
                        op_free(op);
                        op = NULL;
                        /* Not sent: recorded as an attempt that never left, reconciled by name. */
                        p->reconciled = false;
                        break;
                }
                op->file = strdup(c->output_path);
                op->format = strdup(format_of(c->output_path));
                op->media = strdup(product->media);
                op->media_type = product->media_type ? strdup(product->media_type) : NULL;
                op->order_id = c->order_id ? strdup(c->order_id) : NULL;
                if (pairs_copy(lab_config_find_printer(s->config, p->name), product->media, op) <
                    0) {
                        free(op->media);
                        op->media = NULL;
                }
                if (!op->file || !op->format || !op->media) {
                        op_free(op);
                        op = NULL;
                        p->reconciled = false;
                }
        }
        lab_store_copies_free(v, n);
        return op;
}

/* Timer: time to look at the printer again. */
static int on_printer_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        step(userdata);
        return 0;
}

/* Free a printer (idle, removed or at stop). */
static void printer_free(pst_printer_t *p)
{
        if (!p)
                return;
        sd_event_source_disable_unref(p->timer);
        for (size_t i = 0; i < p->n_formats; i++)
                free(p->formats[i]);
        free(p->formats);
        lab_printer_close(p->drv);
        free(p->name);
        free(p);
}

/* Unlink and free removed printers that are idle. */
static void reap_removed(lab_print_stage_t *s)
{
        for (pst_printer_t **pp = &s->printers; *pp;) {
                pst_printer_t *p = *pp;

                if (p->removed && !p->busy) {
                        *pp = p->next;
                        printer_free(p);
                } else {
                        pp = &p->next;
                }
        }
}

/* Decide and start the printer's next driver call, or wait for the next due time. */
static void step(pst_printer_t *p)
{
        static const lab_copy_state_t active[] = {LAB_COPY_SUBMITTING, LAB_COPY_PRINTING},
                                      printing[] = {LAB_COPY_PRINTING};
        lab_print_stage_t *s = p->stage;
        uint64_t now = now_usec(s), wake;
        op_t *op = NULL;

        if (p->removed) {
                reap_removed(s);
                return;
        }
        if (p->busy || !s->started || s->stopping || !s->config)
                return;

        if (!p->reconciled && now >= p->next_reconcile) {
                op = plan_copies(p, OP_RECONCILE, active, 2, SIZE_MAX, false);
                if (!op) {
                        p->reconciled = true;
                } else {
                        /* Not answered: asked again at the next health check, not at once. */
                        p->next_reconcile = now + s->config->jobs.status_interval;
                        dispatch(p, op);
                        return;
                }
        }
        if (!p->caps_known && now >= p->next_caps) {
                /* Once (and again, at the health checks' pace, while it fails). */
                p->next_caps = now + s->config->jobs.status_interval;
                op = op_new(p, OP_CAPS);
                if (op) {
                        dispatch(p, op);
                        return;
                }
        }
        if (p->cancel_pending) {
                p->cancel_pending = false;
                op = plan_copies(p, OP_CANCEL, active, 2, SIZE_MAX, true);
                if (op) {
                        dispatch(p, op);
                        return;
                }
        }
        if (now >= p->next_status) {
                p->next_status = now + s->config->jobs.status_interval;
                op = op_new(p, OP_STATUS);
                if (op) {
                        dispatch(p, op);
                        return;
                }
        }
        if (now >= p->next_poll) {
                p->next_poll = now + s->config->jobs.poll_interval;
                op = plan_copies(p, OP_POLL, printing, 1, POLL_BATCH, false);
                if (op) {
                        dispatch(p, op);
                        return;
                }
        }
        /* Nothing new before every copy on its way there is accounted for. */
        if (p->reconciled && p->status_known && p->available) {
                op = plan_submit(p);
                if (op) {
                        dispatch(p, op);
                        return;
                }
        }
        wake = p->next_poll < p->next_status ? p->next_poll : p->next_status;
        if (!p->reconciled && p->next_reconcile < wake)
                wake = p->next_reconcile;
        if (!p->caps_known && p->next_caps < wake)
                wake = p->next_caps;
        lab_timer_arm(s->event, &p->timer, wake > now ? wake - now : 0, on_printer_timer, p,
                      "printer");
}

/* A rendered job's printer is unavailable: rendered → rerouted with job.rerouted. */
static int reroute_rendered(lab_print_stage_t *s, const lab_store_job_t *j, pst_printer_t *p)
{
        char kw[LAB_ERROR_KEYWORD_MAX];
        _cleanup_free_ char *body = NULL;
        json_auto_t *o = NULL;
        int r;

        snprintf(kw, sizeof kw, "%.*s", (int)strcspn(p->reason, ":"), p->reason);
        o = json_pack("{s:s, s:s, s:s}", "from", p->name, "reason", kw, "detail", p->reason);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        r = lab_store_job_move(s->store, j->id, LAB_JOB_RENDERED, LAB_JOB_REROUTED, kw, p->reason,
                               "job.rerouted", body);
        if (r == -EPERM)
                lab_log_illegal_transition(j->id, lab_job_state_to_string(LAB_JOB_RENDERED),
                                           lab_job_state_to_string(LAB_JOB_REROUTED));
        if (r >= 0) {
                s->rerouted++;
                log_struct(LOG_NOTICE, LAB_FIELDS({"JOB_ID", j->id}, {"PRINTER", p->name}),
                           "job %s: rerouted away from %s: %s", j->id, p->name, p->reason);
                events_appended(s);
        }
        return r;
}

/* Queue rendered jobs at their printers. */
static void queue_rendered(lab_print_stage_t *s)
{
        static const lab_job_state_t rendered[] = {LAB_JOB_RENDERED};
        lab_store_job_t **jobs = NULL;
        size_t n = 0;

        if (lab_store_jobs_list(s->store, rendered, 1, &jobs, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                const lab_store_job_t *j = jobs[i];
                pst_printer_t *p = j->printer ? find_printer(s, j->printer) : NULL;
                int r;

                if (!p) {
                        /* Its printer left the config: render it for another. */
                        r = lab_store_job_move(
                            s->store, j->id, LAB_JOB_RENDERED, LAB_JOB_REROUTED, "printer_removed",
                            "its printer is no longer configured", "job.rerouted",
                            "{\"from\":\"\",\"reason\":\"printer_removed\","
                            "\"detail\":\"its printer is no longer configured\"}");
                        if (r == -EPERM)
                                lab_log_illegal_transition(
                                    j->id, lab_job_state_to_string(LAB_JOB_RENDERED),
                                    lab_job_state_to_string(LAB_JOB_REROUTED));
                        if (r >= 0 && s->rerouted_hook)
                                s->rerouted_hook(s->hook_userdata);
                        continue;
                }
                if (p->status_known && !p->available && !p->paused) {
                        /*
                         * Rendered while its printer went away (the reroute of its
                         * queue happened before this job joined it): render it again
                         * for another, as that reroute would have.
                         */
                        if (reroute_rendered(s, j, p) >= 0 && s->rerouted_hook)
                                s->rerouted_hook(s->hook_userdata);
                        continue;
                }
                r = lab_store_job_queue(s->store, j->id, LAB_JOB_RENDERED, j->printer);
                if (r == -EPERM)
                        lab_log_illegal_transition(j->id, lab_job_state_to_string(LAB_JOB_RENDERED),
                                                   lab_job_state_to_string(LAB_JOB_QUEUED));
                else if (r < 0 && r != -ESTALE)
                        log_error_errno(r, "job %s: cannot queue it at %s: %m", j->id, j->printer);
                else if (r >= 0)
                        events_appended(s);
        }
        lab_store_jobs_free(jobs, n);
}

/* Deferred: queue what was rendered, then let every printer take a step. */
static int on_defer(sd_event_source *src, void *userdata)
{
        lab_print_stage_t *s = userdata;

        if (!s->started || s->stopping || !s->config)
                return 0;
        queue_rendered(s);
        for (pst_printer_t *p = s->printers; p; p = p->next)
                step(p);
        return 0;
}

int lab_print_stage_new(lab_print_stage_t **ret, sd_event *e, lab_store_t *store)
{
        lab_print_stage_t *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->store = store;
        /* One call at a time per printer: threads for up to 16 printers at once. */
        r = lab_pool_new(&s->pool, e, 16, "printers");
        if (r >= 0)
                r = sd_event_add_defer(e, &s->defer, on_defer, s);
        if (r < 0) {
                lab_print_stage_free(s);
                return r;
        }
        sd_event_source_set_description(s->defer, "print-scan");
        sd_event_source_set_enabled(s->defer, SD_EVENT_OFF);
        *ret = s;
        return 0;
}

void lab_print_stage_set_config(lab_print_stage_t *s, const lab_config_t *c,
                                const lab_color_setup_t *color)
{
        lab_store_pause_t *pauses = NULL;
        size_t n_pauses = 0;

        if (lab_store_printer_pauses(s->store, &pauses, &n_pauses) < 0)
                log_error("cannot read the printers paused from the console; they take work "
                          "until paused again");
        s->config = c;
        s->color = color;
        for (pst_printer_t *p = s->printers; p; p = p->next)
                if (!lab_config_find_printer(c, p->name))
                        p->removed = true;
        for (size_t i = 0; i < c->n_printers; i++) {
                const lab_config_printer_t *cp = &c->printers[i];
                pst_printer_t *p = find_printer(s, cp->name);
                lab_error_t err = {0};

                if (p) {
                        /* Depth and timings take effect now; the driver handle stays. Its
                           sizes are read again against the registry and media in force. */
                        p->queue_depth = cp->queue_depth;
                        p->history = cp->job_history;
                        p->caps_known = false;
                        p->next_caps = 0;
                        continue;
                }
                if (!cp->enabled)
                        continue;
                p = calloc(1, sizeof *p);
                if (!p || !(p->name = strdup(cp->name))) {
                        free(p);
                        log_error("printer %s: out of memory", cp->name);
                        continue;
                }
                if (lab_printer_open(cp, &p->drv, &err) < 0) {
                        log_struct(
                            LOG_ERR,
                            LAB_FIELDS({"PRINTER", cp->name}, {"ERROR_KEYWORD", err.keyword}),
                            "printer %s: %s: %s", cp->name, err.keyword, err.message);
                        free(p->name);
                        free(p);
                        continue;
                }
                p->stage = s;
                p->queue_depth = cp->queue_depth;
                p->history = cp->job_history;
                for (size_t k = 0; k < n_pauses; k++)
                        if (strcmp(pauses[k].printer, p->name) == 0) {
                                p->paused = true;
                                lab_print_stage_pause_reason(p->pause_why, sizeof p->pause_why,
                                                             &pauses[k]);
                        }
                p->next = s->printers;
                s->printers = p;
        }
        /* Disabled printers are closed like removed ones once idle. */
        for (pst_printer_t *p = s->printers; p; p = p->next) {
                const lab_config_printer_t *cp = lab_config_find_printer(c, p->name);
                if (cp && !cp->enabled)
                        p->removed = true;
        }
        lab_store_pauses_free(pauses, n_pauses);
        reap_removed(s);
        lab_print_stage_kick(s);
}

void lab_print_stage_pause_reason(char *buf, size_t size, const lab_store_pause_t *pause)
{
        snprintf(buf, size, "printer_paused: paused by %s at %s%s%s; labctl resume %s ends it",
                 pause->by, pause->since, pause->reason ? ": " : "",
                 pause->reason ? pause->reason : "", pause->printer);
}

int lab_print_stage_pause(lab_print_stage_t *s, const lab_store_pause_t *pause, const char *printer)
{
        pst_printer_t *p = find_printer(s, pause ? pause->printer : printer);

        if (!p)
                return -ENOENT;
        p->paused = pause != NULL;
        if (pause) {
                lab_print_stage_pause_reason(p->pause_why, sizeof p->pause_why, pause);
                p->available = false;
        } else {
                /* As healthy as it was at the last check; read again at once, below. */
                p->available = p->status_known && p->healthy;
                snprintf(p->reason, sizeof p->reason, "%s", !p->status_known ? "" : p->health_why);
        }
        /* Read its health now: that tells the platform and, on resume, frees it. */
        p->next_status = 0;
        lab_print_stage_kick(s);
        return 0;
}

int lab_print_stage_info(lab_print_stage_t *s, const char *printer, lab_print_stage_info_t *info)
{
        pst_printer_t *p = find_printer(s, printer);

        *info = (lab_print_stage_info_t){.state = "unknown"};
        if (!p)
                return -ENOENT;
        info->open = true;
        info->known = p->status_known;
        info->available = p->status_known && p->available && !p->paused;
        info->paused = p->paused;
        info->boot = p->boot;
        if (p->status_known)
                info->state = lab_printer_state_to_string(p->state);
        if (p->paused)
                snprintf(info->reason, sizeof info->reason, "%s", p->pause_why);
        else if (p->status_known && !p->available)
                snprintf(info->reason, sizeof info->reason, "%s", p->reason);
        else if (!p->status_known)
                snprintf(info->reason, sizeof info->reason, "%s",
                         "not_checked: its health has not been read yet");
        return 0;
}

void lab_print_stage_set_telemetry(lab_print_stage_t *s, lab_telemetry_t *t)
{
        s->telemetry = t;
}

void lab_print_stage_set_hooks(lab_print_stage_t *s, lab_print_stage_hook_t events,
                               lab_print_stage_hook_t rerouted, void *userdata)
{
        s->events_hook = events;
        s->rerouted_hook = rerouted;
        s->hook_userdata = userdata;
}

int lab_print_stage_start(lab_print_stage_t *s)
{
        s->started = true;
        lab_print_stage_kick(s);
        return 0;
}

void lab_print_stage_kick(lab_print_stage_t *s)
{
        if (s && s->defer)
                sd_event_source_set_enabled(s->defer, SD_EVENT_ONESHOT);
}

const char *lab_print_stage_unfit(lab_print_stage_t *s, const char *printer, const char *media,
                                  const char *format, char *buf, size_t size)
{
        pst_printer_t *p = s ? find_printer(s, printer) : NULL;
        size_t used = 0;

        if (p && p->paused) {
                snprintf(buf, size, "%s", p->pause_why);
                return buf;
        }
        if (!p || !p->status_known)
                return NULL;
        if (!p->available) {
                snprintf(buf, size, "%s", p->reason);
                return buf;
        }
        if (format && p->caps_known && p->n_formats > 0 &&
            !lab_printer_caps_has(p->formats, p->n_formats, format)) {
                snprintf(buf, size, "format_unsupported: %s does not take %s", p->name, format);
                return buf;
        }
        for (size_t i = 0; media && i < p->n_misfit; i++)
                if (strcmp(p->misfit[i].media, media) == 0) {
                        snprintf(buf, size, "%s", p->misfit[i].why);
                        return buf;
                }
        if (!media || p->n_loaded == 0)
                return NULL;
        for (size_t i = 0; i < p->n_loaded; i++)
                if (strcmp(p->loaded[i].size, media) == 0)
                        return NULL;
        used = (size_t)snprintf(buf, size, "media_not_loaded: %s has", p->name);
        for (size_t i = 0; i < p->n_loaded && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s %s", i ? "," : "",
                                         p->loaded[i].size);
        if (used < size)
                snprintf(buf + used, size - used, " loaded; the job needs %s", media);
        return buf;
}

int lab_print_stage_cancel(lab_print_stage_t *s, const char *job_id)
{
        static const lab_copy_state_t states[] = {LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                                  LAB_COPY_PRINTING, LAB_COPY_UNCERTAIN};
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        int r;

        r = lab_store_copies_list(s->store, NULL, states, ELEMENTSOF(states), &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const lab_store_copy_change_t chg = {.keep_handle = true,
                                                     .reason = "platform_canceled"};
                pst_printer_t *p;

                if (strcmp(v[i]->job_id, job_id) != 0)
                        continue;
                if (v[i]->state == LAB_COPY_QUEUED || v[i]->state == LAB_COPY_UNCERTAIN) {
                        r = lab_store_copy_move(s->store, v[i]->job_id, v[i]->copy, v[i]->state,
                                                LAB_COPY_CANCELED, &chg, NULL, NULL, NULL);
                        if (r == -EPERM)
                                copy_refused(s->store, v[i]->job_id, v[i]->copy, v[i]->state,
                                             LAB_COPY_CANCELED);
                        continue;
                }
                p = find_printer(s, v[i]->printer);
                if (p) {
                        p->cancel_pending = true;
                        lab_print_stage_kick(s);
                }
        }
        lab_store_copies_free(v, n);
        return 0;
}

const char *lab_print_stage_status(lab_print_stage_t *s)
{
        unsigned n = 0, up = 0;

        for (pst_printer_t *p = s->printers; p; p = p->next)
                if (!p->removed) {
                        n++;
                        up += p->status_known && p->available;
                }
        snprintf(s->status, sizeof s->status,
                 "printers: %u of %u available; %lu copies printed, %lu aborted, %lu uncertain, "
                 "%lu job(s) rerouted",
                 up, n, s->printed, s->aborted, s->uncertain, s->rerouted);
        return s->status;
}

void lab_print_stage_free(lab_print_stage_t *s)
{
        if (!s)
                return;
        s->stopping = true;
        lab_pool_free(s->pool);
        while (s->printers) {
                pst_printer_t *p = s->printers;
                s->printers = p->next;
                printer_free(p);
        }
        sd_event_source_disable_unref(s->defer);
        sd_event_unref(s->event);
        free(s);
}
