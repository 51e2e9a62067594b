/*
 * digest.c - SHA-256 via OpenSSL EVP: incremental, one-shot, whole file.
 *
 * The one idea: OpenSSL does the hashing; we never touch the algorithm. The
 * OpenSSL error queue is cleared on every failure so it never leaks into a
 * later, unrelated TLS error message.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "digest.h"

#define LAB_SHA256_FILE_CHUNK (64 * 1024)

struct lab_sha256_s {
        EVP_MD_CTX *ctx;
        bool done; /* final_hex was called */
};

int lab_sha256_new(lab_sha256_t **ret)
{
        lab_sha256_t *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->ctx = EVP_MD_CTX_new();
        if (!s->ctx) {
                free(s);
                ERR_clear_error();
                return -ENOMEM;
        }
        if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
                lab_sha256_free(s);
                ERR_clear_error();
                return -EIO;
        }
        *ret = s;
        return 0;
}

int lab_sha256_update(lab_sha256_t *s, const void *data, size_t n)
{
        if (!s || s->done || (!data && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;
        if (EVP_DigestUpdate(s->ctx, data, n) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        return 0;
}

int lab_sha256_final_hex(lab_sha256_t *s, char out[static LAB_SHA256_HEX_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;

        if (!s || s->done)
                return -EINVAL;
        s->done = true;
        if (EVP_DigestFinal_ex(s->ctx, md, &len) != 1 || len * 2 != LAB_SHA256_HEX_LEN) {
                ERR_clear_error();
                return -EIO;
        }
        for (unsigned int i = 0; i < len; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0x0f];
        }
        out[LAB_SHA256_HEX_LEN] = '\0';
        return 0;
}

void lab_sha256_free(lab_sha256_t *s)
{
        if (!s)
                return;
        EVP_MD_CTX_free(s->ctx);
        free(s);
}

int lab_sha256_hex(const void *data, size_t n, char out[static LAB_SHA256_HEX_LEN + 1])
{
        _cleanup_(lab_sha256_freep) lab_sha256_t *s = NULL;
        int r;

        r = lab_sha256_new(&s);
        if (r < 0)
                return r;
        r = lab_sha256_update(s, data, n);
        if (r < 0)
                return r;
        return lab_sha256_final_hex(s, out);
}

int lab_sha256_file(const char *path, char out[static LAB_SHA256_HEX_LEN + 1])
{
        _cleanup_(lab_sha256_freep) lab_sha256_t *s = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(LAB_SHA256_FILE_CHUNK);
        if (!buf)
                return -ENOMEM;
        r = lab_sha256_new(&s);
        if (r < 0)
                return r;

        for (;;) {
                ssize_t n = read(fd, buf, LAB_SHA256_FILE_CHUNK);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                r = lab_sha256_update(s, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
        return lab_sha256_final_hex(s, out);
}

/* 1 when c is an ASCII hex digit, without locale lookups. */
static int lab_is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int lab_sha256_hex_valid(const char *s)
{
        size_t i;

        if (!s)
                return 0;
        for (i = 0; i < LAB_SHA256_HEX_LEN; i++)
                if (!lab_is_hex(s[i]))
                        return 0; /* also stops at a NUL: too short */
        return s[i] == '\0';
}

int lab_sha256_equal(const char *a, const char *b)
{
        unsigned diff = 0;

        /* The format is public knowledge; only the digits themselves are compared in constant
         * time. For hex digits, c | 0x20 folds 'A'-'F' onto 'a'-'f' and leaves '0'-'9' alone. */
        if (!lab_sha256_hex_valid(a) || !lab_sha256_hex_valid(b))
                return 0;
        for (size_t i = 0; i < LAB_SHA256_HEX_LEN; i++)
                diff |= (unsigned)((unsigned char)a[i] | 0x20) ^ ((unsigned char)b[i] | 0x20);
        return diff == 0;
}
