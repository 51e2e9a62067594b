/*
 * problems.h - assertions on the problem lists of the strict YAML loaders
 * (labagent.yaml, the colour registry), shared by their tests: both report
 * the same "file:line:col: key.path: message [keyword]" lines.
 */
#pragma once

#include <stddef.h>

#include "config.h"

/* Print every problem of l to stderr, to make a failing comparison readable. */
void lab_test_dump_problems(const lab_config_problems_t *l);

/* Assert (cmocka) that l holds exactly the n formatted lines of want, in order. */
void lab_test_assert_problems(const lab_config_problems_t *l, const char *const *want, size_t n);
