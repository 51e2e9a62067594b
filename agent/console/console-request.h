/*
 * console-request.h - a console request, parsed and checked, and who may
 * send it (docs/control.md).
 *
 * Why: the control socket is open to every local user, so each line that
 * arrives on it is untrusted input. This module turns one line into a typed
 * request or a bad_request with a sentence, and decides a caller's role from
 * the kernel's credentials. Pure: no I/O, fuzzed by fuzz-control.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "error.h"
#include "job-state.h"
#include "stock.h"

/* The longest request line, newline included. */
#define LAB_CONTROL_LINE_MAX 65536

typedef enum lab_control_cmd_e {
        LAB_CONTROL_STATUS,
        LAB_CONTROL_JOBS,
        LAB_CONTROL_JOB,
        LAB_CONTROL_PRINTERS,
        LAB_CONTROL_PAUSE,
        LAB_CONTROL_RESUME,
        LAB_CONTROL_REPRINT,
        LAB_CONTROL_PRINTED,
        LAB_CONTROL_STOCK,        /* "stock" */
        LAB_CONTROL_STOCK_ADJUST, /* "stock.adjust" */
        LAB_CONTROL_ENERGY,       /* "energy" */
        LAB_CONTROL_CMD_MAX,
} lab_control_cmd_t;

typedef enum lab_control_role_e {
        LAB_CONTROL_ROLE_NONE,     /* may do nothing */
        LAB_CONTROL_ROLE_VIEWER,   /* may look */
        LAB_CONTROL_ROLE_OPERATOR, /* may look and act */
} lab_control_role_t;

/* One request; the strings point into root, which the request owns. */
typedef struct lab_control_request_s {
        lab_control_cmd_t cmd;
        json_t *root;
        const char *printer;                       /* pause, resume, stock.adjust; stock or NULL */
        const char *reason;                        /* pause, or NULL */
        const char *job;                           /* job (its "id"), reprint, printed */
        int copy;                                  /* reprint, printed; 0 when not given */
        const char *defect;                        /* reprint */
        const char *note;                          /* reprint, stock.adjust, or NULL */
        const char *item;                          /* stock.adjust: the stock item's name */
        const char *meter;                         /* energy: one meter, or NULL: every one */
        lab_stock_action_t action;                 /* stock.adjust */
        double amount;                             /* stock.adjust: finite, >= 0 */
        lab_job_state_t states[LAB_JOB_STATE_MAX]; /* jobs */
        size_t n_states;                           /* 0: the unfinished states */
        unsigned limit;                            /* jobs: 1..1000, default 100 */
} lab_control_request_t;

/*
 * Parse one request line (without its newline). Error keywords: bad_request
 * (not a JSON object, no or unknown cmd, a field missing or of the wrong
 * type or length, a stock action that is none of load, set, add, remove, an
 * amount that is not a number >= 0), bad_defect. On error nothing is left to
 * free.
 */
int lab_control_request_parse(const char *line, size_t len, lab_control_request_t *req,
                              lab_error_t *err);

/* Free what a parsed request holds. */
void lab_control_request_done(lab_control_request_t *req);

/* The command's name as on the wire ("status"), or NULL. */
const char *lab_control_cmd_to_string(lab_control_cmd_t cmd);

/* Whether role may run cmd. */
bool lab_control_allowed(lab_control_cmd_t cmd, lab_control_role_t role);

/* The role's name ("operator", "viewer", "none"). */
const char *lab_control_role_to_string(lab_control_role_t role);

/*
 * The role of a caller with uid and supplementary groups gids (from the
 * kernel): operator for root, for the daemon's own uid (self) and for
 * members of operators; viewer for members of viewers; else none. A group
 * that does not exist is passed as (gid_t)-1 and matches no one.
 */
lab_control_role_t lab_control_role(uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids,
                                    uid_t self, gid_t operators, gid_t viewers);

/* Whether defect is one of the documented defect keywords. */
bool lab_control_defect_valid(const char *defect);
