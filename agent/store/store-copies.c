/*
 * store-copies.c - the copies of a job at its printer (see store.h, "Copies").
 *
 * The one idea: a copy's state and its job's state never disagree. Every
 * change to a copy recounts the job's copies and moves the job to the state
 * lab_job_state_from_copies() gives, with that move's event, in the same
 * transaction as the copy's own change and event. The job moves through
 * store_job_move() like any other: a move the state table refuses undoes the
 * copy's change too (-EPERM, nothing written).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job-state.h"
#include "macro.h"
#include "store-private.h"

/* Whether a string argument is present and not empty. */
static bool nonempty(const char *s)
{
        return s && *s;
}

/* Read the copy in the current row of a COPY_COLUMNS query into a new *ret. */
int store_copy_from_row(sqlite3_stmt *stmt, lab_store_copy_t **ret)
{
        /* The columns of COPY_COLUMNS, in its order. */
        static const store_col_t cols[] = {
            STORE_COL(lab_store_copy_t, job_id, TEXT),
            STORE_COL(lab_store_copy_t, copy, INT),
            STORE_COL(lab_store_copy_t, state, COPY_STATE),
            STORE_COL(lab_store_copy_t, printer, TEXT),
            STORE_COL(lab_store_copy_t, attempt, INT),
            STORE_COL(lab_store_copy_t, handle, TEXT),
            STORE_COL(lab_store_copy_t, reason, TEXT),
            STORE_COL(lab_store_copy_t, detail, TEXT),
            STORE_COL(lab_store_copy_t, updated_at, TEXT),
            STORE_COL(lab_store_copy_t, priority, TEXT),
            STORE_COL(lab_store_copy_t, sku, TEXT),
            STORE_COL(lab_store_copy_t, job_created_at, TEXT),
            STORE_COL(lab_store_copy_t, output_path, TEXT),
            STORE_COL(lab_store_copy_t, order_id, TEXT),
            STORE_COL(lab_store_copy_t, job_state, JOB_STATE),
        };
        lab_store_copy_t *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        r = store_row_read(stmt, c, cols, ELEMENTSOF(cols));
        if (r < 0) {
                lab_store_copies_free(&c, 1);
                return r;
        }
        *ret = c;
        return 0;
}

/* Count the job's copies by state. */
int store_count_copies(lab_store_t *s, const char *job_id, lab_copy_counts_t *ret)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        *ret = (lab_copy_counts_t){0};
        r = store_prepare(s, "SELECT state, count(*) FROM copies WHERE job_id = ?1 GROUP BY state",
                          &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, job_id);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                unsigned n = (unsigned)sqlite3_column_int(stmt, 1);

                switch (lab_copy_state_from_string((const char *)sqlite3_column_text(stmt, 0))) {
                case LAB_COPY_QUEUED:
                        ret->queued += n;
                        break;
                case LAB_COPY_SUBMITTING:
                        ret->submitting += n;
                        break;
                case LAB_COPY_PRINTING:
                        ret->printing += n;
                        break;
                case LAB_COPY_PRINTED:
                        ret->printed += n;
                        break;
                case LAB_COPY_UNCERTAIN:
                        ret->uncertain += n;
                        break;
                case LAB_COPY_FAILED:
                        ret->failed += n;
                        break;
                case LAB_COPY_CANCELED:
                        ret->canceled += n;
                        break;
                default: /* rerouted: waiting for the render for another printer */
                        break;
                }
        }
        return rc == SQLITE_DONE ? 0 : store_step_errno(s, rc);
}

/* The job's state, printer and SKU, in the caller's transaction. */
int store_job_state_of(lab_store_t *s, const char *job_id, lab_job_state_t *state, char **printer,
                       char **sku)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_prepare(s, "SELECT state, printer, sku FROM jobs WHERE id = ?1", &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, job_id);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        *state = lab_job_state_from_string((const char *)sqlite3_column_text(stmt, 0));
        if (printer && (r = store_column_strdup(stmt, 1, printer)) < 0)
                return r;
        return sku ? store_column_strdup(stmt, 2, sku) : 0;
}

/* The event a job's move to `to` (from its copies) causes, and its body; NULL kind for none. */
static const char *aggregate_event(lab_job_state_t to, const char *printer,
                                   const lab_copy_counts_t *c, char **body)
{
        json_auto_t *o = NULL;
        const char *kind = NULL;
        unsigned total = c->queued + c->submitting + c->printing + c->printed + c->uncertain +
                         c->failed + c->canceled;

        switch (to) {
        case LAB_JOB_PRINTING:
                kind = "job.printing";
                o = json_pack("{s:s}", "printer", printer ? printer : "");
                break;
        case LAB_JOB_PRINTED:
                kind = "job.printed";
                o = json_pack("{s:s, s:i, s:i}", "printer", printer ? printer : "", "copies",
                              (int)c->printed, "quantity", (int)total);
                break;
        case LAB_JOB_UNCERTAIN:
                kind = "job.uncertain";
                o = json_pack("{s:s, s:i, s:i}", "printer", printer ? printer : "", "uncertain",
                              (int)c->uncertain, "printed", (int)c->printed);
                break;
        case LAB_JOB_FAILED:
                kind = "job.failed";
                o = json_pack("{s:s, s:s}", "reason", "copies_failed", "detail",
                              "a copy could not be printed after every attempt");
                break;
        default:
                return NULL;
        }
        *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        return *body ? kind : NULL;
}

/* Move the job to the state its copies give it (caller's transaction). */
int store_job_follow_copies(lab_store_t *s, const char *job_id)
{
        _cleanup_free_ char *printer = NULL, *body = NULL;
        lab_copy_counts_t counts;
        lab_job_state_t from = LAB_JOB_STATE_INVALID, to;
        const char *kind;
        int r;

        r = store_job_state_of(s, job_id, &from, &printer, NULL);
        if (r < 0)
                return r;
        if (lab_job_state_is_final(from))
                return 0; /* canceled or dropped meanwhile: the copies are history */
        r = store_count_copies(s, job_id, &counts);
        if (r < 0)
                return r;
        to = lab_job_state_from_copies(&counts);
        if (to == from || to == LAB_JOB_STATE_INVALID)
                return 0;
        /* The door checks the table: a move it refuses is -EPERM, and the caller rolls back. */
        r = store_job_move(s, job_id, from, to, NULL, NULL);
        if (r < 0)
                return r;
        /* job.printing once: not again when a copy is sent anew. */
        if (to == LAB_JOB_PRINTING && from != LAB_JOB_QUEUED && from != LAB_JOB_SUBMITTING)
                return 0;
        kind = aggregate_event(to, printer, &counts, &body);
        return kind ? store_event_insert(s, LAB_EVENT_JOB, kind, job_id, body, NULL) : 0;
}

int lab_store_job_queue(lab_store_t *s, const char *job_id, lab_job_state_t from_state,
                        const char *printer)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL;
        _cleanup_free_ char *body = NULL;
        json_auto_t *o = NULL;
        int r;

        if (!s || !nonempty(job_id) || !nonempty(printer))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_move(s, job_id, from_state, LAB_JOB_QUEUED, NULL, NULL);
        if (r < 0)
                return r;
        r = (int)store_write_text(s, "UPDATE jobs SET printer = ?2 WHERE id = ?1", job_id, printer);
        if (r < 0)
                return r;
        /*
         * Copies left from an earlier printer (rerouted) are queued again for
         * this one, keeping their attempt count: a new attempt never reuses
         * a job name any printer may have seen.
         */
        r = store_prepare(s,
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                          "WHERE i < (SELECT quantity FROM jobs WHERE id = ?1)) "
                          "INSERT INTO copies (job_id, copy, state, printer) "
                          "SELECT ?1, i, 'queued', ?2 FROM n WHERE true "
                          "ON CONFLICT (job_id, copy) DO UPDATE SET state = 'queued', "
                          "printer = excluded.printer, handle = NULL, reason = NULL, "
                          "detail = NULL, updated_at = " LAB_SQL_NOW,
                          &ins);
        if (r >= 0 && (r = store_bind_text(ins, 1, job_id)) >= 0 &&
            (r = store_bind_text(ins, 2, printer)) >= 0)
                r = (int)store_step_write(s, ins);
        if (r < 0)
                return r;
        o = json_pack("{s:s, s:i}", "printer", printer, "copies", r);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.queued", job_id, body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_copy_move(lab_store_t *s, const char *job_id, int copy, lab_copy_state_t from,
                        lab_copy_state_t to, const lab_store_copy_change_t *chg,
                        const char *event_kind, const char *event_body, int *ret_attempt)
{
        static const lab_store_copy_change_t none = {.keep_handle = true};
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *upd = NULL, *get = NULL;
        int r, rc, changed;

        if (!s || !nonempty(job_id) || copy < 1 || !lab_copy_state_to_string(from) ||
            !lab_copy_state_to_string(to))
                return -EINVAL;
        if (!chg)
                chg = &none;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        /* A printed copy is a fact: it never moves again (a reprint is a new copy). */
        if (from == LAB_COPY_PRINTED)
                return -EPERM;
        r = store_prepare(s,
                          "UPDATE copies SET state = ?4, attempt = attempt + ?5, "
                          "handle = CASE WHEN ?6 THEN handle ELSE ?7 END, reason = ?8, "
                          "detail = ?9, updated_at = " LAB_SQL_NOW
                          " WHERE job_id = ?1 AND copy = ?2 AND state = ?3",
                          &upd);
        if (r < 0)
                return r;
        if ((r = store_bind_text(upd, 1, job_id)) < 0 || (r = store_bind_int64(upd, 2, copy)) < 0 ||
            (r = store_bind_text(upd, 3, lab_copy_state_to_string(from))) < 0 ||
            (r = store_bind_text(upd, 4, lab_copy_state_to_string(to))) < 0 ||
            (r = store_bind_int64(upd, 5, chg->new_attempt ? 1 : 0)) < 0 ||
            (r = store_bind_int64(upd, 6, chg->keep_handle ? 1 : 0)) < 0 ||
            (r = store_bind_text(upd, 7, chg->handle)) < 0 ||
            (r = store_bind_text(upd, 8, chg->reason)) < 0 ||
            (r = store_bind_text(upd, 9, chg->detail)) < 0)
                return r;
        r = (int)store_step_write(s, upd);
        if (r < 0)
                return r;
        changed = r;
        r = store_prepare(s, "SELECT attempt FROM copies WHERE job_id = ?1 AND copy = ?2", &get);
        if (r < 0)
                return r;
        if ((r = store_bind_text(get, 1, job_id)) < 0 || (r = store_bind_int64(get, 2, copy)) < 0)
                return r;
        rc = sqlite3_step(get);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        if (changed == 0)
                return -ESTALE;
        if (ret_attempt)
                *ret_attempt = sqlite3_column_int(get, 0);
        if (to == LAB_COPY_PRINTED &&
            (r = store_stock_consume(s, job_id, copy, chg->uses, chg->n_uses)) < 0)
                return r;
        if (chg->aborted && (r = store_tally_copy(s, job_id, copy, "aborted")) < 0)
                return r;
        if (event_kind) {
                r = store_event_insert(s, LAB_EVENT_JOB, event_kind, job_id, event_body, NULL);
                if (r < 0)
                        return r;
        }
        r = store_job_follow_copies(s, job_id);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

/* Order copies: rush first, then the job's age, job id, copy. */
static int copy_compare(const void *a, const void *b)
{
        const lab_store_copy_t *x = *(lab_store_copy_t *const *)a,
                               *y = *(lab_store_copy_t *const *)b;
        int rx = x->priority && strcmp(x->priority, "rush") == 0;
        int ry = y->priority && strcmp(y->priority, "rush") == 0;
        int c;

        if (rx != ry)
                return ry - rx;
        if ((c = strcmp(x->job_created_at, y->job_created_at)) != 0)
                return c;
        if ((c = strcmp(x->job_id, y->job_id)) != 0)
                return c;
        return (x->copy > y->copy) - (x->copy < y->copy);
}

int store_copies_collect(lab_store_t *s, sqlite3_stmt *stmt, const lab_copy_state_t *states,
                         size_t n_states, lab_store_copy_t ***ret, size_t *ret_n)
{
        lab_store_copy_t **v = NULL;
        size_t n = 0, cap = 0;
        int r, rc;

        *ret = NULL;
        *ret_n = 0;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                lab_copy_state_t state =
                    lab_copy_state_from_string((const char *)sqlite3_column_text(stmt, 2));
                bool wanted = n_states == 0;

                for (size_t i = 0; !wanted && i < n_states; i++)
                        wanted = state == states[i];
                if (!wanted)
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        lab_store_copy_t **nv = reallocarray(v, ncap, sizeof *nv);

                        if (!nv) {
                                lab_store_copies_free(v, n);
                                return -ENOMEM;
                        }
                        v = nv;
                        cap = ncap;
                }
                r = store_copy_from_row(stmt, &v[n]);
                if (r < 0) {
                        lab_store_copies_free(v, n);
                        return r;
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                lab_store_copies_free(v, n);
                return store_step_errno(s, rc);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int lab_store_copies_list(lab_store_t *s, const char *printer, const lab_copy_state_t *states,
                          size_t n_states, lab_store_copy_t ***ret, size_t *ret_n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !ret || !ret_n || (n_states > 0 && !states))
                return -EINVAL;
        for (size_t i = 0; i < n_states; i++)
                if (!lab_copy_state_to_string(states[i]))
                        return -EINVAL;
        r = store_prepare(s,
                          "SELECT " COPY_COLUMNS " FROM copies c JOIN jobs j ON j.id = c.job_id "
                          "WHERE (?1 IS NULL OR c.printer = ?1)",
                          &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, printer);
        if (r < 0)
                return r;
        r = store_copies_collect(s, stmt, states, n_states, ret, ret_n);
        if (r >= 0 && *ret_n > 1)
                qsort(*ret, *ret_n, sizeof **ret, copy_compare);
        return r;
}

void lab_store_copies_free(lab_store_copy_t **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                lab_store_copy_t *c = v[i];

                if (!c)
                        continue;
                free(c->job_id);
                free(c->printer);
                free(c->handle);
                free(c->reason);
                free(c->detail);
                free(c->updated_at);
                free(c->priority);
                free(c->sku);
                free(c->job_created_at);
                free(c->output_path);
                free(c->order_id);
                free(c);
        }
        free(v);
}

int lab_store_job_reroute(lab_store_t *s, const char *job_id, const char *reason,
                          const char *detail)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *del = NULL;
        _cleanup_free_ char *printer = NULL, *body = NULL;
        lab_job_state_t state;
        lab_copy_counts_t c;
        json_auto_t *o = NULL;
        int r;

        if (!s || !nonempty(job_id) || !nonempty(reason))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_state_of(s, job_id, &state, &printer, NULL);
        if (r < 0)
                return r;
        if (state != LAB_JOB_QUEUED)
                return -ESTALE;
        r = store_count_copies(s, job_id, &c);
        if (r < 0)
                return r;
        if (c.submitting + c.printing + c.printed + c.uncertain + c.failed > 0)
                return -EBUSY;
        r = store_job_move(s, job_id, LAB_JOB_QUEUED, LAB_JOB_REROUTED, reason, detail);
        if (r < 0)
                return r;
        /* Kept (with their attempt counts) until the job is queued again elsewhere. */
        r = store_prepare(
            s,
            "UPDATE copies SET state = 'rerouted', handle = NULL, updated_at = " LAB_SQL_NOW
            " WHERE job_id = ?1",
            &del);
        if (r >= 0 && (r = store_bind_text(del, 1, job_id)) >= 0)
                r = (int)store_step_write(s, del);
        if (r < 0)
                return r;
        o = json_pack("{s:s, s:s, s:s}", "from", printer ? printer : "", "reason", reason, "detail",
                      detail ? detail : "");
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.rerouted", job_id, body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}
