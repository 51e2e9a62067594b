/*
 * store-stock.c - the lab's stock items and the consumption ledger (see store.h, "Stock").
 *
 * Why here: a print's consumption must be counted exactly once, across any
 * crash, so its ledger row is written in the same transaction that marks
 * the copy printed (store_stock_consume, called by the copy's move), keyed
 * by the copy's attempt; a technician's entry is one transaction with its
 * event and audit record. The rules themselves (states, hysteresis) are
 * agent/stock's: this file only keeps what they decide.
 */
#include <errno.h>
#include <math.h>
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

/* Bind a double, or SQL NULL when it is unknown (< 0, or not finite). */
static int bind_figure(sqlite3_stmt *stmt, int index, double v)
{
        int rc = isfinite(v) && v >= 0 ? sqlite3_bind_double(stmt, index, v)
                                       : sqlite3_bind_null(stmt, index);
        return rc == SQLITE_OK ? 0 : -ENOMEM;
}

/* A real column, or -1 for SQL NULL. */
static double column_figure(sqlite3_stmt *stmt, int i)
{
        return sqlite3_column_type(stmt, i) == SQLITE_NULL ? -1 : sqlite3_column_double(stmt, i);
}

/* Text column i into buf (size), "" for NULL. */
static void column_text(sqlite3_stmt *stmt, int i, char *buf, size_t size)
{
        const char *t = (const char *)sqlite3_column_text(stmt, i);

        snprintf(buf, size, "%s", t ? t : "");
}

#define ITEM_COLUMNS                                                                               \
        "printer, item, kind, media, source, remaining, unit, capacity, level, threshold, "        \
        "state, told, as_of, drift"

/* The item in the current row of an ITEM_COLUMNS query. */
static void item_from_row(sqlite3_stmt *stmt, lab_stock_item_t *it)
{
        int v;

        *it = (lab_stock_item_t){0};
        column_text(stmt, 0, it->printer, sizeof it->printer);
        column_text(stmt, 1, it->item, sizeof it->item);
        v = lab_stock_kind_from_string((const char *)sqlite3_column_text(stmt, 2));
        it->kind = v >= 0 ? (lab_stock_kind_t)v : LAB_STOCK_KIND_OTHER;
        column_text(stmt, 3, it->media, sizeof it->media);
        v = lab_stock_source_from_string((const char *)sqlite3_column_text(stmt, 4));
        it->source = v >= 0 ? (lab_stock_source_t)v : LAB_STOCK_SOURCE_TECHNICIAN;
        it->remaining = column_figure(stmt, 5);
        v = lab_stock_unit_from_string((const char *)sqlite3_column_text(stmt, 6));
        it->unit = v >= 0 ? (lab_stock_unit_t)v : LAB_STOCK_UNIT_PRINTS;
        it->capacity = column_figure(stmt, 7);
        it->level = sqlite3_column_type(stmt, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 8);
        it->threshold = sqlite3_column_double(stmt, 9);
        v = lab_stock_state_from_string((const char *)sqlite3_column_text(stmt, 10));
        it->state = v >= 0 ? (lab_stock_state_t)v : LAB_STOCK_UNKNOWN;
        v = lab_stock_state_from_string((const char *)sqlite3_column_text(stmt, 11));
        it->told = v >= 0 ? (lab_stock_state_t)v : LAB_STOCK_UNKNOWN;
        it->as_of = sqlite3_column_int64(stmt, 12);
        it->has_drift = sqlite3_column_type(stmt, 13) != SQLITE_NULL;
        it->drift = it->has_drift ? sqlite3_column_double(stmt, 13) : 0;
}

/* Read one item in the caller's transaction: -ENOENT when there is none. */
static int item_get(lab_store_t *s, const char *printer, const char *item, lab_stock_item_t *it)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_prepare(
            s, "SELECT " ITEM_COLUMNS " FROM stock_items WHERE printer = ?1 AND item = ?2", &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_text(stmt, 2, item)) < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        item_from_row(stmt, it);
        return 0;
}

/* Remove printer's items of the given sources not named in items. */
static int remove_others(lab_store_t *s, const char *printer, const char *sources,
                         const lab_stock_item_t *items, size_t n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        json_auto_t *names = json_array();
        _cleanup_free_ char *text = NULL;
        int r;

        for (size_t i = 0; names && i < n; i++)
                if (json_array_append_new(names, json_string(items[i].item)) < 0)
                        return -ENOMEM;
        text = names ? json_dumps(names, JSON_COMPACT) : NULL;
        if (!text)
                return -ENOMEM;
        r = store_prepare(s,
                          "DELETE FROM stock_items WHERE printer = ?1 AND instr(?3, ',' || "
                          "source || ',') > 0 AND item NOT IN (SELECT value FROM json_each(?2))",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_text(stmt, 2, text)) < 0 || (r = store_bind_text(stmt, 3, sources)) < 0)
                return r;
        int64_t w = store_step_write(s, stmt);

        return w < 0 ? (int)w : 0;
}

/*
 * Bind an item for an upsert: ?1 printer, ?2 item, ?3 kind, ?4 media, ?5 source,
 * ?6 remaining, ?7 unit, ?8 capacity, ?9 level, ?10 threshold, ?11 state,
 * ?12 as_of; the statement uses the first ones it needs.
 */
static int bind_item(sqlite3_stmt *stmt, const char *printer, const lab_stock_item_t *it)
{
        int n = sqlite3_bind_parameter_count(stmt), r = 0;

        if ((r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_text(stmt, 2, it->item)) < 0 ||
            (r = store_bind_text(stmt, 3, lab_stock_kind_to_string(it->kind))) < 0 ||
            (r = store_bind_text(stmt, 4, it->media)) < 0 ||
            (r = store_bind_text(stmt, 5, lab_stock_source_to_string(it->source))) < 0 ||
            (r = bind_figure(stmt, 6, it->remaining)) < 0 ||
            (r = store_bind_text(stmt, 7, lab_stock_unit_to_string(it->unit))) < 0 ||
            (r = bind_figure(stmt, 8, it->capacity)) < 0)
                return r;
        if (n >= 9 && (r = bind_figure(stmt, 9, it->level)) < 0)
                return r;
        if (n >= 10 && sqlite3_bind_double(stmt, 10, it->threshold) != SQLITE_OK)
                return -ENOMEM;
        if (n >= 11 && (r = store_bind_text(stmt, 11, lab_stock_state_to_string(it->state))) < 0)
                return r;
        if (n >= 12 && (r = store_bind_int64(stmt, 12, it->as_of)) < 0)
                return r;
        return 0;
}

/* Upsert items of printer with sql (bind_item's parameters) in one transaction, then
   remove printer's items of the sources listed (",a,b,") that items do not name. */
static int write_items(lab_store_t *s, const char *printer, const lab_stock_item_t *items, size_t n,
                       const char *sql, const char *sources)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int r;

        if (!s || !nonempty(printer) || (n && !items))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;

                if ((r = store_prepare(s, sql, &stmt)) < 0 ||
                    (r = bind_item(stmt, printer, &items[i])) < 0 ||
                    (r = (int)store_step_write(s, stmt)) < 0)
                        return r;
        }
        r = remove_others(s, printer, sources, items, n);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_stock_declare(lab_store_t *s, const char *printer, const lab_stock_item_t *items,
                            size_t n)
{
        return write_items(
            s, printer, items, n,
            "INSERT INTO stock_items (printer, item, kind, media, source, unit, capacity, "
            "threshold) VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8, ?10) "
            "ON CONFLICT (printer, item) DO UPDATE SET kind = excluded.kind, "
            "media = excluded.media, source = excluded.source, capacity = "
            "excluded.capacity, threshold = excluded.threshold, "
            /* A printer's item of the same name: the declaration wins, and the
               printer's figures are not the agent's count. */
            "remaining = CASE WHEN unit = excluded.unit AND source != 'printer' THEN "
            "remaining END, level = CASE WHEN unit = excluded.unit AND source != "
            "'printer' THEN level END, drift = CASE WHEN source = 'printer' THEN NULL ELSE "
            "drift END, state = CASE WHEN source = 'printer' THEN 'unknown' ELSE state END, "
            "told = CASE WHEN source = 'printer' THEN 'unknown' ELSE told END, "
            "unit = excluded.unit, updated_at = " LAB_SQL_NOW,
            ",counted,technician,");
}

int lab_store_stock_report(lab_store_t *s, const char *printer, const lab_stock_item_t *items,
                           size_t n)
{
        /* A declared item of the same name keeps its own source: only printer rows. */
        return write_items(
            s, printer, items, n,
            "INSERT INTO stock_items (printer, item, kind, media, source, remaining, unit, "
            "capacity, level, threshold, state, as_of) VALUES (?1, ?2, ?3, ?4, 'printer', "
            "?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (printer, item) DO UPDATE SET "
            "kind = excluded.kind, media = excluded.media, remaining = excluded.remaining, "
            "unit = excluded.unit, capacity = excluded.capacity, level = excluded.level, "
            "threshold = excluded.threshold, state = excluded.state, as_of = "
            "excluded.as_of, updated_at = " LAB_SQL_NOW " WHERE source = 'printer'",
            ",printer,");
}

int lab_store_stock_printer_count(lab_store_t *s, const char *printer, const char *item,
                                  double count, int64_t as_of)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !nonempty(printer) || !nonempty(item) || !(count >= 0))
                return -EINVAL;
        lab_stock_item_t it;

        r = item_get(s, printer, item, &it);
        if (r < 0)
                return r;
        if (it.source == LAB_STOCK_SOURCE_PRINTER)
                return -ENOENT;
        if (it.remaining == count)
                return 0; /* the agent's count agrees: nothing to write */
        r = store_prepare(
            s,
            "UPDATE stock_items SET drift = CASE WHEN remaining IS NULL THEN NULL "
            "ELSE remaining - ?3 END, remaining = ?3, level = CASE WHEN capacity > 0 THEN "
            "min(100, CAST(round(?3 * 100.0 / capacity) AS INTEGER)) END, as_of = ?4, "
            "updated_at = " LAB_SQL_NOW " WHERE printer = ?1 AND item = ?2",
            &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_text(stmt, 2, item)) < 0 ||
            sqlite3_bind_double(stmt, 3, count) != SQLITE_OK ||
            (r = store_bind_int64(stmt, 4, as_of)) < 0)
                return r < 0 ? r : -ENOMEM;
        r = (int)store_step_write(s, stmt);
        return r < 0 ? r : 0;
}

int lab_store_stock_list(lab_store_t *s, const char *printer, lab_stock_item_t **ret, size_t *ret_n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        _cleanup_free_ lab_stock_item_t *v = NULL;
        size_t n = 0, cap = 0;
        int r, rc;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = store_prepare(s,
                          "SELECT " ITEM_COLUMNS " FROM stock_items WHERE ?1 IS NULL OR "
                          "printer = ?1 ORDER BY printer, item",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                if (n == cap) {
                        lab_stock_item_t *nv;

                        cap = cap ? cap * 2 : 8;
                        nv = reallocarray(v, cap, sizeof *v);
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                item_from_row(stmt, &v[n++]);
        }
        if (rc != SQLITE_DONE)
                return store_step_errno(s, rc);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int lab_store_stock_told(lab_store_t *s, const char *printer, const char *item,
                         lab_stock_state_t state, lab_stock_state_t told, const char *event_kind,
                         const char *event_body)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !nonempty(printer) || !nonempty(item) || !lab_stock_state_to_string(state) ||
            !lab_stock_state_to_string(told))
                return -EINVAL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "UPDATE stock_items SET state = ?3, told = CASE WHEN ?4 = 'unknown' "
                          "THEN told ELSE ?4 END WHERE printer = ?1 AND item = ?2",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0 ||
            (r = store_bind_text(stmt, 2, item)) < 0 ||
            (r = store_bind_text(stmt, 3, lab_stock_state_to_string(state))) < 0 ||
            (r = store_bind_text(stmt, 4, lab_stock_state_to_string(told))) < 0)
                return r;
        r = (int)store_step_write(s, stmt);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (event_kind &&
            (r = store_event_insert(s, LAB_EVENT_JOB, event_kind, NULL, event_body, NULL)) < 0)
                return r;
        return store_txn_commit(&txn);
}

int lab_store_stock_adjust(lab_store_t *s, lab_store_stock_adjust_t *a)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        _cleanup_free_ char *body = NULL, *detail = NULL;
        json_auto_t *o = NULL, *d = NULL;
        lab_stock_item_t *it = &a->result;
        const char *action = lab_stock_action_to_string(a->action);
        double remaining;
        bool record;
        int r;

        if (!s || !a || !nonempty(a->printer) || !nonempty(a->item) || !action ||
            !nonempty(a->by) || !nonempty(a->actor))
                return -EINVAL;
        a->state_event = NULL;
        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = item_get(s, a->printer, a->item, it);
        if (r < 0)
                return r;
        if (it->source == LAB_STOCK_SOURCE_PRINTER)
                return -EPERM;
        r = lab_stock_apply(a->action, it->remaining, a->amount, &remaining);
        if (r < 0)
                return r;
        it->remaining = remaining;
        it->has_drift = false;
        it->as_of = time(NULL);
        if (it->capacity > 0)
                it->level = (int)lround(fmin(100.0, remaining * 100.0 / it->capacity));
        it->state = lab_stock_judge(it, a->hysteresis, a->action == LAB_STOCK_LOAD);
        a->state_event = lab_stock_event_of(it->told, it->state, &record);
        if (record)
                it->told = it->state;
        r = store_prepare(s,
                          "UPDATE stock_items SET remaining = ?3, state = ?4, told = ?5, "
                          "drift = NULL, as_of = ?6, level = ?7, updated_at = " LAB_SQL_NOW
                          " WHERE printer = ?1 AND item = ?2",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, a->printer)) < 0 ||
            (r = store_bind_text(stmt, 2, a->item)) < 0 ||
            sqlite3_bind_double(stmt, 3, remaining) != SQLITE_OK ||
            (r = store_bind_text(stmt, 4, lab_stock_state_to_string(it->state))) < 0 ||
            (r = store_bind_text(stmt, 5, lab_stock_state_to_string(it->told))) < 0 ||
            (r = store_bind_int64(stmt, 6, it->as_of)) < 0 ||
            (r = bind_figure(stmt, 7, it->level)) < 0)
                return r < 0 ? r : -ENOMEM;
        if ((r = (int)store_step_write(s, stmt)) < 0)
                return r;
        o = json_pack("{s:s, s:s, s:s, s:f, s:s, s:f, s:s, s:s?}", "printer", a->printer, "item",
                      a->item, "action", action, "amount", a->amount, "unit",
                      lab_stock_unit_to_string(it->unit), "remaining", remaining, "by", a->by,
                      "note", nonempty(a->note) ? a->note : NULL);
        if (o && !nonempty(a->note))
                json_object_set_new(o, "note", json_null());
        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!body)
                return -ENOMEM;
        r = store_event_insert(s, LAB_EVENT_JOB, "stock.adjusted", NULL, body, NULL);
        if (r < 0)
                return r;
        if (a->state_event) {
                _cleanup_free_ char *sb = lab_stock_state_body(it);

                if (!sb)
                        return -ENOMEM;
                r = store_event_insert(s, LAB_EVENT_JOB, a->state_event, NULL, sb, NULL);
                if (r < 0)
                        return r;
        }
        d = json_pack("{s:s, s:s, s:s, s:f, s:f, s:s?}", "printer", a->printer, "item", a->item,
                      "action", action, "amount", a->amount, "remaining", remaining, "note",
                      nonempty(a->note) ? a->note : NULL);
        detail = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!detail)
                return -ENOMEM;
        r = lab_store_audit_append(s, a->actor, "stock.adjust", detail);
        if (r < 0)
                return r;
        return store_txn_commit(&txn);
}

int store_stock_consume(lab_store_t *s, const char *job_id, int copy, const lab_stock_use_t *uses,
                        size_t n)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *get = NULL;
        _cleanup_free_ char *printer = NULL;
        int attempt, r, rc;

        r = store_prepare(s, "SELECT printer, attempt FROM copies WHERE job_id = ?1 AND copy = ?2",
                          &get);
        if (r < 0 || (r = store_bind_text(get, 1, job_id)) < 0 ||
            (r = store_bind_int64(get, 2, copy)) < 0)
                return r;
        rc = sqlite3_step(get);
        if (rc == SQLITE_DONE)
                return -ENXIO;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        if ((r = store_column_strdup(get, 0, &printer)) < 0)
                return r;
        attempt = sqlite3_column_int(get, 1);
        r = store_tally(s, printer, "printed", NULL, (int64_t)time(NULL));
        if (r < 0)
                return r;
        r = store_energy_print(s, job_id, copy, attempt, printer);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL, *upd = NULL;

                if (!nonempty(uses[i].item) || !(uses[i].amount > 0))
                        continue;
                r = store_prepare(s,
                                  "INSERT INTO stock_ledger (job_id, copy, attempt, item, printer, "
                                  "amount) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                                  &ins);
                if (r < 0 || (r = store_bind_text(ins, 1, job_id)) < 0 ||
                    (r = store_bind_int64(ins, 2, copy)) < 0 ||
                    (r = store_bind_int64(ins, 3, attempt)) < 0 ||
                    (r = store_bind_text(ins, 4, uses[i].item)) < 0 ||
                    (r = store_bind_text(ins, 5, printer)) < 0 ||
                    sqlite3_bind_double(ins, 6, uses[i].amount) != SQLITE_OK)
                        return r < 0 ? r : -ENOMEM;
                r = (int)store_step_write(s, ins);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        continue; /* counted already */
                }
                r = store_prepare(s,
                                  "UPDATE stock_items SET remaining = max(remaining - ?3, 0), "
                                  "level = CASE WHEN capacity > 0 THEN min(100, CAST(round("
                                  "max(remaining - ?3, 0) * 100.0 / capacity) AS INTEGER)) END, "
                                  "as_of = ?4, updated_at = " LAB_SQL_NOW
                                  " WHERE printer = ?1 AND item = ?2 AND source = 'counted' AND "
                                  "remaining IS NOT NULL",
                                  &upd);
                if (r < 0 || (r = store_bind_text(upd, 1, printer)) < 0 ||
                    (r = store_bind_text(upd, 2, uses[i].item)) < 0 ||
                    sqlite3_bind_double(upd, 3, uses[i].amount) != SQLITE_OK ||
                    (r = store_bind_int64(upd, 4, (int64_t)time(NULL))) < 0)
                        return r < 0 ? r : -ENOMEM;
                if ((r = (int)store_step_write(s, upd)) < 0)
                        return r;
        }
        return 0;
}

int lab_store_stock_ledger_count(lab_store_t *s, const char *printer, int64_t *ret_rows,
                                 double *ret_amount)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !ret_rows || !ret_amount)
                return -EINVAL;
        r = store_prepare(s,
                          "SELECT count(*), total(amount) FROM stock_ledger WHERE ?1 IS NULL OR "
                          "printer = ?1",
                          &stmt);
        if (r < 0 || (r = store_bind_text(stmt, 1, printer)) < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        *ret_rows = sqlite3_column_int64(stmt, 0);
        *ret_amount = sqlite3_column_double(stmt, 1);
        return 0;
}
