/*
 * render-stage.h - the daemon's render step: every downloaded job is given
 * a printer and rendered for it on the worker pool.
 *
 * Why: a downloaded print master is not yet printable. This stage picks the
 * printer (job-router.h) among those that can do the product, renders the master
 * with that printer's paper profile (render-plan.h, render.h) on a bounded
 * pool of worker threads, and records the outcome on the loop thread in one
 * store transaction with its event: job.rendered with the audit record (and
 * job.quality_warning above render.gamut_warn), job.rejected for an input
 * that can never print (corrupt image, CMYK without a profile, ...),
 * job.held when no printer can do it or the output cannot be written (tried
 * again every minute and after a reload), job.failed for anything else.
 *
 * Crash safety: the job is moved to "rendering" before the work starts; a
 * job found in "rendering" at start-up is rendered again (a render is
 * deterministic and writes its output atomically). A job canceled while it
 * renders keeps its cancellation: the compare-and-set of the result fails
 * and the output is deleted.
 */
#pragma once

#include <stddef.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "render-printer-color.h"
#include "store.h"

typedef struct lab_render_stage_s lab_render_stage_t;

/* Called on the loop after the stage appended events (to deliver the outbox). */
typedef void (*lab_render_stage_hook_t)(void *userdata);

/*
 * Create the stage: render_dir receives the print files; workers is the
 * number of renders at once (render.workers, 0 = one per CPU core).
 */
int lab_render_stage_new(lab_render_stage_t **ret, sd_event *e, lab_store_t *store,
                         const char *render_dir, unsigned workers);

/*
 * The config and colour setup in force (at start and after every reload;
 * both must outlive the next call or lab_render_stage_free). Held jobs are
 * tried again.
 */
void lab_render_stage_set_config(lab_render_stage_t *s, const lab_config_t *c,
                                 const lab_color_setup_t *color);

/*
 * Why printer cannot take a job for media (PWG size) in format (MIME type)
 * now ("keyword: sentence" in buf), or NULL: for the router.
 */
typedef const char *(*lab_render_stage_health_t)(const char *printer, const char *media,
                                                 const char *format, char *buf, size_t size,
                                                 void *userdata);

/* Set where printer health comes from (the print stage). */
void lab_render_stage_set_health(lab_render_stage_t *s, lab_render_stage_health_t health,
                                 void *userdata);

/* Printers changed (one came back, a job was rerouted): try held jobs again now. */
void lab_render_stage_retry_held(lab_render_stage_t *s);

/* Set the hook called after events were appended. */
void lab_render_stage_set_hook(lab_render_stage_t *s, lab_render_stage_hook_t hook, void *userdata);

/*
 * Called on the loop for every render that wrote a print file, with the
 * seconds lab_render() took on its worker (CLOCK_MONOTONIC; queueing not
 * included): the metrics file's labagent_render_seconds.
 */
typedef void (*lab_render_stage_timing_t)(double seconds, void *userdata);

/* Set the timing hook (NULL: none). */
void lab_render_stage_set_timing(lab_render_stage_t *s, lab_render_stage_timing_t timing,
                                 void *userdata);

/* Start: jobs left in "rendering" by a crash go back to "downloaded"; look for work. */
int lab_render_stage_start(lab_render_stage_t *s);

/* A job may be ready to render (a download finished): look for work soon. */
void lab_render_stage_kick(lab_render_stage_t *s);

/* One line for STATUS=. */
const char *lab_render_stage_status(lab_render_stage_t *s);

/* Stop: waits for renders in progress and records them. NULL is fine. */
void lab_render_stage_free(lab_render_stage_t *s);
