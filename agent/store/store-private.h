/*
 * store-private.h - what the store's own files (store.c, store-schema.c,
 * store-outbox.c, store-jobs.c, store-copies.c, store-console.c,
 * store-offers.c, store-stock.c, store-quality.c, store-energy.c) and the
 * store's own tests share, and nobody else may
 * include.
 *
 * Why: the migrations are plain data kept apart from the code that runs them
 * (store-schema.c), the outbox and the jobs each have a file of their own on
 * the one connection and statement cache defined here, and the tests need to
 * look at the live connection (the per-connection pragmas cannot be seen from
 * a second connection). All of it is internal to the store module, so it
 * lives here rather than in store.h, which stays free of sqlite3.h.
 */
#pragma once

#include <stddef.h>

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "job-state.h"
#include "store.h"

/*
 * PRAGMA application_id of every labagent store ("LabA"). Migration 1 sets
 * it; a file that has tables but not this id belongs to someone else and is
 * refused (store_foreign) rather than migrated.
 */
#define LAB_STORE_APPLICATION_ID     0x4C616241
#define LAB_STORE_APPLICATION_ID_SQL "1281450561"

/* The ISO 8601 UTC timestamp with milliseconds every row records. */
#define LAB_SQL_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

struct lab_store_s {
        sqlite3 *db;
        char *path;
        int version; /* PRAGMA user_version as of the last migration */
        /* Statements prepared on first use, kept until lab_store_close() finalizes them. */
        sqlite3_stmt *event_append;
        sqlite3_stmt *event_count;
        sqlite3_stmt *event_exists;
        sqlite3_stmt *events_peek;
        sqlite3_stmt *event_ack;
        sqlite3_stmt *events_telemetry_count;
        sqlite3_stmt *events_shed;
        sqlite3_stmt *audit_append;
        sqlite3_stmt *job_insert;
        sqlite3_stmt *job_get;
        sqlite3_stmt *job_exists;
        sqlite3_stmt *job_transition;
        sqlite3_stmt *job_set_download;
        sqlite3_stmt *jobs_all;
        sqlite3_stmt *jobs_in_state;
        sqlite3_stmt *render_insert;
        sqlite3_stmt *printer_backlog;
        /* The job move the store refused last (lab_store_job_refused). */
        bool refused;
        lab_job_state_t refused_from; /* LAB_JOB_STATE_INVALID: a new job's first state */
        lab_job_state_t refused_to;
};

/* The SQL script that migrates schema version-1 to version (1..latest), or NULL. */
const char *lab_store_migration_sql(int version);

/* The store's own connection, for the store's tests only. */
sqlite3 *lab_store_sqlite(lab_store_t *s);

/* Finalize a statement owned by the caller. */
static inline void sqlite3_finalizep(sqlite3_stmt **stmt)
{
        if (*stmt)
                sqlite3_finalize(*stmt);
}

/* Reset a borrowed cached statement and drop its bindings, ready for the next use. */
static inline void store_stmt_resetp(sqlite3_stmt **stmt)
{
        if (*stmt) {
                sqlite3_reset(*stmt);
                sqlite3_clear_bindings(*stmt);
        }
}

/* Map a SQLite result code to a negative errno (0 for success codes). */
int store_errno(sqlite3 *db, int rc);

/* Map the failed result code rc of a step to a negative errno (never 0). */
int store_step_errno(lab_store_t *s, int rc);

/* Step a bound "SELECT 1 ..." statement: 1 when it has a row, 0 when not, or a negative errno. */
int store_step_exists(lab_store_t *s, sqlite3_stmt *stmt);

/* Run a bound write statement to completion; returns the rows it changed, or a negative errno. */
int64_t store_step_write(lab_store_t *s, sqlite3_stmt *stmt);

/* Borrow the cached statement *cache, preparing it from sql on first use. */
int store_stmt(lab_store_t *s, sqlite3_stmt **cache, const char *sql, sqlite3_stmt **ret);

/* Bind text (NULL binds SQL NULL); the caller keeps the string alive until the step. */
int store_bind_text(sqlite3_stmt *stmt, int index, const char *text);

/* Bind a 64-bit integer. */
int store_bind_int64(sqlite3_stmt *stmt, int index, int64_t v);

/* Copy text column i into a new *ret (NULL for SQL NULL). */
int store_column_strdup(sqlite3_stmt *stmt, int i, char **ret);

/* How one column of a result row lands in a row struct: where, and as what. */
typedef enum store_col_type_e {
        STORE_COL_SKIP,       /* read elsewhere (a parsed keyword, say) */
        STORE_COL_TEXT,       /* char *, strdup'ed; SQL NULL stays NULL */
        STORE_COL_INT,        /* int */
        STORE_COL_INT64,      /* int64_t */
        STORE_COL_JOB_STATE,  /* lab_job_state_t from its keyword (unknown: invalid) */
        STORE_COL_COPY_STATE, /* lab_copy_state_t from its keyword (unknown: invalid) */
} store_col_type_t;

typedef struct store_col_s {
        size_t offset; /* offsetof(the row struct, member) */
        store_col_type_t type;
} store_col_t;

/* Column i of a row is cols[i]. */
#define STORE_COL(type, member, kind)                                                              \
        {                                                                                          \
                offsetof(type, member), STORE_COL_##kind                                           \
        }

/*
 * Read the current row of stmt into the struct at obj, column i as cols[i]:
 * the one column-by-column reader every row type uses. On failure (-ENOMEM)
 * the texts read so far stay in obj, for the row's own free to release.
 */
int store_row_read(sqlite3_stmt *stmt, void *obj, const store_col_t *cols, size_t n);

/* What store_rows_read does with a row after its columns: the fields cols cannot say. */
typedef void (*store_row_fn)(sqlite3_stmt *stmt, void *obj);

/*
 * Step stmt to its end, each row into a new element of elem_size bytes at
 * the end of *ret (zeroed, read by cols, then by row when not NULL), the
 * one loop every list read uses. 0 with *ret and *ret_n; or a negative
 * errno with the rows read so far in *ret and *ret_n, for the caller's free.
 */
int store_rows_read(lab_store_t *s, sqlite3_stmt *stmt, size_t elem_size, const store_col_t *cols,
                    size_t n_cols, store_row_fn row, void **ret, size_t *ret_n);

/* Whether text is, at first glance, a JSON object (json_valid() in the schema checks the rest). */
bool store_is_json_object(const char *text);

/*
 * Transactions. store_txn_begin() starts one (BEGIN IMMEDIATE for write,
 * deferred BEGIN for a read snapshot) and sets *txn to s; store_txn_commit()
 * commits and clears *txn. Declare the guard with
 * _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL; before any
 * statement guard, so that every early return rolls back, after the
 * statements were reset.
 */
int store_txn_begin(lab_store_t *s, bool write, lab_store_t **txn);
int store_txn_commit(lab_store_t **txn);
void store_txn_rollbackp(lab_store_t **txn);

/*
 * Append an event inside the caller's transaction (or as its own autocommit
 * one): the checks and the insert of lab_store_event_append().
 */
int store_event_insert(lab_store_t *s, lab_event_class_t cls, const char *kind, const char *job_id,
                       const char *body_json, int64_t *ret_seq);

/*
 * The one write of jobs.state (store-jobs.c): every path that changes a
 * job's state comes here. In the caller's transaction, check from_state →
 * to_state against the job state table, then compare-and-set the state with
 * reason and detail (NULL clears them): 0 when it moved, -EPERM when the
 * table refuses the move or a state is unknown (nothing written, the move
 * kept for lab_store_job_refused), -ESTALE when the job is in another state,
 * -ENOENT when there is no such job. The caller's cleanup rolls back the
 * whole transaction on any of these.
 */
int store_job_move(lab_store_t *s, const char *id, lab_job_state_t from_state,
                   lab_job_state_t to_state, const char *reason, const char *detail);

/* Keep from → to as the move the store refused (for lab_store_job_refused); returns -EPERM. */
int store_job_refuse(lab_store_t *s, lab_job_state_t from_state, lab_job_state_t to_state);

/* Prepare a one-off statement (finalize it with sqlite3_finalizep). */
int store_prepare(lab_store_t *s, const char *sql, sqlite3_stmt **ret);

/*
 * Run a one-off write statement with text parameters ?1 and ?2 (a2 may be
 * NULL when the statement has only ?1); returns the rows changed, or a
 * negative errno.
 */
int64_t store_write_text(lab_store_t *s, const char *sql, const char *a1, const char *a2);

/*
 * Copies (store-copies.c), shared with store-console.c. COPY_COLUMNS is the
 * select list store_copy_from_row() reads (copies c joined with jobs j).
 */
#define COPY_COLUMNS                                                                               \
        "c.job_id, c.copy, c.state, c.printer, c.attempt, c.handle, c.reason, c.detail, "          \
        "c.updated_at, j.priority, j.sku, j.created_at, "                                          \
        "(SELECT r.output_path FROM renders r WHERE r.job_id = c.job_id AND r.printer = "          \
        "c.printer ORDER BY r.id DESC LIMIT 1), j.order_id, j.state"

/* Read the copy in the current row of a COPY_COLUMNS query into a new *ret. */
int store_copy_from_row(sqlite3_stmt *stmt, lab_store_copy_t **ret);

/*
 * Read every row of a prepared COPY_COLUMNS query whose copy state is one of
 * states (all when n_states is 0) into a new list, in the query's order.
 */
int store_copies_collect(lab_store_t *s, sqlite3_stmt *stmt, const lab_copy_state_t *states,
                         size_t n_states, lab_store_copy_t ***ret, size_t *ret_n);

/* Count the job's copies by state. */
int store_count_copies(lab_store_t *s, const char *job_id, lab_copy_counts_t *ret);

/*
 * The job's state, printer and SKU (printer and sku may be NULL to skip
 * them), in the caller's transaction (-ENOENT: no such job).
 */
int store_job_state_of(lab_store_t *s, const char *job_id, lab_job_state_t *state, char **printer,
                       char **sku);

/* Move the job to the state its copies give it, with that move's event (caller's transaction). */
int store_job_follow_copies(lab_store_t *s, const char *job_id);

/*
 * Stock (store-stock.c), in the caller's transaction: a copy moving to
 * printed enters what it used in the ledger under its attempt (once: a row
 * already there is not counted again), takes it off each counted item, and
 * tallies the print for printer.quality.
 */
int store_stock_consume(lab_store_t *s, const char *job_id, int copy, const lab_stock_use_t *uses,
                        size_t n);

/* Date one of printer.quality's facts (store-quality.c): what is printed, defect, aborted or
   fault; detail a defect's keyword or NULL; at CLOCK_REALTIME s. Drops tallies over 8 days. */
int store_tally(lab_store_t *s, const char *printer, const char *what, const char *detail,
                int64_t at);

/*
 * A copy printed (store_stock_consume, in the transaction that marks it
 * printed): when printer is on a meter (energy_printers), the copy's
 * attempt waits in energy_prints for its interval to close. Once per attempt.
 */
int store_energy_print(lab_store_t *s, const char *job_id, int copy, int attempt,
                       const char *printer);

/* store_tally for the printer a copy is at (an aborted copy). */
int store_tally_copy(lab_store_t *s, const char *job_id, int copy, const char *what);
