/*
 * store-quality.c - what printer.quality counts: prints, defects, aborts and faults, dated.
 *
 * Why: the platform weighs a lab's printers by their defect rates, over the
 * last 24 hours and 7 days. The facts are dated here in the transaction that
 * makes each one true (a copy printed, a defect reported, a copy aborted, a
 * fault raised), so the figures survive restarts and never count one twice;
 * rows older than 8 days are dropped as new ones come.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "store-private.h"

#define TALLY_KEEP_S (8 * 24 * 3600)

int store_tally(lab_store_t *s, const char *printer, const char *what, const char *detail,
                int64_t at)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL, *del = NULL;
        int r;

        if (!printer || !*printer)
                return 0; /* a copy with no printer prints nowhere: nothing to date */
        r = store_prepare(s,
                          "INSERT INTO printer_tally (printer, what, detail, at) "
                          "VALUES (?1, ?2, ?3, ?4)",
                          &ins);
        if (r < 0 || (r = store_bind_text(ins, 1, printer)) < 0 ||
            (r = store_bind_text(ins, 2, what)) < 0 || (r = store_bind_text(ins, 3, detail)) < 0 ||
            (r = store_bind_int64(ins, 4, at)) < 0)
                return r;
        if ((r = (int)store_step_write(s, ins)) < 0)
                return r;
        r = store_prepare(s, "DELETE FROM printer_tally WHERE printer = ?1 AND at < ?2", &del);
        if (r < 0 || (r = store_bind_text(del, 1, printer)) < 0 ||
            (r = store_bind_int64(del, 2, at - TALLY_KEEP_S)) < 0)
                return r;
        r = (int)store_step_write(s, del);
        return r < 0 ? r : 0;
}

int store_tally_copy(lab_store_t *s, const char *job_id, int copy, const char *what)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        _cleanup_free_ char *printer = NULL;
        int r, rc;

        r = store_prepare(s, "SELECT printer FROM copies WHERE job_id = ?1 AND copy = ?2", &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, job_id)) < 0 ||
            (r = store_bind_int64(stmt, 2, copy)) < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        if ((r = store_column_strdup(stmt, 0, &printer)) < 0)
                return r;
        return store_tally(s, printer, what, NULL, (int64_t)time(NULL));
}

int lab_store_printer_fault(lab_store_t *s, const char *printer, int64_t at, bool raised,
                            const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int r;

        if (!s || !printer || !*printer || !event_body)
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        if (raised && (r = store_tally(s, printer, "fault", NULL, at)) < 0)
                return r;
        r = store_event_insert(s, LAB_EVENT_JOB, "printer.fault", NULL, event_body, NULL);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_printer_quality(lab_store_t *s, const char *printer, int64_t now, int64_t seconds,
                              lab_store_quality_t *ret)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !printer || !ret)
                return -EINVAL;
        *ret = (lab_store_quality_t){0};
        r = store_prepare(s,
                          "SELECT what, coalesce(detail, ''), count(*) FROM printer_tally "
                          "WHERE printer = ?1 AND at > ?2 AND at <= ?3 GROUP BY what, detail "
                          "ORDER BY count(*) DESC, detail",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_int64(stmt, 2, now - seconds)) < 0 ||
            (r = store_bind_int64(stmt, 3, now)) < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *what = (const char *)sqlite3_column_text(stmt, 0);
                const char *detail = (const char *)sqlite3_column_text(stmt, 1);
                int64_t n = sqlite3_column_int64(stmt, 2);

                if (strcmp(what, "printed") == 0) {
                        ret->printed += n;
                } else if (strcmp(what, "aborted") == 0) {
                        ret->aborted += n;
                } else if (strcmp(what, "fault") == 0) {
                        ret->faults += n;
                } else if (strcmp(what, "defect") == 0) {
                        ret->defects += n;
                        if (ret->n_kinds < ELEMENTSOF(ret->by_kind)) {
                                snprintf(ret->by_kind[ret->n_kinds].kind,
                                         sizeof ret->by_kind[0].kind, "%s", detail);
                                ret->by_kind[ret->n_kinds++].n = n;
                        }
                }
        }
        return rc == SQLITE_DONE ? 0 : store_step_errno(s, rc);
}
