/*
 * fuzz-problems.h - the check both strict-YAML fuzz targets make of a
 * failed load: at least one problem, each formatting to a single line.
 * Aborts (a finding) otherwise, and frees the list.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "config.h"

static inline void fuzz_check_problems(lab_config_problems_t *problems)
{
        if (problems->n == 0)
                abort();
        for (size_t i = 0; i < problems->n; i++) {
                char *line = lab_config_problem_format(&problems->v[i]);
                if (!line || strchr(line, '\n'))
                        abort();
                free(line);
        }
        lab_config_problems_clear(problems);
}
