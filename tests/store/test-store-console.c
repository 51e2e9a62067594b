/*
 * test-store-console.c - what technicians change through labctl
 * (store-console.c): printer pauses, reprints of bad copies in each branch,
 * uncertain copies confirmed printed, and the console's read-outs.
 *
 * Why: a person's action must be written like the daemon's own work, in one
 * transaction with the copy's and job's new states, the events the platform
 * hears and the audit record. These tests read the rows back with raw SQL
 * and check that a refused action writes nothing at all.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "store-private.h"
#include "store-fixture.h"
#include "testutil.h"

typedef store_fixture_t fixture_t;

/* A copy's first moves (store_fixture_send_copy makes them too). */
static const lab_store_copy_change_t begin = {.new_attempt = true};
static const lab_store_copy_change_t sent = {.handle = "17"};

/* A fresh store for each test. */
static int setup(void **state)
{
        return store_fixture_open(state, "store-console");
}

static int teardown(void **state)
{
        return store_fixture_close(state);
}

/* ---- helpers: build jobs and copies through the public API ---- */

/* Send a queued copy and have it printed. */
static void print_copy(lab_store_t *s, const char *id, int copy)
{
        store_fixture_send_copy(s, id, copy);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_PRINTING, LAB_COPY_PRINTED, NULL,
                                             "job.copy_printed", "{\"copy\":1}", NULL),
                         0);
}

/* Send a queued copy and lose track of it: queued → submitting → uncertain. */
static void uncertain_copy(lab_store_t *s, const char *id, int copy)
{
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_SUBMITTING, LAB_COPY_UNCERTAIN,
                                             NULL, NULL, NULL, NULL),
                         0);
}

/* A job at printer with all its quantity copies printed (state printed). */
static void printed_job(lab_store_t *s, const char *id, int quantity, const char *printer)
{
        store_fixture_queued_job(s, id, quantity, printer);
        for (int i = 1; i <= quantity; i++)
                print_copy(s, id, i);
}

/* ---- helpers: read rows back with raw SQL ---- */

/* The one text (or integer, as text) value of a query with up to two text parameters. */
static char *sql_text(lab_store_t *s, const char *sql, const char *a1, const char *a2)
{
        sqlite3_stmt *st = NULL;
        char *ret = NULL;
        int rc;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
        if (a1)
                sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
        if (a2)
                sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
                ret = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return ret;
}

/* The integer value of a query with up to two text parameters (-1 when no row). */
static int64_t sql_int(lab_store_t *s, const char *sql, const char *a1, const char *a2)
{
        _cleanup_free_ char *t = sql_text(s, sql, a1, a2);

        return t ? strtoll(t, NULL, 10) : -1;
}

/* Rows in a table. */
static int64_t rows(lab_store_t *s, const char *table)
{
        char sql[128];

        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
        return sql_int(s, sql, NULL, NULL);
}

/* The body of the job's latest event of kind, parsed (asserts there is one). */
static json_t *last_event(lab_store_t *s, const char *id, const char *kind)
{
        _cleanup_free_ char *body = sql_text(
            s, "SELECT body FROM events WHERE job_id = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1",
            id, kind);
        json_t *o;

        assert_non_null(body);
        o = json_loads(body, 0, NULL);
        assert_non_null(o);
        assert_true(json_is_object(o));
        return o;
}

/* The copy's row as "state|printer|attempt|reason" (NULL when there is none). */
static char *copy_row(lab_store_t *s, const char *id, int copy)
{
        char n[16];

        snprintf(n, sizeof n, "%d", copy);
        return sql_text(s,
                        "SELECT state || '|' || printer || '|' || attempt || '|' || "
                        "coalesce(reason, '') FROM copies WHERE job_id = ?1 AND copy = ?2",
                        id, n);
}

static void assert_copy(lab_store_t *s, const char *id, int copy, const char *want)
{
        _cleanup_free_ char *got = copy_row(s, id, copy);

        if (!want) {
                assert_null(got);
                return;
        }
        assert_non_null(got);
        assert_string_equal(got, want);
}

/* A fingerprint of everything a console call may write: every row of copies, jobs, events,
 * audit and pauses. Equal fingerprints: nothing was written. */
static char *fingerprint(lab_store_t *s)
{
        _cleanup_free_ char *copies = NULL, *jobs = NULL, *events = NULL, *audit = NULL,
                            *pauses = NULL;
        char *ret = NULL;

        copies = sql_text(s,
                          "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '') FROM "
                          "(SELECT job_id || '/' || copy || '/' || state || '/' || printer || "
                          "'/' || attempt || '/' || coalesce(handle, '-') || '/' || "
                          "coalesce(reason, '-') || '/' || coalesce(detail, '-') || '/' || "
                          "updated_at AS r FROM copies ORDER BY job_id, copy)",
                          NULL, NULL);
        jobs = sql_text(s,
                        "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '') FROM "
                        "(SELECT id || '/' || state || '/' || coalesce(reason, '-') || '/' || "
                        "coalesce(printer, '-') || '/' || updated_at AS r FROM jobs ORDER BY id)",
                        NULL, NULL);
        events = sql_text(s,
                          "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '') FROM "
                          "(SELECT seq || '/' || kind || '/' || body AS r FROM events ORDER BY "
                          "seq)",
                          NULL, NULL);
        audit = sql_text(s,
                         "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '') FROM "
                         "(SELECT id || '/' || actor || '/' || action || '/' || "
                         "coalesce(detail, '-') AS r FROM audit ORDER BY id)",
                         NULL, NULL);
        pauses = sql_text(s,
                          "SELECT count(*) || ':' || coalesce(group_concat(r, ';'), '') FROM "
                          "(SELECT printer || '/' || paused_by || '/' || coalesce(reason, '-') "
                          "|| '/' || since AS r FROM printer_pauses ORDER BY printer)",
                          NULL, NULL);
        assert_non_null(copies);
        assert_non_null(jobs);
        assert_non_null(events);
        assert_non_null(audit);
        assert_non_null(pauses);
        assert_true(asprintf(&ret, "copies %s\njobs %s\nevents %s\naudit %s\npauses %s", copies,
                             jobs, events, audit, pauses) > 0);
        return ret;
}

/* The latest audit row: its actor, action and detail (detail may be NULL). */
static void last_audit(lab_store_t *s, char **actor, char **action, char **detail)
{
        *actor = sql_text(s, "SELECT actor FROM audit ORDER BY id DESC LIMIT 1", NULL, NULL);
        *action = sql_text(s, "SELECT action FROM audit ORDER BY id DESC LIMIT 1", NULL, NULL);
        *detail = sql_text(s, "SELECT detail FROM audit ORDER BY id DESC LIMIT 1", NULL, NULL);
}

static void assert_last_audit(lab_store_t *s, const char *actor, const char *action,
                              const char *detail)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL;

        last_audit(s, &a, &b, &d);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, actor);
        assert_string_equal(b, action);
        if (detail) {
                assert_non_null(d);
                assert_string_equal(d, detail);
        } else {
                assert_null(d);
        }
}

/* The latest audit detail, parsed as JSON. */
static json_t *last_audit_detail(lab_store_t *s)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL;
        json_t *o;

        last_audit(s, &a, &b, &d);
        assert_non_null(d);
        o = json_loads(d, 0, NULL);
        assert_non_null(o);
        assert_true(json_is_object(o));
        return o;
}

/* o[key] is the string want. */
static void assert_json_str(json_t *o, const char *key, const char *want)
{
        json_t *v = json_object_get(o, key);

        assert_non_null(v);
        assert_true(json_is_string(v));
        assert_string_equal(json_string_value(v), want);
}

/* o[key] is the integer want. */
static void assert_json_int(json_t *o, const char *key, long long want)
{
        json_t *v = json_object_get(o, key);

        assert_non_null(v);
        assert_true(json_is_integer(v));
        assert_int_equal(json_integer_value(v), want);
}

/* A reprint request with the usual who. */
static lab_store_reprint_t reprint(const char *job, int copy, const char *defect, const char *note)
{
        return (lab_store_reprint_t){
            .job_id = job,
            .copy = copy,
            .defect = defect,
            .note = note,
            .by = "anna",
            .actor = "labctl:uid=1000",
            .media = "na_index-4x6_4x6in",
        };
}

/* ---- pauses ---- */

static void test_pause_stored_and_audited(void **state)
{
        fixture_t *f = *state;
        lab_store_pause_t *v = NULL;
        size_t n = 99;
        _cleanup_free_ char *since = NULL;

        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_null(v);
        assert_int_equal(n, 0);
        assert_int_equal(rows(f->s, "audit"), 0);

        assert_int_equal(lab_store_printer_pause(f->s, "ds620-1", "anna", "reloading 6x8 paper",
                                                 "labctl:uid=1000", "{\"printer\":\"ds620-1\"}"),
                         0);
        assert_int_equal(rows(f->s, "printer_pauses"), 1);
        assert_int_equal(rows(f->s, "audit"), 1);
        assert_last_audit(f->s, "labctl:uid=1000", "printer.pause", "{\"printer\":\"ds620-1\"}");

        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].printer, "ds620-1");
        assert_string_equal(v[0].by, "anna");
        assert_string_equal(v[0].reason, "reloading 6x8 paper");
        assert_non_null(v[0].since);
        /* RFC 3339 UTC: 2026-11-28T09:10:00.000Z */
        assert_true(strlen(v[0].since) >= 20);
        assert_int_equal(v[0].since[4], '-');
        assert_int_equal(v[0].since[10], 'T');
        assert_int_equal(v[0].since[strlen(v[0].since) - 1], 'Z');
        since = strdup(v[0].since);
        lab_store_pauses_free(v, n);

        /* Pausing a paused printer replaces the reason (and who); still one pause. */
        assert_int_equal(lab_store_printer_pause(f->s, "ds620-1", "bob", "ribbon change",
                                                 "labctl:uid=1001", "{\"n\":2}"),
                         0);
        assert_int_equal(rows(f->s, "printer_pauses"), 1);
        assert_int_equal(rows(f->s, "audit"), 2);
        assert_last_audit(f->s, "labctl:uid=1001", "printer.pause", "{\"n\":2}");
        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].printer, "ds620-1");
        assert_string_equal(v[0].by, "bob");
        assert_string_equal(v[0].reason, "ribbon change");
        /* Still paused since the first pause. */
        assert_string_equal(v[0].since, since);
        lab_store_pauses_free(v, n);

        /* A pause without a reason replaces the reason with none; "" is none too. */
        assert_int_equal(
            lab_store_printer_pause(f->s, "ds620-1", "bob", NULL, "labctl:uid=1001", NULL), 0);
        assert_last_audit(f->s, "labctl:uid=1001", "printer.pause", NULL);
        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_null(v[0].reason);
        lab_store_pauses_free(v, n);
        assert_int_equal(lab_store_printer_pause(f->s, "cpd90", "bob", "", "daemon", NULL), 0);
        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].printer, "cpd90");
        assert_null(v[0].reason);
        lab_store_pauses_free(v, n);
        assert_int_equal(rows(f->s, "audit"), 4);
        /* Pauses and audit rows are not events: the platform hears of them otherwise. */
        assert_int_equal(rows(f->s, "events"), 0);
}

static void test_pause_bad_arguments(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *before = fingerprint(f->s);
        bool was = true;

        assert_int_equal(lab_store_printer_pause(NULL, "p", "anna", NULL, "a", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, NULL, "anna", NULL, "a", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, "", "anna", NULL, "a", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, "p", NULL, NULL, "a", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, "p", "", NULL, "a", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, "p", "anna", NULL, NULL, NULL), -EINVAL);
        assert_int_equal(lab_store_printer_pause(f->s, "p", "anna", NULL, "", NULL), -EINVAL);
        assert_int_equal(lab_store_printer_resume(f->s, NULL, "a", NULL, &was), -EINVAL);
        assert_int_equal(lab_store_printer_resume(f->s, "", "a", NULL, &was), -EINVAL);
        assert_int_equal(lab_store_printer_resume(f->s, "p", NULL, NULL, &was), -EINVAL);
        assert_int_equal(lab_store_printer_pauses(f->s, NULL, NULL), -EINVAL);
        {
                _cleanup_free_ char *after = fingerprint(f->s);
                assert_string_equal(before, after);
        }
}

static void test_resume(void **state)
{
        fixture_t *f = *state;
        lab_store_pause_t *v = NULL;
        size_t n = 0;
        bool was = false;

        assert_int_equal(
            lab_store_printer_pause(f->s, "ds620-1", "anna", "paper", "labctl:uid=1000", NULL), 0);
        assert_int_equal(
            lab_store_printer_pause(f->s, "cpd90", "anna", NULL, "labctl:uid=1000", NULL), 0);
        assert_int_equal(rows(f->s, "audit"), 2);

        assert_int_equal(lab_store_printer_resume(f->s, "ds620-1", "labctl:uid=1001",
                                                  "{\"printer\":\"ds620-1\"}", &was),
                         0);
        assert_true(was);
        assert_int_equal(rows(f->s, "audit"), 3);
        assert_last_audit(f->s, "labctl:uid=1001", "printer.resume", "{\"printer\":\"ds620-1\"}");
        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].printer, "cpd90");
        lab_store_pauses_free(v, n);

        /* Resuming a printer that is not paused: was_paused false, still audited. */
        was = true;
        assert_int_equal(lab_store_printer_resume(f->s, "ds620-1", "labctl:uid=1001", NULL, &was),
                         0);
        assert_false(was);
        assert_int_equal(rows(f->s, "audit"), 4);
        assert_last_audit(f->s, "labctl:uid=1001", "printer.resume", NULL);
        was = true;
        assert_int_equal(lab_store_printer_resume(f->s, "never-paused", "daemon", NULL, &was), 0);
        assert_false(was);

        /* was_paused may be NULL. */
        assert_int_equal(lab_store_printer_resume(f->s, "cpd90", "daemon", NULL, NULL), 0);
        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v);
        assert_int_equal(rows(f->s, "printer_pauses"), 0);
        assert_int_equal(rows(f->s, "audit"), 6);
        assert_int_equal(rows(f->s, "events"), 0);
}

static void test_pauses_order_and_restart(void **state)
{
        fixture_t *f = *state;
        lab_store_pause_t *v = NULL;
        size_t n = 0;
        lab_error_t err = {0};
        const char *const names[] = {"zeta", "alpha", "mid-2", "mid-10", "Beta"};

        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char reason[32];

                snprintf(reason, sizeof reason, "r-%s", names[i]);
                assert_int_equal(lab_store_printer_pause(f->s, names[i], "anna", reason, "a", NULL),
                                 0);
        }

        /* A pause survives a restart. */
        lab_store_close(f->s);
        f->s = NULL;
        assert_int_equal(lab_store_open(&f->s, f->db, &err), 0);

        assert_int_equal(lab_store_printer_pauses(f->s, &v, &n), 0);
        assert_int_equal(n, 5);
        /* By printer name (SQLite's binary collation: upper case first). */
        assert_string_equal(v[0].printer, "Beta");
        assert_string_equal(v[1].printer, "alpha");
        assert_string_equal(v[2].printer, "mid-10");
        assert_string_equal(v[3].printer, "mid-2");
        assert_string_equal(v[4].printer, "zeta");
        for (size_t i = 0; i < n; i++) {
                char reason[32];

                snprintf(reason, sizeof reason, "r-%s", v[i].printer);
                assert_string_equal(v[i].reason, reason);
                assert_string_equal(v[i].by, "anna");
                assert_non_null(v[i].since);
        }
        lab_store_pauses_free(v, n);
        lab_store_pauses_free(NULL, 0);
}

static void test_schema_6_migration(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *dir = lab_test_mkdtemp("store-console-v5");
        _cleanup_free_ char *db = lab_test_path(dir, "labagent.db");
        lab_store_t *s = NULL;
        lab_error_t err = {0};
        bool was = false;

        assert_true(lab_store_schema_latest() >= 6);
        assert_true(lab_store_schema_version(f->s) >= 6);
        /* A version 5 store has no pauses table; the migration adds it. */
        assert_int_equal(lab_store_open_version(&s, db, 5, &err), 0);
        assert_int_equal(lab_store_schema_version(s), 5);
        assert_int_equal(sql_int(s,
                                 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                 "name = 'printer_pauses'",
                                 NULL, NULL),
                         0);
        lab_store_close(s);
        assert_int_equal(lab_store_open(&s, db, &err), 0);
        assert_int_equal(lab_store_schema_version(s), lab_store_schema_latest());
        assert_int_equal(lab_store_printer_pause(s, "ds620", "anna", "x", "a", NULL), 0);
        assert_int_equal(lab_store_printer_resume(s, "ds620", "a", NULL, &was), 0);
        assert_true(was);
        lab_store_close(s);
        lab_test_rm_rf(dir);
}

/* ---- reprint: a printed copy ---- */

static void test_reprint_printed_copy(void **state)
{
        fixture_t *f = *state;
        lab_store_reprint_t rp = reprint("j1", 1, "banding", "cyan stripe at the top");
        int64_t events0, audit0;
        lab_store_copy_t **v = NULL;
        size_t n = 0;

        printed_job(f->s, "j1", 1, "ds620");
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.printed"), 1);
        events0 = rows(f->s, "events");
        audit0 = rows(f->s, "audit");

        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 2);
        assert_string_equal(rp.printer, "ds620");

        /* The bad copy stays printed; a new copy, numbered after the last, is queued there. */
        assert_int_equal(rows(f->s, "copies"), 2);
        assert_copy(f->s, "j1", 1, "printed|ds620|1|");
        {
                _cleanup_free_ char *row = copy_row(f->s, "j1", 2);
                assert_non_null(row);
                assert_true(strncmp(row, "queued|ds620|0|", 15) == 0);
        }
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTING);

        /* The same print file: the job's render for that printer. */
        assert_int_equal(lab_store_job_copies(f->s, "j1", &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[1]->copy, 2);
        assert_non_null(v[1]->output_path);
        assert_string_equal(v[1]->output_path, "/spool/render/x.jpg");
        assert_null(v[1]->handle);
        lab_store_copies_free(v, n);

        /* Exactly one event, job.defect, and one audit record. */
        assert_int_equal(rows(f->s, "events"), events0 + 1);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.defect"), 1);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.copy_printed"), 1);
        {
                json_auto_t *o = last_event(f->s, "j1", "job.defect");
                assert_int_equal(json_object_size(o), 8);
                assert_json_int(o, "copy", 1);
                assert_json_str(o, "defect", "banding");
                assert_json_str(o, "note", "cyan stripe at the top");
                assert_json_str(o, "by", "anna");
                assert_json_int(o, "reprint_copy", 2);
                /* For the platform's defect figures: where, which product, which paper. */
                assert_json_str(o, "printer", "ds620");
                assert_json_str(o, "sku", "print-4x6");
                assert_json_str(o, "media", "na_index-4x6_4x6in");
        }
        assert_int_equal(rows(f->s, "audit"), audit0 + 1);
        {
                _cleanup_free_ char *actor = NULL, *action = NULL, *detail = NULL;
                json_auto_t *d = last_audit_detail(f->s);

                last_audit(f->s, &actor, &action, &detail);
                assert_string_equal(actor, "labctl:uid=1000");
                assert_string_equal(action, "job.reprint");
                assert_json_str(d, "job", "j1");
                assert_json_int(d, "copy", 1);
                assert_json_str(d, "defect", "banding");
                assert_json_str(d, "note", "cyan stripe at the top");
                assert_json_int(d, "reprint_copy", 2);
                assert_json_str(d, "printer", "ds620");
        }

        /* The reprint is printed: the job is printed again, job.printed again with 2 copies. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTING);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING,
                                             &sent, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTING);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             NULL, "job.copy_printed", "{\"copy\":2}", NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        assert_copy(f->s, "j1", 2, "printed|ds620|1|");
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.printed"), 2);
        {
                json_auto_t *o = last_event(f->s, "j1", "job.printed");
                assert_json_int(o, "copies", 2);
                assert_json_str(o, "printer", "ds620");
        }
}

static void test_reprint_reported_job(void **state)
{
        fixture_t *f = *state;
        lab_store_reprint_t rp = reprint("j2", 2, "scratch", NULL);
        lab_store_event_t *ev = NULL;
        size_t n = 0;
        const char *uuid = NULL;

        printed_job(f->s, "j2", 2, "cpd90");
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTED);
        /* The platform acknowledges job.printed: the job is reported, finished. */
        assert_int_equal(lab_store_events_peek(f->s, 100, &ev, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(ev[i].kind, "job.printed") == 0)
                        uuid = ev[i].uuid;
        assert_non_null(uuid);
        assert_int_equal(lab_store_events_ack(f->s, &uuid, 1, NULL), 0);
        lab_store_events_free(ev, n);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_REPORTED);

        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 3);
        assert_string_equal(rp.printer, "cpd90");
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTING);
        assert_copy(f->s, "j2", 1, "printed|cpd90|1|");
        assert_copy(f->s, "j2", 2, "printed|cpd90|1|");
        {
                _cleanup_free_ char *row = copy_row(f->s, "j2", 3);
                assert_non_null(row);
                assert_true(strncmp(row, "queued|cpd90|0|", 15) == 0);
        }
        {
                json_auto_t *o = last_event(f->s, "j2", "job.defect");
                /* No note: null (the documented body always has the field). */
                json_t *note = json_object_get(o, "note");
                assert_non_null(note);
                assert_true(json_is_null(note));
                assert_int_equal(json_object_size(o), 8);
                assert_json_int(o, "copy", 2);
                assert_json_str(o, "defect", "scratch");
                assert_json_str(o, "by", "anna");
                assert_json_int(o, "reprint_copy", 3);
        }

        /* A second reprint while the first waits: numbered after the last (max + 1). */
        rp = reprint("j2", 1, "crease", NULL);
        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 4);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTING);
        assert_int_equal(rows(f->s, "copies"), 4);

        print_copy(f->s, "j2", 3);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTING);
        print_copy(f->s, "j2", 4);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_PRINTED);
        {
                json_auto_t *o = last_event(f->s, "j2", "job.printed");
                assert_json_int(o, "copies", 4);
        }
        assert_int_equal(store_fixture_events_of(f->s, "j2", "job.printed"),
                         1); /* the first was acked */
}

/* ---- reprint: an uncertain copy ---- */

static void test_reprint_uncertain_not_printed(void **state)
{
        fixture_t *f = *state;
        lab_store_reprint_t rp = reprint("j3", 1, "not_printed", "tray empty");
        int64_t events0, audit0;
        int attempt = 0;

        store_fixture_queued_job(f->s, "j3", 1, "ds620");
        uncertain_copy(f->s, "j3", 1);
        store_fixture_assert_job_state(f->s, "j3", LAB_JOB_UNCERTAIN);
        assert_copy(f->s, "j3", 1, "uncertain|ds620|1|");
        events0 = rows(f->s, "events");
        audit0 = rows(f->s, "audit");

        rp.job_name = "j3/1/1";
        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        /* The same copy, queued again; no new copy. */
        assert_int_equal(rp.reprint_copy, 1);
        assert_string_equal(rp.printer, "ds620");
        assert_int_equal(rows(f->s, "copies"), 1);
        {
                _cleanup_free_ char *row = copy_row(f->s, "j3", 1);
                assert_non_null(row);
                assert_true(strncmp(row, "queued|ds620|1|", 15) == 0);
        }
        store_fixture_assert_job_state(f->s, "j3", LAB_JOB_QUEUED);

        /* job.defect only: it never printed, so no job.copy_printed. */
        assert_int_equal(rows(f->s, "events"), events0 + 1);
        assert_int_equal(store_fixture_events_of(f->s, "j3", "job.copy_printed"), 0);
        {
                json_auto_t *o = last_event(f->s, "j3", "job.defect");
                assert_int_equal(json_object_size(o), 8);
                assert_json_int(o, "copy", 1);
                assert_json_str(o, "defect", "not_printed");
                assert_json_str(o, "note", "tray empty");
                assert_json_str(o, "by", "anna");
                assert_json_int(o, "reprint_copy", 1);
        }
        assert_int_equal(rows(f->s, "audit"), audit0 + 1);
        {
                json_auto_t *d = last_audit_detail(f->s);
                _cleanup_free_ char *actor = NULL, *action = NULL, *detail = NULL;

                last_audit(f->s, &actor, &action, &detail);
                assert_string_equal(action, "job.reprint");
                assert_json_int(d, "reprint_copy", 1);
                assert_json_str(d, "defect", "not_printed");
        }

        /* Sent again under a new attempt: a new job name at the printer. */
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, &attempt),
                         0);
        assert_int_equal(attempt, 2);
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING,
                                             &sent, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j3", LAB_JOB_PRINTING);
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             NULL, "job.copy_printed", "{\"copy\":1}", NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j3", LAB_JOB_PRINTED);
        {
                json_auto_t *o = last_event(f->s, "j3", "job.printed");
                assert_json_int(o, "copies", 1);
        }
}

static void test_reprint_uncertain_not_printed_with_printed_sibling(void **state)
{
        fixture_t *f = *state;
        lab_store_reprint_t rp = reprint("j3b", 2, "not_printed", NULL);

        store_fixture_queued_job(f->s, "j3b", 2, "ds620");
        print_copy(f->s, "j3b", 1);
        uncertain_copy(f->s, "j3b", 2);
        store_fixture_assert_job_state(f->s, "j3b", LAB_JOB_UNCERTAIN);

        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 2);
        assert_int_equal(rows(f->s, "copies"), 2);
        assert_copy(f->s, "j3b", 1, "printed|ds620|1|");
        {
                _cleanup_free_ char *row = copy_row(f->s, "j3b", 2);
                assert_non_null(row);
                assert_true(strncmp(row, "queued|ds620|1|", 15) == 0);
        }
        /* One printed, one queued: the job is printing. */
        store_fixture_assert_job_state(f->s, "j3b", LAB_JOB_PRINTING);
        print_copy(f->s, "j3b", 2);
        store_fixture_assert_job_state(f->s, "j3b", LAB_JOB_PRINTED);
        {
                json_auto_t *o = last_event(f->s, "j3b", "job.printed");
                assert_json_int(o, "copies", 2);
        }
}

static void test_reprint_uncertain_other_defect(void **state)
{
        fixture_t *f = *state;
        lab_store_reprint_t rp = reprint("j4", 1, "smear", "wet");
        int64_t events0, audit0, seq_cp, seq_def;

        store_fixture_queued_job(f->s, "j4", 1, "ds620");
        uncertain_copy(f->s, "j4", 1);
        store_fixture_assert_job_state(f->s, "j4", LAB_JOB_UNCERTAIN);
        events0 = rows(f->s, "events");
        audit0 = rows(f->s, "audit");

        rp.job_name = "j4/1/1";
        assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        assert_int_equal(rp.reprint_copy, 2);
        assert_string_equal(rp.printer, "ds620");

        /* It did print (badly): recorded printed, and a new copy. */
        assert_int_equal(rows(f->s, "copies"), 2);
        assert_copy(f->s, "j4", 1, "printed|ds620|1|confirmed_by_person");
        {
                _cleanup_free_ char *row = copy_row(f->s, "j4", 2);
                assert_non_null(row);
                assert_true(strncmp(row, "queued|ds620|0|", 15) == 0);
        }
        store_fixture_assert_job_state(f->s, "j4", LAB_JOB_PRINTING);

        /* job.copy_printed (with who) then job.defect. */
        assert_int_equal(rows(f->s, "events"), events0 + 2);
        assert_int_equal(store_fixture_events_of(f->s, "j4", "job.copy_printed"), 1);
        {
                json_auto_t *o = last_event(f->s, "j4", "job.copy_printed");
                assert_int_equal(json_object_size(o), 5);
                assert_json_int(o, "copy", 1);
                assert_json_str(o, "printer", "ds620");
                assert_json_int(o, "attempt", 1);
                assert_json_str(o, "job_name", "j4/1/1");
                assert_json_str(o, "by", "anna");
        }
        {
                json_auto_t *o = last_event(f->s, "j4", "job.defect");
                assert_int_equal(json_object_size(o), 8);
                assert_json_int(o, "copy", 1);
                assert_json_str(o, "defect", "smear");
                assert_json_str(o, "note", "wet");
                assert_json_str(o, "by", "anna");
                assert_json_int(o, "reprint_copy", 2);
        }
        seq_cp = sql_int(f->s, "SELECT seq FROM events WHERE job_id = ?1 AND kind = ?2", "j4",
                         "job.copy_printed");
        seq_def = sql_int(f->s, "SELECT seq FROM events WHERE job_id = ?1 AND kind = ?2", "j4",
                          "job.defect");
        assert_true(seq_cp < seq_def);
        assert_int_equal(rows(f->s, "audit"), audit0 + 1);
        assert_last_audit(f->s, "labctl:uid=1000", "job.reprint",
                          "{\"copy\":1,\"defect\":\"smear\",\"job\":\"j4\",\"note\":\"wet\","
                          "\"printer\":\"ds620\",\"reprint_copy\":2}");

        /* The reprint printed: job printed, job.printed with both copies. */
        print_copy(f->s, "j4", 2);
        store_fixture_assert_job_state(f->s, "j4", LAB_JOB_PRINTED);
        assert_int_equal(store_fixture_events_of(f->s, "j4", "job.printed"), 1);
        {
                json_auto_t *o = last_event(f->s, "j4", "job.printed");
                assert_json_int(o, "copies", 2);
        }
}

/* ---- reprint: refusals write nothing ---- */

/* Reprint must fail with want and leave every table as it was. */
static void assert_reprint_refused(lab_store_t *s, lab_store_reprint_t rp, int want)
{
        _cleanup_free_ char *before = fingerprint(s), *after = NULL;

        assert_int_equal(lab_store_copy_reprint(s, &rp), want);
        after = fingerprint(s);
        assert_string_equal(before, after);
}

static void test_reprint_refusals(void **state)
{
        fixture_t *f = *state;

        /* printed job, busy job (copy 1 printed, copy 2 printing, copy 3 queued). */
        printed_job(f->s, "p", 1, "ds620");
        store_fixture_queued_job(f->s, "b", 3, "ds620");
        print_copy(f->s, "b", 1);
        store_fixture_send_copy(f->s, "b", 2);
        store_fixture_assert_job_state(f->s, "b", LAB_JOB_PRINTING);
        /* canceled while printing, with a printed copy. */
        store_fixture_queued_job(f->s, "c", 2, "ds620");
        print_copy(f->s, "c", 1);
        store_fixture_assert_job_state(f->s, "c", LAB_JOB_PRINTING);
        assert_int_equal(lab_store_job_move(f->s, "c", LAB_JOB_PRINTING, LAB_JOB_CANCELED,
                                            "canceled", NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "c", 2, LAB_COPY_QUEUED, LAB_COPY_CANCELED, NULL,
                                             NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "c", LAB_JOB_CANCELED);
        /* failed: its one copy failed. */
        store_fixture_queued_job(f->s, "x", 1, "ds620");
        assert_int_equal(lab_store_copy_move(f->s, "x", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "x", 1, LAB_COPY_SUBMITTING, LAB_COPY_FAILED,
                                             NULL, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "x", LAB_JOB_FAILED);
        /* dropped (no longer the lab's) while printing, with a printed copy. */
        store_fixture_queued_job(f->s, "d", 2, "ds620");
        print_copy(f->s, "d", 1);
        assert_int_equal(lab_store_job_move(f->s, "d", LAB_JOB_PRINTING, LAB_JOB_DROPPED, "dropped",
                                            NULL, NULL, NULL),
                         0);
        /* held at its printer with queued copies. */
        store_fixture_queued_job(f->s, "h", 1, "ds620");
        assert_int_equal(lab_store_job_move(f->s, "h", LAB_JOB_QUEUED, LAB_JOB_HELD, "no_printer",
                                            NULL, NULL, NULL),
                         0);
        /* a job with no copies yet. */
        store_fixture_rendered_job(f->s, "r", 1, "ds620");
        /* uncertain job, and one that was reported (finished). */
        store_fixture_queued_job(f->s, "u", 1, "ds620");
        uncertain_copy(f->s, "u", 1);
        assert_int_equal(rows(f->s, "audit"), 0);

        /* -ENOENT: no such job. */
        assert_reprint_refused(f->s, reprint("nope", 1, "banding", NULL), -ENOENT);
        /* -ENXIO: no such copy. */
        assert_reprint_refused(f->s, reprint("p", 2, "banding", NULL), -ENXIO);
        assert_reprint_refused(f->s, reprint("p", 1000000, "banding", NULL), -ENXIO);
        assert_reprint_refused(f->s, reprint("r", 1, "banding", NULL), -ENXIO);
        /* -EPERM: the job is not printing nor printed. */
        assert_reprint_refused(f->s, reprint("c", 1, "banding", NULL), -EPERM);
        assert_reprint_refused(f->s, reprint("c", 2, "banding", NULL), -EPERM);
        assert_reprint_refused(f->s, reprint("x", 1, "banding", NULL), -EPERM);
        assert_reprint_refused(f->s, reprint("x", 1, "not_printed", NULL), -EPERM);
        assert_reprint_refused(f->s, reprint("h", 1, "banding", NULL), -EPERM);
        assert_reprint_refused(f->s, reprint("d", 1, "banding", NULL), -EPERM);
        /* -EBUSY: the copy is on its way, not printed nor uncertain. */
        assert_reprint_refused(f->s, reprint("b", 2, "banding", NULL), -EBUSY);
        assert_reprint_refused(f->s, reprint("b", 3, "banding", NULL), -EBUSY);
        assert_reprint_refused(f->s, reprint("b", 3, "not_printed", NULL), -EBUSY);
        /* A printed copy with not_printed is not "the same copy again": it printed. */
        /* -EINVAL: bad arguments. */
        assert_reprint_refused(f->s, reprint(NULL, 1, "banding", NULL), -EINVAL);
        assert_reprint_refused(f->s, reprint("", 1, "banding", NULL), -EINVAL);
        assert_reprint_refused(f->s, reprint("p", 0, "banding", NULL), -EINVAL);
        assert_reprint_refused(f->s, reprint("p", -1, "banding", NULL), -EINVAL);
        assert_reprint_refused(f->s, reprint("p", 1, NULL, NULL), -EINVAL);
        assert_reprint_refused(f->s, reprint("p", 1, "", NULL), -EINVAL);
        {
                lab_store_reprint_t rp = reprint("p", 1, "banding", NULL);
                rp.by = NULL;
                assert_reprint_refused(f->s, rp, -EINVAL);
                rp = reprint("p", 1, "banding", NULL);
                rp.actor = "";
                assert_reprint_refused(f->s, rp, -EINVAL);
        }
        assert_int_equal(lab_store_copy_reprint(f->s, NULL), -EINVAL);
        assert_int_equal(lab_store_copy_reprint(NULL, &(lab_store_reprint_t){0}), -EINVAL);

        assert_int_equal(rows(f->s, "audit"), 0);
        assert_int_equal(store_fixture_events_of(f->s, "p", "job.defect") +
                             store_fixture_events_of(f->s, "b", "job.defect") +
                             store_fixture_events_of(f->s, "c", "job.defect") +
                             store_fixture_events_of(f->s, "x", "job.defect") +
                             store_fixture_events_of(f->s, "h", "job.defect"),
                         0);
        /* The refusals left the good ones reprintable. */
        {
                lab_store_reprint_t rp = reprint("b", 1, "cut", NULL);
                assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
                assert_int_equal(rp.reprint_copy, 4);
                store_fixture_assert_job_state(f->s, "b", LAB_JOB_PRINTING);
                rp = reprint("u", 1, "paper_jam", NULL);
                assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
                assert_int_equal(rp.reprint_copy, 2);
        }
}

/* ---- confirm printed ---- */

/* Confirm must fail with want and leave every table as it was. */
static void assert_confirm_refused(lab_store_t *s, const char *job, int copy, int want)
{
        _cleanup_free_ char *before = fingerprint(s), *after = NULL;

        assert_int_equal(lab_store_copy_confirm_printed(s, job, copy, "n/1/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         want);
        after = fingerprint(s);
        assert_string_equal(before, after);
}

static void test_confirm_printed(void **state)
{
        fixture_t *f = *state;
        int64_t events0, audit0;

        store_fixture_queued_job(f->s, "k1", 1, "ds620");
        uncertain_copy(f->s, "k1", 1);
        store_fixture_assert_job_state(f->s, "k1", LAB_JOB_UNCERTAIN);
        events0 = rows(f->s, "events");
        audit0 = rows(f->s, "audit");

        assert_int_equal(lab_store_copy_confirm_printed(f->s, "k1", 1, "k1/1/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         0);
        assert_copy(f->s, "k1", 1, "printed|ds620|1|confirmed_by_person");
        store_fixture_assert_job_state(f->s, "k1", LAB_JOB_PRINTED);
        /* job.copy_printed (with who) and the job's job.printed. */
        assert_int_equal(rows(f->s, "events"), events0 + 2);
        {
                json_auto_t *o = last_event(f->s, "k1", "job.copy_printed");
                assert_int_equal(json_object_size(o), 5);
                assert_json_int(o, "copy", 1);
                assert_json_str(o, "printer", "ds620");
                assert_json_int(o, "attempt", 1);
                assert_json_str(o, "job_name", "k1/1/1");
                assert_json_str(o, "by", "anna");
        }
        {
                json_auto_t *o = last_event(f->s, "k1", "job.printed");
                assert_json_int(o, "copies", 1);
        }
        assert_int_equal(rows(f->s, "audit"), audit0 + 1);
        assert_last_audit(f->s, "labctl:uid=1000", "copy.confirm_printed",
                          "{\"copy\":1,\"job\":\"k1\",\"printer\":\"ds620\"}");

        /* Not uncertain any more: -EBUSY, nothing written. */
        assert_confirm_refused(f->s, "k1", 1, -EBUSY);
}

static void test_confirm_printed_waits_for_siblings(void **state)
{
        fixture_t *f = *state;

        /* Two uncertain copies: the job is printed once both are. */
        store_fixture_queued_job(f->s, "k2", 2, "cpd90");
        uncertain_copy(f->s, "k2", 1);
        uncertain_copy(f->s, "k2", 2);
        store_fixture_assert_job_state(f->s, "k2", LAB_JOB_UNCERTAIN);
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "k2", 1, "k2/1/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         0);
        store_fixture_assert_job_state(f->s, "k2", LAB_JOB_UNCERTAIN);
        assert_int_equal(store_fixture_events_of(f->s, "k2", "job.printed"), 0);
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "k2", 2, "k2/2/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         0);
        store_fixture_assert_job_state(f->s, "k2", LAB_JOB_PRINTED);
        assert_int_equal(store_fixture_events_of(f->s, "k2", "job.printed"), 1);
        assert_int_equal(store_fixture_events_of(f->s, "k2", "job.copy_printed"), 2);

        /* An uncertain copy and a queued one: printing until the queued one prints. */
        store_fixture_queued_job(f->s, "k3", 2, "cpd90");
        uncertain_copy(f->s, "k3", 1);
        store_fixture_assert_job_state(f->s, "k3", LAB_JOB_PRINTING);
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "k3", 1, "k3/1/1", "bob",
                                                        "labctl:uid=1001", NULL, 0),
                         0);
        store_fixture_assert_job_state(f->s, "k3", LAB_JOB_PRINTING);
        assert_copy(f->s, "k3", 1, "printed|cpd90|1|confirmed_by_person");
        print_copy(f->s, "k3", 2);
        store_fixture_assert_job_state(f->s, "k3", LAB_JOB_PRINTED);
}

static void test_confirm_printed_with_failed_sibling(void **state)
{
        fixture_t *f = *state;

        /* Copy 1 uncertain, copy 2 failed after every attempt: the job is uncertain. */
        store_fixture_queued_job(f->s, "k5", 2, "ds620");
        uncertain_copy(f->s, "k5", 1);
        assert_int_equal(lab_store_copy_move(f->s, "k5", 2, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "k5", 2, LAB_COPY_SUBMITTING, LAB_COPY_FAILED,
                                             NULL, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "k5", LAB_JOB_UNCERTAIN);

        /* The technician finds copy 1 in the tray: it is recorded printed, and the job ends
         * as its copies say (one printed, one failed: failed), with job.failed. */
        assert_int_equal(lab_store_copy_confirm_printed(f->s, "k5", 1, "k5/1/1", "anna",
                                                        "labctl:uid=1000", NULL, 0),
                         0);
        assert_copy(f->s, "k5", 1, "printed|ds620|1|confirmed_by_person");
        store_fixture_assert_job_state(f->s, "k5", LAB_JOB_FAILED);
        assert_int_equal(store_fixture_events_of(f->s, "k5", "job.copy_printed"), 1);
        assert_int_equal(store_fixture_events_of(f->s, "k5", "job.failed"), 1);
}

static void test_confirm_printed_refusals(void **state)
{
        fixture_t *f = *state;

        store_fixture_queued_job(f->s, "k4", 3, "ds620");
        print_copy(f->s, "k4", 1);
        store_fixture_send_copy(f->s, "k4", 2);
        assert_int_equal(rows(f->s, "audit"), 0);

        assert_confirm_refused(f->s, "nope", 1, -ENOENT);
        assert_confirm_refused(f->s, "k4", 9, -ENXIO);
        assert_confirm_refused(f->s, "k4", 1, -EBUSY); /* printed */
        assert_confirm_refused(f->s, "k4", 2, -EBUSY); /* printing */
        assert_confirm_refused(f->s, "k4", 3, -EBUSY); /* queued */
        assert_confirm_refused(f->s, "k4", 0, -EINVAL);
        assert_confirm_refused(f->s, NULL, 1, -EINVAL);
        assert_confirm_refused(f->s, "", 1, -EINVAL);
        {
                _cleanup_free_ char *before = fingerprint(f->s), *after = NULL;
                assert_int_equal(
                    lab_store_copy_confirm_printed(f->s, "k4", 1, NULL, NULL, "a", NULL, 0),
                    -EINVAL);
                assert_int_equal(
                    lab_store_copy_confirm_printed(f->s, "k4", 1, NULL, "anna", "", NULL, 0),
                    -EINVAL);
                after = fingerprint(f->s);
                assert_string_equal(before, after);
        }
        assert_int_equal(rows(f->s, "audit"), 0);
}

/* ---- read-outs ---- */

static void test_job_copies(void **state)
{
        fixture_t *f = *state;
        lab_store_copy_t **v = NULL;
        size_t n = 99;

        /* No such job (or no copies): none. */
        assert_int_equal(lab_store_job_copies(f->s, "nope", &v, &n), 0);
        assert_null(v);
        assert_int_equal(n, 0);
        store_fixture_rendered_job(f->s, "r", 1, "ds620");
        assert_int_equal(lab_store_job_copies(f->s, "r", &v, &n), 0);
        assert_null(v);
        assert_int_equal(n, 0);
        assert_int_equal(lab_store_job_copies(f->s, NULL, &v, &n), -EINVAL);
        assert_int_equal(lab_store_job_copies(f->s, "r", NULL, &n), -EINVAL);

        /* 11 copies (numeric order, not text: 2 before 10), and another job's copies apart. */
        store_fixture_queued_job(f->s, "other", 2, "cpd90");
        store_fixture_queued_job(f->s, "m", 11, "ds620");
        print_copy(f->s, "m", 10);
        store_fixture_send_copy(f->s, "m", 2);
        {
                lab_store_reprint_t rp = reprint("m", 10, "cut", NULL);
                assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
                assert_int_equal(rp.reprint_copy, 12);
        }
        assert_int_equal(lab_store_job_copies(f->s, "m", &v, &n), 0);
        assert_int_equal(n, 12);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(v[i]->job_id, "m");
                assert_int_equal(v[i]->copy, (int)i + 1);
                assert_string_equal(v[i]->printer, "ds620");
                assert_int_equal(v[i]->job_state, LAB_JOB_PRINTING);
                assert_string_equal(v[i]->order_id, "o");
                assert_non_null(v[i]->updated_at);
        }
        assert_int_equal(v[0]->state, LAB_COPY_QUEUED);
        assert_int_equal(v[0]->attempt, 0);
        assert_int_equal(v[1]->state, LAB_COPY_PRINTING);
        assert_int_equal(v[1]->attempt, 1);
        assert_string_equal(v[1]->handle, "17");
        assert_int_equal(v[9]->state, LAB_COPY_PRINTED);
        assert_int_equal(v[10]->state, LAB_COPY_QUEUED);
        assert_int_equal(v[11]->state, LAB_COPY_QUEUED);
        assert_string_equal(v[11]->reason, "reprint");
        lab_store_copies_free(v, n);
}

typedef struct tally_s {
        lab_job_state_t states[16];
        int64_t counts[16];
        size_t n;
} tally_t;

/* Record one (state, count) callback. */
static void tally(lab_job_state_t state, int64_t n, void *userdata)
{
        tally_t *t = userdata;

        assert_true(t->n < 16);
        t->states[t->n] = state;
        t->counts[t->n++] = n;
}

/* The count the tally has for state (0 when it was never called for it). */
static int64_t tally_of(const tally_t *t, lab_job_state_t state)
{
        int64_t found = 0;
        int seen = 0;

        for (size_t i = 0; i < t->n; i++)
                if (t->states[i] == state) {
                        found = t->counts[i];
                        seen++;
                }
        assert_true(seen <= 1);
        return found;
}

static void test_jobs_by_state(void **state)
{
        fixture_t *f = *state;
        tally_t t = {0};

        assert_int_equal(lab_store_jobs_by_state(f->s, tally, &t), 0);
        assert_int_equal(t.n, 0);
        assert_int_equal(lab_store_jobs_by_state(f->s, NULL, &t), -EINVAL);
        assert_int_equal(lab_store_jobs_by_state(NULL, tally, &t), -EINVAL);

        store_fixture_queued_job(f->s, "q1", 1, "ds620");
        store_fixture_queued_job(f->s, "q2", 2, "ds620");
        store_fixture_queued_job(f->s, "q3", 1, "cpd90");
        printed_job(f->s, "p1", 1, "ds620");
        store_fixture_rendered_job(f->s, "r1", 1, "ds620");
        store_fixture_queued_job(f->s, "u1", 1, "ds620");
        uncertain_copy(f->s, "u1", 1);
        store_fixture_queued_job(f->s, "c1", 1, "ds620");
        assert_int_equal(lab_store_job_move(f->s, "c1", LAB_JOB_QUEUED, LAB_JOB_CANCELED, NULL,
                                            NULL, NULL, NULL),
                         0);

        assert_int_equal(lab_store_jobs_by_state(f->s, tally, &t), 0);
        /* Once per state that has jobs, in the order of the states' keywords. */
        assert_int_equal(t.n, 5);
        assert_int_equal(t.states[0], LAB_JOB_CANCELED);
        assert_int_equal(t.states[1], LAB_JOB_PRINTED);
        assert_int_equal(t.states[2], LAB_JOB_QUEUED);
        assert_int_equal(t.states[3], LAB_JOB_RENDERED);
        assert_int_equal(t.states[4], LAB_JOB_UNCERTAIN);
        assert_int_equal(tally_of(&t, LAB_JOB_QUEUED), 3);
        assert_int_equal(tally_of(&t, LAB_JOB_PRINTED), 1);
        assert_int_equal(tally_of(&t, LAB_JOB_RENDERED), 1);
        assert_int_equal(tally_of(&t, LAB_JOB_UNCERTAIN), 1);
        assert_int_equal(tally_of(&t, LAB_JOB_CANCELED), 1);
        assert_int_equal(tally_of(&t, LAB_JOB_PRINTING), 0);

        /* A reprint moves a job from printed to printing. */
        {
                lab_store_reprint_t rp = reprint("p1", 1, "other", "fingerprint");
                assert_int_equal(lab_store_copy_reprint(f->s, &rp), 0);
        }
        t = (tally_t){0};
        assert_int_equal(lab_store_jobs_by_state(f->s, tally, &t), 0);
        assert_int_equal(tally_of(&t, LAB_JOB_PRINTED), 0);
        assert_int_equal(tally_of(&t, LAB_JOB_PRINTING), 1);
        assert_int_equal(t.n, 5);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_pause_stored_and_audited, setup, teardown),
            cmocka_unit_test_setup_teardown(test_pause_bad_arguments, setup, teardown),
            cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
            cmocka_unit_test_setup_teardown(test_pauses_order_and_restart, setup, teardown),
            cmocka_unit_test_setup_teardown(test_schema_6_migration, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_printed_copy, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_reported_job, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_uncertain_not_printed, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_uncertain_not_printed_with_printed_sibling,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_uncertain_other_defect, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reprint_refusals, setup, teardown),
            cmocka_unit_test_setup_teardown(test_confirm_printed, setup, teardown),
            cmocka_unit_test_setup_teardown(test_confirm_printed_waits_for_siblings, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_confirm_printed_with_failed_sibling, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_confirm_printed_refusals, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_copies, setup, teardown),
            cmocka_unit_test_setup_teardown(test_jobs_by_state, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
