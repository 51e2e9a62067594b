/*
 * digest.h - SHA-256 of downloads and files, as lowercase hex.
 *
 * Why: every image the platform hands us comes with a SHA-256; we check it
 * before a single sheet is printed, so a truncated or tampered download is
 * refused rather than wasting paper. The hashing is OpenSSL's EVP (never a
 * hand-written SHA); this module only adds streaming, hex and comparison.
 */
#pragma once

#include <stddef.h>

#include "macro.h"

/* Hex digest length, without the terminating NUL. */
#define LAB_SHA256_HEX_LEN 64

/* An incremental SHA-256 (wraps an EVP_MD_CTX). */
typedef struct lab_sha256_s lab_sha256_t;

/* Start a digest in *ret. Returns 0, -ENOMEM or -EIO (OpenSSL refused SHA-256). */
int lab_sha256_new(lab_sha256_t **ret);

/* Feed n bytes. Returns 0, -EINVAL after final_hex, -EIO on an OpenSSL failure. */
int lab_sha256_update(lab_sha256_t *s, const void *data, size_t n);

/* Finish the digest into out (64 lowercase hex + NUL). Once only: later calls give -EINVAL. */
int lab_sha256_final_hex(lab_sha256_t *s, char out[static LAB_SHA256_HEX_LEN + 1]);

/* Free a digest (NULL is fine). */
void lab_sha256_free(lab_sha256_t *s);
LAB_DEFINE_CLEANUP(lab_sha256_t *, lab_sha256_free)

/* One-shot digest of a buffer into out. Returns 0 or a negative errno. */
int lab_sha256_hex(const void *data, size_t n, char out[static LAB_SHA256_HEX_LEN + 1]);

/* Digest a whole file, streaming in 64 KiB reads. Returns 0 or the negative errno of open/read. */
int lab_sha256_file(const char *path, char out[static LAB_SHA256_HEX_LEN + 1]);

/* True when s is exactly 64 hex digits (either case). NULL is not valid. */
int lab_sha256_hex_valid(const char *s);

/*
 * True when a and b are valid hex digests of the same value, case-insensitively.
 * The 64 digits are compared without an early exit (no timing hint of where they differ).
 */
int lab_sha256_equal(const char *a, const char *b);
