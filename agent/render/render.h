/*
 * render.h - turn a print master into exactly the file a printer needs.
 *
 * Why: the platform sends a customer's photo (JPEG, PNG, TIFF, WebP; sRGB,
 * tagged RGB or CMYK); the printer needs its native pixel size, its paper's
 * ICC profile and intent, no personal metadata, in the format it accepts.
 * libvips does the pixels (shrink-on-load, autorotate, crop/fit, ICC
 * transform through lcms2, sharpening, encoding) in bounded memory; every
 * render yields an audit record so that a reprint reproduces the same bytes.
 * Blocking and CPU-heavy: call it from a worker thread, never the loop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "config-profiles.h"

/* A crop box in the input's pixels, after EXIF orientation. */
typedef struct lab_crop_s {
        unsigned x, y, width, height;
} lab_crop_t;

typedef struct lab_render_params_s {
        const char *input;  /* print master file */
        const char *output; /* file to write (replaced atomically) */
        unsigned width;     /* native pixels of the media, portrait */
        unsigned height;
        unsigned dpi;
        lab_fit_t fit;              /* fill (crop), fit (white border), exact */
        const lab_crop_t *crop;     /* optional, applied before fit */
        const char *output_profile; /* ICC file of the printer on this paper */
        lab_intent_t intent;
        bool bpc;
        unsigned depth; /* 8 or 16 (TIFF only) */
        lab_encoding_t encoding;
        double sharpen_sigma;      /* 0: none */
        uint64_t max_input_bytes;  /* 0: no limit */
        uint64_t max_input_pixels; /* 0: no limit */
} lab_render_params_t;

/* What a render did: enough to reproduce it and to audit it. */
typedef struct lab_render_audit_s {
        char input_sha256[65];
        char input_profile[128]; /* "embedded: <description>" or "sRGB (none embedded)" */
        unsigned input_width, input_height; /* after orientation */
        int orientation;                    /* EXIF orientation applied, 1 when none */
        char output_profile[4096];          /* path */
        char output_profile_id[33];         /* MD5 profile ID */
        lab_intent_t intent;
        bool bpc;
        lab_crop_t crop;      /* the box of the input actually used */
        bool rotated;         /* turned 90° to match the paper's orientation */
        double scale;         /* output pixels per input pixel */
        unsigned load_shrink; /* JPEG shrink-on-load factor of the crop-box/CMYK path (1, 2, 4, 8);
                                 1 otherwise (vips_thumbnail shrinks on load itself) */
        double sharpen_sigma;
        unsigned width, height; /* output */
        double gamut_share;     /* 0..1 of the pixels outside the printer's gamut; -1: not measured
                                   (CMYK input) */
        unsigned transform_depth; /* bits per sample handed to the ICC transform: 16 for 16-bit
                                     masters, 8 otherwise; the output has the paper's depth */
        char output_sha256[65];
        char vips_version[32];
        char lcms_version[16];
} lab_render_audit_t;

/* Start libvips once per process (bounded cache and threads); 0 or a negative errno. */
int lab_render_init(const char *argv0, unsigned threads, uint64_t cache_bytes);

/* Stop libvips (at exit). */
void lab_render_shutdown(void);

/*
 * Render. On failure returns a negative errno with err's keyword one of:
 * empty_input, input_too_large (bytes), image_too_large (pixels: a
 * decompression bomb), unsupported_image (not JPEG/PNG/TIFF/WebP),
 * image_corrupt (truncated or damaged), missing_input_profile (CMYK without
 * a profile), bad_input_profile (embedded profile unusable), bad_crop,
 * aspect_mismatch (fit exact), render_failed (anything else, with libvips'
 * message), output_failed (cannot write the output).
 */
int lab_render(const lab_render_params_t *p, lab_render_audit_t *audit, lab_error_t *err);

/* The audit record as a JSON object text (malloc'd), for the store and the job's events. */
char *lab_render_audit_json(const lab_render_audit_t *a);
