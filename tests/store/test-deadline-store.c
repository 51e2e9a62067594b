/*
 * test-deadline-store.c - the deadline check (deadline-stage.c) over a real store:
 * only jobs that cannot make it are reported, each once, in print order.
 * (Parsing and the at-risk judgement, pure, are tests/unit/test-deadline.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "deadline-stage.h"
#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

/* A waiting job with a deadline. */
static void job(lab_store_t *s, const char *id, int quantity, const char *priority,
                const char *deadline)
{
        lab_store_job_t j = {
            .id = (char *)id,
            .order_id = "o",
            .sku = "s",
            .quantity = quantity,
            .priority = (char *)priority,
            .deadline = (char *)deadline,
            .state = LAB_JOB_QUEUED,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        store_fixture_insert_in(s, &j);
}

static int events(lab_store_t *s, const char *job_id)
{
        sqlite3_stmt *st = NULL;
        int n;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s),
                                            "SELECT count(*) FROM events WHERE kind = "
                                            "'job.deadline_at_risk' AND job_id = ?1",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void test_check(void **state)
{
        _cleanup_free_ char *dir = lab_test_mkdtemp("deadline"), *db = lab_test_path(dir, "l.db");
        lab_config_printer_t printers[] = {{.name = "a", .enabled = true, .per_minute = 1.0},
                                           {.name = "b", .enabled = false, .per_minute = 9.0}};
        lab_config_t c = {.printers = printers, .n_printers = 2};
        lab_deadlines_t *d = NULL;
        lab_store_t *s = NULL;
        lab_error_t err = {0};
        time_t now = 1795888800; /* 2026-11-28T18:00:00Z */

        assert_int_equal(lab_store_open(&s, db, &err), 0);
        assert_int_equal(lab_deadlines_new(&d), 0);
        /* One print a minute (b is disabled). 30 prints of standard work first... */
        job(s, "bulk", 30, "standard", NULL);
        /* ...a rush job due in 30 min jumps the queue: 5 min + 15 margin, fine. */
        job(s, "rush", 5, "rush", "2026-11-28T18:30:00Z");
        /* ...a standard one due in an hour comes after 35 prints: 37 + 15 min, fine. */
        job(s, "easy", 2, "standard", "2026-11-28T19:00:00Z");
        /* ...one due in 40 minutes after 37 prints: 40 + 15 > 40, at risk. */
        job(s, "late", 3, "standard", "2026-11-28T18:40:00+00:00");

        assert_int_equal(lab_deadlines_check(d, s, &c, now), 1);
        assert_int_equal(events(s, "late"), 1);
        assert_int_equal(events(s, "rush"), 0);
        assert_int_equal(events(s, "easy"), 0);
        /* Once per job. */
        assert_int_equal(lab_deadlines_check(d, s, &c, now + 60), 0);
        assert_int_equal(events(s, "late"), 1);
        /* Later on, the easy one is at risk too. */
        assert_int_equal(lab_deadlines_check(d, s, &c, now + 10 * 60), 1);
        assert_int_equal(events(s, "easy"), 1);

        lab_deadlines_free(d);
        lab_store_close(s);
        lab_test_rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
