/*
 * render.c - a print master in, exactly the printer's file out (libvips).
 *
 * The one idea: refuse cheaply before decoding. Size, loader and the header's
 * pixel count are checked before a single pixel is decoded, so a bomb costs a
 * header read; the embedded profile is parsed with lcms2 before libvips can
 * silently fall back. Then one bounded pipeline: shrink-on-load thumbnail
 * (autorotate, centre crop / contain / force), decode into memory at output
 * size, turn to the paper's orientation, sharpen, one ICC transform into the
 * printer profile, white border in device space, encode with no metadata,
 * fsync + rename. It must never write a partial output under the final name
 * and never let personal metadata (EXIF, GPS, XMP, IPTC) through. A 16-bit
 * master stays 16-bit up to the transform (vips_thumbnail would cut it to 8
 * bits, so it takes the load/cut/resize path); the one quantisation to the
 * paper's depth is the transform's output.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "render-color.h"
#include "digest.h"
#include "io-util.h"
#include "render-private.h"
#include "render.h"

static void render_unrefp(VipsImage **p)
{
        if (*p)
                g_object_unref(*p);
}
#define _cleanup_image_ _cleanup_(render_unrefp)

/* Replace *img by next (taking ownership); returns 0, or -1 when next is NULL. */
static int render_step(VipsImage **img, VipsImage *next)
{
        if (!next)
                return -1;
        if (*img)
                g_object_unref(*img);
        *img = next;
        return 0;
}

/* libvips' last error as one line, then clear it. */
static int render_vips_error(lab_error_t *err, int errnum, const char *keyword, const char *what)
{
        char msg[512];
        size_t n;
        int r;

        snprintf(msg, sizeof msg, "%s", vips_error_buffer());
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        for (char *c = msg; *c; c++)
                if (*c == '\n')
                        *c = ' ';
        r = lab_error_set(err, errnum, keyword, "%s: %s", what, n ? msg : "libvips failed");
        vips_error_clear();
        return r;
}

int lab_render_init(const char *argv0, unsigned threads, uint64_t cache_bytes)
{
        /* libvips is process-global: VIPS_INIT once; later calls only retune. */
        static bool started;

        if (!started) {
                if (VIPS_INIT(argv0 ? argv0 : "labagent"))
                        return -EIO;
                started = true;
        }
        vips_concurrency_set(threads > 0 ? (int)threads : 1);
        vips_cache_set_max_mem(cache_bytes);
        vips_cache_set_max(cache_bytes > 0 ? 16 : 0);
        return 0;
}

void lab_render_shutdown(void)
{
        vips_shutdown();
}

/* Only these loaders may touch customer files (no magick, pdf, svg, matrix, csv, ...). */
static bool render_loader_allowed(const char *loader)
{
        static const char *const allowed[] = {
            "VipsForeignLoadJpegFile", "VipsForeignLoadPngFile",  "VipsForeignLoadSpngFile",
            "VipsForeignLoadTiffFile", "VipsForeignLoadWebpFile",
        };

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                if (strcmp(loader, allowed[i]) == 0)
                        return true;
        return false;
}

/*
 * Check the embedded ICC profile with lcms2 (libvips would fall back to a
 * default on a broken one and print wrong colours) and describe it.
 */
static int render_check_input_profile(VipsImage *img, bool cmyk, char *desc, size_t size,
                                      lab_error_t *err)
{
        const void *data;
        size_t len;
        cmsHPROFILE h;
        cmsColorSpaceSignature want, have;
        char text[100] = "";

        if (!vips_image_get_typeof(img, VIPS_META_ICC_NAME)) {
                if (cmyk)
                        return lab_error_set(err, EINVAL, "missing_input_profile",
                                             "the image is CMYK without an embedded ICC profile; "
                                             "CMYK values mean nothing without one, ask for a "
                                             "tagged file");
                snprintf(desc, size, "sRGB (none embedded)");
                return 0;
        }
        if (vips_image_get_blob(img, VIPS_META_ICC_NAME, &data, &len) < 0 || len < 132)
                return lab_error_set(err, EINVAL, "bad_input_profile",
                                     "the embedded ICC profile is truncated (%zu bytes)", len);
        h = cmsOpenProfileFromMem(data, (cmsUInt32Number)len);
        vips_error_clear(); /* libvips' lcms2 error handler may have logged the refusal */
        if (!h)
                return lab_error_set(err, EINVAL, "bad_input_profile",
                                     "the embedded ICC profile (%zu bytes) does not parse", len);
        have = cmsGetColorSpace(h);
        want = cmyk                                         ? cmsSigCmykData
               : img->Bands - vips_image_hasalpha(img) >= 3 ? cmsSigRgbData
                                                            : cmsSigGrayData;
        cmsGetProfileInfoASCII(h, cmsInfoDescription, "en", "US", text, sizeof text);
        cmsCloseProfile(h);
        if (have != want)
                return lab_error_set(err, EINVAL, "bad_input_profile",
                                     "the embedded ICC profile \"%s\" is for another colour space "
                                     "than the image's",
                                     text);
        snprintf(desc, size, "embedded: %s", text[0] ? text : "(no description)");
        return 0;
}

/* Small helpers instead of libm (labcore does not link it). */
static double render_max(double a, double b)
{
        return a > b ? a : b;
}

static double render_min(double a, double b)
{
        return a < b ? a : b;
}

/* The box of (x, y, w, h) that a centre crop to tw×th keeps; the whole box otherwise. */
static lab_crop_t render_used_box(unsigned x, unsigned y, unsigned w, unsigned h, unsigned tw,
                                  unsigned th, lab_fit_t fit, double *scale)
{
        lab_crop_t c = {x, y, w, h};
        double sx = (double)tw / w, sy = (double)th / h;

        if (fit == LAB_FIT_FILL) {
                double s = render_max(sx, sy);
                unsigned uw = (unsigned)render_min(w, tw / s + 0.5),
                         uh = (unsigned)render_min(h, th / s + 0.5);

                c = (lab_crop_t){x + (w - uw) / 2, y + (h - uh) / 2, uw, uh};
                *scale = s;
        } else
                *scale = render_min(sx, sy);
        return c;
}

/* Unsharp mask on every band (device CMYK has no luminance channel to sharpen alone). */
static VipsImage *render_usm(VipsImage *in, double sigma)
{
        _cleanup_image_ VipsImage *blur = NULL, *diff = NULL, *sum = NULL;
        VipsImage *out = NULL;
        double a = 0.6, b = 0.0;

        if (vips_gaussblur(in, &blur, sigma, NULL) || vips_subtract(in, blur, &diff, NULL) ||
            vips_linear(diff, &sum, &a, &b, 1, NULL))
                return NULL;
        g_object_unref(diff);
        diff = NULL;
        if (vips_add(in, sum, &diff, NULL) || vips_cast(diff, &out, in->BandFmt, NULL))
                return NULL;
        return out;
}

/* Write img to fd in the printer's encoding, with no metadata. */
static int render_encode(VipsImage *img, const lab_render_params_t *p, int fd, const char *tmp,
                         lab_error_t *err)
{
        int r;

        switch (p->encoding) {
        case LAB_ENCODING_JPEG:
                return lab_render_jpeg_write(img, p->dpi, fd, tmp, err);
        case LAB_ENCODING_TIFF:
                /*
                 * Resolution exactly dpi/1 per inch (libvips takes pixels per mm
                 * and writes dpi/1 back): CUPS' imagetoraster keeps whole pixels
                 * per inch, so 299.99 would lay a 4x6 out on 4 pages at natural
                 * size. cups-filters opens 8-bit TIFF only (docs/render.md).
                 */
                r = vips_tiffsave(img, tmp, "strip", TRUE, "xres", p->dpi / 25.4, "yres",
                                  p->dpi / 25.4, "resunit", VIPS_FOREIGN_TIFF_RESUNIT_INCH,
                                  "compression", VIPS_FOREIGN_TIFF_COMPRESSION_NONE, NULL);
                break;
        case LAB_ENCODING_PWG:
                return lab_render_pwg_write(img, p->dpi, fd, tmp, err);
        default:
                return lab_error_set(err, EINVAL, "render_failed", "unknown encoding %d",
                                     (int)p->encoding);
        }
        if (r)
                return render_vips_error(err, EIO, "output_failed", tmp);
        return 0;
}

/* Checks on the parameters a caller controls (not the file). */
static int render_check_params(const lab_render_params_t *p, lab_error_t *err)
{
        if (!p || !p->input || !p->output || !p->output_profile || p->width == 0 ||
            p->height == 0 || p->width > VIPS_MAX_COORD || p->height > VIPS_MAX_COORD)
                return lab_error_set(err, EINVAL, "render_failed",
                                     "render parameters incomplete (input, output, size, profile)");
        if (p->depth != 0 && p->depth != 8 && p->depth != 16)
                return lab_error_set(err, EINVAL, "render_failed", "depth %u is not 8 or 16",
                                     p->depth);
        return 0;
}

/*
 * Open the file's header only and apply every refusal that needs no pixels.
 * Returns the header image in *ret.
 */
static int render_probe(const lab_render_params_t *p, lab_render_audit_t *a, bool *cmyk,
                        VipsImage **ret, lab_error_t *err)
{
        _cleanup_image_ VipsImage *hdr = NULL;
        const char *loader;
        struct stat st;
        uint64_t pixels;
        int r;

        if (stat(p->input, &st) < 0)
                return lab_error_set(err, errno, "render_failed", "%s: %s", p->input,
                                     strerror(errno));
        if (!S_ISREG(st.st_mode))
                return lab_error_set(err, EINVAL, "unsupported_image", "%s is not a regular file",
                                     p->input);
        if (st.st_size == 0)
                return lab_error_set(err, EINVAL, "empty_input", "%s is empty (0 bytes)", p->input);
        if (p->max_input_bytes > 0 && (uint64_t)st.st_size > p->max_input_bytes)
                return lab_error_set(err, EFBIG, "input_too_large",
                                     "%s: %jd bytes exceeds max_input_bytes %ju", p->input,
                                     (intmax_t)st.st_size, (uintmax_t)p->max_input_bytes);

        loader = vips_foreign_find_load(p->input);
        vips_error_clear();
        if (!loader || !render_loader_allowed(loader))
                return lab_error_set(err, EINVAL, "unsupported_image",
                                     "%s is not a JPEG, PNG, TIFF or WebP image%s%s", p->input,
                                     loader ? "; libvips sees " : "", loader ? loader : "");

        r = lab_sha256_file(p->input, a->input_sha256);
        if (r < 0)
                return lab_error_set(err, r, "render_failed", "%s: cannot hash: %s", p->input,
                                     strerror(-r));

        hdr = vips_image_new_from_file(p->input, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                       VIPS_FAIL_ON_ERROR, NULL);
        if (!hdr)
                return render_vips_error(err, EINVAL, "image_corrupt", p->input);
        pixels = (uint64_t)hdr->Xsize * (uint64_t)hdr->Ysize;
        if (p->max_input_pixels > 0 && pixels > p->max_input_pixels)
                return lab_error_set(err, EFBIG, "image_too_large",
                                     "%s: %dx%d exceeds max_pixels %ju", p->input, hdr->Xsize,
                                     hdr->Ysize, (uintmax_t)p->max_input_pixels);

        a->orientation = vips_image_get_orientation(hdr);
        if (a->orientation < 1 || a->orientation > 8)
                a->orientation = 1;
        a->input_width = (unsigned)(vips_image_get_orientation_swap(hdr) ? hdr->Ysize : hdr->Xsize);
        a->input_height =
            (unsigned)(vips_image_get_orientation_swap(hdr) ? hdr->Xsize : hdr->Ysize);
        *cmyk = hdr->Type == VIPS_INTERPRETATION_CMYK ||
                vips_image_guess_interpretation(hdr) == VIPS_INTERPRETATION_CMYK;
        r = render_check_input_profile(hdr, *cmyk, a->input_profile, sizeof a->input_profile, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(hdr);
        return 0;
}

/*
 * Geometry: shrink-on-load to the target (tw×th before the paper turn), with
 * the fit's crop/contain/force, decoded into memory, at the input's depth
 * (deep: 16 bits per sample). Decode failures here are the file's fault:
 * image_corrupt.
 */
static int render_geometry(const lab_render_params_t *p, lab_render_audit_t *a, bool cmyk,
                           bool deep, VipsImage **ret, lab_error_t *err)
{
        _cleanup_image_ VipsImage *img = NULL;
        unsigned bx = 0, by = 0, bw = a->input_width, bh = a->input_height, tw, th;
        VipsInteresting crop = VIPS_INTERESTING_NONE;
        VipsSize size = VIPS_SIZE_BOTH;
        VipsImage *t = NULL;
        int r;

        if (p->crop) {
                const lab_crop_t *c = p->crop;

                if (c->width == 0 || c->height == 0 || (uint64_t)c->x + c->width > a->input_width ||
                    (uint64_t)c->y + c->height > a->input_height)
                        return lab_error_set(
                            err, EINVAL, "bad_crop", "crop %ux%u+%u+%u is outside the %ux%u image",
                            c->width, c->height, c->x, c->y, a->input_width, a->input_height);
                bx = c->x, by = c->y, bw = c->width, bh = c->height;
        }

        /* Turn landscape pictures on portrait paper (and the reverse) so they fill it. */
        a->rotated = (bw > bh && p->width < p->height) || (bw < bh && p->width > p->height);
        tw = a->rotated ? p->height : p->width;
        th = a->rotated ? p->width : p->height;

        if (p->fit == LAB_FIT_FILL)
                crop = VIPS_INTERESTING_CENTRE;
        else if (p->fit == LAB_FIT_EXACT) {
                double want = (double)tw / th, have = (double)bw / bh;

                if ((have > want ? have - want : want - have) / want > 0.01)
                        return lab_error_set(err, EINVAL, "aspect_mismatch",
                                             "the picture is %ux%u (aspect %.4f), the print "
                                             "needs %.4f within 1%%",
                                             bw, bh, have, want);
                size = VIPS_SIZE_FORCE;
        }
        a->crop = render_used_box(bx, by, bw, bh, tw, th, p->fit, &a->scale);

        a->load_shrink = 1;
        if (!p->crop && !cmyk && !deep) {
                if (vips_thumbnail(p->input, &t, (int)tw, "height", (int)th, "size", size, "crop",
                                   crop, "fail_on", VIPS_FAIL_ON_ERROR, NULL))
                        return render_vips_error(err, EINVAL, "image_corrupt", p->input);
                render_step(&img, t);
        } else {
                /*
                 * A crop box is in upright pixels, vips_thumbnail would turn
                 * CMYK into sRGB behind our back and 16 bits into 8 (its
                 * processing space is 8-bit sRGB): decode (a JPEG shrunk on
                 * load by a power of two that leaves at least twice the pixels
                 * the print needs, as vips_thumbnail does), turn upright, cut,
                 * resize, all at the input's depth. Upright files are read
                 * sequentially (top to bottom, in strips), as vips_thumbnail
                 * does; a turn needs the whole image.
                 */
                VipsAccess access =
                    a->orientation == 1 ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM;
                double need = p->fit == LAB_FIT_EXACT ? render_max((double)tw / bw, (double)th / bh)
                                                      : a->scale;
                const char *loader = vips_foreign_find_load(p->input);
                unsigned f = 1, x0, y0, x1, y1;
                double sx, sy;

                vips_error_clear();
                if (loader && strcmp(loader, "VipsForeignLoadJpegFile") == 0)
                        while (f < 8 && need * f * 4 <= 1.0)
                                f *= 2;
                a->load_shrink = f;
                t = f > 1 ? vips_image_new_from_file(p->input, "shrink", (int)f, "access", access,
                                                     "fail_on", VIPS_FAIL_ON_ERROR, NULL)
                          : vips_image_new_from_file(p->input, "access", access, "fail_on",
                                                     VIPS_FAIL_ON_ERROR, NULL);
                if (render_step(&img, t) < 0 || vips_autorot(img, &t, NULL) ||
                    render_step(&img, t) < 0)
                        return render_vips_error(err, EINVAL, "image_corrupt", p->input);
                /* The box in the shrunk image: whole pixels that cover it. */
                x0 = bx / f, y0 = by / f;
                x1 = (unsigned)render_min(img->Xsize, (bx + bw + f - 1) / f);
                y1 = (unsigned)render_min(img->Ysize, (by + bh + f - 1) / f);
                if (x1 <= x0 || y1 <= y0 ||
                    vips_extract_area(img, &t, (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0),
                                      NULL) ||
                    render_step(&img, t) < 0)
                        return render_vips_error(err, EINVAL, "image_corrupt", p->input);
                sx = (double)tw / img->Xsize, sy = (double)th / img->Ysize;
                if (p->fit == LAB_FIT_EXACT)
                        r = vips_resize(img, &t, sx, "vscale", sy, NULL);
                else
                        r = vips_resize(
                            img, &t,
                            p->fit == LAB_FIT_FILL ? render_max(sx, sy) : render_min(sx, sy), NULL);
                if (r || render_step(&img, t) < 0)
                        return render_vips_error(err, EINVAL, "image_corrupt", p->input);
                if (p->fit == LAB_FIT_FILL &&
                    (vips_gravity(img, &t, VIPS_COMPASS_DIRECTION_CENTRE, (int)tw, (int)th, NULL) ||
                     render_step(&img, t) < 0))
                        return render_vips_error(err, EINVAL, "image_corrupt", p->input);
        }
        /* Evaluate now: the whole decode happens here, at output size. */
        t = vips_image_copy_memory(img);
        if (render_step(&img, t) < 0)
                return render_vips_error(err, EINVAL, "image_corrupt", p->input);
        *ret = TAKE_PTR(img);
        return 0;
}

/* Pixels at output size → device pixels of the printer on this paper, exactly W×H. */
/*
 * The share of img's pixels outside the output profile's gamut (render-color.c,
 * ΔE2000 round trip), measured on a copy shrunk to at most 128 pixels a side
 * (enough for a share, cheap next to the render). -1 when it cannot be
 * measured; never fails the render.
 */
static double render_gamut(const lab_render_params_t *p, VipsImage *img)
{
        _cleanup_image_ VipsImage *small = NULL;
        const void *icc = NULL;
        size_t icc_len = 0, size = 0;
        double scale = 128.0 / render_max(img->Xsize, img->Ysize), share = -1;
        VipsImage *t = NULL;
        lab_error_t err = {0};
        uint8_t *rgb;

        if (vips_image_get_typeof(img, VIPS_META_ICC_NAME))
                vips_image_get_blob(img, VIPS_META_ICC_NAME, &icc, &icc_len);
        small = img;
        g_object_ref(small);
        if (scale < 1 && (vips_resize(small, &t, scale, NULL) || render_step(&small, t) < 0))
                return -1;
        if (small->BandFmt == VIPS_FORMAT_USHORT &&
            (vips_rshift_const1(small, &t, 8, NULL) || render_step(&small, t) < 0))
                return -1;
        if ((vips_extract_band(small, &t, 0, "n", 3, NULL) || render_step(&small, t) < 0) ||
            (vips_cast_uchar(small, &t, NULL) || render_step(&small, t) < 0))
                return -1;
        rgb = vips_image_write_to_memory(small, &size);
        if (!rgb)
                return -1;
        if (lab_color_gamut_share(rgb, size / 3, (const char *)icc, icc_len, p->output_profile,
                                  p->intent, 16384, &share, &err) < 0)
                share = -1;
        g_free(rgb);
        return share;
}

static int render_colour(const lab_render_params_t *p, lab_render_audit_t *a, bool cmyk,
                         VipsImage **io, lab_error_t *err)
{
        _cleanup_image_ VipsImage *img = TAKE_PTR(*io);
        bool has_profile = vips_image_get_typeof(img, VIPS_META_ICC_NAME);
        unsigned depth = p->encoding == LAB_ENCODING_JPEG ? 8 : (p->depth ? p->depth : 8);
        VipsImage *t = NULL;
        double white[4];
        int n_white, r;

        if (vips_image_hasalpha(img)) {
                /* Transparent areas print as paper white. */
                double max = img->BandFmt == VIPS_FORMAT_USHORT ? 65535 : 255;
                double bg[4] = {max, max, max, max};

                if (cmyk)
                        bg[0] = bg[1] = bg[2] = bg[3] = 0;
                VipsArrayDouble *bga = vips_array_double_new(bg, img->Bands - 1);

                r = vips_flatten(img, &t, "background", bga, "max_alpha", max, NULL);
                vips_area_unref(VIPS_AREA(bga));
                if (r || render_step(&img, t) < 0)
                        return render_vips_error(err, EIO, "render_failed", "flatten");
        }
        if (!cmyk && img->Bands < 3 && !has_profile) {
                /* At the image's depth: sRGB is 8-bit, RGB16 its 16-bit form. */
                if (vips_colourspace(img, &t,
                                     img->BandFmt == VIPS_FORMAT_USHORT ? VIPS_INTERPRETATION_RGB16
                                                                        : VIPS_INTERPRETATION_sRGB,
                                     NULL) ||
                    render_step(&img, t) < 0)
                        return render_vips_error(err, EIO, "render_failed", "grey to sRGB");
        }
        if (a->rotated && (vips_rot(img, &t, VIPS_ANGLE_D90, NULL) || render_step(&img, t) < 0))
                return render_vips_error(err, EIO, "render_failed", "rotate");
        if (p->sharpen_sigma > 0) {
                if (cmyk)
                        t = render_usm(img, p->sharpen_sigma);
                else if (vips_sharpen(img, &t, "sigma", p->sharpen_sigma, NULL))
                        t = NULL;
                if (render_step(&img, t) < 0)
                        return render_vips_error(err, EIO, "render_failed", "sharpen");
        }
        a->gamut_share = cmyk ? -1 : render_gamut(p, img);
        /*
         * The one quantisation: a 16-bit image goes in as 16 bits (lcms2
         * TYPE_*_16), out at the paper's depth. Everything before keeps the
         * input's format (flatten, rotation, sharpening included).
         */
        a->transform_depth = img->BandFmt == VIPS_FORMAT_USHORT ? 16 : 8;
        if (vips_icc_transform(img, &t, p->output_profile, "embedded", TRUE, "input_profile",
                               "srgb", "intent", (VipsIntent)p->intent, "black_point_compensation",
                               p->bpc, "depth", (int)depth, NULL) ||
            render_step(&img, t) < 0)
                return render_vips_error(err, EIO, "render_failed", "ICC transform");

        /* Border (fit) and any rounding pixel: white in device space (CMYK: no ink). */
        n_white = img->Bands;
        for (int i = 0; i < n_white && i < 4; i++)
                white[i] = img->Type == VIPS_INTERPRETATION_CMYK ? 0 : depth == 16 ? 65535 : 255;
        if ((unsigned)img->Xsize != p->width || (unsigned)img->Ysize != p->height) {
                VipsArrayDouble *wa = vips_array_double_new(white, n_white > 4 ? 4 : n_white);

                r = vips_gravity(img, &t, VIPS_COMPASS_DIRECTION_CENTRE, (int)p->width,
                                 (int)p->height, "extend", VIPS_EXTEND_BACKGROUND, "background", wa,
                                 NULL);
                vips_area_unref(VIPS_AREA(wa));
                if (r || render_step(&img, t) < 0)
                        return render_vips_error(err, EIO, "render_failed", "border");
        }
        t = vips_image_copy_memory(img);
        if (render_step(&img, t) < 0)
                return render_vips_error(err, EIO, "render_failed", "ICC transform");
        a->width = (unsigned)img->Xsize;
        a->height = (unsigned)img->Ysize;
        *io = TAKE_PTR(img);
        return 0;
}

/* Encode to OUTPUT.tmp, fsync, rename over OUTPUT, fsync the directory. */
static int render_write(VipsImage *img, const lab_render_params_t *p, lab_error_t *err)
{
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -1;
        char *slash;
        int r;

        if (asprintf(&tmp, "%s.tmp", p->output) < 0 || !(dir = strdup(p->output)))
                return lab_error_set(err, ENOMEM, "output_failed", "out of memory");
        slash = strrchr(dir, '/');
        if (slash)
                slash[slash == dir ? 1 : 0] = '\0';
        else
                strcpy(dir, ".");

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return lab_error_set(err, errno, "output_failed", "%s: %s", tmp, strerror(errno));
        r = render_encode(img, p, fd, tmp, err);
        if (r == 0 && fsync(fd) < 0)
                r = lab_error_set(err, errno, "output_failed", "%s: fsync: %s", tmp,
                                  strerror(errno));
        if (r == 0 && rename(tmp, p->output) < 0)
                r = lab_error_set(err, errno, "output_failed", "%s: %s", p->output,
                                  strerror(errno));
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        (void)lab_fsync_dir(dir);
        return 0;
}

int lab_render(const lab_render_params_t *p, lab_render_audit_t *audit, lab_error_t *err)
{
        _cleanup_image_ VipsImage *hdr = NULL, *img = NULL;
        lab_render_audit_t a = {0};
        lab_error_t perr;
        bool cmyk = false;
        int r;

        r = render_check_params(p, err);
        if (r < 0)
                return r;
        a.intent = p->intent;
        a.bpc = p->bpc;
        a.sharpen_sigma = p->sharpen_sigma;
        snprintf(a.output_profile, sizeof a.output_profile, "%s", p->output_profile);
        snprintf(a.vips_version, sizeof a.vips_version, "%s", vips_version_string());
        snprintf(a.lcms_version, sizeof a.lcms_version, "%s", lab_color_lcms_version());
        if (lab_color_profile_id(p->output_profile, a.output_profile_id, &perr) < 0)
                return lab_error_set(err, EINVAL, "render_failed", "output profile: %s: %s",
                                     perr.keyword, perr.message);

        r = render_probe(p, &a, &cmyk, &hdr, err);
        if (r < 0)
                return r;
        r = render_geometry(p, &a, cmyk, hdr->BandFmt == VIPS_FORMAT_USHORT, &img, err);
        if (r < 0)
                return r;
        r = render_colour(p, &a, cmyk, &img, err);
        if (r < 0)
                return r;
        r = render_write(img, p, err);
        if (r < 0)
                return r;
        r = lab_sha256_file(p->output, a.output_sha256);
        if (r < 0)
                return lab_error_set(err, r, "output_failed", "%s: cannot hash: %s", p->output,
                                     strerror(-r));
        if (audit)
                *audit = a;
        return 0;
}

char *lab_render_audit_json(const lab_render_audit_t *a)
{
        json_t *o;
        char *s;

        o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:{s:i, s:i, s:i, s:i}, s:b,"
                      " s:f, s:i, s:f, s:i, s:i, s:s, s:s, s:s, s:f, s:i}",
                      "input_sha256", a->input_sha256, "input_profile", a->input_profile,
                      "input_width", (int)a->input_width, "input_height", (int)a->input_height,
                      "orientation", a->orientation, "output_profile", a->output_profile,
                      "output_profile_id", a->output_profile_id, "intent",
                      lab_intent_name(a->intent), "bpc", a->bpc, "crop", "x", (int)a->crop.x, "y",
                      (int)a->crop.y, "width", (int)a->crop.width, "height", (int)a->crop.height,
                      "rotated", a->rotated, "scale", a->scale, "load_shrink", (int)a->load_shrink,
                      "sharpen_sigma", a->sharpen_sigma, "width", (int)a->width, "height",
                      (int)a->height, "output_sha256", a->output_sha256, "vips_version",
                      a->vips_version, "lcms_version", a->lcms_version, "gamut_share",
                      a->gamut_share, "transform_depth", (int)a->transform_depth);
        if (!o)
                return NULL;
        s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        return s;
}
