/*
 * test-printer-color.c - a bad profile stops only the printers that use it.
 *
 * A registry with a good RGB model, a model whose paper profile is garbage,
 * and a TIFF model on the CMYK LUT profile; printers on each, one on an
 * unknown model and one with no model. Each gets the right verdict and a
 * reason naming the file and the fault. Without a registry, every printer
 * is unusable with registry_unavailable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render-printer-color.h"
#include "printers-config.h"
#include "testutil.h"

#define ADOBE "/usr/share/color/icc/colord/AdobeRGB1998.icc"
#define CMYK  "/usr/share/color/icc/ghostscript/default_cmyk.icc"

static char *dir;

/* A config whose profiles.directory is dir and whose printers use the given models. */
static lab_config_t *config(const char *printers)
{
        return lab_test_printers_config(dir, printers);
}

static int setup(void **state)
{
        char *reg, *bad;

        dir = lab_test_mkdtemp("printer-color");
        bad = lab_test_path(dir, "broken.icc");
        lab_test_write_string(bad, "this is not an ICC profile at all, just text\n");
        reg = lab_test_path(dir, "registry.yaml");
        lab_test_write_string(
            reg, "models:\n"
                 "  - name: good-rgb\n"
                 "    encoding: jpeg\n"
                 "    media: [{name: na_index-4x6_4x6in, width: 1200, height: 1800, dpi: 300}]\n"
                 "    papers: [{media_type: photographic-glossy, icc: " ADOBE
                 ", intent: perceptual, bpc: true}]\n"
                 "  - name: broken\n"
                 "    encoding: jpeg\n"
                 "    media: [{name: na_index-4x6_4x6in, width: 1200, height: 1800, dpi: 300}]\n"
                 "    papers:\n"
                 "      - {media_type: photographic-glossy, icc: " ADOBE
                 ", intent: perceptual, bpc: true}\n"
                 "      - {media_type: photographic-matte, icc: broken.icc, intent: relative, "
                 "bpc: false}\n"
                 "  - name: proofer\n"
                 "    encoding: tiff\n"
                 "    media: [{name: na_index-4x6_4x6in, width: 1200, height: 1800, dpi: 300}]\n"
                 "    papers: [{media_type: photographic-glossy, icc: " CMYK
                 ", intent: perceptual, bpc: false, depth: 16}]\n"
                 "  - name: cmyk-on-jpeg\n"
                 "    encoding: jpeg\n"
                 "    media: [{name: na_index-4x6_4x6in, width: 1200, height: 1800, dpi: 300}]\n"
                 "    papers: [{media_type: photographic-glossy, icc: " CMYK
                 ", intent: perceptual, bpc: false}]\n");
        free(reg);
        free(bad);
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(dir);
        free(dir);
        return 0;
}

static const char printers[] = "  - {name: a, driver: ipp, uri: 'ipp://h/a', model: good-rgb}\n"
                               "  - {name: b, driver: ipp, uri: 'ipp://h/b', model: broken}\n"
                               "  - {name: c, driver: hotfolder, folder: /srv/c, model: proofer}\n"
                               "  - {name: d, driver: ipp, uri: 'ipp://h/d', model: cmyk-on-jpeg}\n"
                               "  - {name: e, driver: ipp, uri: 'ipp://h/e', model: nobody-knows}\n"
                               "  - {name: f, driver: ipp, uri: 'ipp://h/f'}\n";

/* Assert printer name's verdict; reason must start with keyword and contain needle. */
static void expect(const lab_color_setup_t *s, const char *name, const char *keyword,
                   const char *needle)
{
        const lab_printer_color_t *p = lab_color_setup_printer(s, name);

        assert_non_null(p);
        if (!keyword) {
                assert_true(p->usable);
                assert_null(p->reason);
                return;
        }
        assert_false(p->usable);
        assert_non_null(p->reason);
        if (strncmp(p->reason, keyword, strlen(keyword)) != 0 || !strstr(p->reason, needle))
                fail_msg("printer %s: '%s' lacks '%s' ... '%s'", name, p->reason, keyword, needle);
}

static void test_each_printer_judged_alone(void **state)
{
        lab_config_problems_t problems = {0};
        lab_config_t *c = config(printers);
        lab_color_setup_t *s = NULL;
        char *broken = lab_test_path(dir, "broken.icc");

        assert_int_equal(lab_color_setup_load(c, &s, &problems), 0);
        assert_int_equal(problems.n, 0);
        expect(s, "a", NULL, NULL);
        expect(s, "b", "profile_invalid: ", broken);
        expect(s, "b", "profile_invalid: ", "(model broken, paper photographic-matte)");
        expect(s, "c", NULL, NULL);
        expect(s, "d", "profile_wrong_colorspace: ", CMYK);
        expect(s, "e", "unknown_model: ", "model nobody-knows");
        expect(s, "f", "printer_no_model: ", "printer f has no model");
        assert_int_equal(s->n_usable, 2);
        assert_null(lab_color_setup_printer(s, "zz"));
        lab_color_setup_free(s);
        lab_config_free(c);
        free(broken);
}

static void test_no_registry(void **state)
{
        lab_config_problems_t problems = {0};
        char *reg = lab_test_path(dir, "registry.yaml"), *moved = lab_test_path(dir, "moved.yaml");
        lab_config_t *c = config(printers);
        lab_color_setup_t *s = NULL;

        assert_int_equal(rename(reg, moved), 0);
        assert_int_equal(lab_color_setup_load(c, &s, &problems), 0);
        assert_int_equal(rename(moved, reg), 0);
        assert_int_equal(s->n_usable, 0);
        expect(s, "a", "registry_unavailable: ", "registry.yaml does not exist");
        lab_color_setup_free(s);

        /* A registry with a mistake: its problems are reported, every printer waits. */
        {
                char *saved = lab_test_read_file(reg, NULL);
                bool unknown = false;

                lab_test_write_string(reg, "models:\n  - name: x\n    encodng: jpeg\n");
                assert_int_equal(lab_color_setup_load(c, &s, &problems), 0);
                lab_test_write_string(reg, saved);
                free(saved);
                for (size_t i = 0; i < problems.n; i++)
                        unknown |= strcmp(problems.v[i].keyword, "unknown_key") == 0;
                assert_true(unknown);
        }
        expect(s, "c", "registry_unavailable: ", "has problems");
        lab_config_problems_clear(&problems);
        lab_color_setup_free(s);
        lab_config_free(c);
        free(reg);
        free(moved);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_each_printer_judged_alone),
            cmocka_unit_test(test_no_registry),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
