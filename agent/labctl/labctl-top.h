/*
 * labctl-top.h - `labctl top`: the live view of the lab.
 *
 * Why: a technician at the printers wants one screen that keeps itself up
 * to date (printers, what needs a person, what is printing) and lets them
 * pause and resume a printer without typing its name. It asks the daemon
 * for `status` and `jobs` every interval on one kept connection, and rides
 * out a daemon restart ("agent not reachable — retrying") instead of
 * exiting. `--batch N` prints N frames as plain text for scripts and tests.
 */
#pragma once

#include "labctl-format.h"

typedef struct lab_ctl_top_args_s {
        const char *socket; /* control socket path */
        double interval;    /* seconds between refreshes (0.5 to 60) */
        unsigned batch;     /* frames to print as plain text; 0: the full-screen view */
        lab_ctl_fmt_t fmt;  /* colour, UTF-8 and width of the batch output */
} lab_ctl_top_args_t;

/*
 * Run the live view (needs a terminal on stdout) or the batch frames.
 * Returns labctl's exit status: 0 after q or the last frame; 69 or 77 when
 * the first connection fails; 77 when the daemon refuses `status`.
 */
int lab_ctl_top_run(const lab_ctl_top_args_t *args);
