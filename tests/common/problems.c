/*
 * problems.c - problem-list assertions for the strict YAML loaders' tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "problems.h"

void lab_test_dump_problems(const lab_config_problems_t *l)
{
        fprintf(stderr, "--- %zu problem(s):\n", l->n);
        lab_config_problems_print(l, stderr);
}

void lab_test_assert_problems(const lab_config_problems_t *l, const char *const *want, size_t n)
{
        if (l->n != n) {
                lab_test_dump_problems(l);
                fail_msg("%zu problems, expected %zu", l->n, n);
        }
        for (size_t i = 0; i < n; i++) {
                char *got = lab_config_problem_format(&l->v[i]);

                assert_non_null(got);
                if (strcmp(got, want[i]) != 0) {
                        lab_test_dump_problems(l);
                        fail_msg("problem %zu:\n  got      %s\n  expected %s", i, got, want[i]);
                }
                free(got);
        }
}
