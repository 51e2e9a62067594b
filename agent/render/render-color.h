/*
 * render-color.h - ICC profiles through lcms2 directly: validation, profile IDs,
 * gamut share, and colour difference.
 *
 * Why: libvips applies the transforms (render.c), but what it does not
 * expose lives here: whether a profile parses, is an output-capable device
 * class, has the colour space the printer takes, and supports the configured
 * intent; the profile's MD5 ID for the audit record; the share of an image's
 * pixels the printer cannot reproduce; and ΔE2000 for the tests.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "config-profiles.h"

typedef enum lab_colorspace_e {
        LAB_COLORSPACE_RGB,
        LAB_COLORSPACE_CMYK,
} lab_colorspace_t;

typedef struct lab_lab_s {
        double L, a, b;
} lab_lab_t;

/*
 * Check that path is a usable output profile for a printer taking space, with
 * intent supported for output. Error keywords: profile_missing,
 * profile_unreadable, profile_invalid (does not parse), profile_wrong_class
 * (not an output/display/colour-space class), profile_wrong_colorspace,
 * profile_intent_unsupported. Messages name the file and the fault.
 */
int lab_color_check_output_profile(const char *path, lab_colorspace_t space, lab_intent_t intent,
                                   lab_error_t *err);

/*
 * The same check for a printer whose file is encoding: JPEG and PWG raster
 * take RGB, TIFF takes RGB or CMYK. The profile's own colour space decides
 * which is checked, so a CMYK profile on a TIFF printer that lacks the intent
 * is profile_intent_unsupported, not a colour space mismatch.
 */
int lab_color_check_printer_profile(const char *path, lab_encoding_t encoding, lab_intent_t intent,
                                    lab_error_t *err);

/* The profile's ID: the header's MD5 (computed when the header's is zero), 32 hex digits. */
int lab_color_profile_id(const char *path, char out[33], lab_error_t *err);

/* The profile's description tag (English), or "" (never fails). */
void lab_color_profile_description(const char *path, char *out, size_t size);

/*
 * Share (0..1) of the pixels of an 8-bit sRGB-or-given-profile RGB buffer
 * that fall outside the output profile's gamut, over at most max_samples
 * evenly spaced pixels. in_profile NULL means sRGB. A pixel is outside when
 * its colorimetric round trip through the output profile lands more than
 * ΔE2000 2 away (docs/colour.md). max_samples 0 means every pixel. Error
 * keywords: profile_missing, profile_unreadable, profile_invalid (the output
 * profile), bad_input_profile (in_profile does not parse or is not RGB),
 * gamut_failed (no memory).
 */
int lab_color_gamut_share(const uint8_t *rgb, size_t n_pixels, const char *in_profile,
                          size_t in_profile_len, const char *out_profile_path, lab_intent_t intent,
                          size_t max_samples, double *ret, lab_error_t *err);

/* CIEDE2000 colour difference. */
double lab_color_de2000(lab_lab_t a, lab_lab_t b);

/* lcms2's version as "2.14". */
const char *lab_color_lcms_version(void);
