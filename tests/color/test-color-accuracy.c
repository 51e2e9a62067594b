/*
 * test-color-accuracy.c - the colour-accuracy must-show of issue 4: the
 * agent's render (lab_render(), libvips + lcms2) against lcms2's own
 * reference tool tificc, same input, profiles, intent and BPC.
 *
 * A chart is generated at test time: an 8-bit RGB TIFF of 8x8-pixel patches
 * (a 7-level R,G,B grid, ramps of saturated primaries and secondaries,
 * near-neutrals, shadows) with /usr/share/color/icc/sRGB.icc embedded, so
 * both sides start from the same input profile. It is rendered into colord's
 * AdobeRGB1998.icc (RGB matrix) and ghostscript's default_cmyk.icc (CMYK
 * LUT), each intent, BPC off and on, 8- and 16-bit output, by lab_render()
 * (fit exact at the chart's own size, no sharpening, TIFF) and by tificc.
 * Each patch centre of both outputs is converted to Lab D50 with lcms2
 * (output profile -> Lab, relative colorimetric, the same measurement for
 * both) and compared with CIEDE2000: mean < 0.5 and max < 1.5 per case.
 * The figures are printed (docs/colour.md quotes them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "render-color.h"
#include "render.h"
#include "testutil.h"

#define INPUT_SRGB "/usr/share/color/icc/sRGB.icc"
#define ADOBE_RGB  "/usr/share/color/icc/colord/AdobeRGB1998.icc"
#define GS_CMYK    "/usr/share/color/icc/ghostscript/default_cmyk.icc"

#define PATCH      8   /* pixels */
#define CHART_COLS 32  /* patches per row */
#define MAX_PATCH  768 /* upper bound on the chart's patch count */

#define LIMIT_MEAN 0.5
#define LIMIT_MAX  1.5

extern char **environ;

static char *tmpdir;
static char *chart;    /* INPUT_SRGB embedded */
static char *untagged; /* no profile: the agent assumes sRGB, tificc is given lcms2's *sRGB */
static uint8_t patches[MAX_PATCH][3];
static size_t n_patches;
static unsigned chart_w, chart_h;

static void add_patch(uint8_t r, uint8_t g, uint8_t b)
{
        if (n_patches >= MAX_PATCH)
                abort();
        patches[n_patches][0] = r;
        patches[n_patches][1] = g;
        patches[n_patches][2] = b;
        n_patches++;
}

/* The chart's colours: a few hundred patches spanning the sRGB gamut. */
static void make_patches(void)
{
        static const uint8_t grid[] = {0, 43, 85, 128, 170, 213, 255};
        static const uint8_t shadow[] = {0, 4, 8, 16, 24, 32};
        static const uint8_t hue[6][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1},
                                          {0, 1, 1}, {1, 0, 1}, {1, 1, 0}};

        /* 7x7x7 grid over R, G, B. */
        for (size_t r = 0; r < sizeof grid; r++)
                for (size_t g = 0; g < sizeof grid; g++)
                        for (size_t b = 0; b < sizeof grid; b++)
                                add_patch(grid[r], grid[g], grid[b]);
        /* Saturated primaries and secondaries: full, and ramps at 8 levels each. */
        for (int h = 0; h < 6; h++)
                for (int v = 32; v <= 256; v += 32) {
                        uint8_t x = (uint8_t)(v - 1);
                        add_patch(hue[h][0] * x, hue[h][1] * x, hue[h][2] * x);
                }
        /* Primaries and secondaries desaturated towards white and towards grey. */
        for (int h = 0; h < 6; h++)
                for (int t = 64; t <= 192; t += 64) {
                        uint8_t on = 255, off = (uint8_t)t;
                        add_patch(hue[h][0] ? on : off, hue[h][1] ? on : off, hue[h][2] ? on : off);
                }
        /* Near-neutrals: greys every 16 levels, each also nudged +-4 in one channel. */
        for (int v = 8; v <= 248; v += 16) {
                uint8_t g = (uint8_t)v;
                add_patch(g, g, g);
                add_patch((uint8_t)(g + 4), g, g);
                add_patch(g, (uint8_t)(g + 4), g);
                add_patch(g, g, (uint8_t)(g + 4));
                add_patch((uint8_t)(g - 4), (uint8_t)(g - 4), g);
        }
        /* Shadows: a 6x6x6 grid below 33. */
        for (size_t r = 0; r < sizeof shadow; r++)
                for (size_t g = 0; g < sizeof shadow; g++)
                        for (size_t b = 0; b < sizeof shadow; b++)
                                add_patch(shadow[r], shadow[g], shadow[b]);
        /* Skin tones and sky. */
        add_patch(224, 172, 140);
        add_patch(198, 134, 99);
        add_patch(141, 85, 54);
        add_patch(96, 61, 40);
        add_patch(98, 122, 157);
        add_patch(135, 180, 230);
}

/* Write the chart as an 8-bit RGB TIFF, with INPUT_SRGB embedded when embed. */
static void write_chart(const char *path, bool embed)
{
        _cleanup_free_ uint8_t *px = NULL;
        _cleanup_free_ char *icc = NULL;
        VipsImage *mem, *img = NULL;
        size_t icc_len;
        unsigned rows = (unsigned)((n_patches + CHART_COLS - 1) / CHART_COLS);

        chart_w = CHART_COLS * PATCH;
        chart_h = rows * PATCH;
        px = malloc((size_t)chart_w * chart_h * 3);
        assert_non_null(px);
        /* Unused cells at the end are mid grey. */
        memset(px, 128, (size_t)chart_w * chart_h * 3);
        for (size_t i = 0; i < n_patches; i++) {
                unsigned x0 = (unsigned)(i % CHART_COLS) * PATCH;
                unsigned y0 = (unsigned)(i / CHART_COLS) * PATCH;
                for (unsigned y = y0; y < y0 + PATCH; y++)
                        for (unsigned x = x0; x < x0 + PATCH; x++)
                                memcpy(px + ((size_t)y * chart_w + x) * 3, patches[i], 3);
        }

        icc = lab_test_read_file(INPUT_SRGB, &icc_len);
        assert_non_null(icc);
        mem = vips_image_new_from_memory_copy(px, (size_t)chart_w * chart_h * 3, (int)chart_w,
                                              (int)chart_h, 3, VIPS_FORMAT_UCHAR);
        assert_non_null(mem);
        assert_int_equal(vips_copy(mem, &img, "interpretation", VIPS_INTERPRETATION_sRGB, NULL), 0);
        g_object_unref(mem);
        if (embed)
                vips_image_set_blob_copy(img, VIPS_META_ICC_NAME, icc, icc_len);
        if (vips_tiffsave(img, path, NULL) != 0)
                fail_msg("tiffsave %s: %s", path, vips_error_buffer());
        g_object_unref(img);
}

/* Run argv with its output in tmpdir/tool.log (shown on failure); fail unless it exits 0. */
static void run(char *const argv[])
{
        _cleanup_free_ char *log = lab_test_path(tmpdir, "tool.log");
        _cleanup_free_ char *text = NULL;
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status, r;

        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        assert_int_equal(
            posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                fail_msg("cannot run %s: %s (install liblcms2-utils)", argv[0], strerror(r));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                text = lab_test_read_file(log, NULL);
                fail_msg("%s exited with status %d:\n%s", argv[0], status, text ? text : "");
        }
}

/* Render the chart with tificc into out. */
static void tificc(const char *in, const char *in_icc, const char *profile, lab_intent_t intent,
                   bool bpc, unsigned depth, const char *out)
{
        _cleanup_free_ char *iopt = NULL, *oopt = NULL;
        char targ[16], warg[16];

        assert_true(asprintf(&iopt, "-i%s", in_icc) > 0);
        assert_true(asprintf(&oopt, "-o%s", profile) > 0);
        snprintf(targ, sizeof targ, "-t%d", (int)intent);
        snprintf(warg, sizeof warg, "-w%u", depth);
        {
                char *argv[10];
                size_t n = 0;

                argv[n++] = (char *)LAB_TIFICC;
                argv[n++] = iopt;
                argv[n++] = oopt;
                argv[n++] = targ;
                argv[n++] = warg;
                if (bpc)
                        argv[n++] = (char *)"-b";
                argv[n++] = (char *)in;
                argv[n++] = (char *)out;
                argv[n] = NULL;
                run(argv);
        }
}

/* Mean and max ΔE2000 over the patches, and the worst patch. */
static void compare(const cmsCIELab *x, const cmsCIELab *y, double *mean, double *max,
                    size_t *worst)
{
        double sum = 0;

        *max = 0;
        *worst = 0;
        for (size_t i = 0; i < n_patches; i++) {
                double d = cmsCIE2000DeltaE(&x[i], &y[i], 1, 1, 1);
                sum += d;
                if (d > *max) {
                        *max = d;
                        *worst = i;
                }
        }
        *mean = sum / (double)n_patches;
}

/* Centre pixel of every patch of a rendered TIFF, as lcms2 sees it: Lab D50 through profile. */
static void measure(const char *path, const char *profile, cmsCIELab *lab)
{
        cmsHPROFILE out = cmsOpenProfileFromFile(profile, "r");
        cmsHPROFILE pcs = cmsCreateLab4Profile(NULL);
        VipsImage *img = vips_image_new_from_file(path, NULL);
        size_t size = 0, bytes;
        _cleanup_free_ uint8_t *buf = NULL;
        cmsHTRANSFORM t;
        cmsUInt32Number fmt;
        int bands, depth;

        if (!img) {
                print_error("cannot read %s: %s\n", path, vips_error_buffer());
                vips_error_clear();
                fail();
        }
        assert_non_null(out);
        assert_non_null(pcs);
        assert_int_equal(vips_image_get_width(img), (int)chart_w);
        assert_int_equal(vips_image_get_height(img), (int)chart_h);
        bands = vips_image_get_bands(img);
        assert_int_equal(bands, cmsChannelsOf(cmsGetColorSpace(out)));
        switch (vips_image_get_format(img)) {
        case VIPS_FORMAT_UCHAR:
                depth = 1;
                break;
        case VIPS_FORMAT_USHORT:
                depth = 2;
                break;
        default:
                fail_msg("%s: unexpected band format %d", path, vips_image_get_format(img));
                return;
        }
        fmt = cmsFormatterForColorspaceOfProfile(out, (cmsUInt32Number)depth, FALSE);
        t = cmsCreateTransform(out, fmt, pcs, TYPE_Lab_DBL, INTENT_RELATIVE_COLORIMETRIC, 0);
        assert_non_null(t);

        buf = vips_image_write_to_memory(img, &size);
        assert_non_null(buf);
        bytes = (size_t)bands * (size_t)depth;
        assert_int_equal(size, (size_t)chart_w * chart_h * bytes);
        for (size_t i = 0; i < n_patches; i++) {
                size_t x = (i % CHART_COLS) * PATCH + PATCH / 2;
                size_t y = (i / CHART_COLS) * PATCH + PATCH / 2;
                cmsDoTransform(t, buf + (y * chart_w + x) * bytes, &lab[i], 1);
        }

        cmsDeleteTransform(t);
        cmsCloseProfile(pcs);
        cmsCloseProfile(out);
        g_object_unref(img);
}

typedef struct accuracy_case_s {
        const char *name;
        const char *profile;
        lab_intent_t intent;
} accuracy_case_t;

static void one_case(const accuracy_case_t *c, const char *in, const char *in_icc, bool bpc,
                     unsigned depth)
{
        static cmsCIELab agent[MAX_PATCH], ref[MAX_PATCH];
        _cleanup_free_ char *out_agent = NULL, *out_ref = NULL;
        lab_render_params_t p = {0};
        lab_render_audit_t audit;
        lab_error_t err;
        double mean, max;
        size_t worst;
        char base[96];

        snprintf(base, sizeof base, "%s-%d-bpc%d-%u%s", c->name, (int)c->intent, bpc, depth,
                 in == chart ? "" : "-untagged");
        assert_true(asprintf(&out_agent, "%s/%s-agent.tif", tmpdir, base) > 0);
        assert_true(asprintf(&out_ref, "%s/%s-tificc.tif", tmpdir, base) > 0);

        p.input = in;
        p.output = out_agent;
        p.width = chart_w;
        p.height = chart_h;
        p.dpi = 300;
        p.fit = LAB_FIT_EXACT;
        p.crop = NULL;
        p.output_profile = c->profile;
        p.intent = c->intent;
        p.bpc = bpc;
        p.depth = depth;
        p.encoding = LAB_ENCODING_TIFF;
        p.sharpen_sigma = 0;
        if (lab_render(&p, &audit, &err) < 0)
                fail_msg("%s: lab_render: %s: %s", base, err.keyword, err.message);
        assert_int_equal(audit.width, chart_w);
        assert_int_equal(audit.height, chart_h);

        tificc(in, in_icc, c->profile, c->intent, bpc, depth, out_ref);

        measure(out_agent, c->profile, agent);
        measure(out_ref, c->profile, ref);
        compare(agent, ref, &mean, &max, &worst);
        print_message("accuracy %-9s %-10s bpc=%-3s %2u-bit%s: %zu patches, mean dE00 %.4f, "
                      "max %.4f (rgb %u,%u,%u)\n",
                      c->name, lab_intent_name(c->intent), bpc ? "on" : "off", depth,
                      in == chart ? "" : " untagged", n_patches, mean, max, patches[worst][0],
                      patches[worst][1], patches[worst][2]);
        if (mean >= LIMIT_MEAN || max >= LIMIT_MAX)
                fail_msg("%s: mean %.4f (limit %.1f), max %.4f (limit %.1f)", base, mean,
                         LIMIT_MEAN, max, LIMIT_MAX);
}

static accuracy_case_t cases[] = {
    {"adobergb", ADOBE_RGB, LAB_INTENT_PERCEPTUAL}, {"adobergb", ADOBE_RGB, LAB_INTENT_RELATIVE},
    {"adobergb", ADOBE_RGB, LAB_INTENT_SATURATION}, {"adobergb", ADOBE_RGB, LAB_INTENT_ABSOLUTE},
    {"gs-cmyk", GS_CMYK, LAB_INTENT_PERCEPTUAL},    {"gs-cmyk", GS_CMYK, LAB_INTENT_RELATIVE},
    {"gs-cmyk", GS_CMYK, LAB_INTENT_SATURATION},    {"gs-cmyk", GS_CMYK, LAB_INTENT_ABSOLUTE},
};

static void test_accuracy(void **state)
{
        const accuracy_case_t *c = *state;

        for (int bpc = 0; bpc <= 1; bpc++) {
                one_case(c, chart, INPUT_SRGB, bpc, 8);
                one_case(c, chart, INPUT_SRGB, bpc, 16);
        }
}

/*
 * Control: the comparison must be able to see a difference. The reference's
 * relative and absolute colorimetric renders into the CMYK LUT profile differ
 * (its B2A0/1/2 tables are identical, so perceptual and saturation equal
 * relative), and the chart measured through the input profile differs from
 * the CMYK output where sRGB exceeds the printer's gamut. BPC changes the
 * CMYK profile's relative render (its black is not zero), so the BPC cases
 * are discriminating there; for the matrix profile and absolute intent lcms2
 * makes BPC a no-op.
 */
static void test_control_detects_difference(void **state)
{
        static cmsCIELab a[MAX_PATCH], b[MAX_PATCH];
        _cleanup_free_ char *abs = lab_test_path(tmpdir, "control-absolute.tif");
        _cleanup_free_ char *rel = lab_test_path(tmpdir, "control-relative.tif");
        /* A file name of its own: libvips caches loads by file name. */
        _cleanup_free_ char *bpc = lab_test_path(tmpdir, "control-relative-bpc.tif");
        double mean, max;
        size_t worst;

        tificc(chart, INPUT_SRGB, GS_CMYK, LAB_INTENT_ABSOLUTE, false, 16, abs);
        tificc(chart, INPUT_SRGB, GS_CMYK, LAB_INTENT_RELATIVE, false, 16, rel);
        measure(abs, GS_CMYK, a);
        measure(rel, GS_CMYK, b);
        compare(a, b, &mean, &max, &worst);
        print_message("control   gs-cmyk absolute vs relative (tificc): mean dE00 %.4f, max "
                      "%.4f\n",
                      mean, max);
        assert_true(mean > 1.0);

        /* BPC on vs off must differ too, or a render ignoring BPC would pass unnoticed. */
        tificc(chart, INPUT_SRGB, GS_CMYK, LAB_INTENT_RELATIVE, true, 16, bpc);
        measure(bpc, GS_CMYK, a);
        compare(a, b, &mean, &max, &worst);
        print_message("control   gs-cmyk relative bpc on vs off (tificc): mean dE00 %.4f, max "
                      "%.4f\n",
                      mean, max);
        assert_true(max > 1.0);

        measure(chart, INPUT_SRGB, a);
        compare(a, b, &mean, &max, &worst);
        print_message("control   chart in sRGB vs gs-cmyk relative: mean dE00 %.4f, max %.4f\n",
                      mean, max);
        assert_true(max > 5.0);
}

/*
 * An untagged input (most customer JPEGs): the agent's sRGB assumption
 * (libvips' built-in sRGB profile) against tificc with lcms2's built-in
 * *sRGB, relative colorimetric, both output profiles and depths.
 */
static void test_accuracy_untagged(void **state)
{
        for (size_t i = 0; i < 8; i += 4) {
                accuracy_case_t c = cases[i + 1];
                one_case(&c, untagged, "*sRGB", false, 8);
                one_case(&c, untagged, "*sRGB", false, 16);
        }
}

static int setup(void **state)
{
        lab_error_t err;

        tmpdir = lab_test_mkdtemp("color-accuracy");
        chart = lab_test_path(tmpdir, "chart.tif");
        make_patches();
        write_chart(chart, true);
        untagged = lab_test_path(tmpdir, "chart-untagged.tif");
        write_chart(untagged, false);
        print_message("chart %s: %zu patches of %dx%d, %ux%u pixels\n", chart, n_patches, PATCH,
                      PATCH, chart_w, chart_h);
        /* The profiles under test must pass the agent's own check first. */
        if (lab_color_check_output_profile(ADOBE_RGB, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL,
                                           &err) < 0 ||
            lab_color_check_output_profile(GS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL,
                                           &err) < 0) {
                fprintf(stderr, "%s: %s\n", err.keyword, err.message);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(tmpdir);
        free(tmpdir);
        free(chart);
        free(untagged);
        return 0;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_control_detects_difference),
            cmocka_unit_test_prestate(test_accuracy, &cases[0]),
            cmocka_unit_test_prestate(test_accuracy, &cases[1]),
            cmocka_unit_test_prestate(test_accuracy, &cases[2]),
            cmocka_unit_test_prestate(test_accuracy, &cases[3]),
            cmocka_unit_test_prestate(test_accuracy, &cases[4]),
            cmocka_unit_test_prestate(test_accuracy, &cases[5]),
            cmocka_unit_test_prestate(test_accuracy, &cases[6]),
            cmocka_unit_test_prestate(test_accuracy, &cases[7]),
            cmocka_unit_test(test_accuracy_untagged),
        };
        int r;

        r = lab_render_init(argv[0], 1, 64 * 1024 * 1024);
        if (r < 0) {
                fprintf(stderr, "lab_render_init: %s\n", strerror(-r));
                return 1;
        }
        r = cmocka_run_group_tests(tests, setup, teardown);
        lab_render_shutdown();
        return r;
}
