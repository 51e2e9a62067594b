/*
 * render-jpeg.c - the JPEG print file: libvips' encoder, plus the one header
 * a print file needs.
 *
 * Why: metadata is stripped from every print file (a customer's GPS, camera
 * and profile never reach a printer), and libvips 8.14's "strip" drops the
 * JFIF APP0 segment too, leaving SOI followed by DQT. CUPS' imagetoraster
 * (cups-filters) opens only a JPEG whose second marker is an APPn, so such
 * a file is refused by every CUPS queue with a raster driver (Gutenprint).
 * This puts back a JFIF APP0 with the print's real density, and nothing
 * else: no Exif, no XMP, no comment, no profile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io-util.h"
#include "macro.h"
#include "render-private.h"

/* SOI, then APP0 "JFIF\0" 1.01, units, x/y density, no thumbnail: 2 + 18 bytes. */
#define JFIF_APP0_SIZE 18

int lab_render_jpeg_jfif(const uint8_t *in, size_t len, unsigned dpi, uint8_t **ret,
                         size_t *ret_len)
{
        uint8_t app0[JFIF_APP0_SIZE] = {0xFF, 0xE0, 0x00, 0x10, 'J', 'F',
                                        'I',  'F',  0x00, 0x01, 0x01};
        uint8_t *out;
        size_t skip = 0;

        if (len < 4 || in[0] != 0xFF || in[1] != 0xD8 || in[2] != 0xFF)
                return -EINVAL;
        /* An APP0 JFIF already there is replaced (its density may be another). */
        if (in[3] == 0xE0 && len >= 2 + 4 + 5 && memcmp(in + 6, "JFIF", 5) == 0) {
                size_t seg = ((size_t)in[4] << 8) | in[5];
                if (seg < 2 || 2 + 2 + seg > len)
                        return -EINVAL;
                skip = 2 + seg;
        }
        if (dpi > 0 && dpi <= 0xFFFF) {
                app0[11] = 1; /* dots per inch */
                app0[12] = (uint8_t)(dpi >> 8);
                app0[13] = (uint8_t)dpi;
                app0[14] = (uint8_t)(dpi >> 8);
                app0[15] = (uint8_t)dpi;
        } else {
                app0[11] = 0; /* no unit: aspect ratio 1:1 */
                app0[13] = app0[15] = 1;
        }
        out = malloc(len - skip + JFIF_APP0_SIZE);
        if (!out)
                return -ENOMEM;
        memcpy(out, in, 2);
        memcpy(out + 2, app0, JFIF_APP0_SIZE);
        memcpy(out + 2 + JFIF_APP0_SIZE, in + 2 + skip, len - 2 - skip);
        *ret = out;
        *ret_len = len - skip + JFIF_APP0_SIZE;
        return 0;
}

int lab_render_jpeg_write(VipsImage *img, unsigned dpi, int fd, const char *path, lab_error_t *err)
{
        void *buf = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        size_t len = 0, out_len = 0;
        int r;

        if (vips_jpegsave_buffer(img, &buf, &len, "Q", 95, "subsample_mode",
                                 VIPS_FOREIGN_SUBSAMPLE_OFF, "optimize_coding", TRUE, "strip", TRUE,
                                 NULL)) {
                lab_error_set(err, EIO, "output_failed", "%s: %s", path, vips_error_buffer());
                vips_error_clear();
                return -EIO;
        }
        r = lab_render_jpeg_jfif(buf, len, dpi, &out, &out_len);
        g_free(buf);
        if (r < 0)
                return lab_error_set(err, -r, "render_failed",
                                     "%s: the JPEG encoder wrote no JPEG header", path);
        r = lab_write_all(fd, out, out_len);
        if (r < 0)
                return lab_error_set(err, -r, "output_failed", "%s: %s", path, strerror(-r));
        return 0;
}
