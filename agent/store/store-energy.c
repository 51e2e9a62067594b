/*
 * store-energy.c - the energy meters' durable state (see store.h, "Energy").
 *
 * Why here: energy must be counted once across any crash. An interval, the
 * prints that share it and the meter's new baseline (the reading the next
 * one is measured against) are written in one transaction; a copy's print
 * row is written in the transaction that marks the copy printed
 * (store_energy_print, from store_stock_consume); a report (energy.reading,
 * job.energy) marks what it covers in the transaction that appends it. The
 * rules (deltas, resets, wraps, shares) are agent/energy's: this file only
 * keeps what they decide.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store-private.h"

/* Bind a double, or SQL NULL when it is not finite (NAN: none). */
static int bind_real(sqlite3_stmt *stmt, int index, double v)
{
        int rc = isfinite(v) ? sqlite3_bind_double(stmt, index, v) : sqlite3_bind_null(stmt, index);

        return rc == SQLITE_OK ? 0 : -ENOMEM;
}

/* Bind a time, or SQL NULL for 0. */
static int bind_time(sqlite3_stmt *stmt, int index, int64_t at)
{
        return at ? store_bind_int64(stmt, index, at)
                  : (sqlite3_bind_null(stmt, index) == SQLITE_OK ? 0 : -ENOMEM);
}

/* A real column, NAN for SQL NULL. */
static double column_real(sqlite3_stmt *stmt, int i)
{
        return sqlite3_column_type(stmt, i) == SQLITE_NULL ? NAN : sqlite3_column_double(stmt, i);
}

/* Append events (class job) in the caller's transaction. */
static int append_events(lab_store_t *s, const lab_store_energy_event_t *events, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int r = store_event_insert(s, LAB_EVENT_JOB, events[i].kind, NULL, events[i].body,
                                           NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_energy_print(lab_store_t *s, const char *job_id, int copy, int attempt,
                       const char *printer)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        r = store_prepare(s,
                          "INSERT INTO energy_prints (job_id, copy, attempt, printer, meter, sku) "
                          "SELECT ?1, ?2, ?3, ep.printer, ep.meter, j.sku FROM energy_printers ep "
                          "JOIN jobs j ON j.id = ?1 WHERE ep.printer = ?4 "
                          "ON CONFLICT DO NOTHING",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, job_id)) < 0 ||
            (r = store_bind_int64(stmt, 2, copy)) < 0 ||
            (r = store_bind_int64(stmt, 3, attempt)) < 0 ||
            (r = store_bind_text(stmt, 4, printer)) < 0)
                return r;
        int64_t w = store_step_write(s, stmt);

        return w < 0 ? (int)w : 0;
}

int lab_store_energy_declare(lab_store_t *s, const char *const *meters, size_t n_meters,
                             const char *const *printers, const char *const *printer_meters,
                             size_t n_printers)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *clear = NULL;
        int r;

        if (!s || (n_meters && !meters) || (n_printers && (!printers || !printer_meters)))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_meters; i++) {
                int64_t w = store_write_text(
                    s, "INSERT INTO energy_meters (name) VALUES (?1) ON CONFLICT DO NOTHING",
                    meters[i], NULL);
                if (w < 0)
                        return (int)w;
        }
        r = store_prepare(s, "DELETE FROM energy_printers", &clear);
        if (r < 0)
                return r;
        int64_t cleared = store_step_write(s, clear);

        if (cleared < 0)
                return (int)cleared;
        for (size_t i = 0; i < n_printers; i++) {
                int64_t w = store_write_text(
                    s, "INSERT INTO energy_printers (printer, meter) VALUES (?1, ?2)", printers[i],
                    printer_meters[i]);
                if (w < 0)
                        return (int)w;
        }
        return store_txn_commit(&txn);
}

#define METER_COLUMNS                                                                              \
        "name, state, counted_mwh, power_w, reason, detail, fault_since, last_ok_at, saved_wh, "   \
        "last_error, last_error_at"

static const store_col_t meter_cols[] = {
    STORE_COL(lab_store_energy_meter_t, name, TEXT),
    STORE_COL(lab_store_energy_meter_t, state, TEXT),
    STORE_COL(lab_store_energy_meter_t, counted_mwh, INT64),
    STORE_COL(lab_store_energy_meter_t, power_w, SKIP),
    STORE_COL(lab_store_energy_meter_t, reason, TEXT),
    STORE_COL(lab_store_energy_meter_t, detail, TEXT),
    STORE_COL(lab_store_energy_meter_t, fault_since, INT64),
    STORE_COL(lab_store_energy_meter_t, last_ok_at, INT64),
    STORE_COL(lab_store_energy_meter_t, saved_wh, SKIP),
    STORE_COL(lab_store_energy_meter_t, last_error, TEXT),
    STORE_COL(lab_store_energy_meter_t, last_error_at, INT64),
};

/* The meter row's columns that are NAN or absent for NULL. */
static void meter_row(sqlite3_stmt *stmt, void *obj)
{
        lab_store_energy_meter_t *m = obj;

        m->power_w = column_real(stmt, 3);
        m->saved_valid = sqlite3_column_type(stmt, 8) != SQLITE_NULL;
        m->saved_wh = m->saved_valid ? sqlite3_column_double(stmt, 8) : 0;
}

int lab_store_energy_meter_list(lab_store_t *s, lab_store_energy_meter_t **ret, size_t *ret_n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        void *v = NULL;
        size_t n = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = store_prepare(s, "SELECT " METER_COLUMNS " FROM energy_meters ORDER BY name", &stmt);
        if (r < 0)
                return r;
        r = store_rows_read(s, stmt, sizeof **ret, meter_cols, ELEMENTSOF(meter_cols), meter_row,
                            &v, &n);
        if (r < 0) {
                lab_store_energy_meter_list_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void lab_store_energy_meter_list_free(lab_store_energy_meter_t *m, size_t n)
{
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].name);
                free(m[i].state);
                free(m[i].reason);
                free(m[i].detail);
                free(m[i].last_error);
        }
        free(m);
}

int lab_store_energy_meter_write(lab_store_t *s, const lab_store_energy_meter_t *m,
                                 const lab_store_energy_event_t *events, size_t n_events)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int64_t w;
        int r;

        if (!s || !m || !m->name || !m->state || (n_events && !events))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "UPDATE energy_meters SET state = ?2, power_w = ?3, reason = ?4, "
                          "detail = ?5, fault_since = ?6, last_error = ?7, last_error_at = ?8, "
                          "saved_wh = ?9, last_ok_at = ?10 WHERE name = ?1",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, m->name)) < 0 ||
            (r = store_bind_text(stmt, 2, m->state)) < 0 ||
            (r = bind_real(stmt, 3, m->power_w)) < 0 ||
            (r = store_bind_text(stmt, 4, m->reason)) < 0 ||
            (r = store_bind_text(stmt, 5, m->detail)) < 0 ||
            (r = bind_time(stmt, 6, m->fault_since)) < 0 ||
            (r = store_bind_text(stmt, 7, m->last_error)) < 0 ||
            (r = bind_time(stmt, 8, m->last_error_at)) < 0 ||
            (r = bind_real(stmt, 9, m->saved_valid ? m->saved_wh : NAN)) < 0 ||
            (r = bind_time(stmt, 10, m->last_ok_at)) < 0)
                return r;
        w = store_step_write(s, stmt);
        if (w < 0)
                return (int)w;
        if (w == 0)
                return -ENOENT;
        r = append_events(s, events, n_events);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_energy_open_prints(lab_store_t *s, const char *meter, lab_store_energy_print_t **ret,
                                 size_t *ret_n)
{
        static const store_col_t cols[] = {
            STORE_COL(lab_store_energy_print_t, job_id, TEXT),
            STORE_COL(lab_store_energy_print_t, copy, INT),
            STORE_COL(lab_store_energy_print_t, attempt, INT),
            STORE_COL(lab_store_energy_print_t, printer, TEXT),
            STORE_COL(lab_store_energy_print_t, sku, TEXT),
        };
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        void *v = NULL;
        size_t n = 0;
        int r;

        if (!s || !meter || !ret || !ret_n)
                return -EINVAL;
        r = store_prepare(s,
                          "SELECT job_id, copy, attempt, printer, sku FROM energy_prints "
                          "WHERE meter = ?1 AND interval_id IS NULL ORDER BY rowid",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, meter)) < 0)
                return r;
        r = store_rows_read(s, stmt, sizeof **ret, cols, ELEMENTSOF(cols), NULL, &v, &n);
        if (r < 0) {
                lab_store_energy_prints_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void lab_store_energy_prints_free(lab_store_energy_print_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].job_id);
                free(v[i].printer);
                free(v[i].sku);
        }
        free(v);
}

int lab_store_energy_close(lab_store_t *s, const lab_store_energy_interval_t *iv,
                           const lab_store_energy_print_t *prints, const int64_t *share_mwh,
                           size_t n, const lab_store_energy_event_t *events, size_t n_events)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL, *meter = NULL;
        int64_t id, w;
        int r;

        if (!s || !iv || !iv->meter || !iv->quality || iv->energy_mwh < 0 || iv->idle_mwh < 0 ||
            iv->idle_mwh > iv->energy_mwh || (n && (!prints || !share_mwh)) ||
            (n_events && !events))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "INSERT INTO energy_intervals (meter, from_at, to_at, energy_mwh, "
                          "idle_mwh, prints, total_wh, power_w, quality) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                          &ins);
        if (r < 0 || (r = store_bind_text(ins, 1, iv->meter)) < 0 ||
            (r = store_bind_int64(ins, 2, iv->from_at)) < 0 ||
            (r = store_bind_int64(ins, 3, iv->to_at)) < 0 ||
            (r = store_bind_int64(ins, 4, iv->energy_mwh)) < 0 ||
            (r = store_bind_int64(ins, 5, iv->idle_mwh)) < 0 ||
            (r = store_bind_int64(ins, 6, (int64_t)n)) < 0 ||
            (r = bind_real(ins, 7, iv->total_wh)) < 0 || (r = bind_real(ins, 8, iv->power_w)) < 0 ||
            (r = store_bind_text(ins, 9, iv->quality)) < 0)
                return r;
        w = store_step_write(s, ins);
        if (w < 0)
                return (int)w;
        id = sqlite3_last_insert_rowid(s->db);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sqlite3_finalizep) sqlite3_stmt *upd = NULL;

                r = store_prepare(s,
                                  "UPDATE energy_prints SET interval_id = ?4, mwh = ?5 WHERE "
                                  "job_id = ?1 AND copy = ?2 AND attempt = ?3 AND interval_id IS "
                                  "NULL",
                                  &upd);
                if (r < 0 || (r = store_bind_text(upd, 1, prints[i].job_id)) < 0 ||
                    (r = store_bind_int64(upd, 2, prints[i].copy)) < 0 ||
                    (r = store_bind_int64(upd, 3, prints[i].attempt)) < 0 ||
                    (r = store_bind_int64(upd, 4, id)) < 0 ||
                    (r = store_bind_int64(upd, 5, share_mwh[i])) < 0)
                        return r;
                w = store_step_write(s, upd);
                if (w < 0)
                        return (int)w;
                if (w == 0)
                        return -ESTALE;
        }
        r = store_prepare(s,
                          "UPDATE energy_meters SET saved_wh = ?2, counted_mwh = counted_mwh + ?3, "
                          "power_w = ?4, last_ok_at = ?5, state = 'ok', reason = NULL, "
                          "detail = NULL, fault_since = NULL WHERE name = ?1",
                          &meter);
        if (r < 0 || (r = store_bind_text(meter, 1, iv->meter)) < 0 ||
            (r = bind_real(meter, 2, iv->saved_wh)) < 0 ||
            (r = store_bind_int64(meter, 3, iv->energy_mwh)) < 0 ||
            (r = bind_real(meter, 4, iv->power_w)) < 0 ||
            (r = store_bind_int64(meter, 5, iv->to_at)) < 0)
                return r;
        w = store_step_write(s, meter);
        if (w < 0)
                return (int)w;
        if (w == 0)
                return -ENOENT;
        r = append_events(s, events, n_events);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

/* The worse of two quality keywords: ok < gap < meter_reset. */
static const char *worse_quality(const char *a, const char *b)
{
        static const char *const order[] = {"ok", "gap", "meter_reset"};
        int ra = 0, rb = 0;

        for (int i = 0; i < 3; i++) {
                if (a && strcmp(a, order[i]) == 0)
                        ra = i;
                if (b && strcmp(b, order[i]) == 0)
                        rb = i;
        }
        return order[ra > rb ? ra : rb];
}

int lab_store_energy_pending(lab_store_t *s, const char *meter, lab_store_energy_pending_t *ret)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        lab_store_energy_pending_t p = {.power_w = NAN, .power_w_max = NAN};
        int r, rc;

        if (!s || !meter || !ret)
                return -EINVAL;
        snprintf(p.quality, sizeof p.quality, "ok");
        r = store_prepare(s,
                          "SELECT id, from_at, to_at, energy_mwh, idle_mwh, prints, total_wh, "
                          "power_w, quality FROM energy_intervals WHERE meter = ?1 AND "
                          "reported = 0 ORDER BY id",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, meter)) < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                double power = column_real(stmt, 7);

                if (p.intervals++ == 0)
                        p.from_at = sqlite3_column_int64(stmt, 1);
                p.last_id = sqlite3_column_int64(stmt, 0);
                p.to_at = sqlite3_column_int64(stmt, 2);
                p.energy_mwh += sqlite3_column_int64(stmt, 3);
                p.idle_mwh += sqlite3_column_int64(stmt, 4);
                p.prints += sqlite3_column_int64(stmt, 5);
                p.total_wh = sqlite3_column_double(stmt, 6);
                p.power_w = power;
                if (isfinite(power) && !(power <= p.power_w_max))
                        p.power_w_max = power;
                snprintf(p.quality, sizeof p.quality, "%s",
                         worse_quality(p.quality, (const char *)sqlite3_column_text(stmt, 8)));
        }
        if (rc != SQLITE_DONE)
                return store_step_errno(s, rc);
        *ret = p;
        return 0;
}

int lab_store_energy_reported(lab_store_t *s, const char *meter, int64_t last_id,
                              const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int64_t w;
        int r;

        if (!s || !meter || !event_body)
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "UPDATE energy_intervals SET reported = 1 WHERE meter = ?1 AND id <= ?2 "
                          "AND reported = 0",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, meter)) < 0 ||
            (r = store_bind_int64(stmt, 2, last_id)) < 0)
                return r;
        w = store_step_write(s, stmt);
        if (w < 0)
                return (int)w;
        r = store_event_insert(s, LAB_EVENT_TELEMETRY, "energy.reading", NULL, event_body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

/* A due job's quality, from the worst of its intervals' (column 5: 0 ok, 1 gap, 2 reset). */
static void job_row(sqlite3_stmt *stmt, void *obj)
{
        static const char *const q[] = {"ok", "gap", "meter_reset"};
        lab_store_energy_job_t *j = obj;
        int worst = sqlite3_column_int(stmt, 5);

        snprintf(j->quality, sizeof j->quality, "%s", q[worst >= 0 && worst < 3 ? worst : 0]);
}

int lab_store_energy_jobs_due(lab_store_t *s, size_t max, lab_store_energy_job_t **ret,
                              size_t *ret_n)
{
        static const store_col_t cols[] = {
            STORE_COL(lab_store_energy_job_t, job_id, TEXT),
            STORE_COL(lab_store_energy_job_t, printer, TEXT),
            STORE_COL(lab_store_energy_job_t, meter, TEXT),
            STORE_COL(lab_store_energy_job_t, mwh, INT64),
            STORE_COL(lab_store_energy_job_t, copies, INT),
        };
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        void *v = NULL;
        size_t n = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        /* Due: unreported prints, none of the job's prints still open, no copy of it still
           to print, and the job at rest (nothing more will print unless a person asks). */
        r = store_prepare(
            s,
            "SELECT p.job_id, (SELECT printer FROM energy_prints WHERE job_id = p.job_id ORDER BY "
            "rowid DESC LIMIT 1), (SELECT meter FROM energy_prints WHERE job_id = p.job_id ORDER "
            "BY rowid DESC LIMIT 1), sum(p.mwh), count(*), max(CASE i.quality WHEN "
            "'meter_reset' THEN 2 WHEN 'gap' THEN 1 ELSE 0 END) FROM energy_prints p JOIN "
            "energy_intervals i ON i.id = p.interval_id JOIN jobs j ON j.id = p.job_id WHERE "
            "p.reported = 0 AND j.state IN ('printed', 'reported', 'canceled', 'failed', "
            "'uncertain', 'dropped') AND NOT EXISTS (SELECT 1 FROM energy_prints o WHERE "
            "o.job_id = p.job_id AND o.interval_id IS NULL) AND NOT EXISTS (SELECT 1 FROM "
            "copies c WHERE c.job_id = p.job_id AND (c.state IN ('submitting', 'printing') OR "
            "(c.state = 'queued' AND j.state NOT IN ('canceled', 'dropped')))) "
            "GROUP BY p.job_id ORDER BY min(p.interval_id) LIMIT ?1",
            &stmt);
        if (r < 0 || (r = store_bind_int64(stmt, 1, (int64_t)max)) < 0)
                return r;
        r = store_rows_read(s, stmt, sizeof **ret, cols, ELEMENTSOF(cols), job_row, &v, &n);
        if (r < 0) {
                lab_store_energy_jobs_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void lab_store_energy_jobs_free(lab_store_energy_job_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].job_id);
                free(v[i].printer);
                free(v[i].meter);
        }
        free(v);
}

int lab_store_energy_job_reported(lab_store_t *s, const char *job_id, const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int64_t w;
        int r;

        if (!s || !job_id || !event_body)
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        w = store_write_text(s,
                             "UPDATE energy_prints SET reported = 1 WHERE job_id = ?1 AND "
                             "reported = 0 AND interval_id IS NOT NULL",
                             job_id, NULL);
        if (w < 0)
                return (int)w;
        if (w == 0)
                return -ENOENT;
        r = store_event_insert(s, LAB_EVENT_JOB, "job.energy", job_id, event_body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_energy_window(lab_store_t *s, const char *meter, int64_t since,
                            lab_store_energy_window_t *ret)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !meter || !ret)
                return -EINVAL;
        r = store_prepare(s,
                          "SELECT coalesce(sum(energy_mwh), 0), coalesce(sum(idle_mwh), 0), "
                          "coalesce(sum(prints), 0), coalesce(sum(energy_mwh - idle_mwh), 0), "
                          "count(*) FROM energy_intervals WHERE meter = ?1 AND to_at > ?2",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, meter)) < 0 ||
            (r = store_bind_int64(stmt, 2, since)) < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        *ret = (lab_store_energy_window_t){
            .energy_mwh = sqlite3_column_int64(stmt, 0),
            .idle_mwh = sqlite3_column_int64(stmt, 1),
            .prints = sqlite3_column_int64(stmt, 2),
            .print_mwh = sqlite3_column_int64(stmt, 3),
            .intervals = sqlite3_column_int64(stmt, 4),
        };
        return 0;
}

int lab_store_energy_prune(lab_store_t *s, int64_t before)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *prints = NULL, *intervals = NULL;
        int64_t w;
        int r;

        if (!s)
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "DELETE FROM energy_prints WHERE reported = 1 AND interval_id IN "
                          "(SELECT id FROM energy_intervals WHERE to_at < ?1)",
                          &prints);
        if (r < 0 || (r = store_bind_int64(prints, 1, before)) < 0)
                return r;
        w = store_step_write(s, prints);
        if (w < 0)
                return (int)w;
        /* An interval stays while a print of it waits for its job's report. */
        r = store_prepare(s,
                          "DELETE FROM energy_intervals WHERE reported = 1 AND to_at < ?1 AND "
                          "NOT EXISTS (SELECT 1 FROM energy_prints p WHERE p.interval_id = "
                          "energy_intervals.id)",
                          &intervals);
        if (r < 0 || (r = store_bind_int64(intervals, 1, before)) < 0)
                return r;
        w = store_step_write(s, intervals);
        if (w < 0)
                return (int)w;
        return store_txn_commit(&txn);
}
