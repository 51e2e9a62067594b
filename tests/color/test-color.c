/*
 * test-color.c - render-color.c against real Debian ICC profiles: output-profile
 * checks and their keywords, profile IDs, descriptions, gamut share and
 * CIEDE2000 against Sharma, Wu & Dalal (2005) reference data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lcms2.h>

#include "render-color.h"
#include "testutil.h"

#define ICC_DIR       "/usr/share/color/icc"
#define ADOBE_RGB     ICC_DIR "/colord/AdobeRGB1998.icc"
#define COLORD_SRGB   ICC_DIR "/colord/sRGB.icc"
#define GS_CMYK       ICC_DIR "/ghostscript/default_cmyk.icc"
#define GS_PS_CMYK    ICC_DIR "/ghostscript/ps_cmyk.icc" /* only A2B0/B2A0 */
#define GS_SRGB_V2    ICC_DIR "/ghostscript/srgb.icc"    /* v2: header ID all zero */
#define ICC_SRGB      ICC_DIR "/sRGB.icc"
#define ABSTRACT_CINE ICC_DIR "/CineLogCurve.icc" /* abstract class, Lab */
#define ITU_LAB       ICC_DIR "/ITULab.icc"       /* colour space class, Lab */

static char *tmpdir;

static int setup(void **state)
{
        tmpdir = lab_test_mkdtemp("color");
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(tmpdir);
        free(tmpdir);
        tmpdir = NULL;
        return 0;
}

/* Check path, expecting keyword (NULL: success); the message must name the file. */
static void check_profile(const char *path, lab_colorspace_t space, lab_intent_t intent,
                          const char *keyword)
{
        lab_error_t err;
        int r;

        memset(&err, 0x5a, sizeof err);
        r = lab_color_check_output_profile(path, space, intent, &err);
        if (!keyword) {
                if (r < 0)
                        fail_msg("%s: unexpected %s: %s", path, err.keyword, err.message);
                assert_false(lab_error_isset(&err));
                return;
        }
        if (r >= 0)
                fail_msg("%s: accepted, expected %s", path, keyword);
        assert_string_equal(err.keyword, keyword);
        if (!strstr(err.message, path))
                fail_msg("message does not name the file: %s", err.message);
        print_message("    %s: %s\n", err.keyword, err.message);
}

static void test_rgb_matrix_accepted(void **state)
{
        for (int i = 0; i <= LAB_INTENT_ABSOLUTE; i++) {
                check_profile(ADOBE_RGB, LAB_COLORSPACE_RGB, (lab_intent_t)i, NULL);
                check_profile(COLORD_SRGB, LAB_COLORSPACE_RGB, (lab_intent_t)i, NULL);
                check_profile(ICC_SRGB, LAB_COLORSPACE_RGB, (lab_intent_t)i, NULL);
        }
}

static void test_cmyk_lut_accepted_for_cmyk_only(void **state)
{
        for (int i = 0; i <= LAB_INTENT_ABSOLUTE; i++)
                check_profile(GS_CMYK, LAB_COLORSPACE_CMYK, (lab_intent_t)i, NULL);
        check_profile(GS_CMYK, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL,
                      "profile_wrong_colorspace");
        check_profile(ADOBE_RGB, LAB_COLORSPACE_CMYK, LAB_INTENT_RELATIVE,
                      "profile_wrong_colorspace");
        /* A colour-space-class profile is an acceptable class, but Lab is no printer's space. */
        check_profile(ITU_LAB, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL,
                      "profile_wrong_colorspace");
}

static void test_abstract_refused(void **state)
{
        _cleanup_free_ char *p = lab_test_path(tmpdir, "lab4.icc");
        cmsHPROFILE h = cmsCreateLab4Profile(NULL);

        assert_non_null(h);
        assert_int_equal(cmsGetDeviceClass(h), cmsSigAbstractClass);
        assert_true(cmsSaveProfileToFile(h, p));
        cmsCloseProfile(h);

        check_profile(p, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL, "profile_wrong_class");
        check_profile(ABSTRACT_CINE, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL,
                      "profile_wrong_class");
}

static void test_garbage_missing_truncated(void **state)
{
        _cleanup_free_ char *garbage = lab_test_path(tmpdir, "garbage.icc");
        _cleanup_free_ char *tiny = lab_test_path(tmpdir, "tiny.icc");
        _cleanup_free_ char *trunc = lab_test_path(tmpdir, "truncated.icc");
        _cleanup_free_ char *missing = lab_test_path(tmpdir, "nope.icc");
        _cleanup_free_ char *data = NULL;
        char junk[4096];
        size_t len;

        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char)((i * 7919u + 13u) & 0xff);
        lab_test_write_file(garbage, junk, sizeof junk);
        lab_test_write_string(tiny, "not an icc profile\n");

        data = lab_test_read_file(GS_CMYK, &len);
        assert_non_null(data);
        assert_true(len > 2000);
        lab_test_write_file(trunc, data, len / 2);

        check_profile(garbage, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL, "profile_invalid");
        check_profile(tiny, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL, "profile_invalid");
        check_profile(trunc, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL, "profile_invalid");
        check_profile(missing, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL, "profile_missing");
        check_profile(tmpdir, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL, "profile_unreadable");
}

/* A header that claims a whole profile but whose tag data is garbage: lcms2 opens it, tables do not
 * load. */
static void test_corrupt_tag_data(void **state)
{
        _cleanup_free_ char *p = lab_test_path(tmpdir, "corrupt-tags.icc");
        _cleanup_free_ char *data = NULL;
        size_t len;

        data = lab_test_read_file(GS_CMYK, &len);
        assert_non_null(data);
        /* Keep the header and tag directory (9 tags: 128 + 4 + 9 * 12 bytes), wreck the rest. */
        for (size_t i = 128 + 4 + 9 * 12; i < len; i++)
                data[i] = (char)0xff;
        lab_test_write_file(p, data, len);
        check_profile(p, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL, "profile_invalid");
}

/*
 * lcms2 answers cmsIsIntentSupported() TRUE for every intent of a matrix
 * profile (it falls back to the colorimetric matrix), so intent refusals come
 * from LUT profiles lacking the BToA table: ghostscript's ps_cmyk.icc carries
 * only A2B0/B2A0.
 */
static void test_intent_unsupported(void **state)
{
        check_profile(GS_PS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL, NULL);
        check_profile(GS_PS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_RELATIVE,
                      "profile_intent_unsupported");
        check_profile(GS_PS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_SATURATION,
                      "profile_intent_unsupported");
        check_profile(GS_PS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_ABSOLUTE,
                      "profile_intent_unsupported");
        check_profile(ADOBE_RGB, LAB_COLORSPACE_RGB, (lab_intent_t)7, "profile_intent_unsupported");
}

static void assert_hex32(const char *id)
{
        assert_int_equal(strlen(id), 32);
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
        assert_string_not_equal(id, "00000000000000000000000000000000");
}

static void test_profile_id(void **state)
{
        _cleanup_free_ char *copy = lab_test_path(tmpdir, "copy.icc");
        _cleanup_free_ char *before = NULL, *after = NULL;
        char a[33], b[33], c[33], d[33];
        size_t len1, len2;
        lab_error_t err;

        /* v4 profile with its ID in the header. */
        assert_int_equal(lab_color_profile_id(ADOBE_RGB, a, &err), 0);
        assert_hex32(a);
        assert_int_equal(lab_color_profile_id(ADOBE_RGB, b, &err), 0);
        assert_string_equal(a, b);

        /* v2 profile, ID computed: stable, independent of the path, file untouched. */
        before = lab_test_read_file(GS_SRGB_V2, &len1);
        assert_non_null(before);
        assert_int_equal(lab_color_profile_id(GS_SRGB_V2, c, &err), 0);
        assert_hex32(c);
        after = lab_test_read_file(GS_SRGB_V2, &len2);
        assert_int_equal(len1, len2);
        assert_memory_equal(before, after, len1);
        lab_test_write_file(copy, before, len1);
        assert_int_equal(lab_color_profile_id(copy, d, &err), 0);
        assert_string_equal(c, d);
        assert_string_not_equal(a, c);
        print_message("    AdobeRGB1998 %s, ghostscript srgb %s\n", a, c);

        /* The computed ID of a v4 profile equals the one its header carries. */
        {
                cmsHPROFILE h = cmsOpenProfileFromFile(ADOBE_RGB, "r");
                cmsUInt8Number stored[16], computed[16];
                assert_non_null(h);
                cmsGetHeaderProfileID(h, stored);
                assert_true(cmsMD5computeID(h));
                cmsGetHeaderProfileID(h, computed);
                assert_memory_equal(stored, computed, 16);
                cmsCloseProfile(h);
        }

        assert_true(lab_color_profile_id("/nonexistent/x.icc", a, &err) < 0);
        assert_string_equal(err.keyword, "profile_missing");
        assert_string_equal(a, "");
}

static void test_description(void **state)
{
        char d[256];

        lab_color_profile_description(ADOBE_RGB, d, sizeof d);
        print_message("    description: '%s'\n", d);
        assert_non_null(strstr(d, "Adobe"));
        lab_color_profile_description(GS_CMYK, d, sizeof d);
        assert_true(strlen(d) > 0);
        lab_color_profile_description("/nonexistent/x.icc", d, sizeof d);
        assert_string_equal(d, "");
        /* Truncated to the buffer, always terminated. */
        lab_color_profile_description(ADOBE_RGB, d, 4);
        assert_int_equal(strlen(d), 3);
}

static void test_gamut_neutrals_in_adobe_rgb(void **state)
{
        uint8_t px[256 * 3];
        double share = -1;
        lab_error_t err;

        for (int v = 0; v < 256; v++)
                px[3 * v] = px[3 * v + 1] = px[3 * v + 2] = (uint8_t)v;
        assert_int_equal(lab_color_gamut_share(px, 256, NULL, 0, ADOBE_RGB, LAB_INTENT_RELATIVE, 0,
                                               &share, &err),
                         0);
        assert_true(share == 0.0);
        assert_int_equal(lab_color_gamut_share(px, 256, NULL, 0, ADOBE_RGB, LAB_INTENT_PERCEPTUAL,
                                               50, &share, &err),
                         0);
        assert_true(share == 0.0);
}

static const uint8_t primaries[6][3] = {{255, 0, 0},   {0, 255, 0},   {0, 0, 255},
                                        {0, 255, 255}, {255, 0, 255}, {255, 255, 0}};

static void test_gamut_primaries_into_cmyk(void **state)
{
        double share = -1;
        lab_error_t err;

        assert_int_equal(lab_color_gamut_share(&primaries[0][0], 6, NULL, 0, GS_CMYK,
                                               LAB_INTENT_RELATIVE, 0, &share, &err),
                         0);
        print_message("    sRGB primaries/secondaries outside default_cmyk: %.3f\n", share);
        assert_true(share > 0.5);
        assert_true(share <= 1.0);
}

/* An embedded input profile is honoured: AdobeRGB green is outside sRGB, sRGB green is not. */
static void test_gamut_input_profile(void **state)
{
        _cleanup_free_ char *adobe = NULL;
        const uint8_t green[3] = {0, 255, 0};
        double share = -1;
        lab_error_t err;
        size_t len;

        adobe = lab_test_read_file(ADOBE_RGB, &len);
        assert_non_null(adobe);
        assert_int_equal(lab_color_gamut_share(green, 1, adobe, len, ICC_SRGB, LAB_INTENT_RELATIVE,
                                               0, &share, &err),
                         0);
        assert_true(share == 1.0);
        assert_int_equal(lab_color_gamut_share(green, 1, NULL, 0, ICC_SRGB, LAB_INTENT_RELATIVE, 0,
                                               &share, &err),
                         0);
        assert_true(share == 0.0);

        assert_true(lab_color_gamut_share(green, 1, "garbage", 7, ICC_SRGB, LAB_INTENT_RELATIVE, 0,
                                          &share, &err) < 0);
        assert_string_equal(err.keyword, "bad_input_profile");
        assert_true(lab_color_gamut_share(green, 1, NULL, 0, "/nonexistent/x.icc",
                                          LAB_INTENT_RELATIVE, 0, &share, &err) < 0);
        assert_string_equal(err.keyword, "profile_missing");
}

/* Sampling: max_samples evenly spaced pixels, so an image a quarter blue gives 0.25. */
static void test_gamut_sampling(void **state)
{
        const size_t n = 100000;
        _cleanup_free_ uint8_t *px = malloc(3 * n);
        double share = -1;
        lab_error_t err;

        assert_non_null(px);
        for (size_t i = 0; i < n; i++) {
                bool blue = i >= 3 * n / 4;
                px[3 * i] = blue ? 0 : 128;
                px[3 * i + 1] = blue ? 0 : 128;
                px[3 * i + 2] = blue ? 255 : 128;
        }
        assert_int_equal(
            lab_color_gamut_share(px, n, NULL, 0, GS_CMYK, LAB_INTENT_RELATIVE, 1000, &share, &err),
            0);
        assert_true(share == 0.25);
        assert_int_equal(
            lab_color_gamut_share(px, n, NULL, 0, GS_CMYK, LAB_INTENT_RELATIVE, 0, &share, &err),
            0);
        assert_true(share == 0.25);
        assert_int_equal(
            lab_color_gamut_share(px, 0, NULL, 0, GS_CMYK, LAB_INTENT_RELATIVE, 10, &share, &err),
            0);
        assert_true(share == 0.0);
}

/* Sharma, Wu & Dalal, "The CIEDE2000 color-difference formula", 2005, Table 1. */
static const struct {
        lab_lab_t a, b;
        double de;
} sharma[] = {
    {{50.0000, 2.6772, -79.7751}, {50.0000, 0.0000, -82.7485}, 2.0425},
    {{50.0000, 3.1571, -77.2803}, {50.0000, 0.0000, -82.7485}, 2.8615},
    {{50.0000, 2.8361, -74.0200}, {50.0000, 0.0000, -82.7485}, 3.4412},
    {{50.0000, -1.3802, -84.2814}, {50.0000, 0.0000, -82.7485}, 1.0000},
    {{50.0000, 0.0000, 0.0000}, {50.0000, -1.0000, 2.0000}, 2.3669},
    {{50.0000, 2.4900, -0.0010}, {50.0000, -2.4900, 0.0009}, 7.1792},
    {{50.0000, 2.4900, -0.0010}, {50.0000, -2.4900, 0.0010}, 7.1792},
    {{50.0000, 2.4900, -0.0010}, {50.0000, -2.4900, 0.0011}, 7.2195},
    {{50.0000, -0.0010, 2.4900}, {50.0000, 0.0009, -2.4900}, 4.8045},
    {{50.0000, 2.5000, 0.0000}, {73.0000, 25.0000, -18.0000}, 27.1492},
    {{50.0000, 2.5000, 0.0000}, {61.0000, -5.0000, 29.0000}, 22.8977},
    {{50.0000, 2.5000, 0.0000}, {50.0000, 3.1736, 0.5854}, 1.0000},
    {{50.0000, 2.5000, 0.0000}, {50.0000, 3.2972, 0.0000}, 1.0000},
    {{50.0000, 2.5000, 0.0000}, {50.0000, 1.8634, 0.5757}, 1.0000},
    {{60.2574, -34.0099, 36.2677}, {60.4626, -34.1751, 39.4387}, 1.2644},
    {{63.0109, -31.0961, -5.8663}, {62.8187, -29.7946, -4.0864}, 1.2630},
    {{61.2901, 3.7196, -5.3901}, {61.4292, 2.2480, -4.9620}, 1.8731},
    {{35.0831, -44.1164, 3.7933}, {35.0232, -40.0716, 1.5901}, 1.8645},
    {{22.7233, 20.0904, -46.6940}, {23.0331, 14.9730, -42.5619}, 2.0373},
    {{36.4612, 47.8580, 18.3852}, {36.2715, 50.5065, 21.2231}, 1.4146},
    {{90.8027, -2.0831, 1.4410}, {91.1528, -1.6435, 0.0447}, 1.4441},
    {{90.9257, -0.5406, -0.9208}, {88.6381, -0.8985, -0.7239}, 1.5381},
    {{6.7747, -0.2908, -2.4247}, {5.8714, -0.0985, -2.2286}, 0.6377},
    {{2.0776, 0.0795, -1.1350}, {0.9033, -0.0636, -0.5514}, 0.9082},
};

static void test_de2000_sharma(void **state)
{
        for (size_t i = 0; i < sizeof sharma / sizeof sharma[0]; i++) {
                double d = lab_color_de2000(sharma[i].a, sharma[i].b);
                double e = lab_color_de2000(sharma[i].b, sharma[i].a);
                if (d - sharma[i].de > 1e-4 || sharma[i].de - d > 1e-4)
                        fail_msg("row %zu: %.6f, expected %.4f", i, d, sharma[i].de);
                assert_true(d - e < 1e-9 && e - d < 1e-9); /* symmetric */
        }
        assert_true(lab_color_de2000(sharma[0].a, sharma[0].a) == 0.0);
}

/* Each call has its own lcms2 context: concurrent calls keep their own messages. */
static void *check_thread(void *arg)
{
        const char *bad = arg;
        lab_error_t err;

        for (int i = 0; i < 50; i++) {
                if (lab_color_check_output_profile(GS_CMYK, LAB_COLORSPACE_CMYK,
                                                   LAB_INTENT_RELATIVE, &err) < 0)
                        return (void *)"good profile refused";
                if (lab_color_check_output_profile(bad, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL,
                                                   &err) >= 0)
                        return (void *)"bad profile accepted";
                if (strcmp(err.keyword, "profile_invalid") != 0 || !strstr(err.message, bad))
                        return (void *)"wrong error for the bad profile";
        }
        return NULL;
}

static void test_concurrent_checks(void **state)
{
        _cleanup_free_ char *data = NULL;
        char *paths[4];
        pthread_t t[4];
        size_t len;

        data = lab_test_read_file(GS_CMYK, &len);
        assert_non_null(data);
        for (size_t i = 128 + 4 + 9 * 12; i < len; i++)
                data[i] = (char)0xff;
        for (int i = 0; i < 4; i++) {
                char name[32];
                snprintf(name, sizeof name, "corrupt-%d.icc", i);
                paths[i] = lab_test_path(tmpdir, name);
                lab_test_write_file(paths[i], data, len);
                assert_int_equal(pthread_create(&t[i], NULL, check_thread, paths[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                void *res;
                assert_int_equal(pthread_join(t[i], &res), 0);
                if (res)
                        fail_msg("thread %d: %s", i, (const char *)res);
                free(paths[i]);
        }
}

static void test_lcms_version(void **state)
{
        char expect[16];

        snprintf(expect, sizeof expect, "%d.%d", LCMS_VERSION / 1000, (LCMS_VERSION % 1000) / 10);
        assert_string_equal(lab_color_lcms_version(), expect);
        assert_string_equal(lab_color_lcms_version(), "2.14");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rgb_matrix_accepted),
            cmocka_unit_test(test_cmyk_lut_accepted_for_cmyk_only),
            cmocka_unit_test(test_abstract_refused),
            cmocka_unit_test(test_garbage_missing_truncated),
            cmocka_unit_test(test_corrupt_tag_data),
            cmocka_unit_test(test_intent_unsupported),
            cmocka_unit_test(test_profile_id),
            cmocka_unit_test(test_description),
            cmocka_unit_test(test_gamut_neutrals_in_adobe_rgb),
            cmocka_unit_test(test_gamut_primaries_into_cmyk),
            cmocka_unit_test(test_gamut_input_profile),
            cmocka_unit_test(test_gamut_sampling),
            cmocka_unit_test(test_de2000_sharma),
            cmocka_unit_test(test_concurrent_checks),
            cmocka_unit_test(test_lcms_version),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
