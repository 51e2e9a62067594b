/*
 * test-store-stock.c - the lab's stock in the store (store-stock.c) and what
 * printer.quality counts (store-quality.c): declared and printer-reported
 * items kept apart, a technician's entry written with its events and audit
 * record or not at all, a print's consumption entered exactly once (in the
 * copy's move to printed, keyed by the copy's attempt), the state told, and
 * the dated tally of prints, defects, aborts and faults.
 *
 * Why: the platform routes orders between labs by these counts; a count
 * taken twice, or taken below zero, or a printer's figure overwritten by a
 * declaration, sends orders to a lab that cannot print them. Everything is
 * driven through the public API; rows are read back through it, the outbox
 * API, or (audit, ledger keys) raw SQL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "store-private.h"
#include "store-fixture.h"
#include "testutil.h"

typedef store_fixture_t fixture_t;

/* A copy's first move (store_fixture_send_copy makes it too). */
static const lab_store_copy_change_t begin = {.new_attempt = true};

/* A fresh store for each test. */
static int setup(void **state)
{
        return store_fixture_open(state, "store-stock");
}

static int teardown(void **state)
{
        return store_fixture_close(state);
}

/* ---- helpers ---- */

/* Assert a figure (double) equals want exactly (every figure here is a small integer). */
static void assert_figure(double got, double want)
{
        if (!(got == want))
                fail_msg("figure %g, want %g", got, want);
}

/* The media the counted ribbon is used for, and how much one print uses. */
static lab_config_pair_t ribbon_uses[] = {{"na_index-4x6_4x6in", "1"}};

/* The ribbon counted by the agent: 400 prints, low at 15 % (60). */
static lab_stock_item_t counted_ribbon(const char *printer, double capacity)
{
        lab_config_consumable_t c = {
            .name = "ribbon",
            .kind = LAB_STOCK_KIND_RIBBON,
            .unit = LAB_STOCK_UNIT_PRINTS,
            .capacity = capacity,
            .uses = ribbon_uses,
            .n_uses = 1,
            .low = -1,
        };
        lab_stock_item_t it;

        lab_stock_declared(printer, &c, 15, &it);
        return it;
}

/* Sleeves recorded by technicians only (no uses). */
static lab_stock_item_t technician_sleeves(const char *printer)
{
        lab_config_consumable_t c = {
            .name = "sleeves",
            .kind = LAB_STOCK_KIND_PACKAGING,
            .unit = LAB_STOCK_UNIT_SHEETS,
            .capacity = 1000,
            .low = 50,
        };
        lab_stock_item_t it;

        lab_stock_declared(printer, &c, 15, &it);
        return it;
}

/* A printer-reported deck as lab_stock_from_status gives it: remaining prints of level %. */
static lab_stock_item_t printer_deck(const char *printer, const char *name, double remaining,
                                     int level)
{
        lab_stock_item_t it = {
            .kind = LAB_STOCK_KIND_RIBBON,
            .source = LAB_STOCK_SOURCE_PRINTER,
            .remaining = remaining,
            .unit = LAB_STOCK_UNIT_PRINTS,
            .capacity = 400,
            .level = level,
            .threshold = 60,
            .told = LAB_STOCK_UNKNOWN,
            .as_of = 1700000000,
        };

        snprintf(it.printer, sizeof it.printer, "%s", printer);
        snprintf(it.item, sizeof it.item, "%s", name);
        snprintf(it.media, sizeof it.media, "6x4 (PC)");
        it.state = lab_stock_judge(&it, 0, false);
        return it;
}

/* The items of printer: their count, and a copy of item `name` in *ret (asserted present). */
static size_t list_items(lab_store_t *s, const char *printer, const char *name,
                         lab_stock_item_t *ret)
{
        lab_stock_item_t *v = NULL;
        size_t n = 0;
        bool found = false;

        assert_int_equal(lab_store_stock_list(s, printer, &v, &n), 0);
        for (size_t i = 0; name && i < n; i++)
                if (strcmp(v[i].item, name) == 0) {
                        *ret = v[i];
                        found = true;
                }
        if (name && !found)
                fail_msg("no item %s of %s", name, printer ? printer : "(all)");
        free(v);
        return n;
}

/* Whether printer has an item named name. */
static bool has_item(lab_store_t *s, const char *printer, const char *name)
{
        lab_stock_item_t *v = NULL;
        size_t n = 0;
        bool found = false;

        assert_int_equal(lab_store_stock_list(s, printer, &v, &n), 0);
        for (size_t i = 0; i < n; i++)
                found = found || strcmp(v[i].item, name) == 0;
        free(v);
        return found;
}

/* Events in the outbox. */
static int64_t outbox(lab_store_t *s)
{
        int64_t n = -1;

        assert_int_equal(lab_store_event_count(s, &n), 0);
        return n;
}

/* How many outbox events are of kind, through the outbox API; the latest's body parsed in
 *ret_body (may be NULL) and its class in *ret_cls. */
static int events_of(lab_store_t *s, const char *kind, json_t **ret_body,
                     lab_event_class_t *ret_cls)
{
        lab_store_event_t *v = NULL;
        size_t n = 0;
        int count = 0;

        if (ret_body)
                *ret_body = NULL;
        assert_int_equal(lab_store_events_peek(s, 10000, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(v[i].kind, kind) != 0)
                        continue;
                count++;
                if (ret_cls)
                        *ret_cls = v[i].cls;
                if (ret_body) {
                        json_decref(*ret_body);
                        *ret_body = json_loads(v[i].body, 0, NULL);
                        assert_non_null(*ret_body);
                }
                /* Stock events are about no job. */
                assert_null(v[i].job_id);
        }
        lab_store_events_free(v, n);
        return count;
}

/* The one integer of a query (-1 when no row). */
static int64_t sql_int(lab_store_t *s, const char *sql)
{
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* The one text of a query, malloc'd (NULL when no row or NULL). */
static char *sql_text(lab_store_t *s, const char *sql)
{
        sqlite3_stmt *st = NULL;
        char *v = NULL;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                v = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
}

/* The ledger's rows and total amount for printer. */
static void assert_ledger(lab_store_t *s, const char *printer, int64_t rows, double amount)
{
        int64_t got_rows = -1;
        double got_amount = -1;

        assert_int_equal(lab_store_stock_ledger_count(s, printer, &got_rows, &got_amount), 0);
        assert_int_equal(got_rows, rows);
        assert_figure(got_amount, amount);
}

/* A technician's entry with the usual who. */
static lab_store_stock_adjust_t adjust(const char *printer, const char *item, lab_stock_action_t a,
                                       double amount, const char *note)
{
        return (lab_store_stock_adjust_t){
            .printer = printer,
            .item = item,
            .action = a,
            .amount = amount,
            .by = "anna",
            .actor = "labctl:uid=1000",
            .note = note,
            .hysteresis = 5,
        };
}

/* Declare the counted ribbon on printer and load it with `load` prints. */
static void loaded_ribbon(lab_store_t *s, const char *printer, double load)
{
        lab_stock_item_t it = counted_ribbon(printer, 400);
        lab_store_stock_adjust_t a = adjust(printer, "ribbon", LAB_STOCK_LOAD, load, NULL);

        assert_int_equal(lab_store_stock_declare(s, printer, &it, 1), 0);
        assert_int_equal(lab_store_stock_adjust(s, &a), 0);
}

/* Print a queued copy, the print using uses (n). */
static void print_copy(lab_store_t *s, const char *id, int copy, const lab_stock_use_t *uses,
                       size_t n)
{
        lab_store_copy_change_t done = {.uses = uses, .n_uses = n};

        store_fixture_send_copy(s, id, copy);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &done, "job.copy_printed", "{\"copy\":1}", NULL),
                         0);
}

/* ---- declare, report, list ---- */

static void test_declare_then_list(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl[2] = {counted_ribbon("ds620", 400), technician_sleeves("ds620")};
        lab_stock_item_t it;

        assert_int_equal(lab_store_stock_declare(f->s, "ds620", decl, 2), 0);
        assert_int_equal(list_items(f->s, "ds620", "ribbon", &it), 2);
        assert_string_equal(it.printer, "ds620");
        assert_int_equal(it.kind, LAB_STOCK_KIND_RIBBON);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_COUNTED);
        assert_int_equal(it.unit, LAB_STOCK_UNIT_PRINTS);
        assert_string_equal(it.media, "na_index-4x6_4x6in");
        assert_figure(it.capacity, 400);
        assert_figure(it.threshold, 60);
        /* Unknown figures: never 0. */
        assert_true(it.remaining < 0);
        assert_int_equal(it.level, -1);
        assert_int_equal(it.state, LAB_STOCK_UNKNOWN);
        assert_int_equal(it.told, LAB_STOCK_UNKNOWN);
        assert_false(it.has_drift);
        list_items(f->s, "ds620", "sleeves", &it);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_TECHNICIAN);
        assert_int_equal(it.kind, LAB_STOCK_KIND_PACKAGING);
        assert_int_equal(it.unit, LAB_STOCK_UNIT_SHEETS);
        assert_figure(it.threshold, 50);
        assert_true(it.remaining < 0);

        /* A load, then the config changes the capacity: the count stays, the rest follows. */
        {
                lab_store_stock_adjust_t a = adjust("ds620", "ribbon", LAB_STOCK_LOAD, 300, NULL);

                assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        }
        decl[0] = counted_ribbon("ds620", 600);
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", decl, 2), 0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 300);
        assert_figure(it.capacity, 600);
        assert_figure(it.threshold, 90);
        assert_int_equal(it.state, LAB_STOCK_OK);

        /* Sleeves no longer declared: removed. */
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", decl, 1), 0);
        assert_int_equal(list_items(f->s, "ds620", "ribbon", &it), 1);
        assert_false(has_item(f->s, "ds620", "sleeves"));
        assert_figure(it.remaining, 300);

        /* Another printer's declaration leaves this one's alone. */
        decl[1] = technician_sleeves("cpd90");
        assert_int_equal(lab_store_stock_declare(f->s, "cpd90", &decl[1], 1), 0);
        assert_int_equal(list_items(f->s, "ds620", NULL, NULL), 1);
        assert_int_equal(list_items(f->s, "cpd90", NULL, NULL), 1);
        assert_int_equal(list_items(f->s, NULL, NULL, NULL), 2);
        assert_int_equal(lab_store_stock_declare(f->s, "cpd90", NULL, 0), 0);
        assert_int_equal(list_items(f->s, NULL, NULL, NULL), 1);
        assert_true(has_item(f->s, "ds620", "ribbon"));

        /* Bad arguments. */
        assert_int_equal(lab_store_stock_declare(f->s, "", decl, 1), -EINVAL);
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", NULL, 1), -EINVAL);
}

static void test_declare_and_report_apart(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl = counted_ribbon("ds620", 400);
        lab_stock_item_t rep[2] = {printer_deck("ds620", "6x4 (PC)", 40, 10),
                                   printer_deck("ds620", "6x8 (PC)", 200, 50)};
        lab_stock_item_t it;

        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        assert_int_equal(lab_store_stock_report(f->s, "ds620", rep, 2), 0);
        assert_int_equal(list_items(f->s, "ds620", "6x4 (PC)", &it), 3);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_PRINTER);
        assert_figure(it.remaining, 40);
        assert_figure(it.capacity, 400);
        assert_int_equal(it.level, 10);
        assert_figure(it.threshold, 60);
        assert_int_equal(it.state, LAB_STOCK_LOW);
        assert_int_equal(it.as_of, 1700000000);
        assert_string_equal(it.media, "6x4 (PC)");

        /* A declaration of nothing removes the declared items only. */
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", NULL, 0), 0);
        assert_int_equal(list_items(f->s, "ds620", NULL, NULL), 2);
        assert_false(has_item(f->s, "ds620", "ribbon"));
        list_items(f->s, "ds620", "6x4 (PC)", &it);
        assert_figure(it.remaining, 40);

        /* A report removes the printer's items it no longer lists, never declared ones. */
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep[1], 1), 0);
        assert_int_equal(list_items(f->s, "ds620", NULL, NULL), 2);
        assert_false(has_item(f->s, "ds620", "6x4 (PC)"));
        assert_true(has_item(f->s, "ds620", "6x8 (PC)"));
        assert_true(has_item(f->s, "ds620", "ribbon"));
        assert_int_equal(lab_store_stock_report(f->s, "ds620", NULL, 0), 0);
        assert_int_equal(list_items(f->s, "ds620", "ribbon", &it), 1);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_COUNTED);
}

static void test_report_keeps_told_and_declared(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t rep = printer_deck("ds620", "6x4 (PC)", 40, 10);
        lab_stock_item_t it;

        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep, 1), 0);
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "6x4 (PC)", LAB_STOCK_LOW,
                                              LAB_STOCK_LOW, NULL, NULL),
                         0);
        /* The next read: new figures and state, what was told kept. */
        rep = printer_deck("ds620", "6x4 (PC)", 30, 8);
        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep, 1), 0);
        list_items(f->s, "ds620", "6x4 (PC)", &it);
        assert_figure(it.remaining, 30);
        assert_int_equal(it.level, 8);
        assert_int_equal(it.told, LAB_STOCK_LOW);

        /* An unknown figure is stored unknown, not 0. */
        rep = printer_deck("ds620", "6x4 (PC)", -1, -1);
        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep, 1), 0);
        list_items(f->s, "ds620", "6x4 (PC)", &it);
        assert_true(it.remaining < 0);
        assert_int_equal(it.level, -1);
        assert_int_equal(it.state, LAB_STOCK_UNKNOWN);
        assert_int_equal(it.told, LAB_STOCK_LOW);

        /* A printer supply named like a declared item does not take it over. */
        {
                lab_stock_item_t decl = counted_ribbon("ds620", 400);
                lab_stock_item_t same = printer_deck("ds620", "ribbon", 7, 2);

                loaded_ribbon(f->s, "ds620", 400);
                assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
                assert_int_equal(lab_store_stock_report(f->s, "ds620", &same, 1), 0);
                list_items(f->s, "ds620", "ribbon", &it);
                assert_int_equal(it.source, LAB_STOCK_SOURCE_COUNTED);
                assert_figure(it.remaining, 400);
        }
}

/* ---- adjust ---- */

static void test_adjust_load_remove(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl = counted_ribbon("ds620", 400);
        lab_store_stock_adjust_t a = adjust("ds620", "ribbon", LAB_STOCK_LOAD, 400, "new roll");
        lab_event_class_t cls = LAB_EVENT_TELEMETRY;
        lab_stock_item_t it;
        json_t *body = NULL;
        int64_t events0, audit0;

        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        events0 = outbox(f->s);
        audit0 = sql_int(f->s, "SELECT count(*) FROM audit");

        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        assert_figure(a.result.remaining, 400);
        assert_int_equal(a.result.state, LAB_STOCK_OK);
        assert_null(a.state_event); /* a first ok is recorded, not told */
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 400);
        assert_int_equal(it.state, LAB_STOCK_OK);
        assert_int_equal(it.told, LAB_STOCK_OK);
        assert_true(it.as_of > 0);

        /* One event, stock.adjusted (class job), and one audit row. */
        assert_int_equal(outbox(f->s), events0 + 1);
        assert_int_equal(events_of(f->s, "stock.adjusted", &body, &cls), 1);
        assert_int_equal(cls, LAB_EVENT_JOB);
        assert_string_equal(json_string_value(json_object_get(body, "printer")), "ds620");
        assert_string_equal(json_string_value(json_object_get(body, "item")), "ribbon");
        assert_string_equal(json_string_value(json_object_get(body, "action")), "load");
        assert_figure(json_number_value(json_object_get(body, "amount")), 400);
        assert_string_equal(json_string_value(json_object_get(body, "unit")), "prints");
        assert_figure(json_number_value(json_object_get(body, "remaining")), 400);
        assert_string_equal(json_string_value(json_object_get(body, "by")), "anna");
        assert_string_equal(json_string_value(json_object_get(body, "note")), "new roll");
        assert_int_equal(json_object_size(body), 8);
        json_decref(body);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM audit"), audit0 + 1);
        {
                char *actor = sql_text(f->s, "SELECT actor FROM audit ORDER BY id DESC LIMIT 1");
                char *action = sql_text(f->s, "SELECT action FROM audit ORDER BY id DESC LIMIT 1");
                char *detail = sql_text(f->s, "SELECT detail FROM audit ORDER BY id DESC LIMIT 1");
                json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;

                assert_non_null(actor);
                assert_non_null(action);
                assert_non_null(d);
                assert_string_equal(actor, "labctl:uid=1000");
                assert_string_equal(action, "stock.adjust");
                assert_string_equal(json_string_value(json_object_get(d, "item")), "ribbon");
                assert_string_equal(json_string_value(json_object_get(d, "action")), "load");
                assert_figure(json_number_value(json_object_get(d, "remaining")), 400);
                json_decref(d);
                free(actor);
                free(action);
                free(detail);
        }

        /* Remove more than there is: refused, nothing written. */
        events0 = outbox(f->s);
        audit0 = sql_int(f->s, "SELECT count(*) FROM audit");
        a = adjust("ds620", "ribbon", LAB_STOCK_REMOVE, 500, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -ERANGE);
        assert_int_equal(outbox(f->s), events0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM audit"), audit0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 400);
        assert_int_equal(it.state, LAB_STOCK_OK);
        /* A negative amount: the same. */
        a = adjust("ds620", "ribbon", LAB_STOCK_ADD, -5, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -ERANGE);
        assert_int_equal(outbox(f->s), events0);

        /* Remove some: the rest, and the note null when there is none. */
        a = adjust("ds620", "ribbon", LAB_STOCK_REMOVE, 30, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 370);
        assert_int_equal(events_of(f->s, "stock.adjusted", &body, NULL), 2);
        assert_true(json_is_null(json_object_get(body, "note")));
        assert_string_equal(json_string_value(json_object_get(body, "action")), "remove");
        json_decref(body);
}

static void test_adjust_tells_state(void **state)
{
        fixture_t *f = *state;
        lab_store_stock_adjust_t a;
        lab_stock_item_t it;
        json_t *body = NULL;

        loaded_ribbon(f->s, "ds620", 400);
        /* A count at the threshold: low, told with stock.low (job class) in the same call. */
        a = adjust("ds620", "ribbon", LAB_STOCK_SET, 60, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        assert_non_null(a.state_event);
        assert_string_equal(a.state_event, "stock.low");
        assert_int_equal(events_of(f->s, "stock.low", &body, NULL), 1);
        assert_figure(json_number_value(json_object_get(body, "remaining")), 60);
        assert_figure(json_number_value(json_object_get(body, "threshold")), 60);
        assert_string_equal(json_string_value(json_object_get(body, "source")), "counted");
        json_decref(body);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_int_equal(it.told, LAB_STOCK_LOW);

        /* Added to just above: still low by the hysteresis (60 + 5 % of 400), nothing told. */
        a = adjust("ds620", "ribbon", LAB_STOCK_ADD, 10, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        assert_null(a.state_event);
        assert_int_equal(a.result.state, LAB_STOCK_LOW);
        /* A load of as little: ok at once, stock.ok. */
        a = adjust("ds620", "ribbon", LAB_STOCK_LOAD, 70, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        assert_non_null(a.state_event);
        assert_string_equal(a.state_event, "stock.ok");
        assert_int_equal(events_of(f->s, "stock.ok", NULL, NULL), 1);
        /* Removed to nothing: out. */
        a = adjust("ds620", "ribbon", LAB_STOCK_REMOVE, 70, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        assert_non_null(a.state_event);
        assert_string_equal(a.state_event, "stock.out");
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 0);
        assert_int_equal(it.state, LAB_STOCK_OUT);
        assert_int_equal(it.told, LAB_STOCK_OUT);
}

static void test_adjust_refused(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t rep = printer_deck("ds620", "6x4 (PC)", 40, 10);
        lab_stock_item_t sleeves = technician_sleeves("ds620");
        lab_store_stock_adjust_t a;
        lab_stock_item_t it;
        int64_t events0, audit0;

        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep, 1), 0);
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &sleeves, 1), 0);
        events0 = outbox(f->s);
        audit0 = sql_int(f->s, "SELECT count(*) FROM audit");

        /* The printer counts it itself. */
        a = adjust("ds620", "6x4 (PC)", LAB_STOCK_LOAD, 400, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -EPERM);
        list_items(f->s, "ds620", "6x4 (PC)", &it);
        assert_figure(it.remaining, 40);
        /* No such item (nor on another printer). */
        a = adjust("ds620", "toner", LAB_STOCK_LOAD, 400, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -ENOENT);
        a = adjust("cpd90", "sleeves", LAB_STOCK_LOAD, 400, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -ENOENT);
        /* Who is missing. */
        a = adjust("ds620", "sleeves", LAB_STOCK_LOAD, 400, NULL);
        a.by = NULL;
        assert_int_equal(lab_store_stock_adjust(f->s, &a), -EINVAL);
        assert_int_equal(outbox(f->s), events0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM audit"), audit0);

        /* A technician's item takes entries like a counted one. */
        a = adjust("ds620", "sleeves", LAB_STOCK_ADD, 200, NULL);
        assert_int_equal(lab_store_stock_adjust(f->s, &a), 0);
        list_items(f->s, "ds620", "sleeves", &it);
        assert_figure(it.remaining, 200);
}

/* ---- consumption ---- */

static void test_consumption_exactly_once(void **state)
{
        fixture_t *f = *state;
        const lab_stock_use_t uses[] = {{"ribbon", 1}};
        lab_store_copy_change_t again = {.uses = uses, .n_uses = 1};
        lab_stock_item_t it;
        int64_t events0;

        loaded_ribbon(f->s, "ds620", 400);
        store_fixture_queued_job(f->s, "j1", 30, "ds620");
        for (int c = 1; c <= 30; c++)
                print_copy(f->s, "j1", c, uses, 1);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 370);
        assert_ledger(f->s, "ds620", 30, 30);
        assert_ledger(f->s, "cpd90", 0, 0);
        assert_ledger(f->s, NULL, 30, 30);
        /* Each row under the copy's attempt (1). */
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM stock_ledger WHERE job_id = 'j1' AND "
                                       "attempt = 1 AND item = 'ribbon'"),
                         30);

        /* A printed copy never moves: printed again is refused and changes nothing. */
        events0 = outbox(f->s);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 7, LAB_COPY_PRINTED, LAB_COPY_PRINTED,
                                             &again, "job.copy_printed", "{\"copy\":7}", NULL),
                         -EPERM);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 7, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &again, "job.copy_printed", "{\"copy\":7}", NULL),
                         -ESTALE);
        assert_int_equal(outbox(f->s), events0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 370);
        assert_ledger(f->s, "ds620", 30, 30);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
}

static void test_consumption_once_per_attempt(void **state)
{
        fixture_t *f = *state;
        const lab_stock_use_t twice[] = {{"ribbon", 1}, {"ribbon", 1}};
        const lab_stock_use_t uses[] = {{"ribbon", 1}};
        lab_store_copy_change_t done = {.uses = uses, .n_uses = 1};
        lab_stock_item_t it;
        int rc;

        loaded_ribbon(f->s, "ds620", 10);
        store_fixture_queued_job(f->s, "j2", 2, "ds620");

        /* Copy 1 lost track of (uncertain), then confirmed printed by a person. The same
           (job, copy, attempt, item) listed twice is entered once. */
        assert_int_equal(lab_store_copy_move(f->s, "j2", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j2", 1, LAB_COPY_SUBMITTING, LAB_COPY_UNCERTAIN,
                                             NULL, NULL, NULL, NULL),
                         0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 10); /* uncertain: nothing used yet */
        assert_ledger(f->s, "ds620", 0, 0);
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "j2", 1, "j2/1/1", "anna",
                                                        "labctl:uid=1000", twice, 2),
                         0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 9);
        assert_ledger(f->s, "ds620", 1, 1);
        /* Confirmed again: refused, nothing used. */
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "j2", 1, "j2/1/1", "anna",
                                                        "labctl:uid=1000", uses, 1),
                         -EBUSY);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 9);
        assert_ledger(f->s, "ds620", 1, 1);
        /* The ledger's key itself refuses a second row. */
        rc = sqlite3_exec(lab_store_sqlite(f->s),
                          "INSERT INTO stock_ledger (job_id, copy, attempt, item, printer, amount) "
                          "VALUES ('j2', 1, 1, 'ribbon', 'ds620', 1)",
                          NULL, NULL, NULL);
        assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
        assert_ledger(f->s, "ds620", 1, 1);

        /* Copy 2 aborted once and sent again: printed under attempt 2, entered once. */
        store_fixture_send_copy(f->s, "j2", 2);
        assert_int_equal(lab_store_copy_move(f->s, "j2", 2, LAB_COPY_PRINTING, LAB_COPY_QUEUED,
                                             NULL, NULL, NULL, NULL),
                         0);
        store_fixture_send_copy(f->s, "j2", 2);
        assert_int_equal(lab_store_copy_move(f->s, "j2", 2, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &done, NULL, NULL, NULL),
                         0);
        assert_ledger(f->s, "ds620", 2, 2);
        assert_int_equal(sql_int(f->s, "SELECT attempt FROM stock_ledger WHERE job_id = 'j2' AND "
                                       "copy = 2"),
                         2);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 8);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTED);
}

static void test_consumption_counted_items_only(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl = counted_ribbon("ds620", 400);
        lab_stock_item_t deck = printer_deck("ds620", "6x4 (PC)", 40, 10);
        const lab_stock_use_t uses[] = {{"ribbon", 1}, {"6x4 (PC)", 1}};
        lab_stock_item_t it;

        /* Declared but never loaded: a print is entered, the count stays unknown (not 0). */
        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        assert_int_equal(lab_store_stock_report(f->s, "ds620", &deck, 1), 0);
        store_fixture_queued_job(f->s, "j3", 1, "ds620");
        print_copy(f->s, "j3", 1, uses, 2);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_true(it.remaining < 0);
        assert_int_equal(it.state, LAB_STOCK_UNKNOWN);
        /* What the printer counts itself is its own figure: the agent never counts it down. */
        list_items(f->s, "ds620", "6x4 (PC)", &it);
        assert_figure(it.remaining, 40);
}

/* ---- told ---- */

static void test_told(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl = counted_ribbon("ds620", 400);
        lab_event_class_t cls = LAB_EVENT_TELEMETRY;
        lab_stock_item_t it;
        json_t *body = NULL;
        int64_t events0;

        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        events0 = outbox(f->s);
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "ribbon", LAB_STOCK_LOW, LAB_STOCK_LOW,
                                              "stock.low", "{\"item\":\"ribbon\"}"),
                         0);
        assert_int_equal(outbox(f->s), events0 + 1);
        assert_int_equal(events_of(f->s, "stock.low", &body, &cls), 1);
        assert_int_equal(cls, LAB_EVENT_JOB);
        assert_string_equal(json_string_value(json_object_get(body, "item")), "ribbon");
        json_decref(body);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_int_equal(it.state, LAB_STOCK_LOW);
        assert_int_equal(it.told, LAB_STOCK_LOW);

        /* Told unknown: only the state changes, no event. */
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "ribbon", LAB_STOCK_OK,
                                              LAB_STOCK_UNKNOWN, NULL, NULL),
                         0);
        assert_int_equal(outbox(f->s), events0 + 1);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_int_equal(it.state, LAB_STOCK_OK);
        assert_int_equal(it.told, LAB_STOCK_LOW);

        /* An event that cannot be stored undoes the state: one transaction. */
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "ribbon", LAB_STOCK_OUT, LAB_STOCK_OUT,
                                              "stock.out", "[1]"),
                         -EINVAL);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_int_equal(it.state, LAB_STOCK_OK);
        assert_int_equal(it.told, LAB_STOCK_LOW);
        assert_int_equal(outbox(f->s), events0 + 1);

        /* No such item; no such state. */
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "toner", LAB_STOCK_LOW, LAB_STOCK_LOW,
                                              "stock.low", "{}"),
                         -ENOENT);
        assert_int_equal(outbox(f->s), events0 + 1);
        assert_int_equal(lab_store_stock_told(f->s, "ds620", "ribbon", (lab_stock_state_t)9,
                                              LAB_STOCK_LOW, NULL, NULL),
                         -EINVAL);
}

/* ---- printer count ---- */

static void test_printer_count_drift(void **state)
{
        fixture_t *f = *state;
        lab_stock_item_t decl = counted_ribbon("ds620", 400);
        lab_stock_item_t rep = printer_deck("ds620", "6x4 (PC)", 40, 10);
        lab_stock_item_t it;

        assert_int_equal(lab_store_stock_declare(f->s, "ds620", &decl, 1), 0);
        /* The agent's count unknown: the printer's wins, no drift. */
        assert_int_equal(lab_store_stock_printer_count(f->s, "ds620", "ribbon", 390, 1700000000),
                         0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 390);
        assert_false(it.has_drift);
        assert_int_equal(it.as_of, 1700000000);
        /* Known: the drift is the agent's count less the printer's. */
        assert_int_equal(lab_store_stock_printer_count(f->s, "ds620", "ribbon", 385, 1700000060),
                         0);
        list_items(f->s, "ds620", "ribbon", &it);
        assert_figure(it.remaining, 385);
        assert_true(it.has_drift);
        assert_figure(it.drift, 5);
        /* Only declared items. */
        assert_int_equal(lab_store_stock_report(f->s, "ds620", &rep, 1), 0);
        assert_int_equal(lab_store_stock_printer_count(f->s, "ds620", "6x4 (PC)", 1, 1), -ENOENT);
        assert_int_equal(lab_store_stock_printer_count(f->s, "ds620", "toner", 1, 1), -ENOENT);
        assert_int_equal(lab_store_stock_printer_count(f->s, "ds620", "ribbon", -1, 1), -EINVAL);
}

/* ---- quality ---- */

static void test_quality(void **state)
{
        fixture_t *f = *state;
        lab_store_copy_change_t aborted = {.aborted = true, .reason = "printer_aborted"};
        lab_store_reprint_t rp = {
            .job_id = "j4",
            .copy = 1,
            .defect = "banding",
            .by = "anna",
            .actor = "labctl:uid=1000",
            .media = "na_index-4x6_4x6in",
        };
        lab_store_quality_t q;
        int64_t now;

        /* Three copies printed, a fourth aborted once. */
        store_fixture_queued_job(f->s, "j4", 4, "ds620");
        for (int c = 1; c <= 3; c++)
                print_copy(f->s, "j4", c, NULL, 0);
        store_fixture_send_copy(f->s, "j4", 4);
        assert_int_equal(lab_store_copy_move(f->s, "j4", 4, LAB_COPY_PRINTING, LAB_COPY_QUEUED,
                                             &aborted, NULL, NULL, NULL),
                         0);
        /* One printed copy has a defect: reprinted as a new copy (not printed yet). */
        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 5);
        now = (int64_t)time(NULL);
        /* One fault raised now, one raised two days ago, one cleared (not a fault). */
        assert_int_equal(lab_store_printer_fault(f->s, "ds620", now, true, "{\"fault\":\"jam\"}"),
                         0);
        assert_int_equal(
            lab_store_printer_fault(f->s, "ds620", now - 2 * 86400, true, "{\"fault\":\"jam\"}"),
            0);
        assert_int_equal(lab_store_printer_fault(f->s, "ds620", now, false, "{\"fault\":\"jam\"}"),
                         0);
        assert_int_equal(events_of(f->s, "printer.fault", NULL, NULL), 3);

        now = (int64_t)time(NULL);
        assert_int_equal(lab_store_printer_quality(f->s, "ds620", now, 86400, &q), 0);
        assert_int_equal(q.printed, 3);
        assert_int_equal(q.aborted, 1);
        assert_int_equal(q.faults, 1);
        assert_int_equal(q.defects, 1);
        assert_int_equal(q.n_kinds, 1);
        assert_string_equal(q.by_kind[0].kind, "banding");
        assert_int_equal(q.by_kind[0].n, 1);

        /* Seven days take the older fault in. */
        assert_int_equal(lab_store_printer_quality(f->s, "ds620", now, 7 * 86400, &q), 0);
        assert_int_equal(q.faults, 2);
        assert_int_equal(q.printed, 3);

        /* The reprint printed: a fourth print. */
        print_copy(f->s, "j4", 5, NULL, 0);
        now = (int64_t)time(NULL);
        assert_int_equal(lab_store_printer_quality(f->s, "ds620", now, 86400, &q), 0);
        assert_int_equal(q.printed, 4);
        assert_int_equal(q.defects, 1);

        /* Another printer: nothing. */
        assert_int_equal(lab_store_printer_quality(f->s, "cpd90", now, 86400, &q), 0);
        assert_int_equal(q.printed + q.aborted + q.faults + q.defects, 0);
        assert_int_equal(q.n_kinds, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_declare_then_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_declare_and_report_apart, setup, teardown),
            cmocka_unit_test_setup_teardown(test_report_keeps_told_and_declared, setup, teardown),
            cmocka_unit_test_setup_teardown(test_adjust_load_remove, setup, teardown),
            cmocka_unit_test_setup_teardown(test_adjust_tells_state, setup, teardown),
            cmocka_unit_test_setup_teardown(test_adjust_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_consumption_exactly_once, setup, teardown),
            cmocka_unit_test_setup_teardown(test_consumption_once_per_attempt, setup, teardown),
            cmocka_unit_test_setup_teardown(test_consumption_counted_items_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_told, setup, teardown),
            cmocka_unit_test_setup_teardown(test_printer_count_drift, setup, teardown),
            cmocka_unit_test_setup_teardown(test_quality, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
