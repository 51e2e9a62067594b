/*
 * test-router.c - the printer choice (job-router.c): unfit printers are out with
 * their reasons, the score prefers weight and short queues, ties go to the
 * first name, and "no printer" says why for each printer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "job-router.h"

static void test_unfit_are_out(void **state)
{
        lab_route_candidate_t v[] = {
            {.printer = "a", .unfit = "media_unsupported: no 8x10", .weight = 10},
            {.printer = "b", .weight = 1},
        };
        char why[256] = "";

        assert_int_equal(lab_router_choose(v, 2, why, sizeof why), 1);
}

static void test_score(void **state)
{
        lab_route_candidate_t busy = {.printer = "a", .weight = 1, .backlog = 4, .per_minute = 2};
        lab_route_candidate_t idle = {.printer = "b", .weight = 1, .backlog = 0};
        lab_route_candidate_t heavy = {.printer = "c", .weight = 4, .backlog = 4, .per_minute = 2};

        assert_true(lab_router_score(&busy) < lab_router_score(&idle));
        /* weight 4 over 3 minutes of backlog beats weight 1 idle */
        assert_true(lab_router_score(&heavy) > lab_router_score(&idle));
        /* Unknown speed counts as one print a minute. */
        lab_route_candidate_t unknown = {.printer = "d", .weight = 1, .backlog = 1};
        assert_true(lab_router_score(&unknown) == 0.5);

        lab_route_candidate_t v[] = {busy, idle, heavy};
        char why[64];
        assert_int_equal(lab_router_choose(v, 3, why, sizeof why), 2);
        v[2].backlog = 100;
        assert_int_equal(lab_router_choose(v, 3, why, sizeof why), 1);
}

static void test_tie_by_name(void **state)
{
        lab_route_candidate_t v[] = {
            {.printer = "zeta", .weight = 1},
            {.printer = "alpha", .weight = 1},
            {.printer = "mid", .weight = 1},
        };
        char why[64];

        assert_int_equal(lab_router_choose(v, 3, why, sizeof why), 1);
}

static void test_none(void **state)
{
        lab_route_candidate_t v[] = {
            {.printer = "ds620",
             .unfit = "media_unsupported: model dnp-ds620 has no media 8x10",
             .weight = 1},
            {.printer = "qss", .unfit = "printer_disabled: disabled in the config", .weight = 1},
        };
        char why[512], small[40];

        assert_int_equal(lab_router_choose(v, 2, why, sizeof why), -1);
        assert_string_equal(why, "no_printer: no printer can print this job (ds620: "
                                 "media_unsupported: model dnp-ds620 has no media 8x10; qss: "
                                 "printer_disabled: disabled in the config)");
        assert_int_equal(lab_router_choose(NULL, 0, why, sizeof why), -1);
        assert_string_equal(why, "no_printer: no printer can print this job (the lab has no "
                                 "printers)");
        /* A short buffer is cut, never overrun. */
        assert_int_equal(lab_router_choose(v, 2, small, sizeof small), -1);
        assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_unfit_are_out),
            cmocka_unit_test(test_score),
            cmocka_unit_test(test_tie_by_name),
            cmocka_unit_test(test_none),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
