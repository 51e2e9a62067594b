/*
 * test-backpressure.c - when the lab stops claiming offers (job-backpressure.c):
 * each limit on its own, at and around its edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "job-backpressure.h"

#define MIB (1024ULL * 1024ULL)

static lab_load_t calm(void)
{
        return (lab_load_t){.backlog = 10,
                            .backlog_max = 500,
                            .spool_bytes = 100 * MIB,
                            .spool_max = 1024 * MIB,
                            .free_bytes = 5000 * MIB,
                            .reserve = 400 * MIB};
}

static void expect(lab_load_t l, const char *keyword)
{
        char why[256] = "x";
        bool ok = lab_backpressure_accepting(&l, why, sizeof why);

        if (!keyword) {
                assert_true(ok);
                assert_string_equal(why, "");
                return;
        }
        assert_false(ok);
        assert_int_equal(strncmp(why, keyword, strlen(keyword)), 0);
        assert_int_equal(why[strlen(keyword)], ':');
}

static void test_limits(void **state)
{
        lab_load_t l = calm();

        expect(l, NULL);
        l.backlog = 499;
        expect(l, NULL);
        l.backlog = 500;
        expect(l, "backlog_full");

        l = calm();
        l.spool_bytes = 1024 * MIB - 400 * MIB - 1;
        expect(l, NULL);
        l.spool_bytes += 1;
        expect(l, "spool_full");

        l = calm();
        l.free_bytes = 400 * MIB;
        expect(l, NULL);
        l.free_bytes -= 1;
        expect(l, "disk_full");

        /* The backlog is said first when several limits are hit. */
        l.backlog = 900;
        expect(l, "backlog_full");
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_limits)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
