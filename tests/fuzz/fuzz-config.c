/*
 * fuzz-config.c - fuzz target for the config loader (libyaml + schema walk).
 *
 * Why: the loader must turn any byte string into either a config or a list
 * of problems, never a crash, a leak or a hang. Beyond the sanitizers, it
 * checks the loader's contract: success means a config and no problem;
 * failure means no config, at least one problem, and every problem formats
 * to a single line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-problems.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        lab_config_problems_t problems = {0};
        lab_config_t *config = NULL;
        int r;

        r = lab_config_load_buffer("fuzz.yaml", (const char *)data, size, &config, &problems);
        if (r == 0) {
                if (!config || problems.n != 0)
                        abort();
                lab_config_free(config);
                return 0;
        }
        if (config)
                abort();
        fuzz_check_problems(&problems);
        return 0;
}
