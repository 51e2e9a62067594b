/*
 * test-profile-fit.c - every printer colour space × profile kind is refused
 * with its real reason, by every door that judges a profile.
 *
 * Why: the check once tried RGB first and, on a TIFF printer, CMYK second,
 * and reported the RGB attempt's error, so a CMYK profile lacking an intent
 * read "profile_wrong_colorspace ... takes 'RGB '". One table here names the
 * expected keyword for each pair, and each pair goes through the colour check
 * itself, the render plan's check (render-plan.c) and the start-up printer
 * check (render-printer-color.c), which must all agree.
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
#include <lcms2.h>

#include "render-color.h"
#include "render-printer-color.h"
#include "printers-config.h"
#include "render-plan.h"
#include "testutil.h"

#define ICC_DIR      "/usr/share/color/icc"
#define RGB_MATRIX   ICC_DIR "/colord/AdobeRGB1998.icc"      /* matrix: every intent */
#define CMYK_LUT     ICC_DIR "/ghostscript/default_cmyk.icc" /* every intent */
#define CMYK_PERCEPT ICC_DIR "/ghostscript/ps_cmyk.icc"      /* only A2B0/B2A0 */
#define GRAY         ICC_DIR "/ghostscript/default_gray.icc"
#define LAB_SPACE    ICC_DIR "/ITULab.icc"       /* colour space class, Lab */
#define ABSTRACT     ICC_DIR "/CineLogCurve.icc" /* abstract class */

/* Printer kinds by what their file carries. */
enum { JPEG, PWG, TIFF, N_ENC };
static const lab_encoding_t encodings[N_ENC] = {LAB_ENCODING_JPEG, LAB_ENCODING_PWG,
                                                LAB_ENCODING_TIFF};
static const char *const encoding_names[N_ENC] = {"jpeg", "pwg", "tiff"};

/* One profile with an intent, and the keyword each printer kind must give (NULL: usable). */
typedef struct fit_case_s {
        const char *what;
        const char *icc; /* absolute, or a file the setup writes into dir */
        lab_intent_t intent;
        const char *want[N_ENC];
        const char *needle[N_ENC]; /* a phrase the message must hold, or NULL */
} fit_case_t;

static char *dir;

#define WRONG_SPACE "profile_wrong_colorspace"
#define NO_INTENT   "profile_intent_unsupported"

static const fit_case_t cases[] = {
    {"RGB matrix, perceptual", RGB_MATRIX, LAB_INTENT_PERCEPTUAL, {NULL, NULL, NULL}, {0}},
    {"RGB matrix, absolute", RGB_MATRIX, LAB_INTENT_ABSOLUTE, {NULL, NULL, NULL}, {0}},
    {"RGB LUT without the relative intent",
     "rgb-lut.icc",
     LAB_INTENT_RELATIVE,
     {NO_INTENT, NO_INTENT, NO_INTENT},
     {"relative colorimetric", "relative colorimetric", "relative colorimetric"}},
    {"RGB LUT, perceptual", "rgb-lut.icc", LAB_INTENT_PERCEPTUAL, {NULL, NULL, NULL}, {0}},
    {"CMYK LUT, relative",
     CMYK_LUT,
     LAB_INTENT_RELATIVE,
     {WRONG_SPACE, WRONG_SPACE, NULL},
     {"takes 'RGB '", "takes 'RGB '", NULL}},
    {"CMYK LUT without the relative intent",
     CMYK_PERCEPT,
     LAB_INTENT_RELATIVE,
     {WRONG_SPACE, WRONG_SPACE, NO_INTENT},
     {"colour space 'CMYK' but the printer takes 'RGB '", "takes 'RGB '", "relative colorimetric"}},
    {"CMYK LUT without the saturation intent",
     CMYK_PERCEPT,
     LAB_INTENT_SATURATION,
     {WRONG_SPACE, WRONG_SPACE, NO_INTENT},
     {NULL, NULL, "saturation"}},
    {"CMYK LUT, perceptual",
     CMYK_PERCEPT,
     LAB_INTENT_PERCEPTUAL,
     {WRONG_SPACE, WRONG_SPACE, NULL},
     {0}},
    {"grey output",
     GRAY,
     LAB_INTENT_PERCEPTUAL,
     {WRONG_SPACE, WRONG_SPACE, WRONG_SPACE},
     {"takes 'RGB '", "takes 'RGB '", "takes 'RGB ' or 'CMYK'"}},
    {"Lab colour space class",
     LAB_SPACE,
     LAB_INTENT_PERCEPTUAL,
     {WRONG_SPACE, WRONG_SPACE, WRONG_SPACE},
     {"'Lab '", "'Lab '", "'Lab ' but the printer takes 'RGB ' or 'CMYK'"}},
    {"abstract class",
     ABSTRACT,
     LAB_INTENT_PERCEPTUAL,
     {"profile_wrong_class", "profile_wrong_class", "profile_wrong_class"},
     {0}},
    {"input class",
     "input.icc",
     LAB_INTENT_PERCEPTUAL,
     {"profile_wrong_class", "profile_wrong_class", "profile_wrong_class"},
     {"'scnr'", "'scnr'", "'scnr'"}},
    {"not a profile",
     "garbage.icc",
     LAB_INTENT_PERCEPTUAL,
     {"profile_invalid", "profile_invalid", "profile_invalid"},
     {0}},
};

/* An RGB output profile with only the perceptual tables (A2B0/B2A0), as some vendors ship. */
static void write_rgb_lut(const char *path)
{
        static const cmsUInt16Number table[2 * 2 * 2 * 3] = {0};
        cmsHPROFILE h = cmsCreateProfilePlaceholder(NULL);
        cmsPipeline *to_pcs = cmsPipelineAlloc(NULL, 3, 3), *to_dev = cmsPipelineAlloc(NULL, 3, 3);

        assert_non_null(h);
        assert_non_null(to_pcs);
        assert_non_null(to_dev);
        cmsSetProfileVersion(h, 4.3);
        cmsSetDeviceClass(h, cmsSigOutputClass);
        cmsSetColorSpace(h, cmsSigRgbData);
        cmsSetPCS(h, cmsSigLabData);
        /* Curves, grid, curves: the shape lutAtoBType and lutBtoAType can hold. */
        for (int i = 0; i < 2; i++) {
                cmsPipeline *lut = i ? to_dev : to_pcs;

                assert_true(
                    cmsPipelineInsertStage(lut, cmsAT_END, cmsStageAllocToneCurves(NULL, 3, NULL)));
                assert_true(cmsPipelineInsertStage(lut, cmsAT_END,
                                                   cmsStageAllocCLut16bit(NULL, 2, 3, 3, table)));
                assert_true(
                    cmsPipelineInsertStage(lut, cmsAT_END, cmsStageAllocToneCurves(NULL, 3, NULL)));
        }
        assert_true(cmsWriteTag(h, cmsSigAToB0Tag, to_pcs));
        assert_true(cmsWriteTag(h, cmsSigBToA0Tag, to_dev));
        assert_true(cmsWriteTag(h, cmsSigMediaWhitePointTag, cmsD50_XYZ()));
        assert_true(cmsSaveProfileToFile(h, path));
        cmsPipelineFree(to_pcs);
        cmsPipelineFree(to_dev);
        cmsCloseProfile(h);
}

/* An sRGB profile relabelled as an input (scanner) profile. */
static void write_input_class(const char *path)
{
        cmsHPROFILE h = cmsCreate_sRGBProfile();

        assert_non_null(h);
        cmsSetDeviceClass(h, cmsSigInputClass);
        assert_true(cmsSaveProfileToFile(h, path));
        cmsCloseProfile(h);
}

static const char *intent_name(lab_intent_t i)
{
        static const char *const names[] = {"perceptual", "relative", "saturation", "absolute"};

        return names[i];
}

/* The case's profile as the tests use it: absolute, or in dir. */
static char *case_path(const fit_case_t *c)
{
        return c->icc[0] == '/' ? strdup(c->icc) : lab_test_path(dir, c->icc);
}

static int setup(void **state)
{
        FILE *reg;
        char *p;

        dir = lab_test_mkdtemp("profile-fit");
        p = lab_test_path(dir, "rgb-lut.icc");
        write_rgb_lut(p);
        free(p);
        p = lab_test_path(dir, "input.icc");
        write_input_class(p);
        free(p);
        p = lab_test_path(dir, "garbage.icc");
        lab_test_write_string(p, "this is not an ICC profile at all, just text\n");
        free(p);

        /* A registry with one model per (case, printer kind), named m<case>-<kind>. */
        p = lab_test_path(dir, "registry.yaml");
        reg = fopen(p, "w");
        assert_non_null(reg);
        fputs("models:\n", reg);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int e = 0; e < N_ENC; e++) {
                        char *icc = case_path(&cases[i]);

                        fprintf(reg,
                                "  - name: m%zu-%s\n"
                                "    encoding: %s\n"
                                "    media: [{name: na_index-4x6_4x6in, width: 1200, height: "
                                "1800, dpi: 300}]\n"
                                "    papers: [{media_type: photographic-glossy, icc: '%s', "
                                "intent: %s, bpc: false}]\n",
                                i, encoding_names[e], encoding_names[e], icc,
                                intent_name(cases[i].intent));
                        free(icc);
                }
        assert_int_equal(fclose(reg), 0);
        free(p);
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(dir);
        free(dir);
        return 0;
}

/* Whether err (or "keyword: message" text) is what case i wants for printer kind e. */
static void expect(size_t i, int e, const char *door, const char *keyword, const char *message)
{
        const char *want = cases[i].want[e], *needle = cases[i].needle[e];

        if (!want) {
                if (keyword)
                        fail_msg("%s, %s printer, %s: refused with %s: %s", cases[i].what,
                                 encoding_names[e], door, keyword, message);
                return;
        }
        if (!keyword || strcmp(keyword, want) != 0)
                fail_msg("%s, %s printer, %s: want %s, got %s: %s", cases[i].what,
                         encoding_names[e], door, want, keyword ? keyword : "(usable)",
                         message ? message : "");
        if (needle && !strstr(message, needle))
                fail_msg("%s, %s printer, %s: '%s' lacks '%s'", cases[i].what, encoding_names[e],
                         door, message, needle);
}

/* The colour check itself and the render plan's check, per pair. */
static void test_check_and_plan(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int e = 0; e < N_ENC; e++) {
                        char *icc = case_path(&cases[i]);
                        lab_paper_profile_t paper = {.icc = icc, .intent = cases[i].intent};
                        lab_model_t model = {.name = (char *)"m", .encoding = encodings[e]};
                        lab_render_plan_t plan = {.model = &model, .paper = &paper};
                        lab_error_t err = {0};
                        int r;

                        r = lab_color_check_printer_profile(icc, encodings[e], cases[i].intent,
                                                            &err);
                        assert_true(r == 0 || r < 0);
                        expect(i, e, "colour check", r < 0 ? err.keyword : NULL, err.message);
                        if (r < 0)
                                assert_non_null(strstr(err.message, icc));

                        lab_error_clear(&err);
                        r = lab_render_plan_check_profile(&plan, &err);
                        expect(i, e, "render plan", r < 0 ? err.keyword : NULL, err.message);
                        free(icc);
                }
}

/* The printer check at start and reload: each printer judged by its own model's profile. */
static void test_printer_setup(void **state)
{
        lab_config_problems_t problems = {0};
        lab_color_setup_t *s = NULL;
        lab_config_t *c = NULL;
        char *printers = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&printers, &len);

        assert_non_null(f);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int e = 0; e < N_ENC; e++)
                        fprintf(
                            f,
                            "  - {name: p%zu-%s, driver: ipp, uri: 'ipp://h/p', model: m%zu-%s}\n",
                            i, encoding_names[e], i, encoding_names[e]);
        assert_int_equal(fclose(f), 0);
        c = lab_test_printers_config(dir, printers);
        assert_int_equal(lab_color_setup_load(c, &s, &problems), 0);
        assert_int_equal(problems.n, 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int e = 0; e < N_ENC; e++) {
                        char name[64], keyword[64] = "";
                        const lab_printer_color_t *p;

                        snprintf(name, sizeof name, "p%zu-%s", i, encoding_names[e]);
                        p = lab_color_setup_printer(s, name);
                        assert_non_null(p);
                        assert_true(p->usable == (p->reason == NULL));
                        if (p->reason)
                                snprintf(keyword, sizeof keyword, "%.*s",
                                         (int)strcspn(p->reason, ":"), p->reason);
                        expect(i, e, "printer check", p->reason ? keyword : NULL, p->reason);
                }
        lab_color_setup_free(s);
        lab_config_free(c);
        free(printers);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_check_and_plan),
            cmocka_unit_test(test_printer_setup),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
