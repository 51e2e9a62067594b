/*
 * platform-sniff.h - the content type of an image, from its first bytes only.
 *
 * Why: a Content-Type header or a file name is a claim; the magic bytes are
 * what the RIP and the printer driver will actually see. A download whose
 * bytes are not one of the image formats we print is refused before it
 * reaches a printer. Pure: no I/O, no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Bytes to pass so that every format can be recognised (RIFF....WEBP is the longest). */
#define LAB_SNIFF_BYTES 12

/*
 * The MIME type of buf (image/jpeg, image/png, image/tiff, image/webp), or NULL when the bytes
 * are none of these or too short to tell. Pass min(file size, LAB_SNIFF_BYTES) bytes or more;
 * a shorter buffer is judged on what it holds (3 bytes are enough for JPEG). Returns a static
 * string.
 */
const char *lab_sniff_content_type(const uint8_t *buf, size_t n);
