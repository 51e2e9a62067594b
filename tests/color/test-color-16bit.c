/*
 * test-color-16bit.c - 16-bit print masters keep their 16 bits up to the ICC
 * transform (issue 14). The colour-accuracy test (test-color-accuracy.c)
 * could not see a master cut to 8 bits: its 16-bit values are all multiples
 * of 257, which survive the cut. This one can.
 *
 * A chart is generated at test time: a 16-bit RGB TIFF of 12x12-pixel
 * patches whose values are never multiples of 257 (shadow ramps, neutral
 * and single-channel, a coarse grid with odd offsets, pseudo-random colours),
 * with colord's ProPhotoRGB.icc embedded, as pro labs send. lab_render()
 * renders it into colord's WideGamutRGB.icc (RGB matrix, every intent) and
 * ghostscript's ps_cmyk.icc (CMYK LUT, v4, perceptual only: its one table),
 * BPC off and on, 16-bit TIFF out, through each geometry path (vips_thumbnail;
 * a crop box; a turn to the paper with sharpening). The reference is lcms2
 * itself (cmsCreateTransform, TYPE_RGB_16 in, 16-bit out, same intent and
 * BPC) on the chart's exact values. Patch centres of both are taken to Lab
 * D50 through the output profile (relative colorimetric, the same measurement
 * for both) and compared with CIEDE2000: max <= 0.5 per case. Without
 * sharpening the render equals lcms2 (ΔE 0); sharpening moves a patch centre
 * by a code or two (vips_sharpen works in LabS), not by the 257 codes of an
 * 8-bit cut. Before the fix of issue 14 the worst case was 1.17 (16-bit
 * paper) and 9.49 (8-bit CMYK paper).
 *
 * Also: 16-bit masters into 8-bit paper (ΔE, same limit); 8-bit masters into
 * 16-bit paper are exact: bit for bit lcms2's TYPE_RGB_8 -> 16-bit transform
 * of the same 8-bit values (what libvips and tificc -w16 do). Promoting them
 * to 16 bits first (v * 257) would not be: lcms2 then optimises into a
 * 16-bit CLUT, up to 0.57 ΔE2000 from its 8-bit-input transform here, which
 * is the closer of the two to an unoptimised float transform in the shadows.
 * A 1024-level 16-bit ramp (grey PNG with alpha, turned and sharpened; a TIFF
 * stored turned, EXIF orientation 6) keeps more than 256 distinct levels.
 * And the audit says at which depth the transform ran (transform_depth).
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
#include <jansson.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "render-color.h"
#include "render.h"
#include "testutil.h"

#define PROPHOTO   "/usr/share/color/icc/colord/ProPhotoRGB.icc"
#define WIDE_GAMUT "/usr/share/color/icc/colord/WideGamutRGB.icc"
#define PS_CMYK    "/usr/share/color/icc/ghostscript/ps_cmyk.icc"

#define PATCH      12  /* pixels; the centre is 6 from either edge, clear of sharpening */
#define CHART_COLS 32  /* patches per row */
#define MAX_PATCH  640 /* upper bound on the chart's patch count */

#define LIMIT_MAX 0.5 /* ΔE2000, every patch centre */

typedef enum geometry_e {
        GEOMETRY_THUMBNAIL, /* no crop box: the vips_thumbnail path for 8-bit masters */
        GEOMETRY_CROP,      /* a crop box (the whole chart): load, cut, resize */
        GEOMETRY_TURN,      /* portrait paper for the landscape chart, and sharpening */
} geometry_t;

static const char *const geometry_name[] = {"thumbnail", "crop-box", "turn+sharpen"};

static char *tmpdir;
static char *chart16; /* 16-bit, PROPHOTO embedded */
static char *chart8;  /* the same patches rounded to 8 bits, PROPHOTO embedded */
static uint16_t patches[MAX_PATCH][3];
static uint8_t patches8[MAX_PATCH][3];
static size_t n_patches;
static unsigned chart_w, chart_h;
static unsigned renders; /* output file names must be fresh: libvips caches loads by name */

/* Never a multiple of 257: those survive a cut to 8 bits and back unchanged. */
static uint16_t off257(unsigned v)
{
        if (v > 65535)
                v = 65535;
        if (v % 257 == 0)
                v = v == 65535 ? 65534 : v + 1;
        return (uint16_t)v;
}

static void add_patch(unsigned r, unsigned g, unsigned b)
{
        if (n_patches >= MAX_PATCH)
                abort();
        patches[n_patches][0] = off257(r);
        patches[n_patches][1] = off257(g);
        patches[n_patches][2] = off257(b);
        for (int c = 0; c < 3; c++)
                patches8[n_patches][c] = (uint8_t)((patches[n_patches][c] + 128) / 257);
        n_patches++;
}

/* The chart: where 8 bits lose most (shadows) and colours over the whole cube. */
static void make_patches(void)
{
        static const unsigned grid[] = {0, 9000, 21000, 33000, 45000, 57000, 65535};
        uint32_t seed = 14;

        /* Neutral shadow ramp: 1 to ~6000 in 64 growing steps. */
        for (unsigned k = 1; k <= 64; k++)
                add_patch(k * k * 3 / 2 + 37, k * k * 3 / 2 + 37, k * k * 3 / 2 + 37);
        /* Single-channel and two-channel shadow ramps. */
        for (unsigned k = 1; k <= 24; k++) {
                unsigned v = k * 170 + 53;

                add_patch(v, 0, 0);
                add_patch(0, v, 0);
                add_patch(0, 0, v);
                add_patch(v, v, 0);
                add_patch(0, v, v);
                add_patch(v, 0, v);
        }
        /* Near-neutral shadows: a grey with one channel nudged. */
        for (unsigned v = 300; v < 8000; v += 777) {
                add_patch(v + 200, v, v);
                add_patch(v, v + 200, v);
                add_patch(v, v, v + 200);
        }
        /* A coarse 7x7x7 grid with odd offsets. */
        for (size_t r = 0; r < ELEMENTSOF(grid); r++)
                for (size_t g = 0; g < ELEMENTSOF(grid); g++)
                        for (size_t b = 0; b < ELEMENTSOF(grid); b++)
                                add_patch(grid[r] + 101, grid[g] + 67, grid[b] + 31);
        /* Pseudo-random colours (a fixed LCG: the same chart every run). */
        while (n_patches < 600) {
                unsigned c[3];

                for (int i = 0; i < 3; i++) {
                        seed = seed * 1664525u + 1013904223u;
                        c[i] = seed >> 16;
                }
                add_patch(c[0], c[1], c[2]);
        }
}

/* Write the chart (16-bit, or its 8-bit rounding) as an RGB TIFF with PROPHOTO embedded. */
static void write_chart(const char *path, bool deep)
{
        _cleanup_free_ char *icc = NULL;
        _cleanup_free_ uint8_t *px = NULL;
        size_t icc_len, bps = deep ? 2 : 1, row;
        unsigned rows = (unsigned)((n_patches + CHART_COLS - 1) / CHART_COLS);
        VipsImage *mem, *img = NULL;

        chart_w = CHART_COLS * PATCH;
        chart_h = rows * PATCH;
        row = (size_t)chart_w * 3 * bps;
        px = calloc((size_t)chart_h, row);
        assert_non_null(px);
        /* Unused cells at the end stay black. */
        for (size_t i = 0; i < n_patches; i++) {
                unsigned x0 = (unsigned)(i % CHART_COLS) * PATCH;
                unsigned y0 = (unsigned)(i / CHART_COLS) * PATCH;

                for (unsigned y = y0; y < y0 + PATCH; y++)
                        for (unsigned x = x0; x < x0 + PATCH; x++) {
                                uint8_t *o = px + y * row + (size_t)x * 3 * bps;

                                if (deep)
                                        memcpy(o, patches[i], 6); /* host order, as vips wants */
                                else
                                        memcpy(o, patches8[i], 3);
                        }
        }
        icc = lab_test_read_file(PROPHOTO, &icc_len);
        assert_non_null(icc);
        mem = vips_image_new_from_memory_copy(px, (size_t)chart_h * row, (int)chart_w, (int)chart_h,
                                              3, deep ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR);
        assert_non_null(mem);
        assert_int_equal(vips_copy(mem, &img, "interpretation",
                                   deep ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB,
                                   NULL),
                         0);
        g_object_unref(mem);
        vips_image_set_blob_copy(img, VIPS_META_ICC_NAME, icc, icc_len);
        if (vips_tiffsave(img, path, NULL) != 0)
                fail_msg("tiffsave %s: %s", path, vips_error_buffer());
        g_object_unref(img);
}

/* Device values → Lab D50 through the output profile (relative colorimetric). */
static void to_lab(const char *profile, const void *px, cmsUInt32Number bytes, size_t n,
                   cmsCIELab *lab)
{
        cmsHPROFILE out = cmsOpenProfileFromFile(profile, "r");
        cmsHPROFILE pcs = cmsCreateLab4Profile(NULL);
        cmsHTRANSFORM t;

        assert_non_null(out);
        assert_non_null(pcs);
        t = cmsCreateTransform(out, cmsFormatterForColorspaceOfProfile(out, bytes, FALSE), pcs,
                               TYPE_Lab_DBL, INTENT_RELATIVE_COLORIMETRIC, 0);
        assert_non_null(t);
        cmsDoTransform(t, px, lab, (cmsUInt32Number)n);
        cmsDeleteTransform(t);
        cmsCloseProfile(pcs);
        cmsCloseProfile(out);
}

/*
 * The reference: lcms2 on the patches' values, PROPHOTO → profile, into
 * out_bytes per sample (n_patches pixels, chunky). in_bytes 2: the 16-bit
 * values; 1: their 8-bit rounding; 3: that rounding promoted to 16 (v * 257).
 */
static void *reference(const char *profile, lab_intent_t intent, bool bpc, int in_bytes,
                       cmsUInt32Number out_bytes)
{
        static uint16_t promoted[MAX_PATCH][3];
        cmsHPROFILE in = cmsOpenProfileFromFile(PROPHOTO, "r");
        cmsHPROFILE out = cmsOpenProfileFromFile(profile, "r");
        cmsUInt32Number ofmt;
        cmsHTRANSFORM t;
        const void *src = patches;
        void *dst;

        assert_non_null(in);
        assert_non_null(out);
        ofmt = cmsFormatterForColorspaceOfProfile(out, out_bytes, FALSE);
        dst = calloc(n_patches, (size_t)T_CHANNELS(ofmt) * out_bytes);
        assert_non_null(dst);
        if (in_bytes == 1)
                src = patches8;
        else if (in_bytes == 3) {
                for (size_t i = 0; i < n_patches; i++)
                        for (int c = 0; c < 3; c++)
                                promoted[i][c] = (uint16_t)(patches8[i][c] * 257);
                src = promoted;
        }
        t = cmsCreateTransform(in, in_bytes == 1 ? TYPE_RGB_8 : TYPE_RGB_16, out, ofmt,
                               (cmsUInt32Number)intent, bpc ? cmsFLAGS_BLACKPOINTCOMPENSATION : 0);
        assert_non_null(t);
        cmsDoTransform(t, src, dst, (cmsUInt32Number)n_patches);
        cmsDeleteTransform(t);
        cmsCloseProfile(out);
        cmsCloseProfile(in);
        return dst;
}

/*
 * The centre pixel of every patch of a rendered TIFF (malloc'd, n_patches
 * pixels, chunky), *bytes per sample. turned: the chart was turned 90°
 * clockwise onto portrait paper.
 */
static void *centres(const char *path, const char *profile, bool turned, cmsUInt32Number *bytes)
{
        cmsHPROFILE out = cmsOpenProfileFromFile(profile, "r");
        VipsImage *img = vips_image_new_from_file(path, NULL);
        size_t size = 0, px, w;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t *ret;
        int bands;

        if (!img)
                fail_msg("cannot read %s: %s", path, vips_error_buffer());
        assert_non_null(out);
        bands = vips_image_get_bands(img);
        assert_int_equal(bands, cmsChannelsOf(cmsGetColorSpace(out)));
        cmsCloseProfile(out);
        w = turned ? chart_h : chart_w;
        assert_int_equal(vips_image_get_width(img), (int)w);
        assert_int_equal(vips_image_get_height(img), (int)(turned ? chart_w : chart_h));
        *bytes = 0;
        switch (vips_image_get_format(img)) {
        case VIPS_FORMAT_UCHAR:
                *bytes = 1;
                break;
        case VIPS_FORMAT_USHORT:
                *bytes = 2;
                break;
        default:
                fail_msg("%s: unexpected band format %d", path, vips_image_get_format(img));
        }
        buf = vips_image_write_to_memory(img, &size);
        assert_non_null(buf);
        px = (size_t)bands * *bytes;
        assert_int_equal(size, w * (turned ? chart_w : chart_h) * px);
        ret = malloc(n_patches * px);
        assert_non_null(ret);
        for (size_t i = 0; i < n_patches; i++) {
                size_t x = (i % CHART_COLS) * PATCH + PATCH / 2;
                size_t y = (i / CHART_COLS) * PATCH + PATCH / 2;

                if (turned) {
                        /* 90° clockwise: (x, y) lands at (H - 1 - y, x). */
                        size_t tx = chart_h - 1 - y;

                        y = x;
                        x = tx;
                }
                memcpy(ret + i * px, buf + (y * w + x) * px, px);
        }
        g_object_unref(img);
        return ret;
}

/* Max ΔE2000 over the patches, its patch and the mean. */
static double compare(const cmsCIELab *x, const cmsCIELab *y, size_t *worst, double *mean)
{
        double max = 0, sum = 0;

        *worst = 0;
        for (size_t i = 0; i < n_patches; i++) {
                double d = cmsCIE2000DeltaE(&x[i], &y[i], 1, 1, 1);

                sum += d;
                if (d > max) {
                        max = d;
                        *worst = i;
                }
        }
        *mean = sum / (double)n_patches;
        return max;
}

typedef struct render_case_s {
        const char *name;
        const char *profile;
        lab_intent_t intent;
} render_case_t;

/* Render in with lab_render() into a fresh TIFF path (returned) at depth; the audit in *a. */
static char *render(const render_case_t *c, const char *in, bool bpc, unsigned depth,
                    geometry_t geo, lab_render_audit_t *a)
{
        lab_render_params_t p = {0};
        lab_crop_t whole = {0, 0, chart_w, chart_h};
        lab_error_t err;
        char *out;

        assert_true(asprintf(&out, "%s/out-%u.tif", tmpdir, renders++) > 0);
        p.input = in;
        p.output = out;
        p.width = geo == GEOMETRY_TURN ? chart_h : chart_w;
        p.height = geo == GEOMETRY_TURN ? chart_w : chart_h;
        p.dpi = 300;
        p.fit = LAB_FIT_EXACT;
        p.crop = geo == GEOMETRY_CROP ? &whole : NULL;
        p.output_profile = c->profile;
        p.intent = c->intent;
        p.bpc = bpc;
        p.depth = depth;
        p.encoding = LAB_ENCODING_TIFF;
        p.sharpen_sigma = geo == GEOMETRY_TURN ? 0.8 : 0;
        if (lab_render(&p, a, &err) < 0)
                fail_msg("%s: lab_render: %s: %s", out, err.keyword, err.message);
        assert_int_equal(a->rotated, geo == GEOMETRY_TURN);
        return out;
}

/* The audit's transform depth, as the JSON record gives it. */
static void expect_transform_depth(const lab_render_audit_t *a, int want)
{
        json_error_t jerr;
        json_t *j;
        char *s;

        assert_int_equal(a->transform_depth, want);
        s = lab_render_audit_json(a);
        assert_non_null(s);
        j = json_loads(s, 0, &jerr);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "transform_depth")), want);
        json_decref(j);
        free(s);
}

/*
 * One 16-bit render against lcms2's 16-bit transform: max ΔE2000 <= LIMIT_MAX
 * (printed either way; false when over, so that a test prints every case
 * before it fails).
 */
static bool one_case(const render_case_t *c, bool bpc, unsigned depth, geometry_t geo)
{
        static cmsCIELab agent[MAX_PATCH], ref[MAX_PATCH];
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ void *dev = NULL, *want = NULL;
        lab_render_audit_t a;
        cmsUInt32Number bytes;
        double max, mean;
        size_t worst;

        out = render(c, chart16, bpc, depth, geo, &a);
        expect_transform_depth(&a, 16);
        dev = centres(out, c->profile, geo == GEOMETRY_TURN, &bytes);
        assert_int_equal(bytes, depth / 8);
        want = reference(c->profile, c->intent, bpc, 2, bytes);
        to_lab(c->profile, dev, bytes, n_patches, agent);
        to_lab(c->profile, want, bytes, n_patches, ref);
        max = compare(agent, ref, &worst, &mean);
        print_message("16-bit %-10s %-10s bpc=%-3s -> %2u-bit %-12s: %zu patches, mean dE00 "
                      "%.4f, max %.4f (rgb16 %u,%u,%u)\n",
                      c->name, lab_intent_name(c->intent), bpc ? "on" : "off", depth,
                      geometry_name[geo], n_patches, mean, max, patches[worst][0],
                      patches[worst][1], patches[worst][2]);
        (void)unlink(out);
        if (max > LIMIT_MAX) {
                print_error("%s %s bpc=%d %u-bit %s: max dE00 %.4f over the limit %.1f\n", c->name,
                            lab_intent_name(c->intent), bpc, depth, geometry_name[geo], max,
                            LIMIT_MAX);
                return false;
        }
        return true;
}

static const render_case_t cases[] = {
    {"widegamut", WIDE_GAMUT, LAB_INTENT_PERCEPTUAL},
    {"widegamut", WIDE_GAMUT, LAB_INTENT_RELATIVE},
    {"widegamut", WIDE_GAMUT, LAB_INTENT_SATURATION},
    {"widegamut", WIDE_GAMUT, LAB_INTENT_ABSOLUTE},
    {"ps-cmyk", PS_CMYK, LAB_INTENT_PERCEPTUAL},
};

/* 16-bit master → 16-bit paper, every geometry path, BPC off and on. */
static void test_16_to_16(void **state)
{
        const render_case_t *c = *state;
        bool ok = true;

        for (int bpc = 0; bpc <= 1; bpc++)
                for (geometry_t g = GEOMETRY_THUMBNAIL; g <= GEOMETRY_TURN; g++)
                        ok &= one_case(c, bpc, 16, g);
        assert_true(ok);
}

/* 16-bit master → 8-bit paper: the transform still reads 16 bits, rounding happens once. */
static void test_16_to_8(void **state)
{
        const render_case_t *c = *state;
        bool ok = true;

        ok &= one_case(c, false, 8, GEOMETRY_THUMBNAIL);
        ok &= one_case(c, true, 8, GEOMETRY_CROP);
        assert_true(ok);
}

/*
 * 8-bit master → 16-bit paper is exact: every patch centre equals, code for
 * code, lcms2's transform of the same 8-bit values read as TYPE_RGB_8 into
 * 16 bits. Also printed: how far that is from lcms2 on the values promoted
 * to 16 bits (v * 257) — a different lcms2 optimisation, not a loss.
 */
static void test_8_to_16_exact(void **state)
{
        static cmsCIELab x[MAX_PATCH], y[MAX_PATCH];
        const render_case_t *c = *state;

        for (geometry_t g = GEOMETRY_THUMBNAIL; g <= GEOMETRY_CROP; g++)
                for (int bpc = 0; bpc <= 1; bpc++) {
                        _cleanup_free_ char *out = NULL;
                        _cleanup_free_ uint16_t *dev = NULL, *want = NULL, *promoted = NULL;
                        lab_render_audit_t a;
                        cmsUInt32Number bytes;
                        size_t n, worst;
                        unsigned diff = 0, pdiff = 0;
                        double mean, max;

                        out = render(c, chart8, bpc, 16, g, &a);
                        expect_transform_depth(&a, 8);
                        dev = centres(out, c->profile, false, &bytes);
                        assert_int_equal(bytes, 2);
                        want = reference(c->profile, c->intent, bpc, 1, 2);
                        promoted = reference(c->profile, c->intent, bpc, 3, 2);
                        n = n_patches * (size_t)cmsChannelsOf(strcmp(c->profile, PS_CMYK) == 0
                                                                  ? cmsSigCmykData
                                                                  : cmsSigRgbData);
                        for (size_t i = 0; i < n; i++) {
                                unsigned d = (unsigned)abs((int)dev[i] - (int)want[i]);
                                unsigned e = (unsigned)abs((int)dev[i] - (int)promoted[i]);

                                diff = d > diff ? d : diff;
                                pdiff = e > pdiff ? e : pdiff;
                        }
                        to_lab(c->profile, dev, 2, n_patches, x);
                        to_lab(c->profile, promoted, 2, n_patches, y);
                        max = compare(x, y, &worst, &mean);
                        print_message("8-bit  %-10s %-10s bpc=%-3s -> 16-bit %-12s: max code "
                                      "diff %u vs lcms2 8->16; vs promoted 16->16: %u codes, "
                                      "max dE00 %.4f\n",
                                      c->name, lab_intent_name(c->intent), bpc ? "on" : "off",
                                      geometry_name[g], diff, pdiff, max);
                        assert_int_equal(diff, 0);
                        (void)unlink(out);
                }
}

/*
 * A 16-bit ramp (1024 levels) through the other 16-bit cases of the pipeline:
 * an untagged grey PNG with alpha (flatten, grey to RGB16), turned onto the
 * paper with sharpening; a TIFF stored with EXIF-style orientation 6 (turned
 * upright on load), fill. 8 bits would leave at most 256 distinct output
 * values along the ramp; 16 bits keep nearly all 1024.
 */
static void test_ramp_depth(void **state)
{
        static const struct {
                const char *file;
                int bands, orientation;
                unsigned width, height; /* the paper */
                double sharpen;
        } ramps[] = {
            {"ramp-grey-alpha.png", 2, 1, 64, 1024, 0.8},
            {"ramp-rgb-o6.tif", 3, 6, 1024, 64, 0},
        };

        (void)state;
        for (size_t k = 0; k < ELEMENTSOF(ramps); k++) {
                _cleanup_free_ char *in = lab_test_path(tmpdir, ramps[k].file);
                _cleanup_free_ char *out = NULL;
                _cleanup_free_ uint16_t *px = NULL, *got = NULL;
                size_t n = (size_t)ramps[k].bands * 1024 * 64, size = 0, distinct = 0;
                bool turned = ramps[k].orientation == 6;
                lab_render_params_t p = {0};
                lab_render_audit_t a;
                lab_error_t err;
                VipsImage *mem, *img = NULL;
                uint16_t last = 0;

                /* Upright it is 1024 wide, 64 high; orientation 6 stores it turned. */
                px = malloc(n * 2);
                assert_non_null(px);
                for (size_t y = 0; y < 64; y++)
                        for (size_t x = 0; x < 1024; x++)
                                for (int b = 0; b < ramps[k].bands; b++) {
                                        size_t sx = turned ? y : x, sy = turned ? 1023 - x : y;
                                        size_t w = turned ? 64 : 1024;

                                        px[(sy * w + sx) * (size_t)ramps[k].bands + (size_t)b] =
                                            b == 1 && ramps[k].bands == 2
                                                ? 65535
                                                : off257((unsigned)(x * 64 + 17));
                                }
                mem = vips_image_new_from_memory_copy(px, n * 2, turned ? 64 : 1024,
                                                      turned ? 1024 : 64, ramps[k].bands,
                                                      VIPS_FORMAT_USHORT);
                assert_non_null(mem);
                assert_int_equal(vips_copy(mem, &img, "interpretation",
                                           ramps[k].bands == 2 ? VIPS_INTERPRETATION_GREY16
                                                               : VIPS_INTERPRETATION_RGB16,
                                           NULL),
                                 0);
                g_object_unref(mem);
                if (turned)
                        vips_image_set_int(img, VIPS_META_ORIENTATION, 6);
                if (vips_image_write_to_file(img, in, NULL) != 0)
                        fail_msg("save %s: %s", in, vips_error_buffer());
                g_object_unref(img);

                assert_true(asprintf(&out, "%s/ramp-%zu.tif", tmpdir, k) > 0);
                p.input = in;
                p.output = out;
                p.width = ramps[k].width;
                p.height = ramps[k].height;
                p.dpi = 300;
                p.fit = LAB_FIT_FILL;
                p.output_profile = WIDE_GAMUT;
                p.intent = LAB_INTENT_RELATIVE;
                p.depth = 16;
                p.encoding = LAB_ENCODING_TIFF;
                p.sharpen_sigma = ramps[k].sharpen;
                if (lab_render(&p, &a, &err) < 0)
                        fail_msg("%s: lab_render: %s: %s", in, err.keyword, err.message);
                expect_transform_depth(&a, 16);
                assert_int_equal(a.orientation, ramps[k].orientation);
                assert_int_equal(a.rotated, ramps[k].width < ramps[k].height);

                img = vips_image_new_from_file(out, NULL);
                assert_non_null(img);
                assert_int_equal(vips_image_get_format(img), VIPS_FORMAT_USHORT);
                assert_int_equal(vips_image_get_bands(img), 3);
                assert_int_equal(vips_image_get_width(img), (int)ramps[k].width);
                assert_int_equal(vips_image_get_height(img), (int)ramps[k].height);
                got = vips_image_write_to_memory(img, &size);
                assert_non_null(got);
                g_object_unref(img);
                /* Band 0 along the ramp: down the middle column when turned, else a row. */
                for (size_t i = 0; i < 1024; i++) {
                        size_t at = a.rotated ? (i * 64 + 32) * 3 : (32 * 1024 + i) * 3;
                        uint16_t v = got[at];

                        if (i == 0 || v != last)
                                distinct++;
                        last = v;
                }
                print_message("ramp %-20s -> %ux%u%s: %zu distinct 16-bit levels of 1024\n",
                              ramps[k].file, ramps[k].width, ramps[k].height,
                              a.rotated ? " (turned)" : "", distinct);
                assert_true(distinct > 768);
        }
}

/*
 * Control: the measurement must see an 8-bit cut. lcms2 on the chart cut to
 * 8 bits (v >> 8, what libvips' 16 → 8 conversion does) against lcms2 on
 * the 16-bit values, into the wide-gamut profile: over the limit.
 */
static void test_control_detects_cut(void **state)
{
        static uint16_t saved[MAX_PATCH][3];
        static cmsCIELab x[MAX_PATCH], y[MAX_PATCH];
        _cleanup_free_ void *full = NULL, *cut = NULL;
        size_t worst;
        double max, mean;

        (void)state;
        full = reference(WIDE_GAMUT, LAB_INTENT_RELATIVE, false, 2, 2);
        memcpy(saved, patches, sizeof saved);
        for (size_t i = 0; i < n_patches; i++)
                for (int c = 0; c < 3; c++)
                        patches[i][c] = (uint16_t)((patches[i][c] >> 8) * 257);
        cut = reference(WIDE_GAMUT, LAB_INTENT_RELATIVE, false, 2, 2);
        memcpy(patches, saved, sizeof saved);
        to_lab(WIDE_GAMUT, full, 2, n_patches, x);
        to_lab(WIDE_GAMUT, cut, 2, n_patches, y);
        max = compare(x, y, &worst, &mean);
        print_message("control 16-bit vs cut to 8 bits (lcms2, widegamut relative): mean dE00 "
                      "%.4f, max %.4f (rgb16 %u,%u,%u)\n",
                      mean, max, patches[worst][0], patches[worst][1], patches[worst][2]);
        assert_true(max > 2 * LIMIT_MAX);
}

static int setup(void **state)
{
        lab_error_t err;

        (void)state;
        tmpdir = lab_test_mkdtemp("color-16bit");
        chart16 = lab_test_path(tmpdir, "chart16.tif");
        chart8 = lab_test_path(tmpdir, "chart8.tif");
        make_patches();
        write_chart(chart16, true);
        write_chart(chart8, false);
        print_message("chart %s: %zu patches of %dx%d, %ux%u pixels, 16-bit ProPhoto\n", chart16,
                      n_patches, PATCH, PATCH, chart_w, chart_h);
        /* The output profiles must pass the agent's own check first. */
        if (lab_color_check_output_profile(WIDE_GAMUT, LAB_COLORSPACE_RGB, LAB_INTENT_PERCEPTUAL,
                                           &err) < 0 ||
            lab_color_check_output_profile(PS_CMYK, LAB_COLORSPACE_CMYK, LAB_INTENT_PERCEPTUAL,
                                           &err) < 0) {
                fprintf(stderr, "%s: %s\n", err.keyword, err.message);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        lab_test_rm_rf(tmpdir);
        free(tmpdir);
        free(chart16);
        free(chart8);
        return 0;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_control_detects_cut),
            cmocka_unit_test(test_ramp_depth),
            cmocka_unit_test_prestate(test_16_to_16, (void *)&cases[0]),
            cmocka_unit_test_prestate(test_16_to_16, (void *)&cases[1]),
            cmocka_unit_test_prestate(test_16_to_16, (void *)&cases[2]),
            cmocka_unit_test_prestate(test_16_to_16, (void *)&cases[3]),
            cmocka_unit_test_prestate(test_16_to_16, (void *)&cases[4]),
            cmocka_unit_test_prestate(test_16_to_8, (void *)&cases[1]),
            cmocka_unit_test_prestate(test_16_to_8, (void *)&cases[4]),
            cmocka_unit_test_prestate(test_8_to_16_exact, (void *)&cases[1]),
            cmocka_unit_test_prestate(test_8_to_16_exact, (void *)&cases[4]),
        };
        int r;

        (void)argc;
        r = lab_render_init(argv[0], 1, 64 * 1024 * 1024);
        if (r < 0) {
                fprintf(stderr, "lab_render_init: %s\n", strerror(-r));
                return 1;
        }
        r = cmocka_run_group_tests(tests, setup, teardown);
        lab_render_shutdown();
        return r;
}
