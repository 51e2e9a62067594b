/*
 * console.h - what the daemon answers to labctl (docs/control.md,
 * "Commands").
 *
 * Why: the control socket (console-control.c) only moves lines; this module reads
 * the store and the print stage to show technicians where every job,
 * printer, stock item and energy meter stands, and carries out their
 * actions (pause, resume, reprint, printed, stock entries) through the same
 * store calls and print-stage and telemetry hooks as the daemon's own work.
 * It runs on the loop thread, like everything that writes the store.
 */
#pragma once

#include <time.h>

#include <jansson.h>

#include "config.h"
#include "console-control.h"
#include "print-stage.h"
#include "store.h"

typedef struct lab_console_s {
        lab_store_t *store;
        lab_print_stage_t *print;          /* NULL before printing starts */
        lab_telemetry_t *telemetry;        /* stock and quality; NULL before printing starts */
        const lab_config_t *const *config; /* the daemon's config in force */
        time_t started_at;
        /* The daemon's one-line status (STATUS=), or NULL. */
        const char *(*status_line)(void *userdata);
        /* Called after the console changed something the loop must act on. */
        void (*changed)(void *userdata);
        void *userdata;
} lab_console_t;

/* Answer one allowed request (a lab_control_handler_t; userdata is the lab_console_t). */
json_t *lab_console_answer(const lab_control_request_t *req, const lab_control_peer_t *peer,
                           void *userdata);
