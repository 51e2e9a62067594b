/*
 * render-stage.c - route and render downloaded jobs on the worker pool (see render-stage.h).
 *
 * Loop thread: pick jobs (rush first, then oldest), choose the printer,
 * move the job to "rendering", hand a self-contained task (its own copies
 * of every path and parameter: a reload may free the config meanwhile) to
 * the pool. Worker thread: lab_render() only. Loop thread again: record the
 * result with its event, in one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "event-util.h"
#include "job-spec.h"
#include "job-state.h"
#include "log.h"
#include "macro.h"
#include "render-plan.h"
#include "render-stage.h"
#include "render.h"
#include "job-router.h"
#include "worker-pool.h"

/* Room for one printer's "keyword: sentence" (a lab_error_t and its separator). */
#define REASON_MAX (LAB_ERROR_KEYWORD_MAX + LAB_ERROR_MESSAGE_MAX + 8)

/* Held jobs (no printer, output not writable) are tried again this often. */
#define RETRY_HELD_USEC (60ULL * 1000000ULL)

/* Held reasons that a later attempt may clear. */
static const char *const retryable_reasons[] = {"no_printer", "output_failed"};

/* Render failures that come from the print master itself: it can never print. */
static const char *const input_faults[] = {
    "empty_input",       "input_too_large", "image_too_large",
    "unsupported_image", "image_corrupt",   "missing_input_profile",
    "bad_input_profile", "bad_crop",        "aspect_mismatch",
};

struct lab_render_stage_s {
        sd_event *event;
        lab_store_t *store;
        char *render_dir;
        lab_pool_t *pool;
        unsigned workers;
        unsigned in_flight;
        struct render_task_s *tasks; /* the renders on the pool, for the router's backlog */
        const lab_config_t *config;
        const lab_color_setup_t *color;
        sd_event_source *defer;
        sd_event_source *retry_timer;
        bool retry_held; /* the next scan also takes retryable held jobs */
        bool stopping;
        lab_render_stage_hook_t hook;
        void *hook_userdata;
        lab_render_stage_health_t health;
        void *health_userdata;
        lab_render_stage_timing_t timing;
        void *timing_userdata;
        unsigned long rendered, rejected, held, failed;
        char status[256];
};

/* One render, owned by the pool from submit to done. */
typedef struct render_task_s {
        lab_render_stage_t *stage;
        char *job_id;
        char *printer;
        unsigned prints; /* the job's quantity: its share of the printer's backlog */
        struct render_task_s *prev, *next;
        char *input;
        char *output;
        char *profile;
        lab_render_params_t params;
        lab_crop_t crop;
        double gamut_warn;
        /* results, written by the worker */
        int r;
        double seconds; /* lab_render()'s time */
        lab_error_t err;
        lab_render_audit_t audit;
} render_task_t;

static void scan(lab_render_stage_t *s);

/* Whether s is one of the n strings in v. */
static bool str_in(const char *s, const char *const *v, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(s, v[i]) == 0)
                        return true;
        return false;
}

/* Free a task. */
static void task_free(render_task_t *t)
{
        if (!t)
                return;
        free(t->job_id);
        free(t->printer);
        free(t->input);
        free(t->output);
        free(t->profile);
        free(t);
}

/* Tell the owner that events were appended. */
static void events_appended(lab_render_stage_t *s)
{
        if (s->hook)
                s->hook(s->hook_userdata);
}

/* The JSON body {reason, detail} of a job.rejected / job.held / job.failed event. */
static char *reason_body(const char *reason, const char *detail)
{
        _cleanup_(json_decrefp) json_t *o =
            json_pack("{s:s, s:s}", "reason", reason, "detail", detail ? detail : "");

        return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

/* Move job from from_state to to_state with reason and its event; log it. */
static void stop_job(lab_render_stage_t *s, const char *job_id, lab_job_state_t from_state,
                     lab_job_state_t to_state, const char *reason, const char *detail,
                     const char *event_kind)
{
        _cleanup_free_ char *body = reason_body(reason, detail);
        const char *from = lab_job_state_to_string(from_state),
                   *to = lab_job_state_to_string(to_state);
        int r;

        r = lab_store_job_move(s->store, job_id, from_state, to_state, reason, detail, event_kind,
                               body ? body : "{}");
        if (r == -EPERM) {
                lab_log_illegal_transition(job_id, from, to);
                return;
        }
        if (r == -ESTALE) {
                log_debug("job %s: no longer %s (canceled meanwhile?); not moved to %s", job_id,
                          from, to);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "job %s: cannot move from %s to %s: %m", job_id, from, to);
                return;
        }
        log_struct(to_state == LAB_JOB_HELD ? LOG_WARNING : LOG_ERR,
                   LAB_FIELDS({"JOB_ID", job_id}, {"ERROR_KEYWORD", reason}), "job %s: %s: %s: %s",
                   job_id, to, reason, detail ? detail : "");
        if (to_state == LAB_JOB_HELD)
                s->held++;
        else if (to_state == LAB_JOB_REJECTED)
                s->rejected++;
        else
                s->failed++;
        events_appended(s);
}

/* Worker thread: render. */
static void task_work(void *userdata)
{
        render_task_t *t = userdata;
        struct timespec a, b;

        clock_gettime(CLOCK_MONOTONIC, &a);
        t->r = lab_render(&t->params, &t->audit, &t->err);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* The job.quality_warning body when the render has too much out of gamut, else NULL. */
static char *quality_body(const render_task_t *t)
{
        _cleanup_(json_decrefp) json_t *o = NULL;

        if (t->audit.gamut_share < 0 || t->audit.gamut_share <= t->gamut_warn)
                return NULL;
        o = json_pack("{s:s, s:f, s:f, s:s, s:s}", "warning", "gamut", "gamut_share",
                      t->audit.gamut_share, "threshold", t->gamut_warn, "printer", t->printer,
                      "output_profile", t->profile);
        return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

/* Loop thread: record a finished render. */
static void task_done(void *userdata, bool ran)
{
        render_task_t *t = userdata;
        lab_render_stage_t *s = t->stage;
        _cleanup_free_ char *audit = NULL, *quality = NULL;
        int r;

        s->in_flight--;
        LAB_LIST_REMOVE(s->tasks, t);
        if (!ran) {
                /* Stopped before it started: still "rendering", redone at the next start. */
                task_free(t);
                return;
        }
        if (t->r >= 0 && s->timing)
                s->timing(t->seconds, s->timing_userdata);
        if (t->r < 0) {
                const char *kw = t->err.keyword[0] ? t->err.keyword : "render_failed";

                if (str_in(kw, input_faults, ELEMENTSOF(input_faults)))
                        stop_job(s, t->job_id, LAB_JOB_RENDERING, LAB_JOB_REJECTED, kw,
                                 t->err.message, "job.rejected");
                else if (strcmp(kw, "output_failed") == 0)
                        stop_job(s, t->job_id, LAB_JOB_RENDERING, LAB_JOB_HELD, kw, t->err.message,
                                 "job.held");
                else
                        stop_job(s, t->job_id, LAB_JOB_RENDERING, LAB_JOB_FAILED, kw,
                                 t->err.message, "job.failed");
                goto next;
        }

        audit = lab_render_audit_json(&t->audit);
        quality = quality_body(t);
        r = audit ? lab_store_job_rendered(s->store, t->job_id, LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                           t->printer, t->output, audit, quality)
                  : -ENOMEM;
        if (r == -ESTALE || r == -ENOENT) {
                log_info("job %s: rendered, but it was canceled meanwhile; deleting %s", t->job_id,
                         t->output);
                unlink(t->output);
                goto next;
        }
        if (r == -EPERM)
                lab_log_illegal_transition(t->job_id, lab_job_state_to_string(LAB_JOB_RENDERING),
                                           lab_job_state_to_string(LAB_JOB_RENDERED));
        if (r < 0) {
                /* Nothing was written: the job stays "rendering" and is redone at the next start.
                 */
                log_error_errno(r, "job %s: cannot record its render: %m", t->job_id);
                goto next;
        }
        s->rendered++;
        log_struct(LOG_INFO, LAB_FIELDS({"JOB_ID", t->job_id}, {"PRINTER", t->printer}),
                   "job %s: rendered for %s (%ux%u, %s, gamut %.1f%% out) -> %s", t->job_id,
                   t->printer, t->audit.width, t->audit.height, lab_intent_name(t->params.intent),
                   t->audit.gamut_share >= 0 ? t->audit.gamut_share * 100 : 0.0, t->output);
        if (quality)
                log_struct(LOG_WARNING,
                           LAB_FIELDS({"JOB_ID", t->job_id}, {"ERROR_KEYWORD", "gamut_warning"}),
                           "job %s: gamut_warning: %.1f%% of the pixels are outside the gamut of "
                           "%s (render.gamut_warn %.1f%%)",
                           t->job_id, t->audit.gamut_share * 100, t->profile, t->gamut_warn * 100);
        events_appended(s);
next:
        task_free(t);
        if (!s->stopping)
                lab_render_stage_kick(s);
}

/* The output file name for job id on a model's encoding. */
static char *output_path(const lab_render_stage_t *s, const char *id, lab_encoding_t enc)
{
        const char *ext = enc == LAB_ENCODING_TIFF  ? "tif"
                          : enc == LAB_ENCODING_PWG ? "pwg"
                                                    : "jpg";
        char *path = NULL;

        if (asprintf(&path, "%s/%s.%s", s->render_dir, id, ext) < 0)
                return NULL;
        return path;
}

/* Why printer i cannot print sku (a "keyword: sentence" into buf), or NULL when it can. */
static const char *unfit_reason(lab_render_stage_t *s, const lab_config_printer_t *pr,
                                const char *sku, lab_render_plan_t *plan, char *buf, size_t size)
{
        const lab_printer_color_t *color;
        lab_error_t err = {0};

        if (!pr->enabled) {
                snprintf(buf, size, "printer_disabled: disabled in %s", s->config->path);
                return buf;
        }
        color = s->color ? lab_color_setup_printer(s->color, pr->name) : NULL;
        if (!color || !color->usable) {
                snprintf(buf, size, "%s",
                         color && color->reason
                             ? color->reason
                             : "colour_unusable: the colour setup is not loaded");
                return buf;
        }
        if (lab_render_plan(s->config, s->color->registry, pr->name, sku, plan, &err) < 0) {
                snprintf(buf, size, "%s: %s", err.keyword, err.message);
                return buf;
        }
        if (s->health)
                return s->health(pr->name, plan->media->name,
                                 lab_encoding_mime(plan->model->encoding), buf, size,
                                 s->health_userdata);
        return NULL;
}

/*
 * The prints being rendered for printer: they are not in its store backlog
 * yet (a job's printer is recorded when its render ends), and without them
 * renders starting side by side would all pick the same idle printer.
 */
static unsigned rendering_for(const lab_render_stage_t *s, const char *printer)
{
        unsigned n = 0;

        for (const render_task_t *t = s->tasks; t; t = t->next)
                if (strcmp(t->printer, printer) == 0)
                        n += t->prints;
        return n;
}

/*
 * A render that could not start: the job goes back where it was, tried again
 * at the next scan. A rerouted job cannot go back (rendering → rerouted is
 * not a move the table allows): it is downloaded again, as after a crash.
 */
static void unrender(lab_render_stage_t *s, const lab_store_job_t *job)
{
        bool back = lab_job_state_can_move(LAB_JOB_RENDERING, job->state);
        lab_job_state_t to = back ? job->state : LAB_JOB_DOWNLOADED;
        int r;

        r = lab_store_job_move(s->store, job->id, LAB_JOB_RENDERING, to, back ? job->reason : NULL,
                               back ? job->detail : NULL, NULL, NULL);
        if (r == -EPERM)
                lab_log_illegal_transition(job->id, lab_job_state_to_string(LAB_JOB_RENDERING),
                                           lab_job_state_to_string(to));
        else if (r < 0)
                log_error_errno(r, "job %s: cannot move from rendering back to %s: %m", job->id,
                                lab_job_state_to_string(to));
}

/* Choose a printer for job and start its render; false when no worker is free. */
static void start_job(lab_render_stage_t *s, const lab_store_job_t *job)
{
        size_t n = s->config->n_printers;
        _cleanup_free_ lab_route_candidate_t *cand = calloc(n ? n : 1, sizeof *cand);
        _cleanup_free_ lab_render_plan_t *plans = calloc(n ? n : 1, sizeof *plans);
        _cleanup_free_ char *reasons = calloc(n ? n : 1, REASON_MAX);
        _cleanup_(json_decrefp) json_t *spec_json = NULL;
        lab_job_spec_t spec = {0};
        lab_error_t err = {0};
        render_task_t *t = NULL;
        char why[2048];
        int best, r;

        if (!cand || !plans || !reasons)
                return (void)log_error("render: out of memory");

        spec_json = json_loads(job->spec, 0, NULL);
        if (!spec_json || lab_job_spec_parse(spec_json, &spec, &err) < 0) {
                /* The store only holds specs that parsed when accepted: a newer agent's? */
                stop_job(s, job->id, job->state, LAB_JOB_FAILED, "bad_job",
                         err.keyword[0] ? err.message : "the stored job cannot be read",
                         "job.failed");
                return;
        }

        for (size_t i = 0; i < n; i++) {
                const lab_config_printer_t *pr = &s->config->printers[i];
                int64_t backlog = 0;

                cand[i].printer = pr->name;
                cand[i].weight = pr->weight;
                cand[i].per_minute = pr->per_minute;
                cand[i].unfit =
                    unfit_reason(s, pr, job->sku, &plans[i], reasons + REASON_MAX * i, REASON_MAX);
                /* Sent away from a printer: not back to it (it refused, or it failed). */
                if (!cand[i].unfit && job->state == LAB_JOB_REROUTED && job->printer &&
                    strcmp(job->printer, pr->name) == 0) {
                        snprintf(reasons + REASON_MAX * i, REASON_MAX, "rerouted_away: %s",
                                 job->detail ? job->detail : "the job was sent away from it");
                        cand[i].unfit = reasons + REASON_MAX * i;
                }
                if (!cand[i].unfit && lab_store_printer_backlog(s->store, pr->name, &backlog) >= 0)
                        cand[i].backlog =
                            (backlog > 0 ? (unsigned)backlog : 0) + rendering_for(s, pr->name);
        }
        best = lab_router_choose(cand, n, why, sizeof why);
        if (best < 0) {
                /* Say it once: a job already held for this reason stays quiet. */
                if (job->state != LAB_JOB_HELD || !job->detail || strcmp(job->detail, why) != 0)
                        stop_job(s, job->id, job->state, LAB_JOB_HELD, "no_printer", why,
                                 "job.held");
                goto out;
        }

        t = calloc(1, sizeof *t);
        if (!t)
                goto oom;
        t->stage = s;
        t->prints = job->quantity > 0 ? (unsigned)job->quantity : 1;
        t->params = plans[best].params;
        t->job_id = strdup(job->id);
        t->printer = strdup(cand[best].printer);
        t->input = job->asset_path ? strdup(job->asset_path) : NULL;
        t->output = output_path(s, job->id, t->params.encoding);
        t->profile = strdup(t->params.output_profile);
        t->gamut_warn = s->config->render.gamut_warn;
        if (!t->job_id || !t->printer || !t->input || !t->output || !t->profile)
                goto oom;
        t->params.input = t->input;
        t->params.output = t->output;
        t->params.output_profile = t->profile;
        if (spec.has_crop) {
                t->crop = (lab_crop_t){spec.crop.x, spec.crop.y, spec.crop.width, spec.crop.height};
                t->params.crop = &t->crop;
        }

        r = lab_store_job_move(s->store, job->id, job->state, LAB_JOB_RENDERING, NULL, NULL, NULL,
                               NULL);
        if (r == -EPERM)
                lab_log_illegal_transition(job->id, lab_job_state_to_string(job->state),
                                           lab_job_state_to_string(LAB_JOB_RENDERING));
        else if (r < 0 && r != -ESTALE)
                log_error_errno(r, "job %s: cannot move to rendering: %m", job->id);
        if (r < 0)
                goto out;
        log_debug("job %s: rendering for %s (score %.3f)", job->id, t->printer,
                  lab_router_score(&cand[best]));
        r = lab_pool_submit(s->pool, task_work, task_done, t);
        if (r < 0) {
                unrender(s, job);
                goto oom;
        }
        LAB_LIST_PREPEND(s->tasks, t);
        TAKE_PTR(t);
        s->in_flight++;
        goto out;
oom:
        log_error("job %s: out of memory starting its render", job->id);
out:
        task_free(t);
        lab_job_spec_done(&spec);
}

/* Rush before standard; the list is already oldest first. */
static int by_priority(const void *a, const void *b)
{
        const lab_store_job_t *x = *(lab_store_job_t *const *)a, *y = *(lab_store_job_t *const *)b;
        int rx = x->priority && strcmp(x->priority, "rush") == 0;
        int ry = y->priority && strcmp(y->priority, "rush") == 0;

        if (rx != ry)
                return ry - rx;
        return strcmp(x->created_at, y->created_at) != 0 ? strcmp(x->created_at, y->created_at)
                                                         : strcmp(x->id, y->id);
}

/* Start renders while workers are free. */
static void scan(lab_render_stage_t *s)
{
        static const lab_job_state_t states[] = {LAB_JOB_DOWNLOADED, LAB_JOB_REROUTED,
                                                 LAB_JOB_HELD};
        lab_store_job_t **jobs = NULL;
        size_t n = 0;
        bool retry_held = s->retry_held;
        int r;

        if (!s->config || s->stopping)
                return;
        s->retry_held = false;
        if (s->in_flight >= s->workers)
                return;
        r = lab_store_jobs_list(s->store, states, retry_held ? 3 : 2, &jobs, &n);
        if (r < 0) {
                log_error_errno(r, "render: cannot list the jobs to render: %m");
                return;
        }
        if (n > 1)
                qsort(jobs, n, sizeof *jobs, by_priority);
        for (size_t i = 0; i < n && s->in_flight < s->workers; i++) {
                if (jobs[i]->state == LAB_JOB_HELD &&
                    !str_in(jobs[i]->reason, retryable_reasons, ELEMENTSOF(retryable_reasons)))
                        continue;
                start_job(s, jobs[i]);
        }
        lab_store_jobs_free(jobs, n);
}

/* Deferred: look for work once per loop iteration, however often it was kicked. */
static int on_defer(sd_event_source *src, void *userdata)
{
        scan(userdata);
        return 0;
}

/* Every minute: give held jobs another chance. */
static int on_retry_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        lab_render_stage_t *s = userdata;

        s->retry_held = true;
        scan(s);
        lab_timer_arm(s->event, &s->retry_timer, RETRY_HELD_USEC, on_retry_timer, s,
                      "render-retry");
        return 0;
}

int lab_render_stage_new(lab_render_stage_t **ret, sd_event *e, lab_store_t *store,
                         const char *render_dir, unsigned workers)
{
        lab_render_stage_t *s;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int r;

        if (workers == 0)
                workers = cores > 0 ? (unsigned)cores : 1;
        if (workers > 64)
                workers = 64;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->store = store;
        s->workers = workers;
        s->render_dir = strdup(render_dir);
        if (!s->render_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = lab_pool_new(&s->pool, e, workers, "render");
        if (r < 0)
                goto fail;
        r = sd_event_add_defer(e, &s->defer, on_defer, s);
        if (r < 0)
                goto fail;
        sd_event_source_set_description(s->defer, "render-scan");
        sd_event_source_set_enabled(s->defer, SD_EVENT_OFF);
        *ret = s;
        return 0;
fail:
        lab_render_stage_free(s);
        return r;
}

void lab_render_stage_set_config(lab_render_stage_t *s, const lab_config_t *c,
                                 const lab_color_setup_t *color)
{
        s->config = c;
        s->color = color;
        s->retry_held = true;
        lab_render_stage_kick(s);
}

void lab_render_stage_set_health(lab_render_stage_t *s, lab_render_stage_health_t health,
                                 void *userdata)
{
        s->health = health;
        s->health_userdata = userdata;
}

void lab_render_stage_retry_held(lab_render_stage_t *s)
{
        s->retry_held = true;
        lab_render_stage_kick(s);
}

void lab_render_stage_set_hook(lab_render_stage_t *s, lab_render_stage_hook_t hook, void *userdata)
{
        s->hook = hook;
        s->hook_userdata = userdata;
}

void lab_render_stage_set_timing(lab_render_stage_t *s, lab_render_stage_timing_t timing,
                                 void *userdata)
{
        s->timing = timing;
        s->timing_userdata = userdata;
}

int lab_render_stage_start(lab_render_stage_t *s)
{
        static const lab_job_state_t rendering[] = {LAB_JOB_RENDERING};
        lab_store_job_t **jobs = NULL;
        size_t n = 0;
        int r;

        r = lab_store_jobs_list(s->store, rendering, 1, &jobs, &n);
        if (r < 0)
                return log_error_errno(r, "render: cannot list interrupted renders: %m");
        for (size_t i = 0; i < n; i++) {
                r = lab_store_job_move(s->store, jobs[i]->id, LAB_JOB_RENDERING, LAB_JOB_DOWNLOADED,
                                       NULL, NULL, NULL, NULL);
                if (r == -EPERM)
                        lab_log_illegal_transition(jobs[i]->id,
                                                   lab_job_state_to_string(LAB_JOB_RENDERING),
                                                   lab_job_state_to_string(LAB_JOB_DOWNLOADED));
                else if (r < 0)
                        log_error_errno(r, "job %s: cannot restart its render: %m", jobs[i]->id);
                else
                        log_notice("job %s: its render was interrupted; rendering it again",
                                   jobs[i]->id);
        }
        lab_store_jobs_free(jobs, n);
        r = lab_timer_arm(s->event, &s->retry_timer, RETRY_HELD_USEC, on_retry_timer, s,
                          "render-retry");
        if (r < 0)
                return log_error_errno(r, "render: cannot arm the retry timer: %m");
        s->retry_held = true;
        lab_render_stage_kick(s);
        return 0;
}

void lab_render_stage_kick(lab_render_stage_t *s)
{
        if (s && s->defer)
                sd_event_source_set_enabled(s->defer, SD_EVENT_ONESHOT);
}

const char *lab_render_stage_status(lab_render_stage_t *s)
{
        snprintf(
            s->status, sizeof s->status,
            "renders: %u running on %u worker(s), %lu done, %lu rejected, %lu held, %lu failed",
            s->in_flight, s->workers, s->rendered, s->rejected, s->held, s->failed);
        return s->status;
}

void lab_render_stage_free(lab_render_stage_t *s)
{
        if (!s)
                return;
        s->stopping = true;
        lab_pool_free(s->pool);
        sd_event_source_disable_unref(s->defer);
        sd_event_source_disable_unref(s->retry_timer);
        sd_event_unref(s->event);
        free(s->render_dir);
        free(s);
}
