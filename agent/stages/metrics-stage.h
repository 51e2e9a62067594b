/*
 * metrics-stage.h - the metrics file for the lab's own monitoring (metrics.textfile).
 *
 * Why: lab IT watches the lab with Prometheus, and nothing at the lab may
 * listen (docs/protocol.md, principle 1): no /metrics endpoint. With
 * metrics.textfile the agent writes a Prometheus text file (format 0.0.4)
 * that node_exporter's textfile collector serves: jobs per state, the
 * outbox, prints and defects per printer, whether each printer takes work,
 * stock figures, render times, energy meters (docs/metrics.md).
 *
 * The one idea: a 15 s timer gathers a snapshot (store, print stage,
 * render times), formats it (pure: lab_metrics_format) and writes it
 * atomically (lab_metrics_write_file: a temporary file, fsync, rename,
 * fsync of the directory), so node_exporter reads the old file or the new
 * one, never half of one. A quiet lab costs next to nothing: the store is
 * read only when it was written to, and the file is rewritten only when
 * its text changed (or every 5 minutes, so node_textfile_mtime_seconds
 * says the agent is alive). A file that cannot be written (no directory,
 * read-only, disk full) is logged once (metrics_write_failed) and tried
 * again at the next tick; it never stops the agent.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "error.h"
#include "print-stage.h"
#include "prom-text.h"
#include "stock.h"
#include "store.h"

/* How often the file is considered for a rewrite, and the longest it goes unwritten. */
#define LAB_METRICS_INTERVAL_USEC  (UINT64_C(15) * 1000000)
#define LAB_METRICS_HEARTBEAT_USEC (UINT64_C(300) * 1000000)

typedef struct lab_metrics_s lab_metrics_t;

/* Create the stage (it writes nothing before lab_metrics_set_config names a file). print:
   where printer_up comes from; it must outlive the stage's loop. */
int lab_metrics_new(lab_metrics_t **ret, sd_event *e, lab_store_t *store, lab_print_stage_t *print);

/*
 * The config in force (at start and after every reload; it must outlive
 * the next call): metrics.textfile NULL stops the timer; a new file is
 * written within a second. The file this stage wrote under another name, or
 * when metrics.textfile is gone, is deleted (two files with the same
 * metrics would make node_exporter refuse both).
 */
void lab_metrics_set_config(lab_metrics_t *m, const lab_config_t *c);

/* A render took seconds (a lab_render_stage_timing_t; userdata: the stage). */
void lab_metrics_render_timed(double seconds, void *userdata);

/* Stop (the file stays as last written). NULL is fine. */
void lab_metrics_free(lab_metrics_t *m);

/* ---- the parts, for the tests ---- */

/* A configured printer, as the print stage sees it. */
typedef struct lab_metrics_printer_s {
        const char *name;
        int up; /* 1: takes work, 0: does not (unreachable, stopped, paused), -1: unknown */
} lab_metrics_printer_t;

/* Everything one file shows. */
typedef struct lab_metrics_snapshot_s {
        const lab_metrics_printer_t *printers; /* the config's */
        size_t n_printers;
        const lab_store_metrics_t *store; /* jobs, outbox, prints and defects */
        const lab_stock_item_t *stock;    /* the configured printers' items */
        size_t n_stock;
        const lab_store_energy_meter_t *meters; /* the configured meters' rows */
        size_t n_meters;
        const lab_prom_histogram_t *render; /* render seconds since start, NULL: none */
} lab_metrics_snapshot_t;

/* The render-time buckets (seconds). */
extern const double lab_metrics_render_buckets[];
extern const size_t lab_metrics_render_n_buckets;

/*
 * The file's text for snap (pure; free() *ret). Unknown figures are left
 * out, never written as 0: a printer never read, a meter never read, a
 * power the meter does not give or a meter in fault, a stock figure not
 * known.
 */
int lab_metrics_format(const lab_metrics_snapshot_t *snap, char **ret, size_t *ret_len);

/*
 * Write n bytes of text to path atomically: PATH.tmp (mode 0644 whatever
 * the umask: node_exporter runs as another user), fsync, rename over path,
 * fsync of the directory. On failure the temporary file is removed and err
 * says what a person can do (keyword metrics_write_failed): the directory
 * missing, not writable (the unit's ReadWritePaths=), the disk full.
 */
int lab_metrics_write_file(const char *path, const char *text, size_t n, lab_error_t *err);
