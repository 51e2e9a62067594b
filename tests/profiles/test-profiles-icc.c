/*
 * test-profiles-icc.c - every ICC file the shipped registry names is on this machine.
 *
 * Why: the sample registry is built only on profiles Debian packages install
 * (colord-data, icc-profiles-free, libgs-common, all in Build-Depends). If a
 * package moves or drops a file, this fails here, naming the path, rather
 * than as an unusable printer at the lab. Whether the files parse as ICC is
 * render-color.c's business (tests/color).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config-profiles.h"

#define SHIPPED LAB_SOURCE_DIR "/profiles/registry.yaml"

static void test_shipped_icc_files_exist(void **state)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;
        size_t checked = 0, missing = 0;

        (void)state;
        if (lab_registry_load(SHIPPED, &r, &problems) != 0) {
                lab_config_problems_print(&problems, stderr);
                fail_msg("%s does not load", SHIPPED);
        }
        for (size_t i = 0; i < r->n_models; i++)
                for (size_t j = 0; j < r->models[i].n_papers; j++) {
                        const lab_paper_profile_t *p = &r->models[i].papers[j];
                        struct stat st;

                        checked++;
                        if (p->icc[0] != '/' || stat(p->icc, &st) < 0 || !S_ISREG(st.st_mode) ||
                            st.st_size < 128) {
                                fprintf(stderr,
                                        "%s: models[%zu].papers[%zu].icc: %s is missing "
                                        "or not an ICC-sized regular file\n",
                                        SHIPPED, i, j, p->icc);
                                missing++;
                        }
                }
        assert_int_equal(checked, 11);
        assert_int_equal(missing, 0);
        lab_registry_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_shipped_icc_files_exist),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
