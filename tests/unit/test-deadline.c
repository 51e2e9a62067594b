/*
 * test-deadline.c - deadlines, the pure part: RFC 3339 parsing (good and bad
 * forms, offsets) and the at-risk judgement (deadline-stage.c). The check over a
 * real store is tests/store/test-deadline-store.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deadline-stage.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse),
            cmocka_unit_test(test_at_risk),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
