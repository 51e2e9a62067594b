/*
 * fuzz-registry.c - fuzz target for the colour registry loader (config-profiles.c):
 * any byte string becomes a registry or a list of problems, never a crash,
 * a leak or a hang; success means no problem, failure at least one, each a
 * single line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-problems.h"
#include "config-profiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;

        if (lab_registry_load_buffer("/fuzz/registry.yaml", (const char *)data, size, &r,
                                     &problems) == 0) {
                if (!r || problems.n != 0)
                        abort();
                for (size_t i = 0; i < r->n_models; i++)
                        for (size_t j = 0; j < r->models[i].n_papers; j++)
                                if (r->models[i].papers[j].icc[0] != '/')
                                        abort(); /* relative paths are resolved */
                lab_registry_free(r);
                return 0;
        }
        if (r)
                abort();
        fuzz_check_problems(&problems);
        return 0;
}
