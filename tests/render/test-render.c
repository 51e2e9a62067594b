/*
 * test-render.c - lab_render() on fixtures generated here with libvips and
 * real Debian ICC profiles: geometry (sizes × fits × orientations), EXIF
 * orientations 1..8, metadata stripping (exiftool), bad inputs (each its own
 * keyword), audit JSON, reproducibility, the hand-written PWG raster, and
 * each print file format through the real CUPS filters that consume it
 * (cups-filters 1.28, cups 2.4: imagetoraster, imagetopdf, rastertopdf and
 * libcups' raster reader).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cups/raster.h>
#include <jansson.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "render-color.h"
#include "render-private.h"
#include "render.h"
#include "testutil.h"

#define ADOBE_RGB "/usr/share/color/icc/colord/AdobeRGB1998.icc"
#define GS_CMYK   "/usr/share/color/icc/ghostscript/default_cmyk.icc"

static char *dir;

static char *path_of(const char *name)
{
        return lab_test_path(dir, name);
}

/* An upright w×h RGB picture: dark with a bright top-left quadrant and a gentle gradient. */
static uint8_t upright(unsigned x, unsigned y, unsigned w, unsigned h, unsigned band)
{
        if (x < w / 2 && y < h / 2)
                return 230;
        return (uint8_t)(30 + (x * 20 / w) + band * 5);
}

/*
 * Save the upright picture (w×h) stored as EXIF orientation o would store it
 * (EXIF 2.3 §4.6.4: where the stored row 0 / column 0 go), tagged with o.
 */
static void make_oriented_jpeg(const char *path, unsigned w, unsigned h, int o)
{
        bool swap = o >= 5;
        unsigned sw = swap ? h : w, sh = swap ? w : h;
        uint8_t *buf = malloc((size_t)sw * sh * 3);
        VipsImage *img;

        assert_non_null(buf);
        for (unsigned sy = 0; sy < sh; sy++)
                for (unsigned sx = 0; sx < sw; sx++) {
                        unsigned x, y;

                        switch (o) {
                        case 2:
                                x = w - 1 - sx, y = sy;
                                break;
                        case 3:
                                x = w - 1 - sx, y = h - 1 - sy;
                                break;
                        case 4:
                                x = sx, y = h - 1 - sy;
                                break;
                        case 5:
                                x = sy, y = sx;
                                break;
                        case 6:
                                x = w - 1 - sy, y = sx;
                                break;
                        case 7:
                                x = w - 1 - sy, y = h - 1 - sx;
                                break;
                        case 8:
                                x = sy, y = h - 1 - sx;
                                break;
                        default:
                                x = sx, y = sy;
                                break;
                        }
                        for (unsigned b = 0; b < 3; b++)
                                buf[((size_t)sy * sw + sx) * 3 + b] = upright(x, y, w, h, b);
                }
        img = vips_image_new_from_memory_copy(buf, (size_t)sw * sh * 3, (int)sw, (int)sh, 3,
                                              VIPS_FORMAT_UCHAR);
        free(buf);
        assert_non_null(img);
        img->Type = VIPS_INTERPRETATION_sRGB;
        if (o > 1)
                vips_image_set_int(img, VIPS_META_ORIENTATION, o);
        assert_int_equal(vips_jpegsave(img, path, "Q", 90, NULL), 0);
        g_object_unref(img);
}

/* A w×h noisy image with bands bands (3: sRGB, 4: CMYK), optionally with an ICC blob. */
static void make_noise(const char *path, unsigned w, unsigned h, int bands, const void *icc,
                       size_t icc_len)
{
        VipsImage *n = NULL, *c = NULL;

        assert_int_equal(vips_gaussnoise(&n, (int)w, (int)h, "mean", 128.0, "sigma", 40.0, NULL),
                         0);
        if (bands > 1) {
                VipsImage *v[4] = {n, n, n, n};

                assert_int_equal(vips_bandjoin(v, &c, bands, NULL), 0);
        } else
                c = g_object_ref(n);
        g_object_unref(n);
        assert_int_equal(vips_cast(c, &n, VIPS_FORMAT_UCHAR, NULL), 0);
        g_object_unref(c);
        n->Type = bands == 4 ? VIPS_INTERPRETATION_CMYK : VIPS_INTERPRETATION_sRGB;
        if (icc)
                vips_image_set_blob_copy(n, VIPS_META_ICC_NAME, icc, icc_len);
        assert_int_equal(vips_image_write_to_file(n, path, NULL), 0);
        g_object_unref(n);
}

static lab_render_params_t params(const char *in, const char *out, unsigned w, unsigned h,
                                  lab_fit_t fit)
{
        return (lab_render_params_t){
            .input = in,
            .output = out,
            .width = w,
            .height = h,
            .dpi = 300,
            .fit = fit,
            .output_profile = ADOBE_RGB,
            .intent = LAB_INTENT_RELATIVE,
            .bpc = true,
            .depth = 8,
            .encoding = LAB_ENCODING_JPEG,
            .max_input_bytes = 200 * 1024 * 1024,
            .max_input_pixels = 100 * 1000 * 1000,
        };
}

/* Mean of band 0 over a box of the image at path. */
static double box_mean(const char *path, int x, int y, int w, int h)
{
        VipsImage *img = vips_image_new_from_file(path, NULL), *box = NULL, *b0 = NULL;
        double m = -1;

        assert_non_null(img);
        assert_int_equal(vips_extract_area(img, &box, x, y, w, h, NULL), 0);
        assert_int_equal(vips_extract_band(box, &b0, 0, NULL), 0);
        assert_int_equal(vips_avg(b0, &m, NULL), 0);
        g_object_unref(b0);
        g_object_unref(box);
        g_object_unref(img);
        return m;
}

static void image_size(const char *path, int *w, int *h, int *bands)
{
        VipsImage *img = vips_image_new_from_file(path, NULL);

        assert_non_null(img);
        *w = img->Xsize;
        *h = img->Ysize;
        if (bands)
                *bands = img->Bands;
        g_object_unref(img);
}

static void expect_ok(const lab_render_params_t *p, lab_render_audit_t *a)
{
        lab_error_t err = {0};
        int r = lab_render(p, a, &err);

        if (r < 0)
                fail_msg("render %s: %s: %s", p->input, err.keyword, err.message);
}

static void expect_fail(const lab_render_params_t *p, const char *keyword)
{
        lab_error_t err = {0};
        lab_render_audit_t a;
        struct stat st;
        _cleanup_free_ char *tmp = NULL;

        if (lab_render(p, &a, &err) >= 0)
                fail_msg("%s: rendered, expected %s", p->input, keyword);
        if (strcmp(err.keyword, keyword) != 0)
                fail_msg("%s: expected %s, got %s: %s", p->input, keyword, err.keyword,
                         err.message);
        assert_true(err.message[0] != '\0');
        assert_true(asprintf(&tmp, "%s.tmp", p->output) > 0);
        assert_true(stat(tmp, &st) < 0); /* no partial output left behind */
}

/* Geometry: every size × fit × input orientation gives exactly the media's pixels. */
static void test_geometry_sizes(void **state)
{
        static const struct {
                const char *name;
                unsigned w, h;
        } media[] = {
            {"ds620-4x6", 1240, 1920}, {"cpd90-4x6", 1226, 1852}, {"ds620-5x7", 1920, 2138},
            {"8x10", 2400, 3000},      {"square", 1800, 1800},    {"panorama", 1240, 3624},
        };
        _cleanup_free_ char *portrait = path_of("portrait.jpg"), *landscape = path_of("land.jpg"),
                            *out = path_of("geo.jpg");

        make_oriented_jpeg(portrait, 600, 900, 1);
        make_oriented_jpeg(landscape, 900, 600, 1);
        for (size_t i = 0; i < ELEMENTSOF(media); i++)
                for (int fit = LAB_FIT_FILL; fit <= LAB_FIT_EXACT; fit++)
                        for (int land = 0; land <= 1; land++) {
                                _cleanup_free_ char *exact_in = NULL;
                                lab_render_params_t p =
                                    params(land ? landscape : portrait, out, media[i].w, media[i].h,
                                           (lab_fit_t)fit);
                                lab_render_audit_t a;
                                int w, h;

                                if (fit == LAB_FIT_EXACT) {
                                        /* exact wants the print's aspect: make one that has it */
                                        unsigned iw = media[i].w / 3, ih = media[i].h / 3;

                                        exact_in = path_of("exact.jpg");
                                        make_oriented_jpeg(exact_in, land ? ih : iw, land ? iw : ih,
                                                           1);
                                        p.input = exact_in;
                                }
                                expect_ok(&p, &a);
                                image_size(out, &w, &h, NULL);
                                assert_int_equal(w, media[i].w);
                                assert_int_equal(h, media[i].h);
                                assert_int_equal(a.width, media[i].w);
                                assert_int_equal(a.height, media[i].h);
                                /* landscape pictures turn to the (portrait) paper */
                                assert_int_equal(a.rotated,
                                                 land && media[i].w < media[i].h ? 1 : 0);
                        }
}

/* fit: white border in device space (RGB 255, CMYK 0), exact: aspect_mismatch. */
static void test_geometry_fit_border(void **state)
{
        _cleanup_free_ char *in = path_of("square.jpg"), *out = path_of("fit.jpg"),
                            *tif = path_of("fit.tif");
        lab_render_params_t p;
        lab_render_audit_t a;

        make_oriented_jpeg(in, 600, 600, 1);
        p = params(in, out, 1240, 1920, LAB_FIT_FIT);
        expect_ok(&p, &a);
        assert_true(box_mean(out, 0, 0, 1240, 300) > 253.0);
        assert_true(box_mean(out, 0, 1620, 1240, 300) > 253.0);

        p.output = tif;
        p.output_profile = GS_CMYK;
        p.encoding = LAB_ENCODING_TIFF;
        p.depth = 16;
        expect_ok(&p, &a);
        assert_true(box_mean(tif, 0, 0, 1240, 300) < 1.0);

        p = params(in, out, 1240, 1920, LAB_FIT_EXACT);
        expect_fail(&p, "aspect_mismatch");
}

/* EXIF orientations 1..8: the bright quadrant ends up top-left. */
static void test_geometry_orientations(void **state)
{
        _cleanup_free_ char *out = path_of("orient.jpg");

        for (int o = 1; o <= 8; o++) {
                char name[32];
                _cleanup_free_ char *in = NULL;
                lab_render_params_t p;
                lab_render_audit_t a;

                snprintf(name, sizeof name, "orient-%d.jpg", o);
                in = path_of(name);
                make_oriented_jpeg(in, 400, 600, o);
                p = params(in, out, 1240, 1920, LAB_FIT_FILL);
                expect_ok(&p, &a);
                assert_int_equal(a.orientation, o);
                assert_int_equal(a.input_width, 400);
                assert_int_equal(a.input_height, 600);
                assert_false(a.rotated);
                if (!(box_mean(out, 100, 100, 400, 700) > 180.0 &&
                      box_mean(out, 720, 100, 400, 700) < 100.0 &&
                      box_mean(out, 100, 1060, 400, 700) < 100.0 &&
                      box_mean(out, 720, 1060, 400, 700) < 100.0))
                        fail_msg("orientation %d: bright quadrant not top-left", o);
        }
}

/* Run a command and return its stdout (malloc'd). */
static char *run(const char *cmd)
{
        FILE *f = popen(cmd, "r");
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        char chunk[4096];
        size_t n;

        assert_non_null(f);
        assert_non_null(m);
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                fwrite(chunk, 1, n, m);
        pclose(f);
        fclose(m);
        return buf;
}

/* Metadata: EXIF (with GPS and Make), XMP and IPTC in, nothing out. */
static void test_metadata_stripped(void **state)
{
        static const char *const banned[] = {"GPS",   "Orientation", "XMP",     "IPTC",   "Make",
                                             "Alice", "secret",      "Profile", "Creator"};
        static const lab_encoding_t encs[] = {LAB_ENCODING_JPEG, LAB_ENCODING_TIFF};
        _cleanup_free_ char *in = path_of("meta.jpg"), *before = NULL, *cmd = NULL;

        make_oriented_jpeg(in, 600, 400, 6);
        assert_true(asprintf(&cmd,
                             "exiftool -q -overwrite_original -Make=Canon -GPSLatitude=48.8584 "
                             "-GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E "
                             "-XMP-dc:Creator=Alice -IPTC:Keywords=secret '%s' 2>&1",
                             in) > 0);
        free(run(cmd));
        free(cmd);
        cmd = NULL;
        assert_true(asprintf(&cmd, "exiftool -j '%s'", in) > 0);
        before = run(cmd);
        assert_non_null(strstr(before, "GPSLatitude")); /* the fixture really carries them */
        assert_non_null(strstr(before, "Alice"));
        assert_non_null(strstr(before, "secret"));

        for (size_t e = 0; e < ELEMENTSOF(encs); e++) {
                _cleanup_free_ char *out = path_of(e == 0 ? "meta-out.jpg" : "meta-out.tif"),
                                    *c2 = NULL, *after = NULL;
                lab_render_params_t p = params(in, out, 1240, 1920, LAB_FIT_FILL);
                lab_render_audit_t a;

                p.encoding = encs[e];
                expect_ok(&p, &a);
                assert_true(asprintf(&c2, "exiftool -j -a -G1 '%s'", out) > 0);
                after = run(c2);
                /* TIFF's structural orientation tag (1 = normal) is not metadata */
                for (char *t; (t = strstr(after, "\"IFD0:Orientation\": \"Horizontal (normal)\""));)
                        memset(t, ' ', strlen("\"IFD0:Orientation\": \"Horizontal (normal)\""));
                for (size_t i = 0; i < ELEMENTSOF(banned); i++)
                        if (strstr(after, banned[i]))
                                fail_msg("%s still carries %s:\n%s", out, banned[i], after);
        }
}

/*
 * Walk a JPEG's markers from SOI to SOS (bounded: at most 64 segments).
 * true when the only ones are the leading JFIF APP0 and what decoding needs
 * (DQT, DHT, DRI, SOFn); false with why set at the first other one: an APPn
 * (Exif APP1, XMP APP1, ICC APP2, Adobe APP14...), a COM, a second JFIF.
 */
static bool jpeg_only_jfif(const uint8_t *d, size_t len, char *why, size_t size)
{
        size_t i = 2;

        if (len < 4 || d[0] != 0xFF || d[1] != 0xD8) {
                snprintf(why, size, "no SOI");
                return false;
        }
        for (unsigned seg = 0; seg < 64; seg++) {
                uint8_t m;
                size_t n;

                if (i + 4 > len || d[i] != 0xFF) {
                        snprintf(why, size, "no marker at byte %zu", i);
                        return false;
                }
                m = d[i + 1];
                if (m == 0xDA) /* SOS: the coded picture follows */
                        return true;
                n = (size_t)d[i + 2] << 8 | d[i + 3];
                if (n < 2 || i + 2 + n > len) {
                        snprintf(why, size, "marker FF%02X at byte %zu runs past the end", m, i);
                        return false;
                }
                if (!(m == 0xE0 && i == 2 && n >= 16 && memcmp(d + i + 4, "JFIF", 5) == 0) &&
                    !(m == 0xDB || m == 0xC4 || m == 0xDD ||
                      (m >= 0xC0 && m <= 0xCF && m != 0xC8 && m != 0xCC))) {
                        snprintf(why, size,
                                 "marker FF%02X (%u bytes) at byte %zu: not JFIF APP0 "
                                 "or a table/frame",
                                 m, (unsigned)n, i);
                        return false;
                }
                i += 2 + n;
        }
        snprintf(why, size, "no SOS within 64 segments");
        return false;
}

/* jpeg_only_jfif() on a file; fail the test with its reason (or, want_ok false, when it passes). */
static void expect_only_jfif(const char *path, bool want_ok)
{
        _cleanup_free_ char *data = NULL;
        char why[256] = "";
        size_t len = 0;
        bool ok;

        data = lab_test_read_file(path, &len);
        assert_non_null(data);
        ok = jpeg_only_jfif((const uint8_t *)data, len, why, sizeof why);
        if (ok != want_ok)
                fail_msg("%s: %s", path, ok ? "carries nothing but JFIF, expected a refusal" : why);
}

/*
 * A JPEG print file starts SOI, APP0 "JFIF" 1.01 with its density in dots
 * per inch, and carries nothing else up to the picture: no Exif, XMP, ICC
 * profile or comment (issue 13). CUPS' imagetoraster opens only a JPEG whose
 * second marker is an APPn (libvips' strip drops it); test_jpeg_cups_filters
 * runs the real filters.
 */
static void test_jpeg_jfif_header(void **state)
{
        static const uint8_t want[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',
                                       0x00, 0x01, 0x01, 0x01, 0x01, 0x2C, 0x01, 0x2C, 0x00, 0x00};
        _cleanup_free_ char *in = path_of("jfif-in.jpg"), *out = path_of("jfif-out.jpg");
        lab_render_params_t p = params(in, out, 1240, 1844, LAB_FIT_FILL);
        lab_render_audit_t a;
        uint8_t head[sizeof want + 2];
        uint8_t *v = NULL;
        size_t n = 0;
        FILE *f;

        make_oriented_jpeg(in, 600, 400, 1);
        expect_ok(&p, &a);
        f = fopen(out, "rb");
        assert_non_null(f);
        assert_int_equal(fread(head, 1, sizeof head, f), sizeof head);
        fclose(f);
        assert_memory_equal(head, want, sizeof want);
        /* The next marker is a table (DQT or DHT), and nothing but tables up to SOS. */
        assert_int_equal(head[sizeof want], 0xFF);
        assert_true(head[sizeof want + 1] == 0xDB || head[sizeof want + 1] == 0xC4);
        expect_only_jfif(out, true);
        /* The walk does refuse: Exif (the input, orientation tag), an ICC profile (APP2). */
        _cleanup_free_ char *exif = path_of("jfif-exif.jpg"), *icc_jpg = path_of("jfif-icc.jpg"),
                            *icc = NULL;
        size_t icc_len = 0;
        make_oriented_jpeg(exif, 60, 40, 6);
        expect_only_jfif(exif, false);
        icc = lab_test_read_file(ADOBE_RGB, &icc_len);
        assert_non_null(icc);
        make_noise(icc_jpg, 60, 40, 3, icc, icc_len);
        expect_only_jfif(icc_jpg, false);

        /* Pure: a JFIF APP0 already there is replaced, not doubled; no unit for dpi 0. */
        static const uint8_t jfif72[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',
                                         'F',  0x00, 0x01, 0x02, 0x01, 0x00, 0x48, 0x00, 0x48,
                                         0x00, 0x00, 0xFF, 0xDB, 0x00, 0x02, 0xFF, 0xD9};
        assert_int_equal(lab_render_jpeg_jfif(jfif72, sizeof jfif72, 300, &v, &n), 0);
        assert_int_equal(n, sizeof jfif72);
        assert_memory_equal(v, want, sizeof want);
        assert_memory_equal(v + sizeof want, jfif72 + sizeof want, sizeof jfif72 - sizeof want);
        free(v);
        assert_int_equal(lab_render_jpeg_jfif(jfif72 + 18, 8, 0, &v, &n), -EINVAL); /* no SOI */
        static const uint8_t bare[] = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x02, 0xFF, 0xD9};
        assert_int_equal(lab_render_jpeg_jfif(bare, sizeof bare, 0, &v, &n), 0);
        assert_int_equal(n, sizeof bare + 18);
        assert_int_equal(v[13], 0);                /* no unit */
        assert_int_equal((v[14] << 8) | v[15], 1); /* aspect 1:1 */
        assert_memory_equal(v + 20, bare + 2, sizeof bare - 2);
        free(v);
        /* A JFIF APP0 whose length runs past the end is not a JPEG we made. */
        static const uint8_t cut[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x40, 'J', 'F', 'I', 'F', 0x00};
        assert_int_equal(lab_render_jpeg_jfif(cut, sizeof cut, 300, &v, &n), -EINVAL);
}

/* CRC-32 as PNG wants it. */
static uint32_t png_crc(const uint8_t *p, size_t n)
{
        uint32_t c = 0xffffffffu;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
        }
        return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
        p[3] = (uint8_t)v;
}

static void test_bad_inputs(void **state)
{
        _cleanup_free_ char *out = path_of("bad.jpg"), *trunc = path_of("trunc.jpg"),
                            *bomb = path_of("bomb.png"), *text = path_of("notes.jpg"),
                            *cmyk = path_of("cmyk.jpg"), *badicc = path_of("badicc.jpg"),
                            *empty = path_of("empty.jpg"), *ok = path_of("ok.jpg"), *data = NULL;
        uint8_t garbage[400];
        size_t len;
        lab_render_params_t p;
        long long t0;

        /* truncated JPEG */
        make_noise(trunc, 800, 1200, 3, NULL, 0);
        data = lab_test_read_file(trunc, &len);
        lab_test_write_file(trunc, data, len / 2);
        free(TAKE_PTR(data));
        p = params(trunc, out, 1240, 1920, LAB_FIT_FILL);
        expect_fail(&p, "image_corrupt");

        /* a PNG declaring 100000×100000: refused from the header, fast */
        make_noise(bomb, 1, 1, 3, NULL, 0);
        data = lab_test_read_file(bomb, &len);
        assert_true(len > 33 && memcmp(data + 12, "IHDR", 4) == 0);
        put_be32((uint8_t *)data + 16, 100000);
        put_be32((uint8_t *)data + 20, 100000);
        put_be32((uint8_t *)data + 29, png_crc((uint8_t *)data + 12, 17));
        lab_test_write_file(bomb, data, len);
        free(TAKE_PTR(data));
        p = params(bomb, out, 1240, 1920, LAB_FIT_FILL);
        t0 = lab_test_now_ms();
        expect_fail(&p, "image_too_large");
        assert_true(lab_test_now_ms() - t0 < 2000);

        /* not an image */
        lab_test_write_string(text, "Dear lab, please print my photos nicely.\n");
        p = params(text, out, 1240, 1920, LAB_FIT_FILL);
        expect_fail(&p, "unsupported_image");

        /* CMYK without a profile */
        make_noise(cmyk, 300, 400, 4, NULL, 0);
        p = params(cmyk, out, 1240, 1920, LAB_FIT_FILL);
        expect_fail(&p, "missing_input_profile");

        /* an embedded profile lcms2 refuses */
        for (size_t i = 0; i < sizeof garbage; i++)
                garbage[i] = (uint8_t)(i * 37 + 11);
        make_noise(badicc, 300, 400, 3, NULL, 0);
        data = lab_test_read_file(badicc, &len);
        {
                /* SOI, then APP2 "ICC_PROFILE\0" chunk 1 of 1 holding garbage, then the rest */
                size_t seg = 2 + 12 + 2 + sizeof garbage, n = 0;
                uint8_t *j = malloc(len + seg + 2);

                assert_non_null(j);
                memcpy(j, data, 2), n = 2;
                j[n++] = 0xff, j[n++] = 0xe2, j[n++] = (uint8_t)(seg >> 8), j[n++] = (uint8_t)seg;
                memcpy(j + n, "ICC_PROFILE", 12), n += 12;
                j[n++] = 1, j[n++] = 1;
                memcpy(j + n, garbage, sizeof garbage), n += sizeof garbage;
                memcpy(j + n, data + 2, len - 2), n += len - 2;
                lab_test_write_file(badicc, j, n);
                free(j);
        }
        free(TAKE_PTR(data));
        p = params(badicc, out, 1240, 1920, LAB_FIT_FILL);
        expect_fail(&p, "bad_input_profile");

        /* zero bytes */
        lab_test_write_file(empty, "", 0);
        p = params(empty, out, 1240, 1920, LAB_FIT_FILL);
        expect_fail(&p, "empty_input");

        /* bytes over the limit, crop outside the picture */
        make_oriented_jpeg(ok, 400, 600, 1);
        p = params(ok, out, 1240, 1920, LAB_FIT_FILL);
        p.max_input_bytes = 100;
        expect_fail(&p, "input_too_large");
        p = params(ok, out, 1240, 1920, LAB_FIT_FILL);
        p.crop = &(lab_crop_t){300, 0, 200, 300};
        expect_fail(&p, "bad_crop");
}

/* Tagged inputs: CMYK with a profile and Adobe RGB are honoured; a crop box is used. */
static void test_profiles_and_crop(void **state)
{
        _cleanup_free_ char *cmyk = path_of("cmyk-tagged.jpg"), *argb = path_of("argb.jpg"),
                            *out = path_of("tagged.tif"), *icc = NULL, *icc2 = NULL;
        size_t len, len2;
        lab_render_params_t p;
        lab_render_audit_t a;
        int w, h, bands;

        icc = lab_test_read_file(GS_CMYK, &len);
        icc2 = lab_test_read_file(ADOBE_RGB, &len2);
        assert_non_null(icc);
        assert_non_null(icc2);
        make_noise(cmyk, 600, 400, 4, icc, len);
        make_noise(argb, 600, 400, 3, icc2, len2);

        p = params(cmyk, out, 1240, 1920, LAB_FIT_FILL);
        p.encoding = LAB_ENCODING_TIFF;
        expect_ok(&p, &a);
        assert_true(strncmp(a.input_profile, "embedded: ", 10) == 0);
        assert_true(a.rotated);
        image_size(out, &w, &h, &bands);
        assert_int_equal(w, 1240);
        assert_int_equal(h, 1920);
        assert_int_equal(bands, 3);

        p = params(argb, out, 1226, 1852, LAB_FIT_FIT);
        p.output_profile = GS_CMYK;
        p.encoding = LAB_ENCODING_TIFF;
        p.depth = 16;
        p.sharpen_sigma = 1.0;
        p.crop = &(lab_crop_t){100, 50, 200, 300};
        expect_ok(&p, &a);
        assert_true(strncmp(a.input_profile, "embedded: ", 10) == 0);
        assert_int_equal(a.crop.x, 100);
        assert_int_equal(a.crop.width, 200);
        assert_false(a.rotated);
        {
                VipsImage *img = vips_image_new_from_file(out, NULL);
                double xres;

                assert_non_null(img);
                assert_int_equal(img->Bands, 4);
                assert_int_equal(img->BandFmt, VIPS_FORMAT_USHORT);
                assert_int_equal(img->Xsize, 1226);
                xres = img->Xres * 25.4;
                assert_true(xres > 299.0 && xres < 301.0);
                g_object_unref(img);
        }
}

/* A w×h smooth picture (red across, green down), saved by vips to path (format by suffix). */
static void make_gradient(const char *path, unsigned w, unsigned h)
{
        uint8_t *buf = malloc((size_t)w * h * 3);
        VipsImage *img;

        assert_non_null(buf);
        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++) {
                        uint8_t *px = buf + ((size_t)y * w + x) * 3;
                        px[0] = (uint8_t)(x * 255 / (w - 1));
                        px[1] = (uint8_t)(y * 255 / (h - 1));
                        px[2] = 128;
                }
        img = vips_image_new_from_memory_copy(buf, (size_t)w * h * 3, (int)w, (int)h, 3,
                                              VIPS_FORMAT_UCHAR);
        free(buf);
        assert_non_null(img);
        img->Type = VIPS_INTERPRETATION_sRGB;
        assert_int_equal(vips_image_write_to_file(img, path, "Q", 95, NULL), 0);
        g_object_unref(img);
}

/* Mean absolute difference of two same-sized 8-bit images, over every band. */
static double mean_abs_diff(const char *a, const char *b)
{
        VipsImage *ia = vips_image_new_from_file(a, NULL), *ib = vips_image_new_from_file(b, NULL);
        VipsImage *d = NULL, *abs = NULL;
        double m = 1e9;

        assert_non_null(ia);
        assert_non_null(ib);
        assert_int_equal(ia->Xsize, ib->Xsize);
        assert_int_equal(ia->Ysize, ib->Ysize);
        assert_int_equal(vips_subtract(ia, ib, &d, NULL), 0);
        assert_int_equal(vips_abs(d, &abs, NULL), 0);
        assert_int_equal(vips_avg(abs, &m, NULL), 0);
        g_object_unref(abs);
        g_object_unref(d);
        g_object_unref(ib);
        g_object_unref(ia);
        return m;
}

/*
 * Shrink-on-load on the crop-box path: a big JPEG cut to a small print is
 * decoded at an eighth of its size, and the result matches a full decode of
 * the same picture (a PNG, which has no shrink-on-load) closely.
 */
static void test_crop_shrink_on_load(void **state)
{
        _cleanup_free_ char *jpg = path_of("big.jpg"), *png = path_of("big.png"),
                            *out_jpg = path_of("shrunk.tif"), *out_png = path_of("full.tif");
        const lab_crop_t box = {200, 300, 1600, 2400};
        lab_render_params_t p;
        lab_render_audit_t a, b;
        int w, h;

        make_gradient(jpg, 2000, 3000);
        make_gradient(png, 2000, 3000);

        p = params(jpg, out_jpg, 100, 150, LAB_FIT_FILL);
        p.encoding = LAB_ENCODING_TIFF;
        p.crop = &box;
        expect_ok(&p, &a);
        assert_int_equal(a.load_shrink, 8); /* 1600/8 = 200: twice the 100 it needs */
        image_size(out_jpg, &w, &h, NULL);
        assert_int_equal(w, 100);
        assert_int_equal(h, 150);
        assert_int_equal(a.crop.x, 200);
        assert_int_equal(a.crop.width, 1600);

        p.input = png;
        p.output = out_png;
        expect_ok(&p, &b);
        assert_int_equal(b.load_shrink, 1);
        /* Same picture, same box: within about one level of 255 on average. */
        assert_true(mean_abs_diff(out_jpg, out_png) < 1.5);

        /* A print that needs most of the pixels is not shrunk. */
        p.input = jpg;
        p.output = out_jpg;
        p.width = 1240, p.height = 1920;
        expect_ok(&p, &a);
        assert_int_equal(a.load_shrink, 1);
}

/* Audit: every field, JSON parses; the same render twice gives the same bytes. */
static void test_audit_reproducible(void **state)
{
        static const lab_encoding_t encs[] = {LAB_ENCODING_JPEG, LAB_ENCODING_TIFF,
                                              LAB_ENCODING_PWG};
        _cleanup_free_ char *in = path_of("audit.jpg"), *out = path_of("audit.out");

        make_noise(in, 900, 600, 3, NULL, 0);
        for (size_t e = 0; e < ELEMENTSOF(encs); e++) {
                lab_render_params_t p = params(in, out, 1240, 1920, LAB_FIT_FILL);
                lab_render_audit_t a1, a2;
                json_error_t jerr;
                json_t *j;
                char *s;

                p.encoding = encs[e];
                p.sharpen_sigma = 0.8;
                expect_ok(&p, &a1);
                expect_ok(&p, &a2);
                assert_string_equal(a1.output_sha256, a2.output_sha256);
                assert_int_equal(strlen(a1.input_sha256), 64);
                assert_int_equal(strlen(a1.output_sha256), 64);
                assert_int_equal(strlen(a1.output_profile_id), 32);
                assert_string_equal(a1.input_profile, "sRGB (none embedded)");
                assert_string_equal(a1.output_profile, ADOBE_RGB);
                assert_true(a1.vips_version[0] == '8');
                assert_true(a1.lcms_version[0] == '2');
                assert_true(a1.rotated);
                assert_true(a1.scale > 0);
                assert_int_equal(a1.orientation, 1);
                assert_true(a1.crop.width > 0 && a1.crop.height > 0);
                /* Grey-ish noise fits inside Adobe RGB: measured, and small. */
                assert_true(a1.gamut_share >= 0 && a1.gamut_share < 0.05);
                assert_true(a1.gamut_share == a2.gamut_share);

                s = lab_render_audit_json(&a1);
                assert_non_null(s);
                j = json_loads(s, 0, &jerr);
                assert_non_null(j);
                assert_string_equal(json_string_value(json_object_get(j, "output_sha256")),
                                    a1.output_sha256);
                assert_string_equal(json_string_value(json_object_get(j, "intent")), "relative");
                assert_int_equal(json_integer_value(json_object_get(j, "width")), 1240);
                assert_true(json_is_object(json_object_get(j, "crop")));
                assert_true(json_real_value(json_object_get(j, "gamut_share")) == a1.gamut_share);
                json_decref(j);
                free(s);
        }
}

/* Saturated sRGB primaries into the CMYK LUT profile: most pixels are out of gamut. */
static void test_gamut_share(void **state)
{
        _cleanup_free_ char *in = path_of("primaries.png"), *out = path_of("primaries.tif");
        lab_render_params_t p = params(in, out, 600, 600, LAB_FIT_FILL);
        VipsImage *r = NULL, *rgb = NULL;
        VipsImage *bands[3];
        lab_render_audit_t a;

        /* Left third red, middle green, right blue. */
        assert_int_equal(vips_xyz(&r, 600, 600, NULL), 0);
        {
                VipsImage *x = NULL, *lo = NULL, *mid = NULL, *hi = NULL, *t = NULL;

                assert_int_equal(vips_extract_band(r, &x, 0, NULL), 0);
                assert_int_equal(vips_less_const1(x, &lo, 200, NULL), 0);
                assert_int_equal(vips_moreeq_const1(x, &hi, 400, NULL), 0);
                assert_int_equal(vips_boolean(lo, hi, &t, VIPS_OPERATION_BOOLEAN_OR, NULL), 0);
                assert_int_equal(vips_invert(t, &mid, NULL), 0);
                bands[0] = lo;
                bands[1] = mid;
                bands[2] = hi;
                g_object_unref(x);
                g_object_unref(t);
        }
        assert_int_equal(vips_bandjoin(bands, &rgb, 3, NULL), 0);
        assert_int_equal(vips_pngsave(rgb, in, NULL), 0);
        for (int i = 0; i < 3; i++)
                g_object_unref(bands[i]);
        g_object_unref(rgb);
        g_object_unref(r);

        p.output_profile = GS_CMYK;
        p.encoding = LAB_ENCODING_TIFF;
        expect_ok(&p, &a);
        print_message("gamut share of sRGB primaries in default_cmyk: %.3f\n", a.gamut_share);
        assert_true(a.gamut_share > 0.5 && a.gamut_share <= 1.0);
}

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* PWG raster: decode our own file and compare it with the same render as TIFF. */
static void test_pwg_raster(void **state)
{
        _cleanup_free_ char *in = path_of("pwg-in.jpg"), *pwg = path_of("out.pwg"),
                            *tif = path_of("pwg-ref.tif"), *data = NULL, *ref = NULL, *pix = NULL;
        lab_render_params_t p;
        lab_render_audit_t a;
        const uint8_t *d, *end;
        size_t len, reflen, w = 1240, h = 1920, bpp = 3, y = 0;
        VipsImage *img;

        make_noise(in, 300, 200, 3, NULL, 0); /* landscape, turned; noise defeats runs */
        p = params(in, pwg, (unsigned)w, (unsigned)h, LAB_FIT_FIT);
        p.encoding = LAB_ENCODING_PWG;
        expect_ok(&p, &a);
        p.output = tif;
        p.encoding = LAB_ENCODING_TIFF;
        expect_ok(&p, &a);

        data = lab_test_read_file(pwg, &len);
        assert_true(len > 4 + 1796);
        d = (const uint8_t *)data;
        end = d + len;
        assert_memory_equal(d, "RaS2", 4);
        assert_string_equal((const char *)d + 4, "PwgRaster");
        assert_int_equal(get_be32(d + 4 + 276), 300);
        assert_int_equal(get_be32(d + 4 + 372), w);
        assert_int_equal(get_be32(d + 4 + 376), h);
        assert_int_equal(get_be32(d + 4 + 384), 8);
        assert_int_equal(get_be32(d + 4 + 392), w * bpp);
        assert_int_equal(get_be32(d + 4 + 400), 1);
        d += 4 + 1796;

        pix = malloc(w * h * bpp);
        assert_non_null(pix);
        while (y < h) {
                size_t rep, x = 0;
                uint8_t *line = (uint8_t *)pix + y * w * bpp;

                assert_true(d < end);
                rep = *d++;
                while (x < w) {
                        unsigned c;

                        assert_true(d < end);
                        c = *d++;
                        assert_int_not_equal(c, 128);
                        if (c < 128) {
                                assert_true(x + c + 1 <= w && d + bpp <= end);
                                for (unsigned k = 0; k <= c; k++)
                                        memcpy(line + (x + k) * bpp, d, bpp);
                                d += bpp, x += c + 1;
                        } else {
                                size_t n = 257 - c;

                                assert_true(x + n <= w && d + n * bpp <= end);
                                memcpy(line + x * bpp, d, n * bpp);
                                d += n * bpp, x += n;
                        }
                }
                for (size_t k = 1; k <= rep; k++) {
                        assert_true(y + k < h);
                        memcpy(line + k * w * bpp, line, w * bpp);
                }
                y += rep + 1;
        }
        assert_true(d == end);

        img = vips_image_new_from_file(tif, NULL);
        assert_non_null(img);
        ref = vips_image_write_to_memory(img, &reflen);
        g_object_unref(img);
        assert_int_equal(reflen, w * h * bpp);
        assert_memory_equal(pix, ref, reflen);
        /* the fit border is white */
        assert_int_equal((uint8_t)pix[0], 255);
}

/*
 * The print files through the real CUPS filters that consume them on Debian
 * 12 (the .convs files in /usr/share/cups/mime): image/jpeg and image/tiff go to
 * imagetoraster (a raster driver such as Gutenprint) or imagetopdf
 * (driverless queues); image/pwg-raster to rastertopdf, or straight to an
 * IPP Everywhere printer, which reads it the way libcups' raster reader does.
 * Each is run with natural-scaling=100, so the picture comes out at the size
 * its own density says: a wrong density is a wrong size, never a silent pass
 * (too high: smaller; too low: several pages). The good files also go with
 * print-scaling=none, what the IPP driver sends to queues that support it
 * (natural size, centre crop).
 */
#define CUPS_FILTER_DIR "/usr/lib/cups/filter/"
#define NATURAL         "natural-scaling=100"
#define AS_SENT         "print-scaling=none"

/* Fail the test, naming the package, when a program a check runs is missing (never skipped). */
static void need_program(const char *path, const char *package)
{
        if (access(path, X_OK) < 0)
                fail_msg("%s is missing (%s): install %s; the render tests run the real program",
                         path, strerror(errno), package);
}

/*
 * A PPD whose one page is exactly w×h pixels at dpi with no margins, for an
 * 8-bit chunky RGB raster: what a photo driver's PPD tells imagetoraster and
 * imagetopdf, and nothing else.
 */
static void write_ppd(const char *path, unsigned w, unsigned h, unsigned dpi)
{
        const double pw = w * 72.0 / dpi, ph = h * 72.0 / dpi;
        _cleanup_free_ char *ppd = NULL;

        assert_true(
            asprintf(&ppd,
                     "*PPD-Adobe: \"4.3\"\n*FormatVersion: \"4.3\"\n*FileVersion: \"1.0\"\n"
                     "*LanguageVersion: English\n*LanguageEncoding: ISOLatin1\n"
                     "*PCFileName: \"LABTEST.PPD\"\n*Manufacturer: \"labagent\"\n"
                     "*Product: \"(labagent test)\"\n*ModelName: \"labagent test\"\n"
                     "*NickName: \"labagent test\"\n*ShortNickName: \"labagent test\"\n"
                     "*PSVersion: \"(3010.000) 0\"\n*LanguageLevel: \"3\"\n*ColorDevice: True\n"
                     "*DefaultColorSpace: RGB\n*FileSystem: False\n*Throughput: \"1\"\n"
                     "*LandscapeOrientation: Plus90\n*TTRasterizer: Type42\n"
                     "*OpenUI *PageSize: PickOne\n*OrderDependency: 10 AnySetup *PageSize\n"
                     "*DefaultPageSize: Print\n"
                     "*PageSize Print: \"<</PageSize[%g %g]/ImagingBBox null>>setpagedevice\"\n"
                     "*CloseUI: *PageSize\n"
                     "*OpenUI *PageRegion: PickOne\n*OrderDependency: 10 AnySetup *PageRegion\n"
                     "*DefaultPageRegion: Print\n"
                     "*PageRegion Print: \"<</PageSize[%g %g]/ImagingBBox null>>setpagedevice\"\n"
                     "*CloseUI: *PageRegion\n"
                     "*DefaultImageableArea: Print\n*ImageableArea Print: \"0 0 %g %g\"\n"
                     "*DefaultPaperDimension: Print\n*PaperDimension Print: \"%g %g\"\n"
                     "*OpenUI *Resolution: PickOne\n*OrderDependency: 10 AnySetup *Resolution\n"
                     "*DefaultResolution: %udpi\n"
                     "*Resolution %udpi: \"<</HWResolution[%u %u]/cupsBitsPerColor 8"
                     "/cupsColorOrder 0/cupsColorSpace 1>>setpagedevice\"\n"
                     "*CloseUI: *Resolution\n",
                     pw, ph, pw, ph, pw, ph, pw, ph, dpi, dpi, dpi, dpi) > 0);
        lab_test_write_string(path, ppd);
}

/*
 * Run the CUPS filter name as cupsd would (job 1, one copy, options; PPD in
 * the environment unless ppd is NULL) on in, stdout to out. Returns its exit
 * status; *log (malloc'd) holds its first ERROR line.
 */
static int run_filter(const char *name, const char *ppd, const char *options, const char *in,
                      const char *out, char **log)
{
        _cleanup_free_ char *filter = NULL, *errf = NULL, *cmd = NULL, *text = NULL;
        const char *e;
        int st;

        assert_true(asprintf(&filter, CUPS_FILTER_DIR "%s", name) > 0);
        need_program(filter, "cups-filters");
        assert_true(asprintf(&errf, "%s.log", out) > 0);
        if (ppd)
                assert_true(asprintf(&cmd,
                                     "env PPD='%s' '%s' 1 labagent t 1 '%s' '%s' >'%s' 2>'%s'", ppd,
                                     filter, options, in, out, errf) > 0);
        else
                assert_true(asprintf(&cmd, "env -u PPD '%s' 1 labagent t 1 '%s' '%s' >'%s' 2>'%s'",
                                     filter, options, in, out, errf) > 0);
        st = system(cmd);
        text = lab_test_read_file(errf, NULL);
        e = text ? strstr(text, "ERROR:") : NULL;
        *log = strndup(e ? e : "(no ERROR line)", e ? strcspn(e, "\n") : 15);
        assert_non_null(*log);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The 8-bit RGB pixels of the image at path, decoded by libvips (g_malloc'd, w×h×3). */
static uint8_t *rgb_pixels(const char *path, unsigned w, unsigned h)
{
        VipsImage *img = vips_image_new_from_file(path, NULL);
        uint8_t *px;
        size_t len = 0;

        assert_non_null(img);
        assert_int_equal(img->Bands, 3);
        assert_int_equal(img->BandFmt, VIPS_FORMAT_UCHAR);
        px = vips_image_write_to_memory(img, &len);
        g_object_unref(img);
        assert_non_null(px);
        assert_int_equal(len, (size_t)w * h * 3);
        return px;
}

/*
 * Read a CUPS or PWG raster stream with libcups (cupsRasterReadHeader2 /
 * ReadPixels, the reader CUPS' filters and drivers use). true when it holds
 * exactly one page of w×h pixels at dpi × dpi, 8 bits per colour, every line
 * readable and, with ref (w×h×3 RGB), equal to ref; false with why set.
 * first, when not NULL, gets the first page's header.
 */
static bool raster_check(const char *path, unsigned w, unsigned h, unsigned dpi, const uint8_t *ref,
                         cups_page_header2_t *first, char *why, size_t size)
{
        cups_page_header2_t hd;
        cups_raster_t *ras;
        unsigned pages = 0;
        bool ok = true;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ras = cupsRasterOpen(fd, CUPS_RASTER_READ);
        assert_non_null(ras);
        while (ok && pages < 64 && cupsRasterReadHeader2(ras, &hd)) {
                unsigned char *line;

                if (first && pages == 0)
                        *first = hd;
                if (++pages > 1 || hd.cupsWidth != w || hd.cupsHeight != h ||
                    hd.HWResolution[0] != dpi || hd.HWResolution[1] != dpi ||
                    hd.cupsBitsPerColor != 8 || hd.cupsBytesPerLine == 0) {
                        snprintf(why, size,
                                 "page %u: %ux%u pixels at %ux%u dpi, %u bits per colour; want "
                                 "one page of %ux%u at %u dpi, 8 bits",
                                 pages, hd.cupsWidth, hd.cupsHeight, hd.HWResolution[0],
                                 hd.HWResolution[1], hd.cupsBitsPerColor, w, h, dpi);
                        ok = false;
                        break;
                }
                if (ref && hd.cupsBytesPerLine != w * 3) {
                        snprintf(why, size, "%u bytes per line, want %u (RGB)", hd.cupsBytesPerLine,
                                 w * 3);
                        ok = false;
                        break;
                }
                line = malloc(hd.cupsBytesPerLine);
                assert_non_null(line);
                for (unsigned y = 0; ok && y < h; y++) {
                        if (cupsRasterReadPixels(ras, line, hd.cupsBytesPerLine) !=
                            hd.cupsBytesPerLine) {
                                snprintf(why, size, "line %u of %u cannot be read", y, h);
                                ok = false;
                        } else if (ref &&
                                   memcmp(line, ref + (size_t)y * w * 3, (size_t)w * 3) != 0) {
                                snprintf(why, size, "line %u differs from the print file's pixels",
                                         y);
                                ok = false;
                        }
                }
                free(line);
        }
        if (ok && pages == 0) {
                snprintf(why, size, "no page (%s)", cupsRasterErrorString());
                ok = false;
        }
        cupsRasterClose(ras);
        close(fd);
        return ok;
}

/*
 * A filter's PDF, read with poppler's pdfinfo and pdfimages: true when it is
 * one page of exactly w×h pixels at dpi (in points) holding one w×h image
 * drawn at dpi × dpi (pdfimages' x-ppi, y-ppi); false with why set.
 */
static bool pdf_check(const char *pdf, unsigned w, unsigned h, unsigned dpi, char *why, size_t size)
{
        _cleanup_free_ char *cmd = NULL, *info = NULL, *list = NULL;
        unsigned pages = 0, iw = 0, ih = 0, xppi = 0, yppi = 0, rows = 0;
        double pw = 0, ph = 0;
        const char *s;

        need_program("/usr/bin/pdfinfo", "poppler-utils (a dependency of cups-filters)");
        need_program("/usr/bin/pdfimages", "poppler-utils (a dependency of cups-filters)");
        assert_true(asprintf(&cmd, "pdfinfo '%s' 2>&1", pdf) > 0);
        info = run(cmd);
        free(TAKE_PTR(cmd));
        assert_true(asprintf(&cmd, "pdfimages -list '%s' 2>&1", pdf) > 0);
        list = run(cmd);
        if ((s = strstr(info, "Pages:")))
                sscanf(s, "Pages: %u", &pages);
        if ((s = strstr(info, "Page size:")))
                sscanf(s, "Page size: %lf x %lf", &pw, &ph);
        /* After the two heading lines, one line per image. */
        s = strchr(list, '\n');
        s = s ? strchr(s + 1, '\n') : NULL;
        for (const char *l = s; l && l[1] && rows < 64; l = strchr(l + 1, '\n')) {
                unsigned pg, num, comp, bpc, obj, id, x, y, iw1, ih1;
                char type[16], color[16], enc[16], interp[16];

                if (sscanf(l + 1, "%u %u %15s %u %u %15s %u %u %15s %15s %u %u %u %u", &pg, &num,
                           type, &iw1, &ih1, color, &comp, &bpc, enc, interp, &obj, &id, &x,
                           &y) == 14 &&
                    rows++ == 0)
                        iw = iw1, ih = ih1, xppi = x, yppi = y;
        }
        if (pages != 1 || rows != 1 || iw != w || ih != h || xppi != dpi || yppi != dpi ||
            pw < w * 72.0 / dpi - 0.01 || pw > w * 72.0 / dpi + 0.01 ||
            ph < h * 72.0 / dpi - 0.01 || ph > h * 72.0 / dpi + 0.01) {
                snprintf(why, size,
                         "%u page(s) of %.2fx%.2f pt, %u image(s), the first %ux%u at %ux%u ppi; "
                         "want one page of %.2fx%.2f pt with one %ux%u image at %u ppi",
                         pages, pw, ph, rows, iw, ih, xppi, yppi, w * 72.0 / dpi, h * 72.0 / dpi, w,
                         h, dpi);
                return false;
        }
        return true;
}

/*
 * Run filter (its output a PDF when pdf, else a raster) with options on in
 * and apply the check; fail the test unless the result is want_ok.
 */
static void expect_filter(const char *filter, const char *ppd, const char *options, const char *in,
                          const char *out, bool pdf, unsigned w, unsigned h, unsigned dpi,
                          const uint8_t *ref, bool want_ok)
{
        _cleanup_free_ char *log = NULL;
        char why[512] = "";
        int rc = run_filter(filter, ppd, options, in, out, &log);
        bool ok;

        if (rc != 0)
                fail_msg("%s %s refused %s (exit %d): %s", filter, options, in, rc, log);
        ok = pdf ? pdf_check(out, w, h, dpi, why, sizeof why)
                 : raster_check(out, w, h, dpi, ref, NULL, why, sizeof why);
        if (ok && !want_ok)
                fail_msg("%s %s on %s: the check passed on a file made to fail it", filter, options,
                         in);
        if (!ok && want_ok)
                fail_msg("%s %s on %s: %s", filter, options, in, why);
}

/* Run filter on in; fail the test unless it refuses it with message in its ERROR line. */
static void expect_filter_refuses(const char *filter, const char *ppd, const char *in,
                                  const char *out, const char *message)
{
        _cleanup_free_ char *log = NULL;
        int rc = run_filter(filter, ppd, NATURAL, in, out, &log);

        if (rc == 0 || !strstr(log, message))
                fail_msg("%s on %s: exit %d, \"%s\"; expected a refusal with \"%s\"", filter, in,
                         rc, log, message);
}

/*
 * JPEG (1200×1800, the IPP/minilab 4x6, whole inches: imagetoraster's float
 * page maths turns 1844 px at 300 dpi into 1843 lines whatever the file
 * says) through imagetoraster and imagetopdf: one page of exactly its pixels
 * at 300 dpi, and imagetoraster's pixels are libjpeg's decode of the file.
 * The checks fail on a broken file: density 600 in the JFIF header (a
 * half-size print), 72 (several pages), no JFIF header (refused: "could not
 * be opened").
 */
static void test_jpeg_cups_filters(void **state)
{
        const unsigned w = 1200, h = 1800, dpi = 300;
        _cleanup_free_ char *in = path_of("jcf-in.jpg"), *out = path_of("jcf.jpg"),
                            *ppd = path_of("jcf.ppd"), *ras = path_of("jcf.ras"),
                            *pdf = path_of("jcf.pdf"), *bad = path_of("jcf-bad.jpg"), *data = NULL;
        lab_render_params_t p = params(in, out, w, h, LAB_FIT_FILL);
        lab_render_audit_t a;
        uint8_t *ref;
        size_t len;

        make_noise(in, 300, 200, 3, NULL, 0);
        expect_ok(&p, &a);
        expect_only_jfif(out, true);
        write_ppd(ppd, w, h, dpi);
        ref = rgb_pixels(out, w, h);
        for (int sent = 0; sent <= 1; sent++) {
                expect_filter("imagetoraster", ppd, sent ? AS_SENT : NATURAL, out, ras, false, w, h,
                              dpi, ref, true);
                expect_filter("imagetopdf", ppd, sent ? AS_SENT : NATURAL, out, pdf, true, w, h,
                              dpi, NULL, true);
        }
        g_free(ref);

        data = lab_test_read_file(out, &len);
        assert_true(len > 20 && memcmp(data + 6, "JFIF", 5) == 0 && (uint8_t)data[13] == 1);
        data[14] = 0x02, data[15] = 0x58, data[16] = 0x02, data[17] = 0x58; /* 600 dpi */
        lab_test_write_file(bad, data, len);
        expect_filter("imagetoraster", ppd, NATURAL, bad, ras, false, w, h, dpi, NULL, false);
        expect_filter("imagetopdf", ppd, NATURAL, bad, pdf, true, w, h, dpi, NULL, false);
        /* 72 dpi: several pages. */
        data[15] = 72, data[17] = 72, data[14] = data[16] = 0;
        lab_test_write_file(bad, data, len);
        expect_filter("imagetoraster", ppd, NATURAL, bad, ras, false, w, h, dpi, NULL, false);
        /* SOI then straight to the tables, as libvips' strip writes it. */
        memmove(data + 2, data + 20, len - 20);
        lab_test_write_file(bad, data, len - 18);
        expect_filter_refuses("imagetoraster", ppd, bad, ras, "could not be opened");
}

/* A classic TIFF's first IFD: its tags, resolution, and the offset of the next IFD. */
typedef struct tiff_ifd_s {
        unsigned n;
        uint16_t tag[64];
        uint32_t xres[2], yres[2]; /* numerator, denominator */
        size_t xres_at, yres_at;   /* file offsets of the numerators */
        unsigned resunit;
        uint32_t next; /* 0: no other image in the file */
        bool be;
} tiff_ifd_t;

/* n (1..4) bytes at p in the file's byte order. */
static uint32_t tiff_get(const uint8_t *p, bool be, unsigned n)
{
        uint32_t v = 0;

        for (unsigned i = 0; i < n; i++)
                v = v << 8 | p[be ? i : n - 1 - i];
        return v;
}

static void tiff_put32(uint8_t *p, bool be, uint32_t v)
{
        for (unsigned i = 0; i < 4; i++)
                p[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

static void tiff_scan(const uint8_t *d, size_t len, tiff_ifd_t *t)
{
        size_t off, n;

        memset(t, 0, sizeof *t);
        assert_true(len >= 8);
        assert_true(memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0);
        t->be = d[0] == 'M';
        off = tiff_get(d + 4, t->be, 4);
        assert_true(off + 2 <= len);
        n = tiff_get(d + off, t->be, 2);
        assert_true(n <= ELEMENTSOF(t->tag) && off + 2 + n * 12 + 4 <= len);
        for (size_t i = 0; i < n; i++) {
                const uint8_t *e = d + off + 2 + i * 12;
                unsigned tag = tiff_get(e, t->be, 2);
                size_t at = tiff_get(e + 8, t->be, 4);

                t->tag[t->n++] = (uint16_t)tag;
                if (tag == 282 || tag == 283) { /* X/YResolution: one RATIONAL, stored at `at` */
                        uint32_t *r = tag == 282 ? t->xres : t->yres;

                        assert_true(at + 8 <= len);
                        r[0] = tiff_get(d + at, t->be, 4);
                        r[1] = tiff_get(d + at + 4, t->be, 4);
                        *(tag == 282 ? &t->xres_at : &t->yres_at) = at;
                } else if (tag == 296) /* ResolutionUnit: a SHORT, in the entry */
                        t->resunit = tiff_get(e + 8, t->be, 2);
        }
        t->next = tiff_get(d + off + 2 + n * 12, t->be, 4);
}

/*
 * TIFF (RGB and CMYK, 8 bits; the IPP 4x6) through imagetoraster and
 * imagetopdf. The file holds one image, only structural tags (no ICC, XMP,
 * Exif, IPTC, Photoshop, Software, DateTime...), resolution exactly 300/1
 * per inch; both filters give one page of exactly its pixels at 300 dpi,
 * imagetoraster the very RGB pixels. A copy claiming 600 dpi fails those
 * checks; a TIFF with an ICC profile fails the tag check. 16 bits (the
 * sample cmyk-proofer's depth) is refused by both: cups-filters 1.28 reads
 * 1, 2, 4 or 8 bits per sample only ("Bad TIFF dimensions" in its debug log).
 */
static void test_tiff_cups_filters(void **state)
{
        /* ImageWidth, ImageLength, BitsPerSample, Compression, Photometric, StripOffsets,
         * Orientation, SamplesPerPixel, RowsPerStrip, StripByteCounts, X/YResolution,
         * PlanarConfiguration, ResolutionUnit, InkSet, SampleFormat */
        static const unsigned structural[] = {256, 257, 258, 259, 262, 273, 274, 277,
                                              278, 279, 282, 283, 284, 296, 332, 339};
        const unsigned w = 1200, h = 1800, dpi = 300;
        _cleanup_free_ char *in = path_of("tcf-in.jpg"), *tif = path_of("tcf.tif"),
                            *ppd = path_of("tcf.ppd"), *ras = path_of("tcf.ras"),
                            *pdf = path_of("tcf.pdf"), *bad = path_of("tcf-bad.tif"), *icc = NULL;
        size_t icc_len;

        make_noise(in, 300, 200, 3, NULL, 0);
        write_ppd(ppd, w, h, dpi);
        for (int cmyk = 0; cmyk <= 1; cmyk++) {
                lab_render_params_t p = params(in, tif, w, h, LAB_FIT_FILL);
                _cleanup_free_ char *data = NULL;
                lab_render_audit_t a;
                tiff_ifd_t t;
                uint8_t *ref = NULL;
                size_t len;

                p.encoding = LAB_ENCODING_TIFF;
                p.output_profile = cmyk ? GS_CMYK : ADOBE_RGB;
                expect_ok(&p, &a);
                data = lab_test_read_file(tif, &len);
                assert_non_null(data);
                tiff_scan((const uint8_t *)data, len, &t);
                for (unsigned i = 0; i < t.n; i++) {
                        bool ok = false;

                        for (size_t k = 0; k < ELEMENTSOF(structural); k++)
                                ok = ok || structural[k] == t.tag[i];
                        if (!ok)
                                fail_msg("%s: TIFF tag %u is not a structural one", tif, t.tag[i]);
                }
                assert_int_equal(t.next, 0);
                /* Exactly: imagetoraster keeps whole pixels per inch (299.99: 4 pages). */
                if (t.xres[1] == 0 || t.xres[0] != dpi * t.xres[1] || t.yres[1] == 0 ||
                    t.yres[0] != dpi * t.yres[1] || t.resunit != 2)
                        fail_msg("%s: resolution %u/%u x %u/%u, unit %u; want exactly %u per inch",
                                 tif, t.xres[0], t.xres[1], t.yres[0], t.yres[1], t.resunit, dpi);

                /* CMYK into an RGB raster is the filter's own conversion: size only. */
                if (!cmyk)
                        ref = rgb_pixels(tif, w, h);
                for (int sent = 0; sent <= 1; sent++) {
                        expect_filter("imagetoraster", ppd, sent ? AS_SENT : NATURAL, tif, ras,
                                      false, w, h, dpi, ref, true);
                        expect_filter("imagetopdf", ppd, sent ? AS_SENT : NATURAL, tif, pdf, true,
                                      w, h, dpi, NULL, true);
                }
                g_free(ref);

                if (cmyk)
                        continue;
                tiff_put32((uint8_t *)data + t.xres_at, t.be, 2 * dpi);
                tiff_put32((uint8_t *)data + t.yres_at, t.be, 2 * dpi);
                lab_test_write_file(bad, data, len);
                expect_filter("imagetoraster", ppd, NATURAL, bad, ras, false, w, h, dpi, NULL,
                              false);
                expect_filter("imagetopdf", ppd, NATURAL, bad, pdf, true, w, h, dpi, NULL, false);
        }

        /* The tag check refuses what it must: a TIFF with an ICC profile (tag 34675). */
        {
                _cleanup_free_ char *data = NULL;
                tiff_ifd_t t;
                size_t len;
                bool has_icc = false;

                icc = lab_test_read_file(ADOBE_RGB, &icc_len);
                assert_non_null(icc);
                make_noise(bad, 60, 40, 3, icc, icc_len);
                data = lab_test_read_file(bad, &len);
                tiff_scan((const uint8_t *)data, len, &t);
                for (unsigned i = 0; i < t.n; i++)
                        has_icc = has_icc || t.tag[i] == 34675;
                assert_true(has_icc);
        }

        /* 16 bits per sample: neither filter opens it. */
        {
                lab_render_params_t p = params(in, tif, w, h, LAB_FIT_FILL);
                lab_render_audit_t a;

                p.encoding = LAB_ENCODING_TIFF;
                p.output_profile = GS_CMYK;
                p.depth = 16;
                expect_ok(&p, &a);
                expect_filter_refuses("imagetoraster", ppd, tif, ras, "could not be opened");
                expect_filter_refuses("imagetopdf", ppd, tif, pdf, "Unable to open image");
        }
}

/*
 * The PWG page header holds only what render-pwg.c writes: "PwgRaster" and
 * its 4-byte fields; every other byte (the strings, vendor data, fields
 * PWG 5102.4 reserves) is zero. false with why set otherwise.
 */
static bool pwg_header_only_ours(const uint8_t *hdr, char *why, size_t size)
{
        /* HWResolution, NumCopies, PageSize, cupsWidth/Height, bits per colour/pixel, bytes
         * per line, colour order and space, cupsNumColors, TotalPageCount, Cross/FeedTransform,
         * ImageBoxRight/Bottom */
        static const unsigned fields[] = {276, 280, 340, 352, 356, 372, 376, 384, 388,
                                          392, 396, 400, 420, 452, 456, 460, 472, 476};

        if (memcmp(hdr, "PwgRaster", 10) != 0) {
                snprintf(why, size, "MediaClass is not \"PwgRaster\"");
                return false;
        }
        for (unsigned i = 10; i < LAB_PWG_HEADER_SIZE; i++) {
                bool ours = false;

                for (size_t k = 0; k < ELEMENTSOF(fields); k++)
                        ours = ours || (i >= fields[k] && i < fields[k] + 4);
                if (!ours && hdr[i] != 0) {
                        snprintf(why, size, "page header byte %u is %u, not a field we write", i,
                                 hdr[i]);
                        return false;
                }
        }
        return true;
}

/*
 * PWG raster (the IPP 4x6, RGB 8 bits). libcups' raster reader decodes one
 * 1200×1800 page at 300 dpi whose pixels are exactly those of the TIFF of
 * the same render; rastertopdf (image/pwg-raster → application/pdf, what
 * CUPS runs for a queue with a classic driver) makes one 288×432 pt page
 * holding the 1200×1800 image at 300 ppi. The header carries nothing but our
 * fields. The checks fail on broken files: HWResolution 600 (both), the file
 * cut in half (the reader; rastertopdf pads it silently), a stray byte in
 * MediaColor (the header check). rastertopwg is no reader of PWG raster: it
 * converts CUPS raster and refuses any PWG file, libcups' own output too
 * (PWG 5102.4 zeroes the cupsPageSize it computes the page from).
 */
static void test_pwg_cups_filters(void **state)
{
        const unsigned w = 1200, h = 1800, dpi = 300;
        _cleanup_free_ char *in = path_of("pcf-in.jpg"), *pwg = path_of("pcf.pwg"),
                            *tif = path_of("pcf.tif"), *pdf = path_of("pcf.pdf"),
                            *bad = path_of("pcf-bad.pwg"), *data = NULL;
        lab_render_params_t p = params(in, pwg, w, h, LAB_FIT_FILL);
        cups_page_header2_t hd;
        lab_render_audit_t a;
        char why[256] = "";
        uint8_t *ref;
        size_t len;

        make_noise(in, 300, 200, 3, NULL, 0);
        p.encoding = LAB_ENCODING_PWG;
        expect_ok(&p, &a);
        p.output = tif;
        p.encoding = LAB_ENCODING_TIFF;
        expect_ok(&p, &a);
        ref = rgb_pixels(tif, w, h);

        data = lab_test_read_file(pwg, &len);
        assert_true(len > 4 + LAB_PWG_HEADER_SIZE);
        if (!pwg_header_only_ours((const uint8_t *)data + 4, why, sizeof why))
                fail_msg("%s: %s", pwg, why);
        if (!raster_check(pwg, w, h, dpi, ref, &hd, why, sizeof why))
                fail_msg("libcups reading %s: %s", pwg, why);
        /* What a printer reads besides the pixels: media size in points, device RGB, 1 page. */
        assert_int_equal(hd.PageSize[0], w * 72 / dpi);
        assert_int_equal(hd.PageSize[1], h * 72 / dpi);
        assert_int_equal(hd.cupsColorSpace, CUPS_CSPACE_RGB);
        assert_int_equal(hd.cupsColorOrder, CUPS_ORDER_CHUNKED);
        assert_int_equal(hd.cupsNumColors, 3);
        assert_int_equal(hd.cupsBitsPerPixel, 24);
        assert_int_equal(hd.cupsInteger[0], 1); /* TotalPageCount */
        expect_filter("rastertopdf", NULL, "", pwg, pdf, true, w, h, dpi, NULL, true);

        /* HWResolution 600: the page is half the size for both readers. */
        put_be32((uint8_t *)data + 4 + 276, 2 * dpi);
        put_be32((uint8_t *)data + 4 + 280, 2 * dpi);
        lab_test_write_file(bad, data, len);
        assert_false(raster_check(bad, w, h, dpi, NULL, NULL, why, sizeof why));
        expect_filter("rastertopdf", NULL, "", bad, pdf, true, w, h, dpi, NULL, false);
        put_be32((uint8_t *)data + 4 + 276, dpi);
        put_be32((uint8_t *)data + 4 + 280, dpi);
        /* Cut in half: lines missing. */
        lab_test_write_file(bad, data, len / 2);
        assert_false(raster_check(bad, w, h, dpi, ref, NULL, why, sizeof why));
        assert_non_null(strstr(why, "cannot be read"));
        /* Something in MediaColor. */
        data[4 + 64] = 'x';
        assert_false(pwg_header_only_ours((const uint8_t *)data + 4, why, sizeof why));
        g_free(ref);
}

static int setup(void **state)
{
        if (lab_render_init("test-render", 2, 64 * 1024 * 1024) < 0)
                return -1;
        vips_leak_set(TRUE);
        dir = lab_test_mkdtemp("render");
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(dir);
        free(dir);
        lab_render_shutdown();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_geometry_sizes),
            cmocka_unit_test(test_geometry_fit_border),
            cmocka_unit_test(test_geometry_orientations),
            cmocka_unit_test(test_metadata_stripped),
            cmocka_unit_test(test_jpeg_jfif_header),
            cmocka_unit_test(test_bad_inputs),
            cmocka_unit_test(test_profiles_and_crop),
            cmocka_unit_test(test_crop_shrink_on_load),
            cmocka_unit_test(test_audit_reproducible),
            cmocka_unit_test(test_gamut_share),
            cmocka_unit_test(test_pwg_raster),
            cmocka_unit_test(test_jpeg_cups_filters),
            cmocka_unit_test(test_tiff_cups_filters),
            cmocka_unit_test(test_pwg_cups_filters),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
