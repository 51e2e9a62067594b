/*
 * print-stage.h - from rendered to printed, exactly once, through the
 * printer drivers.
 *
 * Why: this is where a lab loses money (a copy printed twice) or a customer
 * (a copy lost). Every copy is sent under a stable job name
 * "job/copy/attempt", and the attempt is written to the store BEFORE the
 * driver is called. After a crash, each printer is first asked, by those
 * names, about every copy that was on its way or printing, before anything
 * new is sent to it. A copy the printer has forgotten while it was printing
 * is held as uncertain for a person, never printed again on a guess.
 *
 * Each printer has one driver handle, used by one worker thread at a time:
 * a slow or frozen printer holds only its own work. At most
 * printers[].queue_depth copies are at a printer at once; the rest wait in
 * the store, where they can still be moved. A printer that cannot print
 * (lab_printer_status_available) is marked unavailable with its reason, and
 * its queued jobs that have nothing at the printer are rerouted: rendered
 * again for another printer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "render-printer-color.h"
#include "store.h"
#include "telemetry-stage.h"

typedef struct lab_print_stage_s lab_print_stage_t;

/* Called on the loop after the stage appended events, or when a job went back to rendering. */
typedef void (*lab_print_stage_hook_t)(void *userdata);

/* Create the stage; nothing is sent before lab_print_stage_start. */
int lab_print_stage_new(lab_print_stage_t **ret, sd_event *e, lab_store_t *store);

/*
 * The config in force (at start and after every reload; it must outlive
 * the next call). Printers that appeared are opened, printers that went
 * away are closed once their current call ends.
 */
void lab_print_stage_set_config(lab_print_stage_t *s, const lab_config_t *c,
                                const lab_color_setup_t *color);

/* Who hears of every status read, capabilities and print (telemetry-stage.h); NULL: nobody.
   It must outlive the stage. */
void lab_print_stage_set_telemetry(lab_print_stage_t *s, lab_telemetry_t *t);

/* events: after events were appended; rerouted: after jobs went back to be rendered. */
void lab_print_stage_set_hooks(lab_print_stage_t *s, lab_print_stage_hook_t events,
                               lab_print_stage_hook_t rerouted, void *userdata);

/* Start: reconcile every printer, then print. */
int lab_print_stage_start(lab_print_stage_t *s);

/* Rendered jobs may be waiting: queue them soon. */
void lab_print_stage_kick(lab_print_stage_t *s);

/*
 * Why printer cannot take a job for media (PWG size name) as format (MIME
 * type) now ("keyword: sentence" into buf), or NULL when it can, or when
 * nothing is known yet. For the router. Keywords: the printer's health
 * (lab_printer_status_available), media_not_loaded (the printer reports
 * what is loaded and the size is not among it), format_unsupported (the
 * printer lists its document formats and this is not one), printer_refused
 * (its model lists the size, the printer has no size that is it, or two)
 * and media_size_mismatch (its queue would crop or resample the model's
 * pixels for that size), both from its capabilities. Media type
 * (glossy, matte) is not compared: dye-sublimation printers make both from
 * the same ribbon.
 */
const char *lab_print_stage_unfit(lab_print_stage_t *s, const char *printer, const char *media,
                                  const char *format, char *buf, size_t size);

/*
 * The platform canceled a job that reached a printer: its queued copies are
 * canceled now, the ones at the printer are canceled there by a driver call
 * on the printer's worker. Returns 0 (the cancellation is under way).
 */
int lab_print_stage_cancel(lab_print_stage_t *s, const char *job_id);

/* The sentence of a pause: "printer_paused: paused by WHO at WHEN: WHY; ...". */
void lab_print_stage_pause_reason(char *buf, size_t size, const lab_store_pause_t *pause);

/*
 * A technician paused (pause not NULL: already stored) or resumed (pause
 * NULL, printer named) a printer. Paused, it is sent nothing new; its
 * queued copies wait for it (they are not rerouted); the router sees it as
 * unfit with the pause's sentence; the platform hears a printer.status.
 * -ENOENT when the stage does not drive that printer (disabled, not opened).
 */
int lab_print_stage_pause(lab_print_stage_t *s, const lab_store_pause_t *pause,
                          const char *printer);

/* What the console shows of a printer. */
typedef struct lab_print_stage_info_s {
        bool open;      /* the stage drives it */
        bool known;     /* its health was read at least once */
        bool available; /* it takes work now */
        bool paused;
        const char *state; /* idle, processing, stopped, unreachable, unknown */
        char reason[LAB_ERROR_KEYWORD_MAX + LAB_ERROR_MESSAGE_MAX + 8]; /* why not, or "" */
        int64_t boot; /* when the printer last started (CLOCK_REALTIME s), 0 unknown */
} lab_print_stage_info_t;

/* Fill info for printer; -ENOENT (info says "unknown") when the stage does not drive it. */
int lab_print_stage_info(lab_print_stage_t *s, const char *printer, lab_print_stage_info_t *info);

/* One line for STATUS=. */
const char *lab_print_stage_status(lab_print_stage_t *s);

/* Stop: waits for driver calls in progress and records them. NULL is fine. */
void lab_print_stage_free(lab_print_stage_t *s);
