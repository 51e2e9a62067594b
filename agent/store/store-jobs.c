/*
 * store-jobs.c - the jobs this lab accepted, and where each stands.
 *
 * Why: the lab must never lose a job nor print one twice, and the platform
 * must hear about every step. The one idea: a job's row and the outbox event
 * that reports it change together, in one transaction, or not at all; and a
 * state change is a compare-and-set (from_state -> to_state), so two paths
 * racing on one job (a cancellation and a finished download, say) cannot
 * both win. Every change of jobs.state is the one UPDATE in store_job_move(),
 * which first asks the job state table (job/job-state.h) whether the move is
 * allowed; reasons and event kinds are the caller's keywords. The store does
 * not log: a refused move is -EPERM, and the caller says so.
 *
 * Never: write jobs.state anywhere but store_job_move(); change a job's
 * state without the compare; write the row and its event in separate
 * transactions.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "macro.h"

#include "store-private.h"

/* The columns every job query reads, in the order store_job_from_row() expects. */
#define JOB_COLUMNS                                                                                \
        "id, order_id, sku, quantity, priority, deadline, state, reason, detail, asset_url, "      \
        "asset_sha256, asset_bytes, asset_type, asset_path, download_attempts, spec, "             \
        "created_at, updated_at, printer"

/* A list of jobs being built, freed whole on an early return. */
typedef struct job_list_s {
        lab_store_job_t **v;
        size_t n, cap;
} job_list_t;

/* Free a partly built job list (cleanup). */
static void job_list_freep(job_list_t *l)
{
        lab_store_jobs_free(l->v, l->n);
}

/* The columns of JOB_COLUMNS, in its order. */
static const store_col_t job_cols[] = {
    STORE_COL(lab_store_job_t, id, TEXT),
    STORE_COL(lab_store_job_t, order_id, TEXT),
    STORE_COL(lab_store_job_t, sku, TEXT),
    STORE_COL(lab_store_job_t, quantity, INT),
    STORE_COL(lab_store_job_t, priority, TEXT),
    STORE_COL(lab_store_job_t, deadline, TEXT),
    STORE_COL(lab_store_job_t, state, JOB_STATE),
    STORE_COL(lab_store_job_t, reason, TEXT),
    STORE_COL(lab_store_job_t, detail, TEXT),
    STORE_COL(lab_store_job_t, asset_url, TEXT),
    STORE_COL(lab_store_job_t, asset_sha256, TEXT),
    STORE_COL(lab_store_job_t, asset_bytes, INT64),
    STORE_COL(lab_store_job_t, asset_type, TEXT),
    STORE_COL(lab_store_job_t, asset_path, TEXT),
    STORE_COL(lab_store_job_t, download_attempts, INT),
    STORE_COL(lab_store_job_t, spec, TEXT),
    STORE_COL(lab_store_job_t, created_at, TEXT),
    STORE_COL(lab_store_job_t, updated_at, TEXT),
    STORE_COL(lab_store_job_t, printer, TEXT),
};

/* Read the job in the current row of a JOB_COLUMNS query into a new *ret. */
static int store_job_from_row(sqlite3_stmt *stmt, lab_store_job_t **ret)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = calloc(1, sizeof *j);
        int r;

        if (!j)
                return -ENOMEM;
        r = store_row_read(stmt, j, job_cols, ELEMENTSOF(job_cols));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

/* Whether a string argument is present and not empty. */
static bool nonempty(const char *s)
{
        return s && *s;
}

/* Insert the job row, in the caller's transaction. */
static int store_job_insert_row(lab_store_t *s, const lab_store_job_t *job)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        r = store_stmt(s, &s->job_insert,
                       "INSERT INTO jobs (id, order_id, sku, quantity, priority, deadline, state, "
                       "reason, detail, asset_url, asset_sha256, asset_bytes, asset_type, "
                       "asset_path, download_attempts, spec) VALUES (?1, ?2, ?3, ?4, "
                       "coalesce(?5, 'standard'), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                       "?16)",
                       &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, job->id)) < 0 ||
            (r = store_bind_text(stmt, 2, job->order_id)) < 0 ||
            (r = store_bind_text(stmt, 3, job->sku)) < 0 ||
            (r = store_bind_int64(stmt, 4, job->quantity)) < 0 ||
            (r = store_bind_text(stmt, 5, job->priority)) < 0 ||
            (r = store_bind_text(stmt, 6, job->deadline)) < 0 ||
            (r = store_bind_text(stmt, 7, lab_job_state_to_string(job->state))) < 0 ||
            (r = store_bind_text(stmt, 8, job->reason)) < 0 ||
            (r = store_bind_text(stmt, 9, job->detail)) < 0 ||
            (r = store_bind_text(stmt, 10, job->asset_url)) < 0 ||
            (r = store_bind_text(stmt, 11, job->asset_sha256)) < 0 ||
            (r = store_bind_int64(stmt, 12, job->asset_bytes)) < 0 ||
            (r = store_bind_text(stmt, 13, job->asset_type)) < 0 ||
            (r = store_bind_text(stmt, 14, job->asset_path)) < 0 ||
            (r = store_bind_int64(stmt, 15, job->download_attempts)) < 0 ||
            (r = store_bind_text(stmt, 16, job->spec)) < 0)
                return r;

        r = (int)store_step_write(s, stmt);
        return r < 0 ? r : 0;
}

/* Insert a job and its outbox event, in one transaction. */
int lab_store_job_insert(lab_store_t *s, const lab_store_job_t *job, const char *event_kind,
                         const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int r;

        if (!s || !job || !nonempty(job->id) || !nonempty(job->order_id) || !nonempty(job->sku) ||
            !nonempty(job->asset_url) || !nonempty(job->asset_sha256) || job->download_attempts < 0)
                return -EINVAL;
        /* json_valid() in the schema accepts any JSON value; the job is an object. */
        if (!store_is_json_object(job->spec))
                return -EINVAL;
        /* Its first state is not a move, but the table says which ones a job starts in. */
        if (!lab_job_state_can_start(job->state))
                return store_job_refuse(s, LAB_JOB_STATE_INVALID, job->state);

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_insert_row(s, job);
        if (r < 0)
                return r;
        if (event_kind) {
                r = store_event_insert(s, LAB_EVENT_JOB, event_kind, job->id, event_body, NULL);
                if (r < 0)
                        return r;
        }
        return store_txn_commit(&txn);
}

/* Read one job. */
int lab_store_job_get(lab_store_t *s, const char *id, lab_store_job_t **ret)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !id || !ret)
                return -EINVAL;
        *ret = NULL;

        r = store_stmt(s, &s->job_get, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1", &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, id);
        if (r < 0)
                return r;

        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        return store_job_from_row(stmt, ret);
}

int lab_store_job_forget_claim(lab_store_t *s, const char *id)
{
        int64_t r;

        if (!s || !nonempty(id))
                return -EINVAL;
        r = store_write_text(s, "DELETE FROM jobs WHERE id = ?1 AND state = 'claiming'", id, NULL);
        if (r < 0)
                return (int)r;
        return r == 0 ? -ENOENT : 0;
}

/* Whether the job exists (1) or not (0). */
static int store_job_exists(lab_store_t *s, const char *id)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        r = store_stmt(s, &s->job_exists, "SELECT 1 FROM jobs WHERE id = ?1", &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, id);
        if (r < 0)
                return r;
        return store_step_exists(s, stmt);
}

int store_job_refuse(lab_store_t *s, lab_job_state_t from_state, lab_job_state_t to_state)
{
        s->refused = true;
        s->refused_from = from_state;
        s->refused_to = to_state;
        return -EPERM;
}

bool lab_store_job_refused(lab_store_t *s, lab_job_state_t *ret_from, lab_job_state_t *ret_to)
{
        bool refused = s && s->refused;

        if (ret_from)
                *ret_from = refused ? s->refused_from : LAB_JOB_STATE_INVALID;
        if (ret_to)
                *ret_to = refused ? s->refused_to : LAB_JOB_STATE_INVALID;
        return refused;
}

/* The one write of jobs.state: the table's check, then the compare-and-set. */
int store_job_move(lab_store_t *s, const char *id, lab_job_state_t from_state,
                   lab_job_state_t to_state, const char *reason, const char *detail)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        if (!lab_job_state_can_move(from_state, to_state))
                return store_job_refuse(s, from_state, to_state);

        r = store_stmt(s, &s->job_transition,
                       "UPDATE jobs SET state = ?3, reason = ?4, detail = ?5, "
                       "updated_at = " LAB_SQL_NOW " WHERE id = ?1 AND state = ?2",
                       &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, id)) < 0 ||
            (r = store_bind_text(stmt, 2, lab_job_state_to_string(from_state))) < 0 ||
            (r = store_bind_text(stmt, 3, lab_job_state_to_string(to_state))) < 0 ||
            (r = store_bind_text(stmt, 4, reason)) < 0 ||
            (r = store_bind_text(stmt, 5, detail)) < 0)
                return r;
        r = (int)store_step_write(s, stmt);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Nothing changed: tell a job in another state from no job at all. */
        r = store_job_exists(s, id);
        if (r < 0)
                return r;
        return r ? -ESTALE : -ENOENT;
}

/* Move the job (checked against the table) and record its event, in one transaction. */
int lab_store_job_move(lab_store_t *s, const char *id, lab_job_state_t from_state,
                       lab_job_state_t to_state, const char *reason, const char *detail,
                       const char *event_kind, const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int r;

        if (!s || !nonempty(id))
                return -EINVAL;

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_move(s, id, from_state, to_state, reason, detail);
        if (r < 0)
                return r;
        if (event_kind) {
                r = store_event_insert(s, LAB_EVENT_JOB, event_kind, id, event_body, NULL);
                if (r < 0)
                        return r;
        }
        return store_txn_commit(&txn);
}

/* The job.rendered event body: {printer, output, audit}. NULL if audit_json is not an object. */
static char *rendered_body(const char *printer, const char *output_path, const char *audit_json)
{
        json_auto_t *audit = json_loads(audit_json, 0, NULL);
        json_auto_t *body = NULL;

        if (!json_is_object(audit))
                return NULL;
        body =
            json_pack("{s:s,s:s,s:O}", "printer", printer, "output", output_path, "audit", audit);
        return body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

int lab_store_job_rendered(lab_store_t *s, const char *id, lab_job_state_t from_state,
                           lab_job_state_t to_state, const char *printer, const char *output_path,
                           const char *audit_json, const char *quality_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        _cleanup_free_ char *body = NULL;
        int r;

        if (!s || !nonempty(id) || !nonempty(printer) || !nonempty(output_path) ||
            !store_is_json_object(audit_json) ||
            (quality_body && !store_is_json_object(quality_body)))
                return -EINVAL;
        body = rendered_body(printer, output_path, audit_json);
        if (!body)
                return -EINVAL;

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_move(s, id, from_state, to_state, NULL, NULL);
        if (r < 0)
                return r;
        r = (int)store_write_text(s, "UPDATE jobs SET printer = ?2 WHERE id = ?1", id, printer);
        if (r < 0)
                return r;
        r = store_stmt(s, &s->render_insert,
                       "INSERT INTO renders (job_id, printer, output_path, audit) "
                       "VALUES (?1, ?2, ?3, ?4)",
                       &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, id)) < 0 || (r = store_bind_text(stmt, 2, printer)) < 0 ||
            (r = store_bind_text(stmt, 3, output_path)) < 0 ||
            (r = store_bind_text(stmt, 4, audit_json)) < 0)
                return r;
        r = (int)store_step_write(s, stmt);
        if (r < 0)
                return r;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.rendered", id, body, NULL);
        if (r >= 0 && quality_body)
                r = store_event_insert(s, LAB_EVENT_JOB, "job.quality_warning", id, quality_body,
                                       NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

/* Prints rendered for printer and not yet printed. */
int lab_store_printer_backlog(lab_store_t *s, const char *printer, int64_t *ret)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !nonempty(printer) || !ret)
                return -EINVAL;
        r = store_stmt(s, &s->printer_backlog,
                       "SELECT coalesce(sum(quantity), 0) FROM jobs WHERE printer = ?1 "
                       "AND state IN ('rendered', 'queued', 'submitting', 'printing')",
                       &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, printer);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        *ret = sqlite3_column_int64(stmt, 0);
        return 0;
}

/* Record download progress. */
int lab_store_job_set_download(lab_store_t *s, const char *id, int download_attempts,
                               const char *asset_path, const char *asset_type)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !nonempty(id) || download_attempts < 0)
                return -EINVAL;

        r = store_stmt(s, &s->job_set_download,
                       "UPDATE jobs SET download_attempts = ?2, asset_path = ?3, asset_type = ?4, "
                       "updated_at = " LAB_SQL_NOW " WHERE id = ?1",
                       &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, id)) < 0 ||
            (r = store_bind_int64(stmt, 2, download_attempts)) < 0 ||
            (r = store_bind_text(stmt, 3, asset_path)) < 0 ||
            (r = store_bind_text(stmt, 4, asset_type)) < 0)
                return r;

        r = (int)store_step_write(s, stmt);
        return r < 0 ? r : (r > 0 ? 0 : -ENOENT);
}

/* Add the job in the current row to l. */
static int job_list_add_row(job_list_t *l, sqlite3_stmt *stmt)
{
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                lab_store_job_t **v = reallocarray(l->v, cap, sizeof *v);

                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n] = NULL;
        l->n++;
        return store_job_from_row(stmt, &l->v[l->n - 1]);
}

/* Add every job the cached query (with state bound to ?1 unless NULL) answers to l. */
static int store_jobs_collect(lab_store_t *s, sqlite3_stmt **cache, const char *sql,
                              const char *state, job_list_t *l)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_stmt(s, cache, sql, &stmt);
        if (r < 0)
                return r;
        if (state) {
                r = store_bind_text(stmt, 1, state);
                if (r < 0)
                        return r;
        }

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                r = job_list_add_row(l, stmt);
                if (r < 0)
                        return r;
        }
        if (rc != SQLITE_DONE)
                return store_step_errno(s, rc);
        return 0;
}

/* Order jobs by created_at, then id (BINARY collation, as ORDER BY created_at, id does). */
static int job_compare(const void *a, const void *b)
{
        const lab_store_job_t *x = *(lab_store_job_t *const *)a, *y = *(lab_store_job_t *const *)b;
        int c = strcmp(x->created_at, y->created_at);

        return c ? c : strcmp(x->id, y->id);
}

/* Whether states[i] already appeared in states[0..i). */
static bool state_seen(const lab_job_state_t *states, size_t i)
{
        for (size_t k = 0; k < i; k++)
                if (states[k] == states[i])
                        return true;
        return false;
}

/* The jobs in any of the states (every job for none), oldest first. */
int lab_store_jobs_list(lab_store_t *s, const lab_job_state_t *states, size_t n_states,
                        lab_store_job_t ***ret, size_t *ret_n)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(job_list_freep) job_list_t l = {};
        int r;

        if (!s || !ret || !ret_n || (n_states > 0 && !states))
                return -EINVAL;
        for (size_t i = 0; i < n_states; i++)
                if (!lab_job_state_to_string(states[i]))
                        return -EINVAL;
        *ret = NULL;
        *ret_n = 0;

        if (n_states == 0) {
                r = store_jobs_collect(s, &s->jobs_all,
                                       "SELECT " JOB_COLUMNS " FROM jobs ORDER BY created_at, id",
                                       NULL, &l);
                if (r < 0)
                        return r;
        } else {
                /*
                 * One indexed query per state, bound rather than spliced into
                 * an IN list, inside one read transaction so that a job that
                 * changes state meanwhile is listed once, not twice or never.
                 */
                r = store_txn_begin(s, false, &txn);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_states; i++) {
                        if (state_seen(states, i))
                                continue;
                        r = store_jobs_collect(s, &s->jobs_in_state,
                                               "SELECT " JOB_COLUMNS " FROM jobs WHERE state = ?1",
                                               lab_job_state_to_string(states[i]), &l);
                        if (r < 0)
                                return r;
                }
                r = store_txn_commit(&txn);
                if (r < 0)
                        return r;
                if (l.n > 1)
                        qsort(l.v, l.n, sizeof *l.v, job_compare);
        }

        *ret = TAKE_PTR(l.v);
        *ret_n = l.n;
        l.n = 0;
        return 0;
}

/* How many jobs are in any of the states (one indexed count per state, one snapshot). */
int lab_store_jobs_count(lab_store_t *s, const lab_job_state_t *states, size_t n_states,
                         int64_t *ret)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int64_t total = 0;
        int r;

        if (!s || !ret || (n_states > 0 && !states))
                return -EINVAL;
        r = store_txn_begin(s, false, &txn);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_states; i++) {
                _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;

                if (!lab_job_state_to_string(states[i]))
                        return -EINVAL;
                if (state_seen(states, i))
                        continue;
                r = store_prepare(s, "SELECT count(*) FROM jobs WHERE state = ?1", &stmt);
                if (r < 0)
                        return r;
                r = store_bind_text(stmt, 1, lab_job_state_to_string(states[i]));
                if (r < 0)
                        return r;
                r = sqlite3_step(stmt);
                if (r != SQLITE_ROW)
                        return store_step_errno(s, r);
                total += sqlite3_column_int64(stmt, 0);
        }
        r = store_txn_commit(&txn);
        if (r < 0)
                return r;
        *ret = total;
        return 0;
}

/* Append a copy of text to the NULL-terminated list *v of *n entries. */
static int strv_push(char ***v, size_t *n, const char *text)
{
        char **nv = reallocarray(*v, *n + 2, sizeof *nv);

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(text);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

int lab_store_jobs_expired(lab_store_t *s, const char *before, size_t max, char ***ret_ids)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        char **ids = NULL;
        size_t n = 0;
        int r, rc = SQLITE_DONE;

        if (!s || !nonempty(before) || !ret_ids)
                return -EINVAL;
        *ret_ids = NULL;
        r = store_prepare(s,
                          "SELECT id FROM jobs WHERE asset_path IS NOT NULL AND state IN "
                          "('reported', 'rejected', 'canceled', 'failed', 'dropped') AND "
                          "updated_at < ?1 ORDER BY updated_at LIMIT ?2",
                          &stmt);
        if (r >= 0 && (r = store_bind_text(stmt, 1, before)) >= 0)
                r = store_bind_int64(stmt, 2, (int64_t)max);
        while (r >= 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(stmt, 0);
                if (id)
                        r = strv_push(&ids, &n, id);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_step_errno(s, rc);
        if (r < 0) {
                lab_strv_free(ids);
                return r;
        }
        *ret_ids = ids;
        return 0;
}

int lab_store_job_files(lab_store_t *s, const char *id, char ***ret_paths)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        char **paths = NULL;
        size_t n = 0;
        int r, rc = SQLITE_DONE;

        if (!s || !nonempty(id) || !ret_paths)
                return -EINVAL;
        *ret_paths = NULL;
        r = store_prepare(s,
                          "SELECT asset_path FROM jobs WHERE id = ?1 AND asset_path IS NOT NULL "
                          "UNION SELECT output_path FROM renders WHERE job_id = ?1",
                          &stmt);
        if (r >= 0)
                r = store_bind_text(stmt, 1, id);
        while (r >= 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *path = (const char *)sqlite3_column_text(stmt, 0);
                if (path)
                        r = strv_push(&paths, &n, path);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_step_errno(s, rc);
        if (r < 0) {
                lab_strv_free(paths);
                return r;
        }
        *ret_paths = paths;
        return 0;
}

int lab_store_job_files_gone(lab_store_t *s, const char *id)
{
        int64_t r;

        if (!s || !nonempty(id))
                return -EINVAL;
        r = store_write_text(s, "UPDATE jobs SET asset_path = NULL WHERE id = ?1", id, NULL);
        return r < 0 ? (int)r : 0;
}

/* Free a job. */
void lab_store_job_free(lab_store_job_t *j)
{
        if (!j)
                return;
        free(j->id);
        free(j->order_id);
        free(j->sku);
        free(j->priority);
        free(j->deadline);
        free(j->reason);
        free(j->detail);
        free(j->asset_url);
        free(j->asset_sha256);
        free(j->asset_type);
        free(j->asset_path);
        free(j->spec);
        free(j->created_at);
        free(j->updated_at);
        free(j->printer);
        free(j);
}

/* Free n jobs returned by lab_store_jobs_list(). */
void lab_store_jobs_free(lab_store_job_t **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                lab_store_job_free(v[i]);
        free(v);
}
