/*
 * store.h - the agent's durable state: one SQLite file, owned by this module.
 *
 * Why: a lab must never lose a job nor print one twice, across crashes and
 * power cuts. All durable state lives in one SQLite database (WAL,
 * synchronous=FULL, foreign keys on). This module is the only one that
 * includes sqlite3.h or writes SQL; everyone else calls these functions.
 *
 * The schema is versioned with PRAGMA user_version and only ever migrated
 * forward. A database that is corrupt, or that a newer labagent wrote, is
 * refused with a clear error and left byte-for-byte untouched: it is never
 * recreated or truncated.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "job-state.h"
#include "stock.h"

typedef struct lab_store_s lab_store_t;

/* The schema version this build writes. */
int lab_store_schema_latest(void);

/*
 * Open (creating if absent) the store at path and migrate it to the latest
 * schema. Error keywords: store_open_failed, store_corrupt,
 * store_schema_newer, store_migration_failed, store_not_wal.
 */
int lab_store_open(lab_store_t **ret, /* O - store */
                   const char *path,  /* I - database file */
                   lab_error_t *err); /* O - why it was refused */

/* As lab_store_open, but migrate only up to target_version (tests, tools). */
int lab_store_open_version(lab_store_t **ret, const char *path, int target_version,
                           lab_error_t *err);

/* Close the store (NULL is fine). */
void lab_store_close(lab_store_t *s);

/* The schema version of the open database. */
int lab_store_schema_version(lab_store_t *s);

/*
 * The outbox.
 *
 * Every event the platform must hear about is appended here first and sent
 * later (docs/protocol.md, "Send events"): peek the oldest, send them, ack
 * the UUIDs the platform acknowledged. seq is per lab, strictly increasing
 * and never reused (AUTOINCREMENT), so gaps appear where events were acked
 * or shed. Job-class events are only ever deleted by an ack; telemetry may
 * also be shed when the outbox is over its cap.
 */
typedef enum lab_event_class_e {
        LAB_EVENT_JOB,       /* job progress and failures, lab.*: never dropped */
        LAB_EVENT_TELEMETRY, /* stock, energy, printer health samples: may be shed */
} lab_event_class_t;

/* One outbox event as stored (every string malloc'd; job_id may be NULL). */
typedef struct lab_store_event_s {
        int64_t seq;           /* per-lab sequence number */
        char *uuid;            /* the platform de-duplicates and acknowledges by it */
        char *kind;            /* stable event name, e.g. "job.accepted" */
        lab_event_class_t cls; /* job or telemetry */
        char *job_id;          /* the job it is about, or NULL */
        char *created_at;      /* when it was recorded, RFC 3339 UTC with milliseconds */
        char *body;            /* JSON object text */
} lab_store_event_t;

/*
 * Append an event to the outbox in one durable transaction. A UUID is
 * generated. -EINVAL (nothing stored) for an unknown class, an empty kind or
 * a body that is not a JSON object.
 */
int lab_store_event_append(lab_store_t *s,        /* I - store */
                           lab_event_class_t cls, /* I - job or telemetry */
                           const char *kind,      /* I - stable event name */
                           const char *job_id,    /* I - job it is about, or NULL */
                           const char *body_json, /* I - JSON object text */
                           int64_t *ret_seq);     /* O - its seq (may be NULL) */

/* Number of events in the outbox. */
int lab_store_event_count(lab_store_t *s, int64_t *ret);

/* Whether the outbox holds the event with this sequence number (1) or not (0). */
int lab_store_event_exists(lab_store_t *s, int64_t seq);

/*
 * The oldest events, by seq, at most max of them (none for max 0). *ret is
 * NULL when there are none; free it with lab_store_events_free().
 */
int lab_store_events_peek(lab_store_t *s,          /* I - store */
                          size_t max,              /* I - most events to return */
                          lab_store_event_t **ret, /* O - events, oldest first */
                          size_t *ret_n);          /* O - how many */

/* Free n events returned by lab_store_events_peek() (NULL is fine). */
void lab_store_events_free(lab_store_event_t *v, size_t n);

/*
 * Delete the events with these UUIDs (the platform acknowledged them), in one
 * transaction. A UUID the outbox does not hold (unknown, already deleted,
 * listed twice) is ignored and not counted. A job whose job.printed is
 * acknowledged moves from printed to reported in the same transaction (a
 * job no longer printed, reprinted meanwhile, stays as it is).
 * -EINVAL (nothing deleted) if any entry is NULL.
 */
int lab_store_events_ack(lab_store_t *s,           /* I - store */
                         const char *const *uuids, /* I - acknowledged UUIDs */
                         size_t n,                 /* I - how many */
                         size_t *ret_deleted);     /* O - events deleted (may be NULL) */

/*
 * Keep the outbox at or under cap events by shedding the oldest telemetry,
 * in one transaction. With C events in all and T telemetry events, when
 * C > cap it deletes N = min(T, C - cap + 1) telemetry events, oldest seq
 * first, and, if N > 0, appends the job-class event lab.telemetry_shed
 * {"dropped":N}. The "+ 1" makes room for that event: afterwards the outbox
 * holds C - N + 1 events, which is exactly cap when there was enough
 * telemetry, and more than cap (all job events plus the shed event) when
 * there was not. Job-class events are never deleted. C <= cap or T == 0:
 * nothing is written and *ret_dropped is 0. cap must be at least 1.
 */
int lab_store_events_shed(lab_store_t *s,        /* I - store */
                          int64_t cap,           /* I - platform.outbox_max_events */
                          int64_t *ret_dropped); /* O - N, telemetry events deleted (may be NULL) */

/*
 * Jobs.
 *
 * A job row is the job as this lab accepted it plus where it stands. Every
 * change of its state, whichever call makes it (move, rendered, queue,
 * reroute, a copy's change, a reprint, an acknowledged job.printed), is one
 * compare-and-set checked against the job state table (job/job-state.h) and
 * written with the job's outbox event in the same transaction: the state the
 * lab acts on and what the platform is told can never disagree after a
 * crash, and no call can make a move the table does not allow. A refused
 * move is -EPERM with nothing written; the store does not log it, the
 * caller does (lab_log_illegal_transition, with lab_store_job_refused when
 * the store chose the target). Reasons and event kinds are the caller's
 * stable keywords.
 */
typedef struct lab_store_job_s {
        char *id;              /* platform job id (primary key) */
        char *order_id;        /* customer order */
        char *sku;             /* product */
        int quantity;          /* copies, 1..1000 */
        char *priority;        /* "rush" or "standard"; NULL on insert means "standard" */
        char *deadline;        /* RFC 3339, or NULL */
        lab_job_state_t state; /* where the job stands */
        char *reason;          /* stable keyword of the last failure or stop, or NULL */
        char *detail;          /* the human sentence that goes with reason, or NULL */
        char *asset_url;       /* print master URL */
        char *asset_sha256;    /* its SHA-256, hex */
        int64_t asset_bytes;   /* its size */
        char *asset_type;      /* type sniffed from the bytes, or NULL */
        char *asset_path;      /* the downloaded file, NULL until then */
        int download_attempts; /* downloads tried so far */
        char *spec;            /* the job JSON object as accepted */
        char *created_at;      /* set by the store on insert (ignored by insert) */
        char *updated_at;      /* set by the store on every change (ignored by insert) */
        char *printer;         /* the printer it was rendered for (ignored by insert), or NULL */
} lab_store_job_t;

/*
 * Insert a job in state job->state and, if event_kind is not NULL, its
 * job-class outbox event, in one transaction: both or neither. -EEXIST
 * (nothing written) if a job with this id exists; -EPERM (nothing written)
 * for a state a job may not start in (lab_job_state_can_start: claiming or
 * rejected); -EINVAL (nothing written) for a missing field, a quantity
 * outside 1..1000, or a spec or event body that is not a JSON object.
 */
int lab_store_job_insert(
    lab_store_t *s,             /* I - store */
    const lab_store_job_t *job, /* I - the job (created_at, updated_at ignored) */
    const char *event_kind,     /* I - event to record with it, or NULL */
    const char *event_body);    /* I - its JSON object body */

/*
 * The platform refused a claim: delete the job if it is still in state
 * claiming (it was never the lab's). -ENOENT when there is no such claim.
 */
int lab_store_job_forget_claim(lab_store_t *s, const char *id);

/* Read the job id into a new *ret (free with lab_store_job_free). -ENOENT if absent. */
int lab_store_job_get(lab_store_t *s, const char *id, lab_store_job_t **ret);

/*
 * Move the job: the door every stage moves a job through. In one
 * transaction: if the job state table allows from_state → to_state and the
 * job's state is from_state, set state, reason, detail (NULL clears them)
 * and updated_at, and append the job-class event (if event_kind is not
 * NULL). -EPERM if the table does not allow the move or a state is unknown
 * (checked first), -ESTALE if its state is not from_state, -ENOENT if there
 * is no such job, -EINVAL for a missing argument or a bad event body: in
 * each case nothing is written.
 */
int lab_store_job_move(lab_store_t *s,             /* I - store */
                       const char *id,             /* I - job */
                       lab_job_state_t from_state, /* I - the state the caller saw */
                       lab_job_state_t to_state,   /* I - the new state */
                       const char *reason,         /* I - keyword, or NULL */
                       const char *detail,         /* I - sentence, or NULL */
                       const char *event_kind,     /* I - event to record, or NULL */
                       const char *event_body);    /* I - its JSON object body */

/*
 * After a call returned -EPERM because the job state table refused a move:
 * the move refused, *ret_from (LAB_JOB_STATE_INVALID for a new job's first
 * state) → *ret_to (each may be NULL to skip). The caller knows the job and
 * logs it (lab_log_illegal_transition); this tells it the states when the
 * store chose them (a copy's change moves the job where its copies say).
 * False, and LAB_JOB_STATE_INVALID, when the last write refused no move.
 */
bool lab_store_job_refused(lab_store_t *s, lab_job_state_t *ret_from, lab_job_state_t *ret_to);

/*
 * A job was rendered: in ONE transaction, compare-and-set its state
 * (from_state → to_state), record printer as the job's printer, keep the
 * render's audit record (a JSON object:
 * input/output sha256, profiles, intent, crop, scale, versions) in the
 * renders table, and append the job.rendered event {printer, output, audit},
 * plus job.quality_warning with quality_body when that is not NULL (a gamut
 * warning). -EPERM / -ESTALE / -ENOENT as lab_store_job_move, -EINVAL for an
 * audit that is not a JSON object; nothing is written on any failure.
 */
int lab_store_job_rendered(lab_store_t *s, const char *id, lab_job_state_t from_state,
                           lab_job_state_t to_state, const char *printer, const char *output_path,
                           const char *audit_json, const char *quality_body);

/*
 * The prints (sum of quantities) of jobs rendered for printer whose printing
 * has not finished (states rendered, queued, submitting, printing): the
 * router's backlog.
 */
int lab_store_printer_backlog(lab_store_t *s, const char *printer, int64_t *ret);

/* Record download progress: attempts so far, the file (or NULL), the sniffed type (or NULL). */
int lab_store_job_set_download(lab_store_t *s, const char *id, int download_attempts,
                               const char *asset_path, const char *asset_type);

/*
 * The jobs whose state is one of states (all jobs when n_states is 0),
 * oldest first (created_at, then id), read from one snapshot. *ret is NULL
 * when there are none; free it with lab_store_jobs_free().
 */
int lab_store_jobs_list(lab_store_t *s,                /* I - store */
                        const lab_job_state_t *states, /* I - states to list */
                        size_t n_states,               /* I - how many (0: every job) */
                        lab_store_job_t ***ret,        /* O - jobs */
                        size_t *ret_n);                /* O - how many */

/* How many jobs are in any of the states (0 for no states); -EINVAL for an invalid state. */
int lab_store_jobs_count(lab_store_t *s, const lab_job_state_t *states, size_t n_states,
                         int64_t *ret);

/*
 * Finished jobs whose time is up: at most max jobs in a final state
 * (reported, rejected, canceled, failed, dropped), last changed before
 * `before` (the store's UTC timestamp format), that still have their files;
 * their ids in *ret_ids (NULL-terminated, malloc'd; NULL when none).
 */
int lab_store_jobs_expired(lab_store_t *s, const char *before, size_t max, char ***ret_ids);

/* The job's files: its print master and every print file rendered for it (NULL-terminated). */
int lab_store_job_files(lab_store_t *s, const char *id, char ***ret_paths);

/* The job's files are deleted: forget the master's path (the render audit stays). */
int lab_store_job_files_gone(lab_store_t *s, const char *id);

/*
 * Offers rejected before any job row could exist (store-offers.c): the
 * offer itself is unusable (bad_job), so there is no valid id to key a job
 * on. Each is remembered by the SHA-256 (hex) of the offer's canonical JSON,
 * so the polls that list it again neither log nor report it, and the same
 * id with another body is judged again.
 */

/* Whether the offer with this digest was rejected already: 1, 0, or a negative errno. */
int lab_store_offer_known(lab_store_t *s, const char *digest);

/*
 * Remember a rejected offer and append its job.rejected event (job class,
 * job_id as offered, NULL for none) in one transaction: both or neither.
 * -EEXIST (nothing written) when the digest is known already; -EINVAL for a
 * digest that is not 64 characters, an empty reason or a body that is not a
 * JSON object.
 */
int lab_store_offer_reject(lab_store_t *s,          /* I - store */
                           const char *digest,      /* I - SHA-256 hex of the canonical offer */
                           const char *job_id,      /* I - the id as offered, or NULL */
                           const char *reason,      /* I - keyword (bad_job) */
                           const char *field,       /* I - the field at fault, or NULL */
                           const char *detail,      /* I - the sentence */
                           const char *event_body); /* I - job.rejected body, a JSON object */

/*
 * Forget the rejected offers remembered before `before` (the store's UTC
 * timestamp format): an offer listed again after that is reported again.
 */
int lab_store_offers_prune(lab_store_t *s, const char *before, int64_t *ret_deleted);

/* Free a job (NULL is fine). */
void lab_store_job_free(lab_store_job_t *j);
LAB_DEFINE_CLEANUP(lab_store_job_t *, lab_store_job_free)

/* Free n jobs returned by lab_store_jobs_list() (NULL is fine). */
void lab_store_jobs_free(lab_store_job_t **v, size_t n);

/*
 * Copies.
 *
 * A job's quantity is printed copy by copy, each in its own row: the state
 * of the copy (queued, submitting, printing, printed, uncertain, failed,
 * canceled), the printer, how many attempts were made, and the driver's
 * handle for the current one. The attempt's key "job/copy/attempt" is the
 * job name the printer knows it by. Every change to a copy recomputes the
 * job's state from all its copies (lab_job_state_from_copies) in the same
 * transaction, with the job events that change causes (job.printing,
 * job.printed, job.uncertain, job.failed).
 */
typedef struct lab_store_copy_s {
        char *job_id;
        int copy; /* 1-based */
        lab_copy_state_t state;
        char *printer; /* where it goes */
        int attempt;   /* attempts made; the current one's key uses this number */
        char *handle;  /* the driver's handle of the current attempt, or NULL */
        char *reason;  /* keyword of the last problem, or NULL */
        char *detail;  /* its sentence, or NULL */
        char *updated_at;
        /* from the job */
        char *priority; /* rush or standard */
        char *sku;
        char *job_created_at;
        char *output_path; /* the job's latest render for this printer, or NULL */
        char *order_id;
        lab_job_state_t job_state;
} lab_store_copy_t;

/*
 * A rendered job goes to its printer's queue: in one transaction, move the
 * job from from_state to queued, record its printer, create quantity
 * copies in state queued (copies rerouted from another printer are queued
 * again with their attempt counts), and append job.queued {printer, copies}.
 * -EPERM / -ESTALE / -ENOENT as lab_store_job_move (nothing written).
 */
int lab_store_job_queue(lab_store_t *s, const char *job_id, lab_job_state_t from_state,
                        const char *printer);

/* What lab_store_copy_move changes besides the state. */
typedef struct lab_store_copy_change_s {
        bool new_attempt;   /* attempt = attempt + 1 (before the key is used) */
        const char *handle; /* set the handle (NULL: clear it) */
        bool keep_handle;   /* leave the handle as it is */
        const char *reason; /* NULL clears */
        const char *detail; /* NULL clears */
        /* A move to printed: what the print used (lab_stock_uses), entered in the
           consumption ledger under the copy's attempt and taken off each item's count,
           in the same transaction; and a printed copy is tallied for printer.quality. */
        const lab_stock_use_t *uses;
        size_t n_uses;
        bool aborted; /* the printer aborted the copy: tallied for printer.quality */
} lab_store_copy_change_t;

/*
 * Compare-and-set a copy's state (from → to) with chg, append the copy's
 * event (event_kind with event_body, if not NULL), and move the job to the
 * state its copies now give it, with that move's event, all in one
 * transaction. A job already finished (canceled, dropped) keeps its state.
 * -ESTALE when the copy is not in from, -ENOENT when there is no such copy,
 * -EPERM when from is printed (a printed copy never moves; a reprint is a
 * new copy, lab_store_copy_reprint) or the job state table refuses the job's
 * move to its new state (lab_store_job_refused says which): nothing written.
 * *ret_attempt (may be NULL) is the copy's attempt number after the change.
 */
int lab_store_copy_move(lab_store_t *s, const char *job_id, int copy, lab_copy_state_t from,
                        lab_copy_state_t to, const lab_store_copy_change_t *chg,
                        const char *event_kind, const char *event_body, int *ret_attempt);

/*
 * The copies for printer (all printers when NULL) whose state is one of
 * states (all when n_states is 0): rush first, then the job's age, then
 * job id and copy. *ret is NULL when there are none; -EINVAL for an invalid
 * state.
 */
int lab_store_copies_list(lab_store_t *s, const char *printer, const lab_copy_state_t *states,
                          size_t n_states, lab_store_copy_t ***ret, size_t *ret_n);

/* Free a copy list (NULL is fine). */
void lab_store_copies_free(lab_store_copy_t **v, size_t n);

/*
 * The job leaves its printer while none of its copies is there: in one
 * transaction, the job moves queued → rerouted with reason and detail, its
 * copies (all queued: never sent, or found not to be at the printer) move to
 * rerouted (keeping their attempt counts, so that the next printer gets
 * new job names), and job.rerouted {from, reason, detail} is appended. -ESTALE
 * (nothing written) when the job is not queued (a copy is on its way or
 * printed); -EBUSY when a copy ended otherwise. (queued → rerouted is a
 * legal move; it goes through the table's check like every other.)
 */
int lab_store_job_reroute(lab_store_t *s, const char *job_id, const char *reason,
                          const char *detail);

/*
 * The console (store-console.c): what technicians do through labctl. Each
 * call is one transaction with its audit record (actor, action, detail JSON).
 */

/* A printer paused from the console. */
typedef struct lab_store_pause_s {
        char *printer;
        char *by;     /* who paused it */
        char *reason; /* why, or NULL */
        char *since;  /* when, RFC 3339 UTC */
} lab_store_pause_t;

/* Pause printer (replacing an earlier pause's reason), with the audit record. */
int lab_store_printer_pause(lab_store_t *s, const char *printer, const char *by, const char *reason,
                            const char *actor, const char *audit_detail);

/* End printer's pause, with the audit record; *ret_was_paused (may be NULL) says if it was. */
int lab_store_printer_resume(lab_store_t *s, const char *printer, const char *actor,
                             const char *audit_detail, bool *ret_was_paused);

/* Every pause, by printer name. *ret is NULL when there are none. */
int lab_store_printer_pauses(lab_store_t *s, lab_store_pause_t **ret, size_t *ret_n);

/* Free n pauses (NULL is fine). */
void lab_store_pauses_free(lab_store_pause_t *v, size_t n);

/* A reprint asked for by a technician. */
typedef struct lab_store_reprint_s {
        const char *job_id;
        int copy; /* the bad (or uncertain) copy */
        const char
            *defect;       /* keyword (docs/control.md); "not_printed" re-sends an uncertain copy */
        const char *note;  /* or NULL */
        const char *by;    /* who */
        const char *actor; /* for the audit log */
        const char *job_name; /* the uncertain copy's current job name at the printer, or NULL */
        const char *media;    /* the product's media size name (job.defect), or NULL unknown */
        /* An uncertain copy found printed (with a defect): what it used, as
           lab_store_copy_change_t.uses. */
        const lab_stock_use_t *uses;
        size_t n_uses;
        /* results */
        int reprint_copy;  /* the copy that will be printed */
        char printer[256]; /* where */
} lab_store_reprint_t;

/*
 * Reprint a copy (docs/control.md, "reprint"), in one transaction: an
 * uncertain copy with defect not_printed is queued again; otherwise an
 * uncertain copy is recorded printed (job.copy_printed) and, as for a
 * printed copy, a new copy is queued at the bad copy's printer. The job
 * follows its copies (a printed or reported job goes back to printing);
 * job.defect {copy, defect, note, by, reprint_copy, printer (the bad copy's),
 * sku, media} and the audit record are
 * written. -ENOENT no such job, -ENXIO no such copy, -EPERM the job state
 * table does not let the job go (back) to printing (it is canceled, failed,
 * ...) or refuses the move its copies give it (lab_store_job_refused says
 * which), -EBUSY the copy is neither printed nor uncertain; nothing is
 * written then.
 */
int lab_store_copy_reprint(lab_store_t *s, lab_store_reprint_t *rp);

/*
 * A person confirms an uncertain copy printed: uncertain → printed with
 * job.copy_printed {copy, printer, attempt, job_name, by}, the job following
 * its copies, what the print used (as lab_store_copy_change_t.uses), and the
 * audit record, in one transaction. -ENOENT / -ENXIO as
 * above, -EBUSY when the copy is not uncertain, -EPERM when the table refuses
 * the job's move (lab_store_job_refused); nothing is written then.
 */
int lab_store_copy_confirm_printed(lab_store_t *s, const char *job_id, int copy,
                                   const char *job_name, const char *by, const char *actor,
                                   const lab_stock_use_t *uses, size_t n_uses);

/* Every copy of a job, by copy number. *ret is NULL when there are none. */
int lab_store_job_copies(lab_store_t *s, const char *job_id, lab_store_copy_t ***ret,
                         size_t *ret_n);

/* Jobs per state: the callback is called once per state that has jobs. */
int lab_store_jobs_by_state(lab_store_t *s,
                            void (*fn)(lab_job_state_t state, int64_t n, void *userdata),
                            void *userdata);

/* Record an action in the audit log: who (e.g. "daemon", "labctl:uid=1000"), what, detail. */
int lab_store_audit_append(lab_store_t *s, const char *actor, const char *action,
                           const char *detail);

/*
 * Stock (store-stock.c; the rules are agent/stock/stock.h). Items are keyed
 * by printer and item name; the figures of a printer's items are what its
 * last status read said, those of declared items what the ledger and the
 * technicians left.
 */

/*
 * The config's consumables of printer (lab_stock_declared): new ones are
 * added with unknown figures, existing ones keep their figures and take the
 * declaration's kind, media, source, unit, capacity and threshold; counted
 * and technician items of printer no longer declared are removed. n 0
 * removes them all.
 */
int lab_store_stock_declare(lab_store_t *s, const char *printer, const lab_stock_item_t *items,
                            size_t n);

/*
 * What a status read of printer reported (lab_stock_from_status): its items
 * take these figures (and state), keeping what was told; printer items it no
 * longer reports are removed.
 */
int lab_store_stock_report(lab_store_t *s, const char *printer, const lab_stock_item_t *items,
                           size_t n);

/*
 * A declared item printer also counts (printers[].consumables[].supply): the
 * printer's count wins; drift becomes the agent's count less it (none when
 * the agent's count was unknown); nothing is written when the two agree.
 * -ENOENT without such a declared item.
 */
int lab_store_stock_printer_count(lab_store_t *s, const char *printer, const char *item,
                                  double count, int64_t as_of);

/* The items of printer (NULL: of every printer), by printer and item. free() *ret. */
int lab_store_stock_list(lab_store_t *s, const char *printer, lab_stock_item_t **ret,
                         size_t *ret_n);

/*
 * Record an item's judged state and, when told is not LAB_STOCK_UNKNOWN, the
 * state told, with its event (event_kind NULL: none; class job) in one
 * transaction. -ENOENT without such an item.
 */
int lab_store_stock_told(lab_store_t *s, const char *printer, const char *item,
                         lab_stock_state_t state, lab_stock_state_t told, const char *event_kind,
                         const char *event_body);

/* A technician's entry (labctl stock load|set|add|remove). */
typedef struct lab_store_stock_adjust_s {
        const char *printer, *item;
        lab_stock_action_t action;
        double amount;
        const char *by;      /* the person (stock.adjusted by) */
        const char *actor;   /* the audit actor */
        const char *note;    /* or NULL */
        unsigned hysteresis; /* stock.hysteresis */
        /* results */
        lab_stock_item_t result; /* the item after it */
        const char *state_event; /* "stock.ok", ... told with it, or NULL */
} lab_store_stock_adjust_t;

/*
 * Apply a technician's entry in one transaction: the item's new count
 * (lab_stock_apply), its state judged (a load is ok at once) and, if that
 * changes what was told, the state event; stock.adjusted {printer, item,
 * action, amount, unit, remaining, by, note} (class job) and the audit
 * record. -ENOENT no such item, -EPERM the printer counts it itself (source
 * printer), -ERANGE the count would go below zero; nothing written then.
 */
int lab_store_stock_adjust(lab_store_t *s, lab_store_stock_adjust_t *a);

/* The consumption ledger's rows for a job (tests, support): count and total amount. */
int lab_store_stock_ledger_count(lab_store_t *s, const char *printer, int64_t *ret_rows,
                                 double *ret_amount);

/* printer.quality's figures for one printer and window (store-quality.c). */
typedef struct lab_store_quality_s {
        int64_t printed, aborted, faults, defects;
        struct {
                char kind[32];
                int64_t n;
        } by_kind[8]; /* defects by keyword, the 8 commonest */
        size_t n_kinds;
} lab_store_quality_t;

/* Date a fault raised on printer at `at` (CLOCK_REALTIME s) for printer.quality, with the
   printer.fault event (class job), in one transaction. */
int lab_store_printer_fault(lab_store_t *s, const char *printer, int64_t at, bool raised,
                            const char *event_body);

/* printer's figures over the `seconds` before now (CLOCK_REALTIME s). */
int lab_store_printer_quality(lab_store_t *s, const char *printer, int64_t now, int64_t seconds,
                              lab_store_quality_t *ret);

/*
 * The metrics file (store-metrics.c): what metrics.textfile shows of the
 * store, read so that a quiet lab costs nothing.
 */

/* A printer's lifetime figures. */
typedef struct lab_store_print_count_s {
        char *printer;
        int64_t printed; /* copies printed on it, ever (labagent_prints_total) */
        int64_t defects; /* defects reported on its prints, ever (labagent_defects_total) */
} lab_store_print_count_t;

/* The store's figures for the metrics file. Zero it before the first read. */
typedef struct lab_store_metrics_s {
        int64_t jobs[LAB_JOB_STATE_MAX];      /* jobs per state */
        int64_t outbox_job, outbox_telemetry; /* events not yet delivered, by class */
        lab_store_print_count_t *printers;    /* every printer that printed, by name */
        size_t n_printers;
        /* where the reads stand (the store's own) */
        bool seeded;      /* the lifetime figures were read; since then only new ones are added */
        int64_t tally_id; /* the last printer_tally row counted */
        uint64_t changes; /* the connection's count of rows written, as of the last read */
} lab_store_metrics_t;

/*
 * Bring m up to date: 1 when read, 0 when nothing was written to the store
 * since the last read (m unchanged), or a negative errno (m unchanged).
 * Jobs, the outbox and the prints are read in one snapshot. The lifetime
 * prints and defects are read whole (copies printed, job.reprint audit
 * records) only the first time; after that the printer_tally rows dated
 * since are added, so the counters never go down when old tallies are
 * dropped.
 */
int lab_store_metrics_read(lab_store_t *s, lab_store_metrics_t *m);

/* Free what m holds and zero it (NULL is fine). */
void lab_store_metrics_done(lab_store_metrics_t *m);

/*
 * Energy (store-energy.c; the counting and sharing rules are agent/energy).
 * Times are unix µs (CLOCK_REALTIME, for people and reports), energy whole
 * mWh. Every write that closes an interval, changes a meter's state or
 * reports energy is one transaction with its events (class job, but
 * energy.reading: telemetry), so a restart neither loses nor doubles any.
 */

/* One meter's row. */
typedef struct lab_store_energy_meter_s {
        char *name;
        char *state;         /* "ok", "fault", "unknown" (never read) */
        int64_t counted_mwh; /* every interval's energy since the meter was first read, mWh */
        double power_w;      /* the last good reading's, NAN: none */
        char *reason;        /* the fault's keyword, NULL: none */
        char *detail;
        int64_t fault_since; /* unix usec, 0: none */
        int64_t last_ok_at;  /* unix usec of the last good reading, 0: none */
        bool saved_valid;    /* saved_wh holds the last good reading's cumulative energy */
        double saved_wh;
        char *last_error;      /* "keyword: sentence" of the last failed read, NULL: none */
        int64_t last_error_at; /* unix usec, 0: none */
} lab_store_energy_meter_t;

/*
 * The config's meters and which printer is on which: a row for each meter
 * not yet known (state unknown), and the printer → meter table replaced.
 * Rows of meters no longer configured are kept (their history is).
 */
int lab_store_energy_declare(lab_store_t *s, const char *const *meters, size_t n_meters,
                             const char *const *printers, const char *const *printer_meters,
                             size_t n_printers);

/* Every meter's row, by name. Free with lab_store_energy_meter_list_free. */
int lab_store_energy_meter_list(lab_store_t *s, lab_store_energy_meter_t **ret, size_t *ret_n);
void lab_store_energy_meter_list_free(lab_store_energy_meter_t *m, size_t n);

/* An event to append with an energy write (class job, no job id). */
typedef struct lab_store_energy_event_s {
        const char *kind;
        const char *body;
} lab_store_energy_event_t;

/*
 * Write a meter's row as m says (by name: state, power_w, reason, detail,
 * fault_since, last_error, last_error_at, saved_wh, last_ok_at; not its
 * count) with events, in one transaction: a first reading, a failed read, a
 * fault.
 * -ENOENT for a meter never declared.
 */
int lab_store_energy_meter_write(lab_store_t *s, const lab_store_energy_meter_t *m,
                                 const lab_store_energy_event_t *events, size_t n_events);

/* A copy printed on a metered printer whose interval has not closed yet. */
typedef struct lab_store_energy_print_s {
        char *job_id;
        int copy, attempt;
        char *printer;
        char *sku;
} lab_store_energy_print_t;

/* meter's prints not yet in an interval, in the order they printed. */
int lab_store_energy_open_prints(lab_store_t *s, const char *meter, lab_store_energy_print_t **ret,
                                 size_t *ret_n);
void lab_store_energy_prints_free(lab_store_energy_print_t *v, size_t n);

/* A closed interval (lab_energy_interval_t, with wall times and its sharing). */
typedef struct lab_store_energy_interval_s {
        const char *meter;
        int64_t from_at, to_at; /* unix usec */
        int64_t energy_mwh;
        int64_t idle_mwh; /* energy_mwh when no print shared it, else 0 */
        double total_wh;  /* the meter's count at to_at */
        double power_w;   /* at to_at, NAN: none */
        const char *quality;
        double saved_wh; /* the reading to measure the next against (lab_energy_counter_saved) */
} lab_store_energy_interval_t;

/*
 * Close an interval in one transaction: its row; prints[i] takes share_mwh[i]
 * (the open prints lab_store_energy_open_prints gave, shared by
 * lab_energy_share); the meter's saved energy, count, power, last good read
 * and state ok (fault cleared); events. A print already in an interval
 * makes it -ESTALE, nothing written.
 */
int lab_store_energy_close(lab_store_t *s, const lab_store_energy_interval_t *iv,
                           const lab_store_energy_print_t *prints, const int64_t *share_mwh,
                           size_t n, const lab_store_energy_event_t *events, size_t n_events);

/* What a meter's intervals not yet in an energy.reading add up to. */
typedef struct lab_store_energy_pending_s {
        int64_t intervals;      /* 0: nothing to report */
        int64_t last_id;        /* the last interval's id, for lab_store_energy_reported */
        int64_t from_at, to_at; /* unix usec: the first one's from, the last one's to */
        int64_t energy_mwh, idle_mwh, prints;
        double total_wh;    /* the last one's */
        double power_w;     /* the last one's, NAN: none */
        double power_w_max; /* the largest power read at their ends, NAN: none */
        char quality[16];   /* the worst: ok < gap < meter_reset */
} lab_store_energy_pending_t;

int lab_store_energy_pending(lab_store_t *s, const char *meter, lab_store_energy_pending_t *ret);

/* Mark meter's intervals up to last_id reported, with the energy.reading event (telemetry). */
int lab_store_energy_reported(lab_store_t *s, const char *meter, int64_t last_id,
                              const char *event_body);

/* A job whose energy is due: all its prints' intervals closed, nothing left to print. */
typedef struct lab_store_energy_job_s {
        char *job_id;
        char *printer; /* of its last print */
        char *meter;
        int64_t mwh;
        int copies;
        char quality[16]; /* the worst of its intervals' */
} lab_store_energy_job_t;

/* Up to max jobs whose energy is due (job.energy), oldest first. */
int lab_store_energy_jobs_due(lab_store_t *s, size_t max, lab_store_energy_job_t **ret,
                              size_t *ret_n);
void lab_store_energy_jobs_free(lab_store_energy_job_t *v, size_t n);

/* Mark the job's closed, unreported prints reported, with its job.energy event, in one
   transaction. */
int lab_store_energy_job_reported(lab_store_t *s, const char *job_id, const char *event_body);

/* A meter's figures since `since` (unix usec): energy, prints and the prints' energy. */
typedef struct lab_store_energy_window_s {
        int64_t energy_mwh, idle_mwh, prints, print_mwh, intervals;
} lab_store_energy_window_t;

int lab_store_energy_window(lab_store_t *s, const char *meter, int64_t since,
                            lab_store_energy_window_t *ret);

/* Forget reported intervals and prints that ended before `before` (unix usec). */
int lab_store_energy_prune(lab_store_t *s, int64_t before);
