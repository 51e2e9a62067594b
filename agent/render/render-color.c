/*
 * render-color.c - ICC profiles through lcms2 directly: validation, profile IDs,
 * gamut share, and colour difference.
 *
 * The one idea: every call gets its own cmsContext with an error handler that
 * writes lcms2's message into a buffer owned by that call, so a refused
 * profile is reported with lcms2's own words and no global state is touched
 * (render workers may call in here from several threads at once).
 *
 * What it must never do: modify a profile file, or keep a profile open past
 * the call that opened it.
 *
 * Gamut method (see docs/colour.md): a pixel is out of gamut when the round
 * trip input -> printer device values -> Lab differs from input -> Lab by
 * more than ΔE2000 2.0, both legs colorimetric. This is the same metric the
 * colour-accuracy test uses, its threshold is explicit, and it does not
 * depend on the resolution of the gamut-check CLUT lcms2 would build for
 * cmsFLAGS_GAMUTCHECK (whose CIE76 thresholds differ for matrix and LUT
 * profiles).
 */
#include <errno.h>
#include <fcntl.h>
#include <lcms2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "render-color.h"

/* Above this ΔE2000 between the printed and the wanted colour a pixel is out of gamut. */
#define LAB_GAMUT_DE_THRESHOLD 2.0

/* Pixels converted per cmsDoTransform call by lab_color_gamut_share(). */
#define LAB_GAMUT_CHUNK 4096

/* lcms2's last message for one call (the context's user data). */
typedef struct lab_cms_log_s {
        char message[512];
} lab_cms_log_t;

static void cms_log_handler(cmsContext ctx, cmsUInt32Number code, const char *text)
{
        lab_cms_log_t *log = cmsGetContextUserData(ctx);

        if (log && text)
                snprintf(log->message, sizeof log->message, "%s", text);
}

/* A fresh context logging into *log (cleared); NULL on allocation failure. */
static cmsContext cms_context_new(lab_cms_log_t *log)
{
        cmsContext ctx;

        log->message[0] = '\0';
        ctx = cmsCreateContext(NULL, log);
        if (ctx)
                cmsSetLogErrorHandlerTHR(ctx, cms_log_handler);
        return ctx;
}

/* " (lcms2: ...)" when lcms2 said something, else "". */
static const char *cms_log_text(const lab_cms_log_t *log, char *buf, size_t size)
{
        if (log->message[0] == '\0')
                return "";
        snprintf(buf, size, " (lcms2: %s)", log->message);
        return buf;
}

static inline void cms_context_freep(cmsContext *ctx)
{
        if (*ctx)
                cmsDeleteContext(*ctx);
}

static inline void cms_profile_closep(cmsHPROFILE *h)
{
        if (*h)
                cmsCloseProfile(*h);
}

static inline void cms_transform_freep(cmsHTRANSFORM *t)
{
        if (*t)
                cmsDeleteTransform(*t);
}

#define _cleanup_cms_context_   _cleanup_(cms_context_freep)
#define _cleanup_cms_profile_   _cleanup_(cms_profile_closep)
#define _cleanup_cms_transform_ _cleanup_(cms_transform_freep)

/* Four printable characters of an ICC signature, e.g. "prtr", "CMYK". */
static void sig_text(cmsUInt32Number sig, char out[5])
{
        for (int i = 0; i < 4; i++) {
                unsigned char c = (sig >> (24 - 8 * i)) & 0xff;
                out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        out[4] = '\0';
}

static const char *intent_text(lab_intent_t intent)
{
        switch (intent) {
        case LAB_INTENT_PERCEPTUAL:
                return "perceptual";
        case LAB_INTENT_RELATIVE:
                return "relative colorimetric";
        case LAB_INTENT_SATURATION:
                return "saturation";
        case LAB_INTENT_ABSOLUTE:
                return "absolute colorimetric";
        }
        return "unknown";
}

/*
 * Check that path names a readable regular file of plausible ICC size, and
 * that the file is not shorter than the size its header declares (lcms2
 * opens truncated files and silently drops the tags past the end).
 */
static int check_profile_file(const char *path, lab_error_t *err)
{
        _cleanup_close_ int fd = -1;
        unsigned char hdr[40];
        struct stat st;
        uint32_t declared;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                if (e == ENOENT || e == ENOTDIR)
                        return lab_error_set(err, e, "profile_missing",
                                             "ICC profile %s does not exist", path);
                return lab_error_set(err, e, "profile_unreadable", "cannot open ICC profile %s: %s",
                                     path, strerror(e));
        }
        if (fstat(fd, &st) < 0)
                return lab_error_set(err, errno, "profile_unreadable",
                                     "cannot stat ICC profile %s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return lab_error_set(err, EISDIR, "profile_unreadable",
                                     "ICC profile %s is not a regular file", path);
        if (st.st_size < 128)
                return lab_error_set(
                    err, EBADMSG, "profile_invalid",
                    "ICC profile %s is %lld bytes, shorter than an ICC header (128)", path,
                    (long long)st.st_size);
        n = pread(fd, hdr, sizeof hdr, 0);
        if (n < 0)
                return lab_error_set(err, errno, "profile_unreadable",
                                     "cannot read ICC profile %s: %s", path, strerror(errno));
        if (n != (ssize_t)sizeof hdr)
                return lab_error_set(err, EBADMSG, "profile_invalid",
                                     "ICC profile %s: short read of the header", path);
        if (memcmp(hdr + 36, "acsp", 4) != 0)
                return lab_error_set(err, EBADMSG, "profile_invalid",
                                     "%s is not an ICC profile (no 'acsp' signature in its header)",
                                     path);
        declared = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
                   (uint32_t)hdr[3];
        if ((uint64_t)st.st_size < declared)
                return lab_error_set(
                    err, EBADMSG, "profile_invalid",
                    "ICC profile %s is truncated: %lld bytes, its header declares %u", path,
                    (long long)st.st_size, declared);
        return 0;
}

/* Open path through ctx after check_profile_file(); profile_invalid with lcms2's reason on failure.
 */
static int open_profile(cmsContext ctx, const lab_cms_log_t *log, const char *path,
                        cmsHPROFILE *ret, lab_error_t *err)
{
        char buf[600];
        cmsHPROFILE h;
        int r;

        r = check_profile_file(path, err);
        if (r < 0)
                return r;
        h = cmsOpenProfileFromFileTHR(ctx, path, "r");
        if (!h)
                return lab_error_set(err, EBADMSG, "profile_invalid",
                                     "ICC profile %s does not parse%s", path,
                                     cms_log_text(log, buf, sizeof buf));
        *ret = h;
        return 0;
}

/*
 * The check behind both entry points: a printer takes RGB, and CMYK too when
 * cmyk_ok. The profile's own colour space picks which one is checked, so an
 * intent or table refusal is reported for the space the profile has, never as
 * a colour space mismatch from trying the other.
 */
static int check_output(const char *path, bool rgb_ok, bool cmyk_ok, lab_intent_t intent,
                        lab_error_t *err)
{
        _cleanup_cms_context_ cmsContext ctx = NULL;
        _cleanup_cms_profile_ cmsHPROFILE h = NULL, lab = NULL;
        _cleanup_cms_transform_ cmsHTRANSFORM xform = NULL;
        lab_cms_log_t log;
        cmsColorSpaceSignature have;
        cmsProfileClassSignature cls;
        char a[5], b[5], c[5], buf[600];
        cmsUInt32Number fmt;
        int r;

        if (!path || !*path)
                return lab_error_set(err, EINVAL, "profile_missing", "no ICC profile configured");
        if ((unsigned)intent > LAB_INTENT_ABSOLUTE)
                return lab_error_set(
                    err, EINVAL, "profile_intent_unsupported",
                    "ICC profile %s: rendering intent %d is not one of the four ICC intents", path,
                    (int)intent);

        ctx = cms_context_new(&log);
        if (!ctx)
                return lab_error_set(err, ENOMEM, "profile_unreadable",
                                     "ICC profile %s: out of memory creating an lcms2 context",
                                     path);

        r = open_profile(ctx, &log, path, &h, err);
        if (r < 0)
                return r;

        cls = cmsGetDeviceClass(h);
        if (cls != cmsSigOutputClass && cls != cmsSigDisplayClass && cls != cmsSigColorSpaceClass) {
                sig_text(cls, a);
                return lab_error_set(err, EMEDIUMTYPE, "profile_wrong_class",
                                     "ICC profile %s has device class '%s', not an output (prtr), "
                                     "display (mntr) or colour space (spac) profile",
                                     path, a);
        }

        have = cmsGetColorSpace(h);
        if (!(have == cmsSigRgbData && rgb_ok) && !(have == cmsSigCmykData && cmyk_ok)) {
                sig_text(have, a);
                sig_text(rgb_ok ? cmsSigRgbData : cmsSigCmykData, b);
                sig_text(cmsSigCmykData, c);
                return lab_error_set(
                    err, EMEDIUMTYPE, "profile_wrong_colorspace",
                    "ICC profile %s has colour space '%s' but the printer takes '%s'%s%s%s", path,
                    a, b, rgb_ok && cmyk_ok ? " or '" : "", rgb_ok && cmyk_ok ? c : "",
                    rgb_ok && cmyk_ok ? "'" : "");
        }

        if (!cmsIsIntentSupported(h, (cmsUInt32Number)intent, LCMS_USED_AS_OUTPUT))
                return lab_error_set(
                    err, EOPNOTSUPP, "profile_intent_unsupported",
                    "ICC profile %s has no table for the %s intent as an output profile", path,
                    intent_text(intent));

        /* Build the real PCS -> device transform: this reads and parses the tags it needs. */
        lab = cmsCreateLab4ProfileTHR(ctx, NULL);
        if (!lab)
                return lab_error_set(err, ENOMEM, "profile_unreadable",
                                     "ICC profile %s: out of memory creating a Lab profile", path);
        fmt = cmsFormatterForColorspaceOfProfile(h, 2, FALSE);
        xform = cmsCreateTransformTHR(ctx, lab, TYPE_Lab_DBL, h, fmt, (cmsUInt32Number)intent,
                                      cmsFLAGS_NOCACHE);
        if (!xform)
                return lab_error_set(err, EBADMSG, "profile_invalid",
                                     "ICC profile %s: its %s output tables do not load%s", path,
                                     intent_text(intent), cms_log_text(&log, buf, sizeof buf));

        lab_error_clear(err);
        return 0;
}

int lab_color_check_output_profile(const char *path, lab_colorspace_t space, lab_intent_t intent,
                                   lab_error_t *err)
{
        return check_output(path, space == LAB_COLORSPACE_RGB, space == LAB_COLORSPACE_CMYK, intent,
                            err);
}

int lab_color_check_printer_profile(const char *path, lab_encoding_t encoding, lab_intent_t intent,
                                    lab_error_t *err)
{
        /* JPEG and PWG raster are RGB; a TIFF printer takes RGB or CMYK. */
        return check_output(path, true, encoding == LAB_ENCODING_TIFF, intent, err);
}

int lab_color_profile_id(const char *path, char out[33], lab_error_t *err)
{
        _cleanup_cms_context_ cmsContext ctx = NULL;
        _cleanup_cms_profile_ cmsHPROFILE h = NULL;
        lab_cms_log_t log;
        cmsUInt8Number id[16];
        bool zero = true;
        char buf[600];
        int r;

        out[0] = '\0';
        if (!path || !*path)
                return lab_error_set(err, EINVAL, "profile_missing", "no ICC profile configured");

        ctx = cms_context_new(&log);
        if (!ctx)
                return lab_error_set(err, ENOMEM, "profile_unreadable",
                                     "ICC profile %s: out of memory creating an lcms2 context",
                                     path);
        r = open_profile(ctx, &log, path, &h, err);
        if (r < 0)
                return r;

        cmsGetHeaderProfileID(h, id);
        for (size_t i = 0; i < sizeof id; i++)
                if (id[i] != 0)
                        zero = false;
        if (zero) {
                /* The in-memory copy gets the ID; the file is never written. */
                if (!cmsMD5computeID(h))
                        return lab_error_set(err, EBADMSG, "profile_invalid",
                                             "ICC profile %s: cannot compute its MD5 profile ID%s",
                                             path, cms_log_text(&log, buf, sizeof buf));
                cmsGetHeaderProfileID(h, id);
        }
        for (size_t i = 0; i < sizeof id; i++)
                snprintf(out + 2 * i, 3, "%02x", id[i]);
        lab_error_clear(err);
        return 0;
}

void lab_color_profile_description(const char *path, char *out, size_t size)
{
        _cleanup_cms_context_ cmsContext ctx = NULL;
        _cleanup_cms_profile_ cmsHPROFILE h = NULL;
        lab_cms_log_t log;
        lab_error_t err;
        cmsUInt32Number n;

        if (!out || size == 0)
                return;
        out[0] = '\0';
        if (!path || !*path)
                return;
        ctx = cms_context_new(&log);
        if (!ctx)
                return;
        if (open_profile(ctx, &log, path, &h, &err) < 0)
                return;
        n = cmsGetProfileInfoASCII(h, cmsInfoDescription, "en", "US", out,
                                   (cmsUInt32Number)(size > UINT32_MAX ? UINT32_MAX : size));
        if (n == 0)
                out[0] = '\0';
        out[size - 1] = '\0';
}

int lab_color_gamut_share(const uint8_t *rgb, size_t n_pixels, const char *in_profile,
                          size_t in_profile_len, const char *out_profile_path, lab_intent_t intent,
                          size_t max_samples, double *ret, lab_error_t *err)
{
        _cleanup_cms_context_ cmsContext ctx = NULL;
        _cleanup_cms_profile_ cmsHPROFILE in = NULL, out = NULL, lab = NULL;
        _cleanup_cms_transform_ cmsHTRANSFORM to_lab = NULL, to_dev = NULL, dev_to_lab = NULL;
        _cleanup_free_ uint8_t *px = NULL;
        _cleanup_free_ uint16_t *dev = NULL;
        _cleanup_free_ cmsCIELab *want = NULL, *got = NULL;
        cmsUInt32Number dev_fmt, measure;
        lab_cms_log_t log;
        size_t n, outside = 0;
        char buf[600];
        int r;

        if (!ret)
                return lab_error_set(err, EINVAL, "gamut_failed", "no result pointer");
        *ret = 0;
        if (!rgb && n_pixels > 0)
                return lab_error_set(err, EINVAL, "gamut_failed", "no pixels");
        if (!out_profile_path || !*out_profile_path)
                return lab_error_set(err, EINVAL, "profile_missing", "no ICC profile configured");

        ctx = cms_context_new(&log);
        if (!ctx)
                return lab_error_set(err, ENOMEM, "gamut_failed",
                                     "out of memory creating an lcms2 context");

        if (in_profile) {
                in = cmsOpenProfileFromMemTHR(ctx, in_profile, (cmsUInt32Number)in_profile_len);
                if (!in)
                        return lab_error_set(err, EBADMSG, "bad_input_profile",
                                             "the input ICC profile (%zu bytes) does not parse%s",
                                             in_profile_len, cms_log_text(&log, buf, sizeof buf));
                if (cmsGetColorSpace(in) != cmsSigRgbData)
                        return lab_error_set(err, EMEDIUMTYPE, "bad_input_profile",
                                             "the input ICC profile is not an RGB profile");
        } else {
                in = cmsCreate_sRGBProfileTHR(ctx);
                if (!in)
                        return lab_error_set(err, ENOMEM, "gamut_failed",
                                             "out of memory creating the sRGB profile");
        }

        r = open_profile(ctx, &log, out_profile_path, &out, err);
        if (r < 0)
                return r;

        n = n_pixels;
        if (max_samples > 0 && n > max_samples)
                n = max_samples;
        if (n == 0) {
                lab_error_clear(err);
                return 0;
        }

        lab = cmsCreateLab4ProfileTHR(ctx, NULL);
        if (!lab)
                return lab_error_set(err, ENOMEM, "gamut_failed",
                                     "out of memory creating a Lab profile");

        /* Colorimetric legs: gamut is about reproducible colours, not about the perceptual remap.
         */
        measure = intent == LAB_INTENT_ABSOLUTE ? INTENT_ABSOLUTE_COLORIMETRIC
                                                : INTENT_RELATIVE_COLORIMETRIC;
        dev_fmt = cmsFormatterForColorspaceOfProfile(out, 2, FALSE);
        if (dev_fmt == 0)
                return lab_error_set(err, EMEDIUMTYPE, "profile_wrong_colorspace",
                                     "ICC profile %s has a colour space lcms2 cannot format",
                                     out_profile_path);

        to_lab = cmsCreateTransformTHR(ctx, in, TYPE_RGB_8, lab, TYPE_Lab_DBL, measure, 0);
        to_dev = cmsCreateTransformTHR(ctx, in, TYPE_RGB_8, out, dev_fmt, measure, 0);
        dev_to_lab = cmsCreateTransformTHR(ctx, out, dev_fmt, lab, TYPE_Lab_DBL, measure, 0);
        if (!to_lab || !to_dev || !dev_to_lab)
                return lab_error_set(err, EBADMSG, "profile_invalid",
                                     "ICC profile %s: cannot build the gamut round trip%s",
                                     out_profile_path, cms_log_text(&log, buf, sizeof buf));

        px = malloc(3 * (size_t)LAB_GAMUT_CHUNK);
        dev = malloc(cmsMAXCHANNELS * sizeof(uint16_t) * (size_t)LAB_GAMUT_CHUNK);
        want = malloc(sizeof(cmsCIELab) * LAB_GAMUT_CHUNK);
        got = malloc(sizeof(cmsCIELab) * LAB_GAMUT_CHUNK);
        if (!px || !dev || !want || !got)
                return lab_error_set(err, ENOMEM, "gamut_failed", "out of memory for %d samples",
                                     LAB_GAMUT_CHUNK);

        for (size_t done = 0; done < n;) {
                size_t k = n - done < LAB_GAMUT_CHUNK ? n - done : LAB_GAMUT_CHUNK;

                for (size_t i = 0; i < k; i++) {
                        /* Sample j of n sits at floor(j * n_pixels / n): evenly spread, first pixel
                         * included. */
                        size_t j = done + i;
                        size_t idx = (size_t)(((unsigned __int128)j * n_pixels) / n);
                        memcpy(px + 3 * i, rgb + 3 * idx, 3);
                }
                cmsDoTransform(to_lab, px, want, (cmsUInt32Number)k);
                cmsDoTransform(to_dev, px, dev, (cmsUInt32Number)k);
                cmsDoTransform(dev_to_lab, dev, got, (cmsUInt32Number)k);
                for (size_t i = 0; i < k; i++)
                        if (cmsCIE2000DeltaE(&want[i], &got[i], 1, 1, 1) > LAB_GAMUT_DE_THRESHOLD)
                                outside++;
                done += k;
        }

        *ret = (double)outside / (double)n;
        lab_error_clear(err);
        return 0;
}

double lab_color_de2000(lab_lab_t a, lab_lab_t b)
{
        cmsCIELab x = {.L = a.L, .a = a.a, .b = a.b};
        cmsCIELab y = {.L = b.L, .a = b.a, .b = b.b};

        return cmsCIE2000DeltaE(&x, &y, 1.0, 1.0, 1.0);
}

const char *lab_color_lcms_version(void)
{
        static _Thread_local char buf[16];
        int v = cmsGetEncodedCMMversion();

        snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
        return buf;
}
