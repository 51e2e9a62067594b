/*
 * test-store-energy.c - the energy meters' durable state in the store
 * (store-energy.c): the config's meters declared, a copy's print row written
 * in its move to printed (once per attempt, on metered printers only), an
 * interval closed with its shares, the meter's new baseline and its events
 * all or nothing, a meter's fault, the energy.reading and job.energy reports
 * marking exactly what they cover, the window's figures and the pruning.
 *
 * Why: the platform reports each order's energy and emissions from these
 * rows, and the promise (issue 17) is exact to the mWh: over any run, the
 * jobs' energy plus the idle energy is what the meters counted. A print
 * counted twice, an interval reported twice or a share lost in a crash
 * breaks it for good. Each case drives the store through its public API (the
 * copies printed the way the printer stage prints them) against a real
 * SQLite file and reads the rows back through the API, the outbox, or raw
 * SQL where the API does not show them; the last one checks the promise
 * over a seeded random run.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "energy-share.h"
#include "macro.h"
#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

typedef store_fixture_t fixture_t;

/* A fresh store for each test. */
static int setup(void **state)
{
        return store_fixture_open(state, "store-energy");
}

static int teardown(void **state)
{
        return store_fixture_close(state);
}

/* ---- helpers ---- */

/* The one integer of a query (-1 when no row, -2 when NULL). */
_printf_(2, 3) static int64_t sql_int(lab_store_t *s, const char *fmt, ...)
{
        sqlite3_stmt *st = NULL;
        char sql[512];
        int64_t v = -1;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sql, sizeof sql, fmt, ap);
        va_end(ap);
        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* Assert the one value of a query is the text want (NULL: SQL NULL), or the real want_real. */
_printf_(4, 5) static void assert_sql(lab_store_t *s, const char *want, double want_real,
                                      const char *fmt, ...)
{
        sqlite3_stmt *st = NULL;
        char sql[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sql, sizeof sql, fmt, ap);
        va_end(ap);
        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) != SQLITE_ROW)
                fail_msg("%s: no row", sql);
        if (want) {
                const char *got = (const char *)sqlite3_column_text(st, 0);

                if (!got || strcmp(got, want) != 0)
                        fail_msg("%s: %s, want %s", sql, got ? got : "NULL", want);
        } else if (isnan(want_real)) {
                if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                        fail_msg("%s: %s, want NULL", sql, sqlite3_column_text(st, 0));
        } else if (sqlite3_column_type(st, 0) != SQLITE_FLOAT ||
                   sqlite3_column_double(st, 0) != want_real) {
                fail_msg("%s: %s, want %.17g", sql, sqlite3_column_text(st, 0), want_real);
        }
        sqlite3_finalize(st);
}

/* Assert a figure (double) is want exactly, or NAN for NAN. */
static void assert_figure(double got, double want)
{
        if (isnan(want) ? !isnan(got) : !(got == want))
                fail_msg("figure %.17g, want %.17g", got, want);
}

/* Events in the outbox. */
static int64_t outbox(lab_store_t *s)
{
        int64_t n = -1;

        assert_int_equal(lab_store_event_count(s, &n), 0);
        return n;
}

/* What the outbox holds of one kind: how many, and the last one's class, job and body. */
typedef struct seen_s {
        int n;
        lab_event_class_t cls;
        char job_id[64]; /* "" none */
        json_t *body;    /* parsed, NULL when n is 0; json_decref it */
} seen_t;

static seen_t events_of(lab_store_t *s, const char *kind)
{
        lab_store_event_t *v = NULL;
        seen_t seen = {0};
        size_t n = 0;

        assert_int_equal(lab_store_events_peek(s, 1000000, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(v[i].kind, kind) != 0)
                        continue;
                seen.n++;
                seen.cls = v[i].cls;
                snprintf(seen.job_id, sizeof seen.job_id, "%s", v[i].job_id ? v[i].job_id : "");
                json_decref(seen.body);
                seen.body = json_loads(v[i].body, 0, NULL);
                assert_non_null(seen.body);
        }
        lab_store_events_free(v, n);
        return seen;
}

/* A string member of an event body. */
static const char *body_text(const seen_t *seen, const char *key)
{
        const char *v = json_string_value(json_object_get(seen->body, key));

        if (!v)
                fail_msg("event body has no string %s", key);
        return v;
}

/* Declare meters; printers[i] on printer_meters[i]. */
static void declare(lab_store_t *s, const char *const *meters, size_t n_meters,
                    const char *const *printers, const char *const *printer_meters,
                    size_t n_printers)
{
        assert_int_equal(
            lab_store_energy_declare(s, meters, n_meters, printers, printer_meters, n_printers), 0);
}

/* The usual lab: meters m1 and m2, ds620 on m1, cpd90 on m2 (on_m2) or on no meter. */
static void declare_lab(lab_store_t *s, bool on_m2)
{
        static const char *const meters[] = {"m1", "m2"};
        static const char *const printers[] = {"ds620", "cpd90"};
        static const char *const owners[] = {"m1", "m2"};

        declare(s, meters, 2, printers, owners, on_m2 ? 2 : 1);
}

/* Every meter's row (lab_store_energy_meter_list). */
typedef struct meters_s {
        lab_store_energy_meter_t *v;
        size_t n;
} meters_t;

static meters_t meters_read(lab_store_t *s)
{
        meters_t m = {0};

        assert_int_equal(lab_store_energy_meter_list(s, &m.v, &m.n), 0);
        return m;
}

static void meters_free(meters_t *m)
{
        lab_store_energy_meter_list_free(m->v, m->n);
        *m = (meters_t){0};
}

/* The row of meter name (asserted present). */
static const lab_store_energy_meter_t *meter_in(const meters_t *m, const char *name)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i].name, name) == 0)
                        return &m->v[i];
        fail_msg("no meter %s", name);
        return NULL;
}

/* Print a queued copy the way the printer stage does: sent, then moved to printed. */
static void print_copy(lab_store_t *s, const char *id, int copy)
{
        static const lab_store_copy_change_t done = {0};

        store_fixture_send_copy(s, id, copy);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &done, NULL, NULL, NULL),
                         0);
}

/* An interval of meter, its figures following from its times. */
static lab_store_energy_interval_t interval(const char *meter, int64_t from, int64_t to,
                                            int64_t energy_mwh, const char *quality)
{
        return (lab_store_energy_interval_t){
            .meter = meter,
            .from_at = from,
            .to_at = to,
            .energy_mwh = energy_mwh,
            .total_wh = (double)to / 1000.0,
            .power_w = 100,
            .quality = quality,
            .saved_wh = (double)to / 1000.0,
        };
}

/*
 * Close iv over its meter's open prints, asserted to be n, which take shares
 * (the interval idle when n is 0): the new interval's id.
 */
static int64_t close_open(lab_store_t *s, lab_store_energy_interval_t iv, const int64_t *shares,
                          size_t n)
{
        lab_store_energy_print_t *p = NULL;
        size_t got = 0;
        int64_t sum = 0;

        assert_int_equal(lab_store_energy_open_prints(s, iv.meter, &p, &got), 0);
        assert_int_equal(got, n);
        for (size_t i = 0; i < n; i++)
                sum += shares[i];
        iv.idle_mwh = n ? 0 : iv.energy_mwh;
        assert_int_equal(sum + iv.idle_mwh, iv.energy_mwh);
        assert_int_equal(lab_store_energy_close(s, &iv, p, shares, n, NULL, 0), 0);
        lab_store_energy_prints_free(p, got);
        return sql_int(s, "SELECT max(id) FROM energy_intervals");
}

/* The jobs due (at most max), asserted to be the n of ids, in that order. */
static lab_store_energy_job_t *jobs_due(lab_store_t *s, size_t max, const char *const *ids,
                                        size_t n)
{
        lab_store_energy_job_t *v = NULL;
        size_t got = 0;

        assert_int_equal(lab_store_energy_jobs_due(s, max, &v, &got), 0);
        if (got != n)
                fail_msg("%zu job(s) due (the first: %s), want %zu (the first: %s)", got,
                         got ? v[0].job_id : "none", n, n ? ids[0] : "none");
        for (size_t i = 0; i < n; i++)
                assert_string_equal(v[i].job_id, ids[i]);
        return v;
}

/* Assert nothing is due. */
static void nothing_due(lab_store_t *s)
{
        lab_store_energy_jobs_free(jobs_due(s, 100, NULL, 0), 0);
}

/* Assert a job's figures. */
static void assert_due(const lab_store_energy_job_t *j, const char *printer, const char *meter,
                       int64_t mwh, int copies, const char *quality)
{
        assert_string_equal(j->printer, printer);
        assert_string_equal(j->meter, meter);
        assert_int_equal(j->mwh, mwh);
        assert_int_equal(j->copies, copies);
        assert_string_equal(j->quality, quality);
}

/* Assert exactly one job due, job with these figures. */
static void assert_one_due(lab_store_t *s, const char *job, const char *printer, const char *meter,
                           int64_t mwh, int copies, const char *quality)
{
        lab_store_energy_job_t *due = jobs_due(s, 100, &job, 1);

        assert_due(&due[0], printer, meter, mwh, copies, quality);
        lab_store_energy_jobs_free(due, 1);
}

/* The usual lab with j1 (quantity copies) queued on ds620: copy 1 printed and its interval
   closed (0 to 1000, 500 mWh, all of it copy 1's). */
static void first_copy_closed(lab_store_t *s, int quantity)
{
        declare_lab(s, false);
        store_fixture_queued_job(s, "j1", quantity, "ds620");
        print_copy(s, "j1", 1);
        close_open(s, interval("m1", 0, 1000, 500, "ok"), (const int64_t[]){500}, 1);
}

/* m1 failing since `since` (timeout), its last good reading (saved_wh) 100 µs before. */
static lab_store_energy_meter_t timeout_fault(int64_t since, double saved_wh)
{
        return (lab_store_energy_meter_t){
            .name = "m1",
            .state = "fault",
            .power_w = NAN,
            .reason = "timeout",
            .detail = "no answer in 2 s",
            .fault_since = since,
            .last_ok_at = since - 100,
            .saved_valid = true,
            .saved_wh = saved_wh,
            .last_error = "timeout: no answer in 2 s",
            .last_error_at = since,
        };
}

/* ---- declare ---- */

static void test_declare(void **state)
{
        fixture_t *f = *state;
        static const char *const meters[] = {"m2", "m1"};
        static const char *const printers[] = {"ds620", "cpd90"};
        static const char *const owners[] = {"m1", "m1"};
        static const char *const meters2[] = {"m1", "m3"};
        static const char *const printers2[] = {"ds620"};
        static const char *const owners2[] = {"m3"};
        lab_store_energy_meter_t w = {.name = "m1",
                                      .state = "ok",
                                      .power_w = 42.5,
                                      .last_ok_at = 1700000000000000,
                                      .saved_valid = true,
                                      .saved_wh = 1234.5};
        const lab_store_energy_meter_t *m;
        meters_t list;

        declare(f->s, meters, 2, printers, owners, 2);
        list = meters_read(f->s);
        assert_int_equal(list.n, 2);
        /* By name, each never read. */
        assert_string_equal(list.v[0].name, "m1");
        assert_string_equal(list.v[1].name, "m2");
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(list.v[i].state, "unknown");
                assert_int_equal(list.v[i].counted_mwh, 0);
                assert_figure(list.v[i].power_w, NAN);
                assert_false(list.v[i].saved_valid);
                assert_null(list.v[i].reason);
                assert_null(list.v[i].detail);
                assert_null(list.v[i].last_error);
                assert_int_equal(list.v[i].fault_since, 0);
                assert_int_equal(list.v[i].last_ok_at, 0);
                assert_int_equal(list.v[i].last_error_at, 0);
        }
        meters_free(&list);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_printers"), 2);
        assert_sql(f->s, "m1", 0, "SELECT meter FROM energy_printers WHERE printer = 'cpd90'");

        /* A first reading, then the same declaration again: one row each, the reading kept. */
        assert_int_equal(lab_store_energy_meter_write(f->s, &w, NULL, 0), 0);
        declare(f->s, meters, 2, printers, owners, 2);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_meters"), 2);

        /* A reload: m3 new, m2 no longer configured (kept), the printers' table replaced. */
        declare(f->s, meters2, 2, printers2, owners2, 1);
        list = meters_read(f->s);
        assert_int_equal(list.n, 3);
        m = meter_in(&list, "m1");
        assert_string_equal(m->state, "ok");
        assert_true(m->saved_valid);
        assert_figure(m->saved_wh, 1234.5);
        assert_figure(m->power_w, 42.5);
        assert_int_equal(m->last_ok_at, 1700000000000000);
        assert_string_equal(meter_in(&list, "m2")->state, "unknown");
        assert_string_equal(meter_in(&list, "m3")->state, "unknown");
        assert_false(meter_in(&list, "m3")->saved_valid);
        meters_free(&list);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_printers"), 1);
        assert_sql(f->s, "m3", 0, "SELECT meter FROM energy_printers WHERE printer = 'ds620'");

        /* No printers at all: the table emptied, the meters kept. */
        declare(f->s, NULL, 0, NULL, NULL, 0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_printers"), 0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_meters"), 3);

        assert_int_equal(lab_store_energy_declare(f->s, NULL, 1, NULL, NULL, 0), -EINVAL);
        assert_int_equal(lab_store_energy_declare(f->s, meters, 2, printers, NULL, 1), -EINVAL);
}

/* ---- a copy's print ---- */

static void test_print_rows(void **state)
{
        fixture_t *f = *state;
        static const lab_store_copy_change_t begin = {.new_attempt = true};
        static const lab_store_copy_change_t aborted = {.aborted = true,
                                                        .reason = "printer_aborted"};
        const int64_t shares[] = {60, 40};

        declare_lab(f->s, false);
        store_fixture_queued_job(f->s, "j1", 2, "ds620");
        store_fixture_queued_job(f->s, "j2", 1, "cpd90");
        /* Sent: no print yet. */
        store_fixture_send_copy(f->s, "j1", 1);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints"), 0);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 1, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &(lab_store_copy_change_t){0}, NULL, NULL, NULL),
                         0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints"), 1);
        assert_sql(f->s, "ds620", 0,
                   "SELECT printer FROM energy_prints WHERE job_id = 'j1' AND copy = 1 AND "
                   "attempt = 1");
        assert_sql(f->s, "m1", 0, "SELECT meter FROM energy_prints WHERE job_id = 'j1'");
        assert_sql(f->s, "print-4x6", 0, "SELECT sku FROM energy_prints WHERE job_id = 'j1'");
        assert_int_equal(sql_int(f->s, "SELECT interval_id FROM energy_prints"), -2);
        assert_int_equal(sql_int(f->s, "SELECT mwh FROM energy_prints"), -2);
        assert_int_equal(sql_int(f->s, "SELECT reported FROM energy_prints"), 0);

        /* On a printer with no meter: none. */
        print_copy(f->s, "j2", 1);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTED);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'j2'"),
                         0);

        /* Copy 2 aborted under attempt 1, printed under attempt 2: one row, attempt 2. */
        store_fixture_send_copy(f->s, "j1", 2);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_PRINTING, LAB_COPY_QUEUED,
                                             &aborted, NULL, NULL, NULL),
                         0);
        print_copy(f->s, "j1", 2);
        assert_int_equal(
            sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'j1' AND copy = 2"),
            1);
        assert_int_equal(sql_int(f->s, "SELECT attempt FROM energy_prints WHERE job_id = 'j1' "
                                       "AND copy = 2"),
                         2);

        /* The same attempt again (a replayed move): still one row, still open. */
        assert_int_equal(store_energy_print(f->s, "j1", 2, 2, "ds620"), 0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints"), 2);

        /* ... and once its interval closed, it stays closed: never shared twice. */
        close_open(f->s, interval("m1", 0, 1000, 100, "ok"), shares, 2);
        assert_int_equal(store_energy_print(f->s, "j1", 1, 1, "ds620"), 0);
        assert_int_equal(store_energy_print(f->s, "j1", 2, 2, "ds620"), 0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints"), 2);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE interval_id IS "
                                       "NULL"),
                         0);
        assert_int_equal(sql_int(f->s, "SELECT mwh FROM energy_prints WHERE copy = 1"), 60);

        /* Lost track of, then confirmed printed by a person: printed, so a print. */
        store_fixture_queued_job(f->s, "j3", 1, "ds620");
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_SUBMITTING, LAB_COPY_UNCERTAIN,
                                             NULL, NULL, NULL, NULL),
                         0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'j3'"),
                         0);
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "j3", 1, "j3/1/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'j3' "
                                       "AND copy = 1 AND attempt = 1 AND meter = 'm1' AND "
                                       "interval_id IS NULL"),
                         1);
}

/* ---- open prints, close ---- */

static void test_open_and_close(void **state)
{
        fixture_t *f = *state;
        static const char *const meters[] = {"m1"};
        static const char *const printers[] = {"ds620", "cpd90"};
        static const char *const owners[] = {"m1", "m1"};
        static const struct {
                const char *job, *printer;
                int copy;
        } order[] = {{"ja", "ds620", 2}, {"jb", "cpd90", 1}, {"ja", "ds620", 1}};
        const lab_store_energy_meter_t fault = timeout_fault(500, 10);
        const lab_store_energy_event_t recovered = {"meter.recovered", "{\"meter\":\"m1\"}"};
        const lab_store_energy_event_t other = {"meter.recovered", "{\"meter\":\"m9\"}"};
        lab_store_energy_interval_t iv = {
            .meter = "m1",
            .from_at = 1000,
            .to_at = 2000,
            .energy_mwh = 1001,
            .idle_mwh = 0,
            .total_wh = 11.001,
            .power_w = 80.5,
            .quality = "gap",
            .saved_wh = 11.001,
        };
        const int64_t shares[] = {334, 333, 334};
        const lab_store_energy_meter_t *m;
        lab_store_energy_print_t *p = NULL, two[2];
        size_t n = 0;
        int64_t events0, id;
        seen_t seen;
        meters_t list;

        declare(f->s, meters, 1, printers, owners, 2);
        store_fixture_queued_job(f->s, "ja", 2, "ds620");
        store_fixture_queued_job(f->s, "jb", 1, "cpd90");
        store_fixture_queued_job(f->s, "jc", 1, "ds620");
        assert_int_equal(lab_store_energy_meter_write(f->s, &fault, NULL, 0), 0);

        /* Nothing printed: nothing open. */
        assert_int_equal(lab_store_energy_open_prints(f->s, "m1", &p, &n), 0);
        assert_int_equal(n, 0);
        lab_store_energy_prints_free(p, n);

        /* Both printers' prints, in the order they printed (not by key). */
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                print_copy(f->s, order[i].job, order[i].copy);
        assert_int_equal(lab_store_energy_open_prints(f->s, "m1", &p, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(p[i].job_id, order[i].job);
                assert_int_equal(p[i].copy, order[i].copy);
                assert_int_equal(p[i].attempt, 1);
                assert_string_equal(p[i].printer, order[i].printer);
                assert_string_equal(p[i].sku, "print-4x6");
        }
        /* Another meter's: none. */
        {
                lab_store_energy_print_t *none = NULL;
                size_t n_none = 9;

                assert_int_equal(lab_store_energy_open_prints(f->s, "m2", &none, &n_none), 0);
                assert_int_equal(n_none, 0);
                lab_store_energy_prints_free(none, n_none);
        }

        events0 = outbox(f->s);
        assert_int_equal(lab_store_energy_close(f->s, &iv, p, shares, n, &recovered, 1), 0);
        id = sql_int(f->s, "SELECT max(id) FROM energy_intervals");
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals"), 1);
        assert_sql(f->s, "m1", 0, "SELECT meter FROM energy_intervals WHERE id = %lld",
                   (long long)id);
        assert_int_equal(sql_int(f->s, "SELECT from_at FROM energy_intervals"), 1000);
        assert_int_equal(sql_int(f->s, "SELECT to_at FROM energy_intervals"), 2000);
        assert_int_equal(sql_int(f->s, "SELECT energy_mwh FROM energy_intervals"), 1001);
        assert_int_equal(sql_int(f->s, "SELECT idle_mwh FROM energy_intervals"), 0);
        assert_int_equal(sql_int(f->s, "SELECT prints FROM energy_intervals"), 3);
        assert_int_equal(sql_int(f->s, "SELECT reported FROM energy_intervals"), 0);
        assert_sql(f->s, NULL, 11.001, "SELECT total_wh FROM energy_intervals");
        assert_sql(f->s, NULL, 80.5, "SELECT power_w FROM energy_intervals");
        assert_sql(f->s, "gap", 0, "SELECT quality FROM energy_intervals");
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(sql_int(f->s,
                                         "SELECT mwh FROM energy_prints WHERE job_id = '%s' AND "
                                         "copy = %d AND interval_id = %lld",
                                         order[i].job, order[i].copy, (long long)id),
                                 shares[i]);
        }
        /* The meter: the new baseline, counted, ok, the fault cleared (the last error kept). */
        list = meters_read(f->s);
        m = meter_in(&list, "m1");
        assert_string_equal(m->state, "ok");
        assert_int_equal(m->counted_mwh, 1001);
        assert_figure(m->power_w, 80.5);
        assert_true(m->saved_valid);
        assert_figure(m->saved_wh, 11.001);
        assert_int_equal(m->last_ok_at, 2000);
        assert_null(m->reason);
        assert_null(m->detail);
        assert_int_equal(m->fault_since, 0);
        assert_string_equal(m->last_error, "timeout: no answer in 2 s");
        meters_free(&list);
        assert_int_equal(outbox(f->s), events0 + 1);
        seen = events_of(f->s, "meter.recovered");
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.cls, LAB_EVENT_JOB);
        assert_string_equal(seen.job_id, "");
        assert_string_equal(body_text(&seen, "meter"), "m1");
        json_decref(seen.body);
        lab_store_energy_prints_free(p, n);
        p = NULL;
        assert_int_equal(lab_store_energy_open_prints(f->s, "m1", &p, &n), 0);
        assert_int_equal(n, 0);
        lab_store_energy_prints_free(p, n);

        /* An open print and one closed already: -ESTALE, and nothing written at all. */
        print_copy(f->s, "jc", 1);
        two[0] = (lab_store_energy_print_t){.job_id = "jc", .copy = 1, .attempt = 1};
        two[1] = (lab_store_energy_print_t){.job_id = "ja", .copy = 2, .attempt = 1};
        iv = interval("m1", 2000, 3000, 1000, "ok");
        events0 = outbox(f->s);
        assert_int_equal(
            lab_store_energy_close(f->s, &iv, two, (const int64_t[]){500, 500}, 2, &other, 1),
            -ESTALE);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals"), 1);
        assert_int_equal(sql_int(f->s, "SELECT interval_id FROM energy_prints WHERE job_id = 'jc'"),
                         -2);
        assert_int_equal(sql_int(f->s, "SELECT mwh FROM energy_prints WHERE job_id = 'jc'"), -2);
        assert_int_equal(sql_int(f->s,
                                 "SELECT mwh FROM energy_prints WHERE job_id = 'ja' AND "
                                 "copy = 2 AND interval_id = %lld",
                                 (long long)id),
                         334);
        assert_int_equal(outbox(f->s), events0);
        list = meters_read(f->s);
        m = meter_in(&list, "m1");
        assert_int_equal(m->counted_mwh, 1001);
        assert_figure(m->saved_wh, 11.001);
        assert_figure(m->power_w, 80.5);
        assert_int_equal(m->last_ok_at, 2000);
        meters_free(&list);

        /* More idle than energy, negative energy: refused before anything. */
        iv = interval("m1", 2000, 3000, 10, "ok");
        iv.idle_mwh = 11;
        assert_int_equal(lab_store_energy_close(f->s, &iv, NULL, NULL, 0, &other, 1), -EINVAL);
        iv = interval("m1", 2000, 3000, -1, "ok");
        assert_int_equal(lab_store_energy_close(f->s, &iv, NULL, NULL, 0, &other, 1), -EINVAL);
        /* A meter never declared: -ENOENT, its interval not kept. */
        iv = interval("m9", 2000, 3000, 10, "ok");
        iv.idle_mwh = 10;
        assert_int_equal(lab_store_energy_close(f->s, &iv, NULL, NULL, 0, &other, 1), -ENOENT);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals"), 1);
        assert_int_equal(outbox(f->s), events0);
        list = meters_read(f->s);
        assert_int_equal(meter_in(&list, "m1")->counted_mwh, 1001);
        meters_free(&list);

        /* The open print closes alone. */
        close_open(f->s, interval("m1", 2000, 3000, 999, "ok"), (const int64_t[]){999}, 1);
        list = meters_read(f->s);
        assert_int_equal(meter_in(&list, "m1")->counted_mwh, 2000);
        meters_free(&list);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals"), 2);
}

/* ---- a meter's row ---- */

static void test_meter_write(void **state)
{
        fixture_t *f = *state;
        const lab_store_energy_event_t ev = {"meter.fault",
                                             "{\"meter\":\"m1\",\"reason\":\"timeout\"}"};
        const lab_store_energy_event_t bad = {"meter.recovered", "[1]"};
        lab_store_energy_meter_t w = timeout_fault(5000, 77.25);
        const lab_store_energy_meter_t *m;
        int64_t events0;
        seen_t seen;
        meters_t list;

        declare_lab(f->s, false);
        events0 = outbox(f->s);
        w.counted_mwh = 999999; /* never written */
        assert_int_equal(lab_store_energy_meter_write(f->s, &w, &ev, 1), 0);
        list = meters_read(f->s);
        m = meter_in(&list, "m1");
        assert_string_equal(m->state, "fault");
        assert_figure(m->power_w, NAN);
        assert_string_equal(m->reason, "timeout");
        assert_string_equal(m->detail, "no answer in 2 s");
        assert_int_equal(m->fault_since, 5000);
        assert_int_equal(m->last_ok_at, 4900);
        assert_true(m->saved_valid);
        assert_figure(m->saved_wh, 77.25);
        assert_string_equal(m->last_error, "timeout: no answer in 2 s");
        assert_int_equal(m->last_error_at, 5000);
        assert_int_equal(m->counted_mwh, 0);
        /* The other meter untouched. */
        assert_string_equal(meter_in(&list, "m2")->state, "unknown");
        meters_free(&list);
        assert_int_equal(outbox(f->s), events0 + 1);
        seen = events_of(f->s, "meter.fault");
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.cls, LAB_EVENT_JOB);
        assert_string_equal(seen.job_id, "");
        assert_string_equal(body_text(&seen, "reason"), "timeout");
        json_decref(seen.body);

        /* One transaction: an event that cannot be stored undoes the row. */
        w.state = "ok";
        w.reason = NULL;
        w.detail = NULL;
        w.fault_since = 0;
        w.power_w = 50;
        assert_int_equal(lab_store_energy_meter_write(f->s, &w, &bad, 1), -EINVAL);
        list = meters_read(f->s);
        m = meter_in(&list, "m1");
        assert_string_equal(m->state, "fault");
        assert_string_equal(m->reason, "timeout");
        assert_figure(m->power_w, NAN);
        meters_free(&list);
        assert_int_equal(outbox(f->s), events0 + 1);

        /* Cleared fields are written NULL; no saved reading is NULL. */
        w.saved_valid = false;
        w.last_error = NULL;
        w.last_error_at = 0;
        assert_int_equal(lab_store_energy_meter_write(f->s, &w, NULL, 0), 0);
        list = meters_read(f->s);
        m = meter_in(&list, "m1");
        assert_string_equal(m->state, "ok");
        assert_null(m->reason);
        assert_null(m->detail);
        assert_null(m->last_error);
        assert_int_equal(m->fault_since, 0);
        assert_int_equal(m->last_error_at, 0);
        assert_false(m->saved_valid);
        assert_figure(m->power_w, 50);
        meters_free(&list);
        assert_int_equal(outbox(f->s), events0 + 1);

        /* A meter never declared: -ENOENT, no row made, no event. */
        w.name = "m9";
        assert_int_equal(lab_store_energy_meter_write(f->s, &w, &ev, 1), -ENOENT);
        assert_int_equal(outbox(f->s), events0 + 1);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_meters WHERE name = 'm9'"), 0);
        /* A bad state is refused by the table, nothing written. */
        w.name = "m1";
        w.state = "broken";
        assert_true(lab_store_energy_meter_write(f->s, &w, &ev, 1) < 0);
        assert_int_equal(outbox(f->s), events0 + 1);
        assert_int_equal(lab_store_energy_meter_write(f->s, NULL, NULL, 0), -EINVAL);
}

/* ---- energy.reading ---- */

/* Assert meter's pending figures are want's (NAN for none); *ret (may be NULL) what was read. */
static void assert_pending(lab_store_t *s, const char *meter,
                           const lab_store_energy_pending_t *want, lab_store_energy_pending_t *ret)
{
        lab_store_energy_pending_t p;

        assert_int_equal(lab_store_energy_pending(s, meter, &p), 0);
        assert_int_equal(p.intervals, want->intervals);
        assert_int_equal(p.last_id, want->last_id);
        assert_int_equal(p.from_at, want->from_at);
        assert_int_equal(p.to_at, want->to_at);
        assert_int_equal(p.energy_mwh, want->energy_mwh);
        assert_int_equal(p.idle_mwh, want->idle_mwh);
        assert_int_equal(p.prints, want->prints);
        assert_figure(p.total_wh, want->total_wh);
        assert_figure(p.power_w, want->power_w);
        assert_figure(p.power_w_max, want->power_w_max);
        assert_string_equal(p.quality, want->quality);
        if (ret)
                *ret = p;
}

static void test_pending_reported(void **state)
{
        fixture_t *f = *state;
        lab_store_energy_interval_t iv;
        lab_store_energy_pending_t p;
        int64_t id1, id3, id4, id_m2, events0;
        seen_t seen;

        declare_lab(f->s, false);
        store_fixture_queued_job(f->s, "j1", 2, "ds620");
        iv = interval("m1", 100, 200, 500, "ok");
        iv.power_w = 50;
        id1 = close_open(f->s, iv, NULL, 0);
        print_copy(f->s, "j1", 1);
        print_copy(f->s, "j1", 2);
        iv = interval("m1", 200, 300, 700, "meter_reset");
        iv.power_w = 120;
        close_open(f->s, iv, (const int64_t[]){350, 350}, 2);
        iv = interval("m1", 300, 400, 300, "gap");
        iv.power_w = NAN;
        iv.total_wh = 9.5;
        id3 = close_open(f->s, iv, NULL, 0);
        /* m2: ok, gap, ok, the largest power first. */
        iv = interval("m2", 100, 250, 1000, "ok");
        iv.power_w = 999;
        close_open(f->s, iv, NULL, 0);
        close_open(f->s, interval("m2", 250, 260, 1, "gap"), NULL, 0);
        id_m2 = close_open(f->s, interval("m2", 260, 270, 2, "ok"), NULL, 0);

        assert_pending(f->s, "m1",
                       &(lab_store_energy_pending_t){.intervals = 3,
                                                     .last_id = id3,
                                                     .from_at = 100,
                                                     .to_at = 400,
                                                     .energy_mwh = 1500,
                                                     .idle_mwh = 800,
                                                     .prints = 2,
                                                     .total_wh = 9.5,
                                                     .power_w = NAN,
                                                     .power_w_max = 120,
                                                     .quality = "meter_reset"},
                       &p);
        assert_pending(f->s, "m2",
                       &(lab_store_energy_pending_t){.intervals = 3,
                                                     .last_id = id_m2,
                                                     .from_at = 100,
                                                     .to_at = 270,
                                                     .energy_mwh = 1003,
                                                     .idle_mwh = 1003,
                                                     .total_wh = 0.27,
                                                     .power_w = 100,
                                                     .power_w_max = 999,
                                                     .quality = "gap"},
                       NULL);

        /* An interval closed after the read: not in what that read reports. */
        iv = interval("m1", 400, 500, 40, "ok");
        iv.power_w = 60;
        id4 = close_open(f->s, iv, NULL, 0);
        events0 = outbox(f->s);
        assert_int_equal(lab_store_energy_reported(f->s, "m1", p.last_id,
                                                   "{\"meter\":\"m1\",\"energy_wh\":1.5}"),
                         0);
        assert_int_equal(sql_int(f->s,
                                 "SELECT count(*) FROM energy_intervals WHERE reported = 1 AND "
                                 "meter = 'm1' AND id BETWEEN %lld AND %lld",
                                 (long long)id1, (long long)id3),
                         3);
        assert_int_equal(
            sql_int(f->s, "SELECT reported FROM energy_intervals WHERE id = %lld", (long long)id4),
            0);
        assert_int_equal(
            sql_int(f->s, "SELECT count(*) FROM energy_intervals WHERE meter = 'm2' AND reported"),
            0);
        assert_int_equal(outbox(f->s), events0 + 1);
        seen = events_of(f->s, "energy.reading");
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.cls, LAB_EVENT_TELEMETRY);
        assert_string_equal(seen.job_id, "");
        assert_string_equal(body_text(&seen, "meter"), "m1");
        json_decref(seen.body);

        /* What is left: the later interval alone. */
        assert_pending(f->s, "m1",
                       &(lab_store_energy_pending_t){.intervals = 1,
                                                     .last_id = id4,
                                                     .from_at = 400,
                                                     .to_at = 500,
                                                     .energy_mwh = 40,
                                                     .idle_mwh = 40,
                                                     .total_wh = 0.5,
                                                     .power_w = 60,
                                                     .power_w_max = 60,
                                                     .quality = "ok"},
                       &p);

        /* An event that cannot be stored marks nothing. */
        assert_int_equal(lab_store_energy_reported(f->s, "m1", p.last_id, "[1]"), -EINVAL);
        assert_int_equal(
            sql_int(f->s, "SELECT reported FROM energy_intervals WHERE id = %lld", (long long)id4),
            0);
        assert_int_equal(outbox(f->s), events0 + 1);

        /* A meter with nothing: nothing to report. */
        assert_pending(
            f->s, "m9",
            &(lab_store_energy_pending_t){.power_w = NAN, .power_w_max = NAN, .quality = "ok"},
            NULL);
}

/* ---- job.energy ---- */

static void test_jobs_due(void **state)
{
        fixture_t *f = *state;
        static const char *const meters[] = {"m1", "m2"};
        static const char *const printers[] = {"ds620"};
        static const char *const on_m2[] = {"m2"};
        static const char *const j0[] = {"j0"};
        static const char *const j0_j1[] = {"j0", "j1"};
        lab_store_reprint_t rp = {
            .job_id = "j1",
            .copy = 1,
            .defect = "banding",
            .by = "anna",
            .actor = "labctl:uid=1000",
        };
        lab_store_energy_job_t *due;
        seen_t seen;

        declare_lab(f->s, false);
        store_fixture_queued_job(f->s, "j0", 1, "ds620");
        store_fixture_queued_job(f->s, "j1", 2, "ds620");
        store_fixture_queued_job(f->s, "j2", 1, "cpd90");
        nothing_due(f->s);

        /* j0 printed, its interval closed: due. */
        print_copy(f->s, "j0", 1);
        nothing_due(f->s); /* its print still open */
        close_open(f->s, interval("m1", 0, 1000, 300, "ok"), (const int64_t[]){300}, 1);
        assert_one_due(f->s, "j0", "ds620", "m1", 300, 1, "ok");

        /* j1's first copy closed, its second still to print: not due. Unmetered j2: never. */
        print_copy(f->s, "j1", 1);
        print_copy(f->s, "j2", 1);
        close_open(f->s, interval("m1", 1000, 2000, 400, "gap"), (const int64_t[]){400}, 1);
        assert_one_due(f->s, "j0", "ds620", "m1", 300, 1, "ok");

        /* ds620 moved to m2 (a reload); j1's last copy printed there, its print open. */
        declare(f->s, meters, 2, printers, on_m2, 1);
        print_copy(f->s, "j1", 2);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        assert_one_due(f->s, "j0", "ds620", "m1", 300, 1, "ok");

        /* Closed: due with both shares, the worst quality, its last print's meter. Oldest
           first, at most max. */
        close_open(f->s, interval("m2", 1500, 2500, 250, "ok"), (const int64_t[]){250}, 1);
        due = jobs_due(f->s, 100, j0_j1, 2);
        assert_due(&due[0], "ds620", "m1", 300, 1, "ok");
        assert_due(&due[1], "ds620", "m2", 650, 2, "gap");
        lab_store_energy_jobs_free(due, 2);
        lab_store_energy_jobs_free(jobs_due(f->s, 1, j0, 1), 1);
        lab_store_energy_jobs_free(jobs_due(f->s, 0, NULL, 0), 0);

        /* Reported: job.energy of the job, and not due again. */
        assert_int_equal(lab_store_energy_job_reported(f->s, "j0", "{\"energy_wh\":0.3}"), 0);
        assert_int_equal(store_fixture_events_of(f->s, "j0", "job.energy"), 1);
        seen = events_of(f->s, "job.energy");
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.cls, LAB_EVENT_JOB);
        assert_string_equal(seen.job_id, "j0");
        json_decref(seen.body);
        assert_one_due(f->s, "j1", "ds620", "m2", 650, 2, "gap");
        assert_int_equal(lab_store_energy_job_reported(f->s, "j1", "{\"energy_wh\":0.65}"), 0);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.energy"), 1);
        nothing_due(f->s);
        /* Twice: nothing left to report, no second event. */
        assert_int_equal(lab_store_energy_job_reported(f->s, "j1", "{\"energy_wh\":0.65}"),
                         -ENOENT);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.energy"), 1);
        assert_int_equal(
            sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'j1' AND reported"),
            2);

        /* A reprint: not due while it waits or its print is open, then due with its share
           alone (and its interval's quality alone). */
        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 3);
        nothing_due(f->s);
        print_copy(f->s, "j1", 3);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        nothing_due(f->s);
        close_open(f->s, interval("m2", 2500, 3500, 123, "ok"), (const int64_t[]){123}, 1);
        assert_one_due(f->s, "j1", "ds620", "m2", 123, 1, "ok");
        assert_int_equal(lab_store_energy_job_reported(f->s, "j1", "{\"energy_wh\":0.123}"), 0);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.energy"), 2);
        nothing_due(f->s);
}

/*
 * A job stopped by the platform with a copy printed: that copy's share was
 * taken out of its interval (not idle), so the job must report it, or the
 * jobs' energy plus the idle energy falls short of the meter's count.
 * Canceled: the print stage cancels the copies left (lab_print_stage_cancel).
 */
static void test_stopped_job_canceled(void **state)
{
        fixture_t *f = *state;
        const lab_store_copy_change_t canceled = {.reason = "platform_canceled"};

        first_copy_closed(f->s, 3);
        store_fixture_send_copy(f->s, "j1", 2);
        assert_int_equal(lab_store_job_move(f->s, "j1", LAB_JOB_PRINTING, LAB_JOB_CANCELED,
                                            "platform_canceled", NULL, "job.canceled",
                                            "{\"by\":\"platform\"}"),
                         0);
        /* Copy 3 not canceled yet, copy 2 at the printer: either may still print. */
        nothing_due(f->s);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 3, LAB_COPY_QUEUED, LAB_COPY_CANCELED,
                                             &canceled, NULL, NULL, NULL),
                         0);
        nothing_due(f->s);
        /* Copy 2 came out before the cancel reached the printer: its print is the job's too. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &(lab_store_copy_change_t){0}, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_CANCELED);
        nothing_due(f->s);
        close_open(f->s, interval("m1", 1000, 2000, 70, "gap"), (const int64_t[]){70}, 1);
        assert_one_due(f->s, "j1", "ds620", "m1", 570, 2, "gap");
}

/*
 * Dropped (reconcile: not the lab's job any more, platform.c drop_job): the
 * job alone moves, its queued copies stay queued and are never sent
 * (print-stage.c plan_submit skips them).
 */
static void test_stopped_job_dropped(void **state)
{
        fixture_t *f = *state;

        first_copy_closed(f->s, 2);
        assert_int_equal(lab_store_job_move(f->s, "j1", LAB_JOB_PRINTING, LAB_JOB_DROPPED,
                                            "job_reassigned", NULL, "job.dropped",
                                            "{\"reason\":\"job_reassigned\"}"),
                         0);
        assert_one_due(f->s, "j1", "ds620", "m1", 500, 1, "ok");
}

/* job.energy marks the job's closed prints only: one still open is reported with its interval. */
static void test_job_reported_closed_only(void **state)
{
        fixture_t *f = *state;

        first_copy_closed(f->s, 2);
        print_copy(f->s, "j1", 2);
        assert_int_equal(lab_store_energy_job_reported(f->s, "j1", "{\"energy_wh\":0.5}"), 0);
        assert_int_equal(sql_int(f->s, "SELECT reported FROM energy_prints WHERE copy = 1"), 1);
        assert_int_equal(sql_int(f->s, "SELECT reported FROM energy_prints WHERE copy = 2"), 0);
        close_open(f->s, interval("m1", 1000, 2000, 80, "ok"), (const int64_t[]){80}, 1);
        assert_one_due(f->s, "j1", "ds620", "m1", 80, 1, "ok");
        /* A job with nothing closed: nothing to report. */
        assert_int_equal(lab_store_energy_job_reported(f->s, "j9", "{}"), -ENOENT);
        assert_int_equal(store_fixture_events_of(f->s, "j9", "job.energy"), 0);
}

/* ---- window ---- */

/* Assert meter's window since `since`: {energy, idle, prints, print, intervals}. */
static void assert_window(lab_store_t *s, const char *meter, int64_t since,
                          lab_store_energy_window_t want)
{
        lab_store_energy_window_t w;

        assert_int_equal(lab_store_energy_window(s, meter, since, &w), 0);
        if (memcmp(&w, &want, sizeof w) != 0)
                fail_msg("window of %s since %lld: {%lld, %lld, %lld, %lld, %lld}, want {%lld, "
                         "%lld, %lld, %lld, %lld}",
                         meter, (long long)since, (long long)w.energy_mwh, (long long)w.idle_mwh,
                         (long long)w.prints, (long long)w.print_mwh, (long long)w.intervals,
                         (long long)want.energy_mwh, (long long)want.idle_mwh,
                         (long long)want.prints, (long long)want.print_mwh,
                         (long long)want.intervals);
}

static void test_window(void **state)
{
        fixture_t *f = *state;

        declare_lab(f->s, false);
        store_fixture_queued_job(f->s, "j1", 2, "ds620");
        close_open(f->s, interval("m1", 500, 1000, 100, "ok"), NULL, 0);
        print_copy(f->s, "j1", 1);
        print_copy(f->s, "j1", 2);
        close_open(f->s, interval("m1", 1000, 2000, 300, "ok"), (const int64_t[]){150, 150}, 2);
        close_open(f->s, interval("m1", 2000, 3000, 50, "gap"), NULL, 0);
        close_open(f->s, interval("m2", 0, 5000, 999, "ok"), NULL, 0);

        assert_window(f->s, "m1", 0, (lab_store_energy_window_t){450, 150, 2, 300, 3});
        /* Ending after since: the interval ending at since is out. */
        assert_window(f->s, "m1", 1000, (lab_store_energy_window_t){350, 50, 2, 300, 2});
        assert_window(f->s, "m1", 2999, (lab_store_energy_window_t){50, 50, 0, 0, 1});
        assert_window(f->s, "m1", 3000, (lab_store_energy_window_t){0});
        assert_window(f->s, "m2", 0, (lab_store_energy_window_t){999, 999, 0, 0, 1});
        assert_window(f->s, "m9", 0, (lab_store_energy_window_t){0});
}

/* ---- prune ---- */

static void test_prune(void **state)
{
        fixture_t *f = *state;
        static const char *const ja_jc[] = {"ja", "jc"};
        lab_store_energy_job_t *due;
        lab_store_energy_pending_t p;
        int64_t id1, id2, id3, id4;

        declare_lab(f->s, true);
        store_fixture_queued_job(f->s, "ja", 1, "ds620");
        store_fixture_queued_job(f->s, "jb", 2, "ds620");
        store_fixture_queued_job(f->s, "jc", 1, "ds620");
        print_copy(f->s, "ja", 1);
        id1 = close_open(f->s, interval("m1", 0, 1000, 100, "ok"), (const int64_t[]){100}, 1);
        print_copy(f->s, "jb", 1);
        id2 = close_open(f->s, interval("m1", 1000, 1100, 200, "ok"), (const int64_t[]){200}, 1);
        id3 = close_open(f->s, interval("m2", 0, 1200, 50, "ok"), NULL, 0);
        print_copy(f->s, "jc", 1);
        id4 = close_open(f->s, interval("m1", 1100, 5000, 300, "ok"), (const int64_t[]){300}, 1);
        /* m1's intervals reported; ja and jc reported (jb waits for its second copy). */
        assert_int_equal(lab_store_energy_pending(f->s, "m1", &p), 0);
        assert_int_equal(p.last_id, id4);
        assert_int_equal(lab_store_energy_reported(f->s, "m1", p.last_id, "{}"), 0);
        due = jobs_due(f->s, 100, ja_jc, 2);
        lab_store_energy_jobs_free(due, 2);
        assert_int_equal(lab_store_energy_job_reported(f->s, "ja", "{}"), 0);
        assert_int_equal(lab_store_energy_job_reported(f->s, "jc", "{}"), 0);

        /* Before 1500: the reported interval 1 and its reported print go; interval 2 stays
           for jb's print; m2's unreported interval stays. */
        assert_int_equal(lab_store_energy_prune(f->s, 1500), 0);
        assert_int_equal(
            sql_int(f->s, "SELECT count(*) FROM energy_intervals WHERE id = %lld", (long long)id1),
            0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'ja'"),
                         0);
        assert_int_equal(sql_int(f->s,
                                 "SELECT count(*) FROM energy_intervals WHERE id IN (%lld, "
                                 "%lld, %lld)",
                                 (long long)id2, (long long)id3, (long long)id4),
                         3);
        assert_int_equal(sql_int(f->s, "SELECT interval_id FROM energy_prints WHERE job_id = 'jb'"),
                         id2);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE job_id = 'jc'"),
                         1);

        /* Later: interval 4 and jc's print go too; 2 and 3 still stay. */
        assert_int_equal(lab_store_energy_prune(f->s, 10000), 0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals"), 2);
        assert_int_equal(sql_int(f->s,
                                 "SELECT count(*) FROM energy_intervals WHERE id IN (%lld, %lld)",
                                 (long long)id2, (long long)id3),
                         2);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints"), 1);

        /* Kept for a reason: jb's report has both its shares. */
        print_copy(f->s, "jb", 2);
        close_open(f->s, interval("m1", 5000, 6000, 7, "ok"), (const int64_t[]){7}, 1);
        assert_one_due(f->s, "jb", "ds620", "m1", 207, 2, "ok");
}

/* ---- exactness over a random run ---- */

#define EXACT_SEED      UINT64_C(0x5eed0e11e4617)
#define EXACT_INTERVALS 200
#define EXACT_PRINTERS  3
#define EXACT_REPRINTS  8

/* A printer of the run: the job it prints, the last one it finished, reprints waiting. */
typedef struct exact_printer_s {
        const char *name, *meter;
        char job[32]; /* "" none */
        int next, quantity;
        char done[32]; /* "" none */
        struct {
                char job[32];
                int copy;
        } reprints[EXACT_REPRINTS];
        size_t n_reprints;
} exact_printer_t;

typedef struct exact_s {
        lab_store_t *s;
        uint64_t rng;
        int jobs;
        exact_printer_t p[EXACT_PRINTERS];
        int64_t t;          /* the intervals' wall clock, unix usec */
        int64_t closed_mwh; /* every closed interval's energy */
        int64_t printed;    /* every print */
        int reprints, held; /* reprints asked, reports written across a close */
} exact_t;

/* splitmix64: a value in [0, n). */
static unsigned rnd(exact_t *x, unsigned n)
{
        uint64_t z = (x->rng += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return (unsigned)((z ^ (z >> 31)) % n);
}

/* Print the next copy on printer p: a reprint waiting, else its job's next copy (a new job
   when it has none and start). Whether a copy printed. */
static bool exact_print(exact_t *x, exact_printer_t *p, bool start)
{
        if (p->n_reprints) {
                p->n_reprints--;
                print_copy(x->s, p->reprints[p->n_reprints].job, p->reprints[p->n_reprints].copy);
                x->printed++;
                return true;
        }
        if (!p->job[0]) {
                if (!start)
                        return false;
                snprintf(p->job, sizeof p->job, "e%03d", ++x->jobs);
                p->next = 1;
                p->quantity = 1 + (int)rnd(x, 4);
                store_fixture_queued_job(x->s, p->job, p->quantity, p->name);
        }
        print_copy(x->s, p->job, p->next++);
        x->printed++;
        if (p->next > p->quantity) {
                memcpy(p->done, p->job, sizeof p->done);
                p->job[0] = '\0';
        }
        return true;
}

/* A technician reports copy 1 of the printer's last finished job bad: a reprint waits. */
static void exact_reprint(exact_t *x, exact_printer_t *p)
{
        lab_store_reprint_t rp = {
            .job_id = p->done,
            .copy = 1,
            .defect = "banding",
            .by = "anna",
            .actor = "labctl:uid=1000",
        };

        if (!p->done[0] || p->n_reprints == EXACT_REPRINTS)
                return;
        assert_int_equal(lab_store_copy_reprint(x->s, &rp), 0);
        x->reprints++;
        memcpy(p->reprints[p->n_reprints].job, p->done, sizeof p->done);
        p->reprints[p->n_reprints++].copy = rp.reprint_copy;
}

/* Close an interval of meter over its open prints, shared by lab_energy_share. */
static void exact_close(exact_t *x, const char *meter)
{
        static const char *const qualities[] = {"ok", "ok", "ok", "gap", "meter_reset"};
        static const double areas[] = {101.6 * 152.4, 203.2 * 304.8, 127 * 177.8};
        lab_store_energy_print_t *p = NULL;
        lab_energy_copy_t copies[64];
        int64_t shares[64], idle = -1;
        size_t n = 0;
        lab_store_energy_interval_t iv = {
            .meter = meter,
            .from_at = x->t,
            .to_at = x->t + 60000000 + rnd(x, 1000000),
            .energy_mwh = rnd(x, 8) == 0 ? 0 : rnd(x, 100000),
            .quality = qualities[rnd(x, ELEMENTSOF(qualities))],
            .power_w = rnd(x, 4) == 0 ? NAN : rnd(x, 400),
        };

        x->t = iv.to_at;
        iv.total_wh = (double)(x->closed_mwh + iv.energy_mwh) / 1000.0;
        iv.saved_wh = iv.total_wh;
        assert_int_equal(lab_store_energy_open_prints(x->s, meter, &p, &n), 0);
        assert_true(n <= ELEMENTSOF(copies));
        for (size_t i = 0; i < n; i++)
                copies[i] = (lab_energy_copy_t){.job = p[i].job_id,
                                                .copy = (unsigned)p[i].copy,
                                                .area = areas[rnd(x, ELEMENTSOF(areas))]};
        assert_int_equal(lab_energy_share(iv.energy_mwh, copies, n, shares, &idle), 0);
        iv.idle_mwh = idle;
        assert_int_equal(lab_store_energy_close(x->s, &iv, p, shares, n, NULL, 0), 0);
        lab_store_energy_prints_free(p, n);
        x->closed_mwh += iv.energy_mwh;
}

/* Wh of whole mWh, as the energy stage writes it. */
static json_t *json_wh(int64_t mwh)
{
        return json_real((double)mwh / 1000.0);
}

/* The whole mWh of a body's Wh member. */
static int64_t body_mwh(json_t *body, const char *key)
{
        json_t *v = json_object_get(body, key);
        double wh = json_number_value(v);

        assert_true(json_is_number(v) && wh >= 0);
        return (int64_t)(wh * 1000.0 + 0.5);
}

/* energy.reading of what p (read earlier) covers. */
static void exact_report_meter(exact_t *x, const char *meter, const lab_store_energy_pending_t *p)
{
        json_auto_t *b = NULL;
        char *text;

        if (p->intervals == 0)
                return;
        b = json_pack("{s:s, s:o, s:o, s:I, s:s}", "meter", meter, "energy_wh",
                      json_wh(p->energy_mwh), "idle_wh", json_wh(p->idle_mwh), "prints",
                      (json_int_t)p->prints, "quality", p->quality);
        text = b ? json_dumps(b, JSON_COMPACT) : NULL;
        assert_non_null(text);
        assert_int_equal(lab_store_energy_reported(x->s, meter, p->last_id, text), 0);
        free(text);
}

/* job.energy for up to max jobs due: how many. */
static size_t exact_report_jobs(exact_t *x, size_t max)
{
        lab_store_energy_job_t *v = NULL;
        size_t n = 0;

        assert_int_equal(lab_store_energy_jobs_due(x->s, max, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
                json_auto_t *b = json_pack("{s:s, s:s, s:o, s:i, s:s}", "printer", v[i].printer,
                                           "meter", v[i].meter, "energy_wh", json_wh(v[i].mwh),
                                           "copies", v[i].copies, "quality", v[i].quality);
                char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;

                assert_non_null(text);
                assert_int_equal(lab_store_energy_job_reported(x->s, v[i].job_id, text), 0);
                free(text);
        }
        lab_store_energy_jobs_free(v, n);
        return n;
}

static void test_exact(void **state)
{
        fixture_t *f = *state;
        static const char *const meters[] = {"m1", "m2"};
        static const char *const printers[] = {"p1", "p2", "p3"};
        static const char *const owners[] = {"m1", "m1", "m2"};
        exact_t x = {.s = f->s, .rng = EXACT_SEED, .t = INT64_C(1700000000000000)};
        int64_t jobs_mwh = 0, reading_mwh = 0, idle_mwh = 0, reading_prints = 0, copies = 0;
        int64_t counted = 0;
        lab_store_event_t *ev = NULL;
        size_t n_ev = 0;
        meters_t list;

        declare(f->s, meters, 2, printers, owners, 3);
        for (size_t i = 0; i < EXACT_PRINTERS; i++) {
                x.p[i].name = printers[i];
                x.p[i].meter = owners[i];
        }
        for (int i = 0; i < EXACT_INTERVALS; i++) {
                unsigned m = rnd(&x, 2), k = rnd(&x, 6);
                lab_store_energy_pending_t held = {0};
                bool hold = rnd(&x, 5) == 0;

                for (unsigned c = 0; c < k; c++)
                        exact_print(&x, &x.p[m == 0 ? rnd(&x, 2) : 2], true);
                if (rnd(&x, 16) == 0)
                        exact_reprint(&x, &x.p[rnd(&x, EXACT_PRINTERS)]);
                /* A report read before the close and written after it. */
                if (hold)
                        assert_int_equal(lab_store_energy_pending(f->s, meters[m], &held), 0);
                exact_close(&x, meters[m]);
                if (hold) {
                        exact_report_meter(&x, meters[m], &held);
                        assert_int_equal(sql_int(f->s, "SELECT reported FROM energy_intervals "
                                                       "WHERE id = (SELECT max(id) FROM "
                                                       "energy_intervals)"),
                                         0);
                        x.held += held.intervals > 0;
                }
                if (rnd(&x, 3) == 0)
                        exact_report_jobs(&x, 1 + rnd(&x, 4));
                if (i % 50 == 49)
                        assert_int_equal(lab_store_energy_prune(f->s, x.t - 20 * INT64_C(60000000)),
                                         0);
        }
        /* Everything printed, closed and reported. */
        for (size_t i = 0; i < EXACT_PRINTERS; i++)
                while (exact_print(&x, &x.p[i], false))
                        ;
        for (size_t m = 0; m < 2; m++) {
                lab_store_energy_pending_t p;

                exact_close(&x, meters[m]);
                assert_int_equal(lab_store_energy_pending(f->s, meters[m], &p), 0);
                exact_report_meter(&x, meters[m], &p);
        }
        while (exact_report_jobs(&x, 7) > 0)
                ;
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_prints WHERE interval_id IS "
                                       "NULL OR NOT reported"),
                         0);
        assert_int_equal(sql_int(f->s, "SELECT count(*) FROM energy_intervals WHERE NOT reported"),
                         0);

        assert_int_equal(lab_store_events_peek(f->s, 1000000, &ev, &n_ev), 0);
        for (size_t i = 0; i < n_ev; i++) {
                json_t *body;

                if (strcmp(ev[i].kind, "job.energy") != 0 &&
                    strcmp(ev[i].kind, "energy.reading") != 0)
                        continue;
                body = json_loads(ev[i].body, 0, NULL);
                assert_non_null(body);
                if (strcmp(ev[i].kind, "job.energy") == 0) {
                        assert_int_equal(ev[i].cls, LAB_EVENT_JOB);
                        assert_non_null(ev[i].job_id);
                        jobs_mwh += body_mwh(body, "energy_wh");
                        copies += json_integer_value(json_object_get(body, "copies"));
                } else {
                        assert_int_equal(ev[i].cls, LAB_EVENT_TELEMETRY);
                        reading_mwh += body_mwh(body, "energy_wh");
                        idle_mwh += body_mwh(body, "idle_wh");
                        reading_prints += json_integer_value(json_object_get(body, "prints"));
                }
                json_decref(body);
        }
        lab_store_events_free(ev, n_ev);
        list = meters_read(f->s);
        for (size_t i = 0; i < list.n; i++)
                counted += list.v[i].counted_mwh;
        meters_free(&list);

        print_message("seed %#llx: %lld mWh in %d intervals, %lld prints of %d jobs, %d "
                      "reprints, %lld mWh idle\n",
                      (unsigned long long)EXACT_SEED, (long long)x.closed_mwh, EXACT_INTERVALS + 2,
                      (long long)x.printed, x.jobs, x.reprints, (long long)idle_mwh);
        if (jobs_mwh + idle_mwh != x.closed_mwh)
                fail_msg("seed %#llx: jobs %lld mWh + idle %lld mWh != closed %lld mWh",
                         (unsigned long long)EXACT_SEED, (long long)jobs_mwh, (long long)idle_mwh,
                         (long long)x.closed_mwh);
        assert_int_equal(reading_mwh, x.closed_mwh);
        assert_int_equal(counted, x.closed_mwh);
        assert_int_equal(copies, x.printed);
        assert_int_equal(reading_prints, x.printed);
        /* The run did what it is for. */
        assert_true(x.printed > 200);
        assert_true(x.jobs > 50);
        assert_true(x.reprints > 3);
        assert_true(x.held > 10);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_declare, setup, teardown),
            cmocka_unit_test_setup_teardown(test_print_rows, setup, teardown),
            cmocka_unit_test_setup_teardown(test_open_and_close, setup, teardown),
            cmocka_unit_test_setup_teardown(test_meter_write, setup, teardown),
            cmocka_unit_test_setup_teardown(test_pending_reported, setup, teardown),
            cmocka_unit_test_setup_teardown(test_jobs_due, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_reported_closed_only, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stopped_job_canceled, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stopped_job_dropped, setup, teardown),
            cmocka_unit_test_setup_teardown(test_window, setup, teardown),
            cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
