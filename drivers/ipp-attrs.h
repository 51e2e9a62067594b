/*
 * ipp-attrs.h - pure conversions of IPP responses into the printer
 * interface's structs (status, capabilities, job status).
 *
 * Why: the network half of the IPP driver (printer-ipp.c) only sends
 * requests; everything it learns from a printer passes through these
 * functions, which do no I/O and so can be tested on ipp_t messages built
 * in memory, hostile ones included. Values come from the network: every
 * string is bounded, every number range-checked, wrong value tags ignored.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cups/ipp.h>

#include "printer.h"

/* IPP printer-state enum (3 idle, 4 processing, 5 stopped) → ours; unknown values: idle. */
lab_printer_state_t lab_ipp_printer_state(int ipp_state);

/* IPP job-state enum (3..9) → ours; unknown values: LAB_PJOB_UNKNOWN. */
lab_pjob_state_t lab_ipp_job_state(int ipp_job_state);

/*
 * Parse one PWG 5100.13 printer-supply value ("index=1;class=...;type=ribbonWax;
 * unit=percent;maxcapacity=100;level=80;colorantname=multi-color;") of len bytes
 * (not NUL-terminated) into out's type, kind, color, level (percent, -1
 * unknown), some_left (level -3), amount, capacity and unit. Keys are read
 * wherever they are and whichever are missing; a key given twice with two
 * values is unknown (never a guess between them). Every other field of out
 * is set to unknown. Returns the supply's index (>= 0, -1 when absent) or
 * -EINVAL when the value has no usable key=value pair.
 */
int lab_ipp_supply_parse(const char *value, size_t len, lab_supply_t *out);

/*
 * Parse one PWG 5100.13 printer-input-tray value ("type=sheetFeedAutoRemovableTray;
 * mediafeed=0;mediaxfeed=0;maxcapacity=250;level=100;status=0;name=main;") the
 * same way into *out (kind paper): name (its name=, else medianame, else
 * type), type, amount and capacity (unit: capacityunit, else sheets), level in
 * percent of the capacity. 0, or -EINVAL without a usable key=value pair.
 */
int lab_ipp_tray_parse(const char *value, size_t len, lab_supply_t *out);

/* Gutenprint's marker-message forms (dyesub backends, one value per marker). */
typedef enum lab_ipp_marker_form_e {
        LAB_IPP_MARKER_OTHER,       /* none of these: no count */
        LAB_IPP_MARKER_COUNT,       /* "N native prints remaining on NAME media" */
        LAB_IPP_MARKER_UNAVAILABLE, /* "Unable to query remaining prints on NAME media" */
        LAB_IPP_MARKER_UNKNOWN,     /* "Unknown remaining prints on NAME media" */
        LAB_IPP_MARKER_SOME_LEFT,   /* "One or more remaining prints on NAME media" */
} lab_ipp_marker_form_t;

/*
 * Which of Gutenprint's four forms message is, exactly (surrounding quotes
 * and blanks aside: the backend quotes each value). *ret_count (may be NULL)
 * gets N for COUNT, else -1; media (may be NULL) gets NAME, "" when there is
 * none ("N native prints remaining" alone is a COUNT without a name).
 */
lab_ipp_marker_form_t lab_ipp_marker_parse(const char *message, long *ret_count, char *media,
                                           size_t size);

/* Prints remaining in a marker-message: N of Gutenprint's count form, else -1. */
long lab_ipp_marker_remaining(const char *message);

/*
 * The printer's reasons when a job ended badly, from a printer-state-reasons
 * or job-printer-state-reasons attribute: ret->printer_reasons (comma-
 * separated) and ret->fault, the first error fault among them
 * (lab_printer_fault_of: media-jam-error gives media_jam), "" for none.
 */
void lab_ipp_job_fault_from(ipp_attribute_t *reasons, lab_pjob_status_t *ret);

/*
 * Fill *ret from a Get-Printer-Attributes response: state, reasons, supplies
 * (printer-supply, else marker-*, with marker-low/high-levels), marker-message
 * counts matched to the supplies by media name (in order where names do not
 * match), input trays, media, supplies_age (marker-change-time against
 * printer-up-time) and printer-impressions-completed.
 */
void lab_ipp_printer_status_from(ipp_t *resp, lab_printer_status_t *ret);

/*
 * Fill *ret (zeroed by the caller) from a Get-Printer-Attributes response.
 * document-format-supported is gathered from every occurrence, without
 * duplicates. 0, or -ENOMEM (then *ret is freed and zeroed).
 */
int lab_ipp_caps_from(ipp_t *resp, lab_printer_caps_t *ret);

/* Fill *ret from a Get-Job-Attributes response (job-state, reasons, message, impressions). */
void lab_ipp_job_status_from(ipp_t *resp, lab_pjob_status_t *ret);

/*
 * In a Get-Jobs response, the job named job_name (exact match; the highest
 * job-id if several): 0 with *ret_job_id and *ret_status, or -ENOENT.
 * *ret_oldest_end (may be NULL) gets, in either case, the earliest
 * time-at-completed (printer-up-time seconds) of the finished jobs
 * (completed, canceled, aborted) the response lists, -1 when none has one.
 */
int lab_ipp_find_job(ipp_t *resp, const char *job_name, int *ret_job_id,
                     lab_pjob_status_t *ret_status, int64_t *ret_oldest_end);

/*
 * The printer's clock in a Get-Printer-Attributes response: 0 with *ret_up =
 * printer-up-time (s) and *ret_is_uptime telling whether it counts from the
 * printer's start, or -ENOENT without a usable printer-up-time. It is a wall
 * clock, not an up-time, where it lies within a day of printer-current-time
 * (cupsd answers the current epoch time), or, without printer-current-time,
 * where it is over ten years: no printer has been up that long.
 */
int lab_ipp_up_time(ipp_t *resp, int64_t *ret_up, bool *ret_is_uptime);
