/*
 * test-store-offers.c - offers rejected before a job row could exist
 * (store-offers.c): remembered by digest with their job.rejected event in one
 * transaction, reported once, an id that is no id kept as data, forgotten
 * after the retention window (retention-stage.c), and migration 7 on an older file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "retention-stage.h"
#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

#define D1   "1111111111111111111111111111111111111111111111111111111111111111"
#define D2   "2222222222222222222222222222222222222222222222222222222222222222"
#define BODY "{\"reason\":\"bad_job\",\"field\":\"id\",\"detail\":\"job id must be ...\"}"
#define DAY  (24ULL * 3600ULL * 1000000ULL)

static int setup(void **state)
{
        return store_fixture_open(state, "offers");
}

/* One integer from a query on the store's connection. */
static int64_t one_int(lab_store_t *s, const char *sql)
{
        sqlite3_stmt *stmt = NULL;
        int64_t v;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), sql, -1, &stmt, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        v = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        return v;
}

/* Reported once: the row and its event together; the same digest again writes nothing. */
static void test_reject_once(void **state)
{
        store_fixture_t *f = *state;
        lab_store_event_t *ev = NULL;
        size_t n = 0;

        assert_int_equal(lab_store_offer_known(f->s, D1), 0);
        assert_int_equal(lab_store_offer_reject(f->s, D1, "..", "bad_job", "id", "detail", BODY),
                         0);
        assert_int_equal(lab_store_offer_known(f->s, D1), 1);
        assert_int_equal(lab_store_offer_reject(f->s, D1, "..", "bad_job", "id", "detail", BODY),
                         -EEXIST);
        assert_int_equal(one_int(f->s, "SELECT count(*) FROM rejected_offers"), 1);

        assert_int_equal(lab_store_events_peek(f->s, 10, &ev, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ev[0].kind, "job.rejected");
        assert_string_equal(ev[0].job_id, ".."); /* the id as offered: data, not a path */
        assert_int_equal(ev[0].cls, LAB_EVENT_JOB);
        assert_string_equal(ev[0].body, BODY);
        lab_store_events_free(ev, n);

        /* Another body of the same id: another digest, judged (and reported) again. */
        assert_int_equal(lab_store_offer_reject(f->s, D2, "..", "bad_job", "quantity", "d", BODY),
                         0);
        assert_int_equal(store_fixture_events_of(f->s, "..", "job.rejected"), 2);
}

/* No id at all: the event has none; bad arguments write nothing. */
static void test_reject_without_id_and_bad_arguments(void **state)
{
        store_fixture_t *f = *state;
        lab_store_event_t *ev = NULL;
        size_t n = 0;

        assert_int_equal(lab_store_offer_reject(f->s, D1, NULL, "bad_job", NULL, "d", BODY), 0);
        assert_int_equal(lab_store_events_peek(f->s, 10, &ev, &n), 0);
        assert_int_equal(n, 1);
        assert_null(ev[0].job_id);
        lab_store_events_free(ev, n);

        assert_int_equal(lab_store_offer_reject(f->s, "abc", NULL, "bad_job", NULL, "d", BODY),
                         -EINVAL);
        assert_int_equal(lab_store_offer_reject(f->s, D2, NULL, "", NULL, "d", BODY), -EINVAL);
        assert_int_equal(lab_store_offer_reject(f->s, D2, NULL, "bad_job", NULL, "d", "[1]"),
                         -EINVAL);
        assert_int_equal(lab_store_offer_known(f->s, D2), 0);
        assert_int_equal(one_int(f->s, "SELECT count(*) FROM events"), 1);
}

/* Forgotten after the retention window, by the retention sweep too. */
static void test_prune(void **state)
{
        store_fixture_t *f = *state;
        int64_t gone = -1;
        unsigned jobs = 0, files = 0;

        assert_int_equal(lab_store_offer_reject(f->s, D1, "a", "bad_job", NULL, "d", BODY), 0);
        assert_int_equal(lab_store_offer_reject(f->s, D2, "b", "bad_job", NULL, "d", BODY), 0);
        assert_int_equal(sqlite3_exec(lab_store_sqlite(f->s),
                                      "UPDATE rejected_offers SET created_at = "
                                      "'2020-01-01T00:00:00.000Z' WHERE digest = '" D1 "'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(lab_store_offers_prune(f->s, "2020-01-01T00:00:00.000Z", &gone), 0);
        assert_int_equal(gone, 0);
        assert_int_equal(lab_store_offers_prune(f->s, "2021-01-01T00:00:00.000Z", &gone), 0);
        assert_int_equal(gone, 1);
        assert_int_equal(lab_store_offer_known(f->s, D1), 0);
        assert_int_equal(lab_store_offer_known(f->s, D2), 1);

        /* The sweep: D2 was remembered just now, so 14 days later it goes. */
        assert_int_equal(lab_retention_sweep(f->s, 14 * DAY, time(NULL), &jobs, &files), 0);
        assert_int_equal(lab_store_offer_known(f->s, D2), 1);
        assert_int_equal(
            lab_retention_sweep(f->s, 14 * DAY, time(NULL) + 15 * 86400, &jobs, &files), 0);
        assert_int_equal(lab_store_offer_known(f->s, D2), 0);
}

/* A schema-6 file gets the table, keeping what it had. */
static void test_migration_6_to_7(void **state)
{
        _cleanup_free_ char *dir = lab_test_mkdtemp("offers-mig"), *db = NULL;
        lab_store_t *s = NULL;
        lab_error_t err = {0};

        db = lab_test_path(dir, "labagent.db");
        assert_int_equal(lab_store_open_version(&s, db, 6, &err), 0);
        assert_int_equal(lab_store_schema_version(s), 6);
        assert_int_equal(one_int(s, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                    "'rejected_offers'"),
                         0);
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, "lab.started", NULL, "{}", NULL),
                         0);
        lab_store_close(s);

        assert_int_equal(lab_store_open(&s, db, &err), 0);
        assert_int_equal(lab_store_schema_version(s), 9);
        assert_int_equal(one_int(s, "SELECT count(*) FROM events"), 1);
        assert_int_equal(lab_store_offer_reject(s, D1, "x", "bad_job", NULL, "d", BODY), 0);
        assert_int_equal(one_int(s, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                    "'rejected_offers_created_at'"),
                         1);
        lab_store_close(s);
        lab_test_rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_reject_once, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_reject_without_id_and_bad_arguments, setup,
                                            store_fixture_close),
            cmocka_unit_test_setup_teardown(test_prune, setup, store_fixture_close),
            cmocka_unit_test(test_migration_6_to_7),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
