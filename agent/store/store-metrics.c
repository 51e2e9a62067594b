/*
 * store-metrics.c - the store's figures for the metrics file (metrics.textfile).
 *
 * Why: the lab's monitoring graphs prints, defects, jobs and the outbox from
 * a file the metrics stage rewrites every 15 s. Two things matter here:
 *
 *   - a counter (labagent_prints_total) must never go down, or Prometheus
 *     reads a reset and its rate() jumps. printer_tally, the dated facts of
 *     printer.quality, forgets rows after 8 days, so it cannot be counted
 *     whole. The lifetime figures come from the rows that are kept: copies
 *     in state printed (a printed copy never moves and is never deleted) and
 *     the audit log's job.reprint records (one per defect reported, written
 *     in the transaction that dates the defect). They are read once, in one
 *     snapshot with the last printer_tally id; after that only the tally rows
 *     dated since are added (each printed copy and each defect is dated
 *     there exactly once, in the transaction that makes it true), so a busy
 *     lab's years of copies are never counted again;
 *   - a quiet lab costs nothing: when the connection has written nothing
 *     since the last read (sqlite3_total_changes64), nothing is read.
 *
 * Jobs per state, the outbox by class and the prints are read in one
 * snapshot, so the file never shows a job printed whose copy is not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store-private.h"

/* The entry of printer in m (added with zero counts when absent), or NULL when out of memory. */
static lab_store_print_count_t *printer_entry(lab_store_metrics_t *m, const char *printer)
{
        lab_store_print_count_t *v;

        for (size_t i = 0; i < m->n_printers; i++)
                if (strcmp(m->printers[i].printer, printer) == 0)
                        return &m->printers[i];
        v = reallocarray(m->printers, m->n_printers + 1, sizeof *v);
        if (!v)
                return NULL;
        m->printers = v;
        v = &m->printers[m->n_printers];
        *v = (lab_store_print_count_t){.printer = strdup(printer)};
        if (!v->printer)
                return NULL;
        m->n_printers++;
        return v;
}

/* The queries whose rows are (printer, n, 'printed' or 'defect'): the lifetime figures from
   rows never deleted, and what printer_tally dated after ?1. */
static const char *const seed_sql[] = {
    "SELECT printer, count(*), 'printed' FROM copies WHERE state = 'printed' GROUP BY printer",
    "SELECT json_extract(detail, '$.printer'), count(*), 'defect' FROM audit "
    "WHERE action = 'job.reprint' AND json_valid(detail) GROUP BY 1",
};
static const char tally_sql[] = "SELECT printer, count(*), what FROM printer_tally WHERE id > ?1 "
                                "AND what IN ('printed', 'defect') GROUP BY printer, what";

/* Run sql (?1, if it has one, is m->tally_id) and add its (printer, n, what) rows. */
static int count_into(lab_store_t *s, lab_store_metrics_t *m, const char *sql)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_prepare(s, sql, &stmt);
        if (r < 0)
                return r;
        if (sqlite3_bind_parameter_count(stmt) > 0 &&
            (r = store_bind_int64(stmt, 1, m->tally_id)) < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *printer = (const char *)sqlite3_column_text(stmt, 0);
                const char *what = (const char *)sqlite3_column_text(stmt, 2);
                lab_store_print_count_t *c;

                if (!printer || !*printer || !what)
                        continue; /* nowhere: nothing to count against */
                c = printer_entry(m, printer);
                if (!c)
                        return -ENOMEM;
                if (strcmp(what, "defect") == 0)
                        c->defects += sqlite3_column_int64(stmt, 1);
                else
                        c->printed += sqlite3_column_int64(stmt, 1);
        }
        return rc == SQLITE_DONE ? 0 : store_step_errno(s, rc);
}

/*
 * The prints and defects: the first time, the lifetime figures; then what was dated
 * since m->tally_id. Either way m->tally_id moves to the last tally row of the snapshot.
 */
static int counts_read(lab_store_t *s, lab_store_metrics_t *m)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *last = NULL;
        int r, rc;

        for (size_t i = 0; !m->seeded && i < ELEMENTSOF(seed_sql); i++)
                if ((r = count_into(s, m, seed_sql[i])) < 0)
                        return r;
        if (m->seeded && (r = count_into(s, m, tally_sql)) < 0)
                return r;
        r = store_prepare(s, "SELECT coalesce(max(id), ?1) FROM printer_tally WHERE id > ?1",
                          &last);
        if (r < 0 || (r = store_bind_int64(last, 1, m->tally_id)) < 0)
                return r;
        rc = sqlite3_step(last);
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        m->tally_id = sqlite3_column_int64(last, 0);
        m->seeded = true;
        return 0;
}

static void job_count(lab_job_state_t state, int64_t n, void *userdata)
{
        lab_store_metrics_t *m = userdata;

        m->jobs[state] = n;
}

/* The outbox's events by class. */
static int outbox_read(lab_store_t *s, lab_store_metrics_t *m)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        m->outbox_job = m->outbox_telemetry = 0;
        r = store_prepare(s, "SELECT class, count(*) FROM events GROUP BY class", &stmt);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *cls = (const char *)sqlite3_column_text(stmt, 0);

                if (cls && strcmp(cls, "telemetry") == 0)
                        m->outbox_telemetry = sqlite3_column_int64(stmt, 1);
                else
                        m->outbox_job += sqlite3_column_int64(stmt, 1);
        }
        return rc == SQLITE_DONE ? 0 : store_step_errno(s, rc);
}

/* Order printers by name, so the file's lines do not move around. */
static int by_printer(const void *a, const void *b)
{
        return strcmp(((const lab_store_print_count_t *)a)->printer,
                      ((const lab_store_print_count_t *)b)->printer);
}

int lab_store_metrics_read(lab_store_t *s, lab_store_metrics_t *m)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        lab_store_metrics_t next = {0};
        uint64_t changes;
        int r;

        if (!s || !m)
                return -EINVAL;
        changes = (uint64_t)sqlite3_total_changes64(s->db);
        if (m->seeded && changes == m->changes)
                return 0;

        /* Work on a copy of the counts: a failure leaves m as it was. */
        next.tally_id = m->tally_id;
        next.seeded = m->seeded;
        for (size_t i = 0; i < m->n_printers; i++) {
                lab_store_print_count_t *c = printer_entry(&next, m->printers[i].printer);

                if (!c) {
                        lab_store_metrics_done(&next);
                        return -ENOMEM;
                }
                c->printed = m->printers[i].printed;
                c->defects = m->printers[i].defects;
        }

        r = store_txn_begin(s, false, &txn);
        if (r >= 0)
                r = counts_read(s, &next);
        if (r >= 0) /* every state, 0 included */
                r = lab_store_jobs_by_state(s, job_count, &next);
        if (r >= 0)
                r = outbox_read(s, &next);
        if (r >= 0)
                r = store_txn_commit(&txn);
        if (r < 0) {
                lab_store_metrics_done(&next);
                return r;
        }
        if (next.n_printers > 1)
                qsort(next.printers, next.n_printers, sizeof *next.printers, by_printer);
        next.changes = changes;
        lab_store_metrics_done(m);
        *m = next;
        return 1;
}

void lab_store_metrics_done(lab_store_metrics_t *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n_printers; i++)
                free(m->printers[i].printer);
        free(m->printers);
        *m = (lab_store_metrics_t){0};
}
