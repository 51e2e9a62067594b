/*
 * job-state.h - the job state machine: which state may follow which.
 *
 * Why: a lab that prints an order twice loses money, one that loses an order
 * loses a customer. Every change of a job's state in the agent goes through
 * the one function of the store that writes jobs.state, which refuses
 * (-EPERM, nothing written) a transition this table does not allow, so no
 * code path can, say, take a printed job back to queued; the caller logs the
 * refusal (lab_log_illegal_transition). A new job is stored in a first
 * state the table allows too. The table is pure data, unit-tested over
 * every pair of states; this folder (job/) does no I/O.
 *
 *   claiming → accepted → downloading → downloaded → rendering → rendered → queued
 *     → submitting → printing → printed → reported
 *   side exits: rejected (input that can never print) · held (waits for the
 *   lab, with a reason) · rerouted (its printer failed before the job
 *   started: rendered again for another) · uncertain (a person must say
 *   whether it printed) · canceled · failed · dropped (not the lab's job)
 *   A technician who finds a print bad (labctl reprint) adds a copy: a
 *   printed or reported job goes back to printing, the only move out of a
 *   finished state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum lab_job_state_e {
        LAB_JOB_CLAIMING, /* stored as offered, the claim (accept) sent or about to be */
        LAB_JOB_ACCEPTED,
        LAB_JOB_DOWNLOADING,
        LAB_JOB_DOWNLOADED,
        LAB_JOB_RENDERING,
        LAB_JOB_RENDERED,
        LAB_JOB_QUEUED,
        LAB_JOB_SUBMITTING,
        LAB_JOB_PRINTING,
        LAB_JOB_PRINTED,
        LAB_JOB_REPORTED,
        LAB_JOB_REJECTED,
        LAB_JOB_HELD,
        LAB_JOB_REROUTED,
        LAB_JOB_UNCERTAIN,
        LAB_JOB_CANCELED,
        LAB_JOB_FAILED,
        LAB_JOB_DROPPED,
        LAB_JOB_STATE_MAX,
        LAB_JOB_STATE_INVALID = -1,
} lab_job_state_t;

/* The state's keyword as stored ("downloaded"), or NULL for an invalid value. */
const char *lab_job_state_to_string(lab_job_state_t s);

/* The state for a keyword, or LAB_JOB_STATE_INVALID. */
lab_job_state_t lab_job_state_from_string(const char *s);

/* Whether s is one of the n states v. */
bool lab_job_state_in(lab_job_state_t s, const lab_job_state_t *v, size_t n);

/* Whether the job is finished here: nothing will happen to it any more. */
bool lab_job_state_is_final(lab_job_state_t s);

/* Whether from → to is allowed (pure). */
bool lab_job_state_can_move(lab_job_state_t from, lab_job_state_t to);

/*
 * Whether a new job may be stored in state s (pure): claiming (an offer
 * about to be claimed) or rejected (an offer refused before any claim). A
 * job reaches every other state by a move.
 */
bool lab_job_state_can_start(lab_job_state_t s);

/*
 * Where one copy of a job stands (copies table): queued → submitting →
 * printing → printed, or uncertain (a person must say whether it printed),
 * failed, canceled, rerouted (back to the render for another printer). The
 * store's copy writes and the print stage own the moves; this is the type
 * they pass between them, the keyword only in the SQL.
 */
typedef enum lab_copy_state_e {
        LAB_COPY_QUEUED,
        LAB_COPY_SUBMITTING,
        LAB_COPY_PRINTING,
        LAB_COPY_PRINTED,
        LAB_COPY_UNCERTAIN,
        LAB_COPY_FAILED,
        LAB_COPY_CANCELED,
        LAB_COPY_REROUTED,
        LAB_COPY_STATE_MAX,
        LAB_COPY_STATE_INVALID = -1,
} lab_copy_state_t;

/* The copy state's keyword as stored ("queued"), or NULL for an invalid value. */
const char *lab_copy_state_to_string(lab_copy_state_t s);

/* The copy state for a keyword, or LAB_COPY_STATE_INVALID. */
lab_copy_state_t lab_copy_state_from_string(const char *s);

/* How many copies of a job are in each copy state (copies table). */
typedef struct lab_copy_counts_s {
        unsigned queued, submitting, printing, printed, uncertain, failed, canceled;
} lab_copy_counts_t;

/*
 * The job's state from its copies' (pure): printed when every copy printed;
 * with copies still to go: printing once any copy reached the printer (or
 * ended), submitting while the first ones are being sent, else queued; with
 * none to go: uncertain if a person must decide about one, else failed if
 * one failed, else canceled (printed when the rest were canceled).
 * LAB_JOB_STATE_INVALID for no copies.
 */
lab_job_state_t lab_job_state_from_copies(const lab_copy_counts_t *c);
