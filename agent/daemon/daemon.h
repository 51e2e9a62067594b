/*
 * daemon.h - the labagent process: configuration, store and the sd-event loop.
 *
 * Why: one object owns everything a running agent holds (the loaded config,
 * the store, the state-directory lock, the event loop) so that start-up,
 * reload and shutdown each happen in exactly one place, in one order.
 */
#pragma once

#include <stdbool.h>

/* Process exit codes, documented in labagent(8) and docs/configuration.md. */
enum {
        LAB_EXIT_OK = 0,             /* clean stop */
        LAB_EXIT_FAILURE = 1,        /* unexpected failure */
        LAB_EXIT_USAGE = 2,          /* bad command line */
        LAB_EXIT_STORE_REFUSED = 65, /* store corrupt or from a newer labagent (EX_DATAERR) */
        LAB_EXIT_LOCKED = 75,        /* another labagent holds the state directory (EX_TEMPFAIL) */
        LAB_EXIT_CONFIG = 78,        /* invalid configuration (EX_CONFIG) */
};

typedef struct lab_daemon_options_s {
        const char *config_path; /* --config */
        const char *state_dir;   /* --state-dir, NULL for the config's */
        int log_level;           /* --log-level, -1 for the config's */
        const char *argv0;       /* argv[0], for libvips */
} lab_daemon_options_t;

/* Load the config, lock the state directory, open the store, run the loop until SIGTERM. Returns an
 * exit code. */
int lab_daemon_main(const lab_daemon_options_t *opts);
