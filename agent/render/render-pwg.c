/*
 * render-pwg.c - PWG raster (PWG 5102.4) for IPP Everywhere printers.
 *
 * libvips 8.14 has no PWG saver, so this writes one page by hand: the sync
 * word "RaS2", the 1796-byte big-endian page header, then each line as a
 * line-repeat byte followed by PackBits-style runs of whole pixels
 * (0..127: the next pixel n+1 times; 129..255: 257-n literal pixels; 128 is
 * never written). Pixels are already device values for the printer and its
 * paper, so the colour space is device RGB (1) or device CMYK (6).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "io-util.h"
#include "render-private.h"

#define PWG_CSPACE_RGB  1
#define PWG_CSPACE_CMYK 6

/* An output buffer flushed to fd when full. */
typedef struct pwg_out_s {
        int fd;
        uint8_t buf[64 * 1024];
        size_t n;
        int r; /* first write error */
} pwg_out_t;

static void pwg_flush(pwg_out_t *o)
{
        if (o->n > 0 && o->r == 0)
                o->r = lab_write_all(o->fd, o->buf, o->n);
        o->n = 0;
}

static void pwg_put(pwg_out_t *o, const void *data, size_t n)
{
        const uint8_t *d = data;

        while (n > 0) {
                size_t k = sizeof o->buf - o->n;

                if (k > n)
                        k = n;
                memcpy(o->buf + o->n, d, k);
                o->n += k;
                d += k;
                n -= k;
                if (o->n == sizeof o->buf)
                        pwg_flush(o);
        }
}

static void pwg_put_byte(pwg_out_t *o, uint8_t b)
{
        pwg_put(o, &b, 1);
}

static void be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* Encode one line of w pixels of bpp bytes each. */
static void pwg_encode_line(pwg_out_t *o, const uint8_t *line, size_t w, size_t bpp)
{
        size_t x = 0;

        while (x < w) {
                const uint8_t *px = line + x * bpp;
                size_t n = 1;

                if (x + 1 < w && memcmp(px, px + bpp, bpp) == 0) {
                        /* A run of identical pixels, at most 128. */
                        while (x + n < w && n < 128 && memcmp(px, line + (x + n) * bpp, bpp) == 0)
                                n++;
                        pwg_put_byte(o, (uint8_t)(n - 1));
                        pwg_put(o, px, bpp);
                } else {
                        /* Literal pixels up to the next run, at most 128. */
                        while (x + n < w && n < 128 &&
                               !(x + n + 1 < w &&
                                 memcmp(line + (x + n) * bpp, line + (x + n + 1) * bpp, bpp) == 0))
                                n++;
                        pwg_put_byte(o, n == 1 ? 0 : (uint8_t)(257 - n));
                        pwg_put(o, px, n * bpp);
                }
                x += n;
        }
}

int lab_render_pwg_write(VipsImage *img, unsigned dpi, int fd, const char *path, lab_error_t *err)
{
        const size_t w = (size_t)img->Xsize, h = (size_t)img->Ysize, bands = (size_t)img->Bands;
        const bool wide = img->BandFmt == VIPS_FORMAT_USHORT;
        const size_t bpc = wide ? 2 : 1, bpp = bands * bpc, line_bytes = w * bpp;
        uint8_t header[LAB_PWG_HEADER_SIZE] = {0};
        uint8_t *cur;
        pwg_out_t *o;
        size_t y;
        int r;

        if ((bands != 3 && bands != 4) || (img->BandFmt != VIPS_FORMAT_UCHAR && !wide) || dpi == 0)
                return lab_error_set(err, EINVAL, "render_failed",
                                     "%s: PWG raster needs RGB or CMYK at 8 or 16 bits and a dpi, "
                                     "got %zu bands",
                                     path, bands);

        memcpy(header, "PwgRaster", sizeof "PwgRaster");
        be32(header + 276, dpi); /* HWResolution */
        be32(header + 280, dpi);
        be32(header + 340, 1);                        /* NumCopies */
        be32(header + 352, (uint32_t)(w * 72 / dpi)); /* PageSize, points */
        be32(header + 356, (uint32_t)(h * 72 / dpi));
        be32(header + 372, (uint32_t)w);          /* cupsWidth */
        be32(header + 376, (uint32_t)h);          /* cupsHeight */
        be32(header + 384, (uint32_t)(bpc * 8));  /* cupsBitsPerColor */
        be32(header + 388, (uint32_t)(bpp * 8));  /* cupsBitsPerPixel */
        be32(header + 392, (uint32_t)line_bytes); /* cupsBytesPerLine */
        be32(header + 396, 0);                    /* cupsColorOrder: chunky */
        be32(header + 400, bands == 4 ? PWG_CSPACE_CMYK : PWG_CSPACE_RGB);
        be32(header + 420, (uint32_t)bands); /* cupsNumColors */
        be32(header + 452, 1);               /* TotalPageCount */
        be32(header + 456, 1);               /* CrossFeedTransform */
        be32(header + 460, 1);               /* FeedTransform */
        be32(header + 472, (uint32_t)w);     /* ImageBoxRight */
        be32(header + 476, (uint32_t)h);     /* ImageBoxBottom */

        o = calloc(1, sizeof *o);
        cur = malloc(line_bytes);
        if (!o || !cur) {
                free(o);
                free(cur);
                return lab_error_set(err, ENOMEM, "render_failed", "%s: out of memory", path);
        }
        o->fd = fd;
        pwg_put(o, LAB_PWG_SYNC, 4);
        pwg_put(o, header, sizeof header);

        /* Big-endian samples, each line followed by how many copies of it come next. */
        for (y = 0; y < h;) {
                size_t repeat = 0;

                const uint8_t *src = VIPS_IMAGE_ADDR(img, 0, (int)y);

                if (wide)
                        for (size_t i = 0; i < w * bands; i++) {
                                uint16_t v;

                                memcpy(&v, src + i * 2, 2);
                                cur[i * 2] = (uint8_t)(v >> 8);
                                cur[i * 2 + 1] = (uint8_t)v;
                        }
                else
                        memcpy(cur, src, line_bytes);
                /* Count following identical lines (raw source compare is enough). */
                while (y + repeat + 1 < h && repeat < 255 &&
                       memcmp(VIPS_IMAGE_ADDR(img, 0, (int)y),
                              VIPS_IMAGE_ADDR(img, 0, (int)(y + repeat + 1)), line_bytes) == 0)
                        repeat++;
                pwg_put_byte(o, (uint8_t)repeat);
                pwg_encode_line(o, cur, w, bpp);
                y += repeat + 1;
        }
        pwg_flush(o);
        r = o->r;
        free(o);
        free(cur);
        if (r < 0)
                return lab_error_set(err, r, "output_failed", "%s: cannot write PWG raster: %s",
                                     path, strerror(-r));
        return 0;
}
