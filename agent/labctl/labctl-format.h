/*
 * labctl-format.h - the daemon's answers (docs/control.md) as text for a
 * technician's terminal.
 *
 * Why: what `labctl status`, `labctl jobs`, `labctl top --batch` and the
 * live view print must be right to the column, and that is only testable
 * when the formatting is pure: these functions take a parsed answer and a
 * lab_ctl_fmt_t (the clock ages are computed against, whether to colour,
 * the terminal's width) and write to a FILE *, nothing else. Everything the
 * daemon sends is untrusted here: missing or mistyped fields print as "-",
 * and control characters (a technician's pause reason, a printer's state
 * message) are replaced so that nothing the daemon relays can drive the
 * terminal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

/* How to format: filled by labctl from the terminal, by the tests by hand. */
typedef struct lab_ctl_fmt_s {
        time_t now;     /* ages are computed against this (the answer's agent.now if any) */
        bool color;     /* ANSI colours: only when stdout is a terminal */
        bool utf8;      /* the terminal takes UTF-8; else non-ASCII shows as '?' */
        unsigned width; /* terminal columns the tables should fit in; 0: no limit */
} lab_ctl_fmt_t;

/* Every defect keyword `reprint` takes, in the order docs/control.md lists them. */
extern const char *const lab_ctl_defects[];
#define LAB_CTL_N_DEFECTS 9

/* Whether s is one of lab_ctl_defects. */
bool lab_ctl_defect_valid(const char *s);

/* Number of UTF-8 characters in s (what the daemon's "at most N characters" counts). */
size_t lab_ctl_utf8_length(const char *s);

/* The answer's agent.now when present and valid, else fallback. */
time_t lab_ctl_answer_now(const json_t *answer, time_t fallback);

#define LAB_CTL_AGE_MAX 24

/*
 * A duration for a person: "45s", "4m", "2h10m", "2h", "3d" (negative
 * durations, from clocks that disagree, show as "0s"). Writes into buf
 * (LAB_CTL_AGE_MAX is enough) and returns it.
 */
char *lab_ctl_format_age(long long seconds, char *buf, size_t size);

/*
 * How a string from the daemon is shown: tab, newline and carriage return
 * become a space, other control characters (C0, DEL, C1), invalid UTF-8 and,
 * when !utf8, every non-ASCII byte become '?'. Returns a new string or NULL
 * (out of memory); NULL in gives "-".
 */
char *lab_ctl_clean(const char *s, bool utf8);

/*
 * A job's copies ({"printed": 1, "queued": 1}) in a few words:
 * "1/2 printed", with ", 1 uncertain" / ", 1 failed" when there are such
 * copies; "-" when there are none. Writes into buf and returns it.
 */
char *lab_ctl_format_copies(const json_t *copies, char *buf, size_t size);

/* `labctl status`: agent, platform, printers, job counts, energy, needs attention. */
void lab_ctl_format_status(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* The agent and platform lines of a status answer (the first lines of the overview). */
void lab_ctl_format_status_header(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* The job counts of a status answer on one line ("Jobs: 2 printing, 5 queued"). */
void lab_ctl_format_counts(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/*
 * The printers table (an array of PRINTER): a header line, then one line
 * per printer in the array's order; with_driver adds the DRIVER column and,
 * last, STOCK (the worst item's state) and DEFECTS/24H ("1.2%").
 */
void lab_ctl_format_printer_table(FILE *f, const json_t *printers, bool with_driver,
                                  const lab_ctl_fmt_t *o);

/* "Needs attention": the stuck jobs of a status answer, or a line saying there are none. */
void lab_ctl_format_stuck(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* The jobs table (an array of JOB), with no footer; nothing for an empty array. */
void lab_ctl_format_job_table(FILE *f, const json_t *jobs, const lab_ctl_fmt_t *o);

/* `labctl jobs`: the table, then "N of TOTAL shown". */
void lab_ctl_format_jobs(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl job ID`: the job's detail block, then its copies table. */
void lab_ctl_format_job(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl printers`: the printers table with the DRIVER, STOCK and DEFECTS/24H columns. */
void lab_ctl_format_printers(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl pause`: one sentence of what was done. */
void lab_ctl_format_paused(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl resume`: one sentence of what was done. */
void lab_ctl_format_resumed(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl reprint`: one sentence; defect is the keyword the request sent. */
void lab_ctl_format_reprinted(FILE *f, const json_t *answer, const char *defect,
                              const lab_ctl_fmt_t *o);

/* `labctl printed`: one sentence; copy is the copy the request named. */
void lab_ctl_format_printed(FILE *f, const json_t *answer, long long copy, const lab_ctl_fmt_t *o);

/*
 * `labctl stock [PRINTER]`: the items table (ITEM, SOURCE, REMAINING, UNIT,
 * LEVEL, STATE, AS OF, DRIFT; PRINTER first when printer is NULL, the
 * answer being every printer's), unknown figures as "-"; a sentence when
 * there are no items.
 */
void lab_ctl_format_stock(FILE *f, const json_t *answer, const char *printer,
                          const lab_ctl_fmt_t *o);

/*
 * `labctl energy [METER]`: the meters table (METER, STATE, W, KWH-TODAY,
 * WH/PRINT-24H, LAST-ERROR with its age), unknown figures as "-" (a meter in
 * fault has no power); a sentence when there are no meters.
 */
void lab_ctl_format_energy(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/*
 * The energy line of a status answer: "Energy: 2 meters, 1 ok, 1 fault
 * (panel: meter_timeout), 450 W now" or "Energy: no meters"; nothing when
 * the answer has no "energy" (an agent without meters support).
 */
void lab_ctl_format_energy_line(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/* `labctl stock load|set|add|remove`: one sentence of the item after it. */
void lab_ctl_format_stock_adjusted(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/*
 * A refusal ({"ok": false, "error": K, "message": M}) as "K: M" (no newline,
 * no "labctl: " prefix); a malformed one as "bad_answer: ...".
 */
void lab_ctl_format_refusal(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/*
 * One frame of `labctl top --batch`: the status overview, then "Active jobs"
 * and the jobs table of a jobs answer (jobs may be NULL: no such section).
 */
void lab_ctl_format_frame(FILE *f, const json_t *status, const json_t *jobs,
                          const lab_ctl_fmt_t *o);

/* The "Active jobs (N of TOTAL)" title and table of a jobs answer. */
void lab_ctl_format_active_jobs(FILE *f, const json_t *jobs, const lab_ctl_fmt_t *o);
