/*
 * test-deadline.c - deadlines (deadline.c): RFC 3339 parsing (good and bad
 * forms, offsets), the at-risk judgement, and the check over a real store:
 * only jobs that cannot make it are reported, each once, in print order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deadline.h"
#include "store-private.h"
#include "testutil.h"

static void test_parse(void **state)
{
        time_t t = 0;

        assert_int_equal(lab_parse_rfc3339("2026-11-28T18:00:00Z", &t), 0);
        assert_int_equal(t, 1795888800);
        assert_int_equal(lab_parse_rfc3339("2026-11-28t19:00:00.250+01:00", &t), 0);
        assert_int_equal(t, 1795888800);
        assert_int_equal(lab_parse_rfc3339("2026-11-28T13:30:00-04:30", &t), 0);
        assert_int_equal(t, 1795888800);

        static const char *const bad[] = {
            "",
            "2026-11-28",
            "2026-11-28T18:00:00",
            "2026-11-28 18:00:00Z",
            "2026-02-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T18:00:00.Z",
            "2026-11-28T18:00:00+0100",
            "2026-11-28T18:00:00Zjunk",
            "tomorrow",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (lab_parse_rfc3339(bad[i], &t) != -EINVAL)
                        fail_msg("'%s' was accepted", bad[i]);
}

static void test_at_risk(void **state)
{
        time_t now = 1000000;

        assert_false(lab_deadline_at_risk(now + 3600, now, 30, 15)); /* 45 min < 60 */
        assert_true(lab_deadline_at_risk(now + 3600, now, 50, 15));  /* 65 min > 60 */
        assert_true(lab_deadline_at_risk(now - 1, now, 0, 0));       /* already past */
}

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
            .state = "queued",
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        assert_int_equal(lab_store_job_insert(s, &j, NULL, NULL), 0);
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
            cmocka_unit_test(test_parse),
            cmocka_unit_test(test_at_risk),
            cmocka_unit_test(test_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
