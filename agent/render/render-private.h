/*
 * render-private.h - what the render module's files share and nobody else uses.
 */
#pragma once

#include <vips/vips.h>

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* PWG 5102.4 sizes. */
#define LAB_PWG_SYNC        "RaS2"
#define LAB_PWG_HEADER_SIZE 1796

/*
 * Write img (memory-resident, 3 or 4 bands, uchar or ushort, already in the
 * printer's device space) as a one-page PWG raster file at path.
 * 0 or a negative errno with err set (output_failed, render_failed).
 */
int lab_render_pwg_write(VipsImage *img,   /* I - device pixels */
                         unsigned dpi,     /* I - HWResolution */
                         int fd,           /* I - open output file */
                         const char *path, /* I - for messages */
                         lab_error_t *err);

/*
 * The JPEG in[0..len) with a JFIF APP0 segment right after SOI carrying dpi
 * (dots per inch; 0 or over 65535: no unit, 1:1), replacing a JFIF APP0
 * already there. Pure. 0 with *ret (malloc'd) and *ret_len; -EINVAL when in
 * does not start like a JPEG; -ENOMEM.
 */
int lab_render_jpeg_jfif(const uint8_t *in, size_t len, unsigned dpi, uint8_t **ret,
                         size_t *ret_len);

/*
 * Write img as a baseline-compatible JPEG (Q95, no chroma subsampling,
 * metadata stripped, JFIF APP0 with dpi) to fd. 0 or a negative errno with
 * err set (output_failed, render_failed).
 */
int lab_render_jpeg_write(VipsImage *img, unsigned dpi, int fd, const char *path, lab_error_t *err);
