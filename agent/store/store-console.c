/*
 * store-console.c - what technicians change through labctl (see store.h,
 * "The console"): printer pauses, reprints of bad copies, uncertain copies
 * confirmed printed, and the read-outs the console shows.
 *
 * The one idea: a person's action is written like the daemon's own work, in
 * one transaction with the copy's and job's new states, the events the
 * platform must hear and the audit record of who did it. A reprint never
 * reuses a copy's job name: it is a new copy, or a new attempt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "macro.h"
#include "store-private.h"

/* Whether a string argument is present and not empty. */
static bool nonempty(const char *s)
{
        return s && *s;
}

/* Append the audit record inside the caller's transaction. */
static int audit(lab_store_t *s, const char *actor, const char *action, json_t *detail)
{
        _cleanup_free_ char *text =
            detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        if (detail && !text)
                return -ENOMEM;
        return lab_store_audit_append(s, actor, action, text);
}

int lab_store_printer_pause(lab_store_t *s, const char *printer, const char *by, const char *reason,
                            const char *actor, const char *audit_detail)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !nonempty(printer) || !nonempty(by) || !nonempty(actor))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "INSERT INTO printer_pauses (printer, paused_by, reason) "
                          "VALUES (?1, ?2, ?3) ON CONFLICT (printer) DO UPDATE SET "
                          "paused_by = excluded.paused_by, reason = excluded.reason",
                          &stmt);
        if (r >= 0 && (r = store_bind_text(stmt, 1, printer)) >= 0 &&
            (r = store_bind_text(stmt, 2, by)) >= 0 &&
            (r = store_bind_text(stmt, 3, nonempty(reason) ? reason : NULL)) >= 0)
                r = (int)store_step_write(s, stmt);
        if (r < 0)
                return r;
        r = lab_store_audit_append(s, actor, "printer.pause", audit_detail);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_printer_resume(lab_store_t *s, const char *printer, const char *actor,
                             const char *audit_detail, bool *ret_was_paused)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int64_t n;
        int r;

        if (!s || !nonempty(printer) || !nonempty(actor))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        n = store_write_text(s, "DELETE FROM printer_pauses WHERE printer = ?1", printer, NULL);
        if (n < 0)
                return (int)n;
        r = lab_store_audit_append(s, actor, "printer.resume", audit_detail);
        if (r < 0)
                return r;
        r = store_txn_commit(&txn);
        if (r >= 0 && ret_was_paused)
                *ret_was_paused = n > 0;
        return r;
}

/* The columns of the pauses' read-out, in its order. */
static const store_col_t pause_cols[] = {
    STORE_COL(lab_store_pause_t, printer, TEXT),
    STORE_COL(lab_store_pause_t, by, TEXT),
    STORE_COL(lab_store_pause_t, reason, TEXT),
    STORE_COL(lab_store_pause_t, since, TEXT),
};

int lab_store_printer_pauses(lab_store_t *s, lab_store_pause_t **ret, size_t *ret_n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        void *v = NULL;
        size_t n = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        *ret = NULL;
        *ret_n = 0;
        r = store_prepare(s,
                          "SELECT printer, paused_by, reason, since FROM printer_pauses "
                          "ORDER BY printer",
                          &stmt);
        if (r < 0)
                return r;
        r = store_rows_read(s, stmt, sizeof **ret, pause_cols, ELEMENTSOF(pause_cols), NULL, &v,
                            &n);
        if (r < 0) {
                lab_store_pauses_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void lab_store_pauses_free(lab_store_pause_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].printer);
                free(v[i].by);
                free(v[i].reason);
                free(v[i].since);
        }
        free(v);
}

/* The copy's state, printer and attempt (caller's transaction); -ENXIO when there is none. */
static int copy_of(lab_store_t *s, const char *job_id, int copy, lab_copy_state_t *state,
                   char **printer, int *attempt)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_prepare(s,
                          "SELECT state, printer, attempt FROM copies WHERE job_id = ?1 AND "
                          "copy = ?2",
                          &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, job_id)) < 0 || (r = store_bind_int64(stmt, 2, copy)) < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return -ENXIO;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        *state = lab_copy_state_from_string((const char *)sqlite3_column_text(stmt, 0));
        r = store_column_strdup(stmt, 1, printer);
        if (r < 0)
                return r;
        *attempt = sqlite3_column_int(stmt, 2);
        return 0;
}

/* Set a copy's state (caller's transaction, the state already checked). */
static int set_copy_state(lab_store_t *s, const char *job_id, int copy, lab_copy_state_t state,
                          const char *reason, const char *detail)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        r = store_prepare(s,
                          "UPDATE copies SET state = ?3, reason = ?4, detail = ?5, "
                          "handle = CASE WHEN ?3 = 'queued' THEN NULL ELSE handle END, "
                          "updated_at = " LAB_SQL_NOW " WHERE job_id = ?1 AND copy = ?2",
                          &stmt);
        if (r >= 0 && (r = store_bind_text(stmt, 1, job_id)) >= 0 &&
            (r = store_bind_int64(stmt, 2, copy)) >= 0 &&
            (r = store_bind_text(stmt, 3, lab_copy_state_to_string(state))) >= 0 &&
            (r = store_bind_text(stmt, 4, reason)) >= 0 &&
            (r = store_bind_text(stmt, 5, detail)) >= 0)
                r = (int)store_step_write(s, stmt);
        return r < 0 ? r : 0;
}

/* An uncertain copy is recorded printed by a person, with job.copy_printed (caller's txn). */
static int uncertain_printed(lab_store_t *s, const char *job_id, int copy, const char *printer,
                             int attempt, const char *job_name, const char *by)
{
        _cleanup_free_ char *body = NULL;
        json_auto_t *o = NULL;
        int r;

        r = set_copy_state(s, job_id, copy, LAB_COPY_PRINTED, "confirmed_by_person",
                           "a technician confirmed it printed");
        if (r < 0)
                return r;
        o = json_pack("{s:i, s:s, s:i, s:s, s:s}", "copy", copy, "printer", printer, "attempt",
                      attempt, "job_name", job_name ? job_name : "", "by", by);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        return store_event_insert(s, LAB_EVENT_JOB, "job.copy_printed", job_id, body, NULL);
}

/*
 * Whether a job in this state can have a copy reprinted: a reprint sends it
 * (back) to printing, so the job state table decides (a job printing stays).
 */
static bool reprintable(lab_job_state_t s)
{
        return s == LAB_JOB_PRINTING || lab_job_state_can_move(s, LAB_JOB_PRINTING);
}

int lab_store_copy_reprint(lab_store_t *s, lab_store_reprint_t *rp)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL;
        _cleanup_free_ char *printer = NULL, *body = NULL, *sku = NULL;
        json_auto_t *o = NULL, *detail = NULL;
        lab_job_state_t job_state;
        lab_copy_state_t state;
        int attempt = 0, r;

        if (!s || !rp || !nonempty(rp->job_id) || rp->copy < 1 || !nonempty(rp->defect) ||
            !nonempty(rp->by) || !nonempty(rp->actor))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_state_of(s, rp->job_id, &job_state, NULL, &sku);
        if (r < 0)
                return r;
        r = copy_of(s, rp->job_id, rp->copy, &state, &printer, &attempt);
        if (r < 0)
                return r;
        if (!reprintable(job_state))
                return store_job_refuse(s, job_state, LAB_JOB_PRINTING);
        if (state != LAB_COPY_PRINTED && state != LAB_COPY_UNCERTAIN)
                return -EBUSY;

        if (state == LAB_COPY_UNCERTAIN && strcmp(rp->defect, "not_printed") == 0) {
                /* It never came out: the same copy again, under a new attempt's name. */
                r = set_copy_state(s, rp->job_id, rp->copy, LAB_COPY_QUEUED, "not_printed",
                                   "a technician found it was not printed");
                if (r < 0)
                        return r;
                rp->reprint_copy = rp->copy;
        } else {
                if (state == LAB_COPY_UNCERTAIN) {
                        r = uncertain_printed(s, rp->job_id, rp->copy, printer, attempt,
                                              rp->job_name, rp->by);
                        if (r < 0)
                                return r;
                        r = store_stock_consume(s, rp->job_id, rp->copy, rp->uses, rp->n_uses);
                        if (r < 0)
                                return r;
                }
                r = store_prepare(s,
                                  "INSERT INTO copies (job_id, copy, state, printer, reason, "
                                  "detail) SELECT ?1, max(copy) + 1, 'queued', ?2, 'reprint', ?3 "
                                  "FROM copies WHERE job_id = ?1 RETURNING copy",
                                  &ins);
                if (r < 0)
                        return r;
                if ((r = store_bind_text(ins, 1, rp->job_id)) < 0 ||
                    (r = store_bind_text(ins, 2, printer)) < 0 ||
                    (r = store_bind_text(ins, 3, rp->defect)) < 0)
                        return r;
                r = sqlite3_step(ins);
                if (r != SQLITE_ROW)
                        return store_step_errno(s, r);
                rp->reprint_copy = sqlite3_column_int(ins, 0);
                sqlite3_reset(ins);
        }
        snprintf(rp->printer, sizeof rp->printer, "%s", printer);

        /* A reported job is finished: the one way back is this one. */
        if (job_state == LAB_JOB_REPORTED) {
                r = store_job_move(s, rp->job_id, LAB_JOB_REPORTED, LAB_JOB_PRINTING, "reprint",
                                   rp->defect);
                if (r < 0)
                        return r;
        }
        r = store_job_follow_copies(s, rp->job_id);
        if (r < 0)
                return r;

        o = json_pack("{s:i, s:s, s:s?, s:s, s:i, s:s, s:s, s:s?}", "copy", rp->copy, "defect",
                      rp->defect, "note", rp->note, "by", rp->by, "reprint_copy", rp->reprint_copy,
                      "printer", printer, "sku", sku, "media", rp->media);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.defect", rp->job_id, body, NULL);
        if (r < 0)
                return r;
        r = store_tally(s, printer, "defect", rp->defect, (int64_t)time(NULL));
        if (r < 0)
                return r;
        detail = json_pack("{s:s, s:i, s:s, s:s?, s:i, s:s}", "job", rp->job_id, "copy", rp->copy,
                           "defect", rp->defect, "note", rp->note, "reprint_copy", rp->reprint_copy,
                           "printer", printer);
        r = audit(s, rp->actor, "job.reprint", detail);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_copy_confirm_printed(lab_store_t *s, const char *job_id, int copy,
                                   const char *job_name, const char *by, const char *actor,
                                   const lab_stock_use_t *uses, size_t n_uses)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_free_ char *printer = NULL;
        json_auto_t *detail = NULL;
        lab_job_state_t job_state;
        lab_copy_state_t state;
        int attempt = 0, r;

        if (!s || !nonempty(job_id) || copy < 1 || !nonempty(by) || !nonempty(actor))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_job_state_of(s, job_id, &job_state, NULL, NULL);
        if (r < 0)
                return r;
        r = copy_of(s, job_id, copy, &state, &printer, &attempt);
        if (r < 0)
                return r;
        if (state != LAB_COPY_UNCERTAIN)
                return -EBUSY;
        r = uncertain_printed(s, job_id, copy, printer, attempt, job_name, by);
        if (r < 0)
                return r;
        r = store_stock_consume(s, job_id, copy, uses, n_uses);
        if (r < 0)
                return r;
        r = store_job_follow_copies(s, job_id);
        if (r < 0)
                return r;
        detail = json_pack("{s:s, s:i, s:s}", "job", job_id, "copy", copy, "printer", printer);
        r = audit(s, actor, "copy.confirm_printed", detail);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_job_copies(lab_store_t *s, const char *job_id, lab_store_copy_t ***ret, size_t *ret_n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !nonempty(job_id) || !ret || !ret_n)
                return -EINVAL;
        r = store_prepare(s,
                          "SELECT " COPY_COLUMNS " FROM copies c JOIN jobs j ON j.id = c.job_id "
                          "WHERE c.job_id = ?1 ORDER BY c.copy",
                          &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, job_id);
        if (r < 0)
                return r;
        return store_copies_collect(s, stmt, NULL, 0, ret, ret_n);
}

int lab_store_jobs_by_state(lab_store_t *s,
                            void (*fn)(lab_job_state_t state, int64_t n, void *userdata),
                            void *userdata)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !fn)
                return -EINVAL;
        r = store_prepare(s, "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state",
                          &stmt);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                lab_job_state_t state =
                    lab_job_state_from_string((const char *)sqlite3_column_text(stmt, 0));

                if (state != LAB_JOB_STATE_INVALID)
                        fn(state, sqlite3_column_int64(stmt, 1), userdata);
        }
        return rc == SQLITE_DONE ? 0 : store_step_errno(s, rc);
}
