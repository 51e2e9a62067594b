/*
 * printer-faults.h - which printer faults to tell, and when (pure).
 *
 * Why: a printer's state reasons come and go between two status reads (a
 * jam a technician clears in seconds, a media-low that hovers on a sensor's
 * edge). The platform must hear of a fault once when it is real and once
 * when it is gone, never a flood: printer.fault is a job-class event, never
 * shed. This module turns a stream of status reads into those changes, the
 * rule of issue 16 (part 5). It does no I/O, no logging and reads no clock:
 * the caller passes each read's time; the same reads always give the same
 * changes.
 *
 * The rule, per fault keyword (lab_printer_fault_of: several IPP reasons,
 * media-empty-report and media-needed say, are one fault):
 *
 *   - A read is a status whose state is not LAB_PRINTER_UNREACHABLE. An
 *     unreachable status is no read: it changes nothing, and does not break
 *     a run of reads.
 *   - RAISED after 2 reads in a row show it. The raise is dated at the first
 *     of the two (since).
 *   - CLEARED after 2 reads in a row without it. The clear is dated at the
 *     first of the two; duration_s is that date minus since.
 *   - FLAPPING: each raise (told or not) is a cycle, dated at its since. The
 *     raise that makes more than 4 cycles whose dates lie less than 15
 *     minutes (900 s) apart (the 5th) is told as one change with
 *     flapping=true and raised=true instead of a raise. While flapping, the
 *     fault still rises and clears, but nothing is told.
 *   - Flapping ENDS at the first read that agrees with the fault's state (it
 *     shows the fault and the fault is raised, or does not and it is
 *     cleared) 15 minutes or more after its last transition: one change with
 *     flapping=false and raised giving the state. When raised, since is that
 *     raise's date; when cleared, since and duration_s are 0 (a flapping
 *     fault's many raises have no one duration).
 *   - A change is told only if out has room for it; one that has not is
 *     left pending and told by a later read that still calls for it (with
 *     its first dates), so none is lost for want of room.
 *
 * The table holds LAB_FAULTS_MAX keywords. A slot is free again once its
 * fault is cleared, not flapping, not shown by the latest read, and none of
 * its raises is less than 15 minutes old (it can no longer count towards
 * flapping): it is dropped at the next update. A full table gives a new
 * keyword the slot of a cleared, not flapping fault the latest read did
 * not show (the one that changed longest ago, its raises forgotten). When
 * every slot holds a raised, flapping or showing fault, a new keyword is
 * ignored, neither tracked nor told, until a slot frees. (lab_printer_fault_of
 * has 13 keywords today, so the table cannot fill from real reasons.)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "printer.h"

#define LAB_FAULTS_MAX 16

/* One fault keyword being watched. Zero a lab_faults_t to start. */
typedef struct lab_fault_s {
        char keyword[32];        /* ours: media_jam, ... */
        lab_severity_t severity; /* LAB_SEVERITY_WARNING or LAB_SEVERITY_ERROR */
        unsigned seen, unseen;   /* reads in a row with / without it */
        bool raised;             /* as last told; while flapping it moves untold */
        bool flapping;
        int64_t since;      /* when it was last raised (the first read of the raise), s */
        int64_t changed_at; /* last transition (told or not), s */
        int64_t cycles[8];  /* times of recent raises, for the flapping rule */
        size_t n_cycles;
        char ipp_reasons[256]; /* the IPP reasons (with suffix) that gave it, comma-separated */
} lab_fault_t;

typedef struct lab_faults_s {
        lab_fault_t v[LAB_FAULTS_MAX];
        size_t n;
} lab_faults_t;

/* One change to tell (printer.fault). */
typedef struct lab_fault_change_s {
        const char *keyword; /* points into the lab_faults_t: valid until its next update */
        lab_severity_t severity;
        bool raised; /* true: raised, false: cleared */
        bool flapping;
        int64_t since;         /* when raised (the first read that showed it, for a raise) */
        int64_t duration_s;    /* for a clear: how long it was raised; 0 for a raise */
        char ipp_reasons[256]; /* the reasons of the last read that showed it, each with its
                                  suffix (-error, -warning; -report also for a reason sent
                                  without one: RFC 8011 reads no suffix as a report) */
} lab_fault_change_t;

/*
 * Feed one status read taken at `now` (s); write the changes to tell (at
 * most max) to out; return how many. A read changes each fault at most
 * once: out with LAB_FAULTS_MAX entries never leaves one pending.
 */
size_t lab_faults_update(lab_faults_t *f, const lab_printer_status_t *st, int64_t now,
                         lab_fault_change_t *out, size_t max);

/* The first raised fault of severity error (flapping or not), or NULL. */
const char *lab_faults_error(const lab_faults_t *f);
