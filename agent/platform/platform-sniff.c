/*
 * platform-sniff.c - recognise JPEG, PNG, TIFF and WebP by their magic bytes.
 *
 * The one idea: a signature matches only when every one of its bytes is
 * present and equal; we never guess from a prefix shorter than the signature.
 */
#include <string.h>

#include "macro.h"
#include "platform-sniff.h"

typedef struct lab_sniff_magic_s {
        const char *type;
        size_t offset; /* where the signature starts */
        size_t len;    /* signature length */
        const uint8_t *sig;
        size_t offset2; /* second signature part (WebP), len2 == 0 when none */
        size_t len2;
        const uint8_t *sig2;
} lab_sniff_magic_t;

static const uint8_t lab_sig_jpeg[] = {0xff, 0xd8, 0xff};
static const uint8_t lab_sig_png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
static const uint8_t lab_sig_tiff_le[] = {'I', 'I', 0x2a, 0x00};
static const uint8_t lab_sig_tiff_be[] = {'M', 'M', 0x00, 0x2a};
static const uint8_t lab_sig_riff[] = {'R', 'I', 'F', 'F'};
static const uint8_t lab_sig_webp[] = {'W', 'E', 'B', 'P'};

static const lab_sniff_magic_t lab_sniff_table[] = {
    {"image/jpeg", 0, sizeof lab_sig_jpeg, lab_sig_jpeg, 0, 0, NULL},
    {"image/png", 0, sizeof lab_sig_png, lab_sig_png, 0, 0, NULL},
    {"image/tiff", 0, sizeof lab_sig_tiff_le, lab_sig_tiff_le, 0, 0, NULL},
    {"image/tiff", 0, sizeof lab_sig_tiff_be, lab_sig_tiff_be, 0, 0, NULL},
    /* RIFF <4-byte little-endian size> WEBP */
    {"image/webp", 0, sizeof lab_sig_riff, lab_sig_riff, 8, sizeof lab_sig_webp, lab_sig_webp},
};

/* True when buf[0..n) holds sig at offset. */
static int lab_sniff_has(const uint8_t *buf, size_t n, size_t offset, const uint8_t *sig,
                         size_t len)
{
        return n >= offset + len && memcmp(buf + offset, sig, len) == 0;
}

const char *lab_sniff_content_type(const uint8_t *buf, size_t n)
{
        if (!buf)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(lab_sniff_table); i++) {
                const lab_sniff_magic_t *m = &lab_sniff_table[i];

                if (!lab_sniff_has(buf, n, m->offset, m->sig, m->len))
                        continue;
                if (m->len2 > 0 && !lab_sniff_has(buf, n, m->offset2, m->sig2, m->len2))
                        continue;
                return m->type;
        }
        return NULL;
}
