/*
 * render-private.h - what the render module's files share and nobody else uses.
 */
#pragma once

#include <vips/vips.h>

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
