/*
 * test-net-pure.c - the pure parts of the platform link's helpers: content
 * sniffing, full-jitter backoff, Retry-After, certificate expiry classes,
 * SHA-256 of known vectors and hex digest validation/comparison.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "digest.h"
#include "platform-sniff.h"
#include "platform-tls.h"

#define SEC 1000000ULL
#define DAY 86400
/* 2026-11-28T16:40:01Z, a Saturday. */
#define NOW ((time_t)1795884001)

#define SNIFF(lit) lab_sniff_content_type((const uint8_t *)(lit), sizeof(lit) - 1)

static void test_sniff_types(void **state)
{
        assert_string_equal(SNIFF("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"), "image/jpeg");
        assert_string_equal(SNIFF("\xff\xd8\xff\xe1\x00\x10"
                                  "Exif\x00\x00"),
                            "image/jpeg");
        assert_string_equal(SNIFF("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), "image/png");
        assert_string_equal(SNIFF("II*\x00\x08\x00\x00\x00\x00\x00\x00\x00"), "image/tiff");
        assert_string_equal(SNIFF("MM\x00*\x00\x00\x00\x08\x00\x00\x00\x00"), "image/tiff");
        assert_string_equal(SNIFF("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp");
        assert_int_equal(LAB_SNIFF_BYTES, 12);
}

/* Each signature needs all its bytes; shorter prefixes of a real file are unknown. */
static void test_sniff_truncated(void **state)
{
        assert_string_equal(SNIFF("\xff\xd8\xff"), "image/jpeg"); /* exactly the signature */
        assert_null(SNIFF("\xff\xd8"));
        assert_null(SNIFF("\x89PNG\r\n\x1a"));
        assert_null(SNIFF("II*"));
        assert_null(SNIFF("MM\x00"));
        assert_null(SNIFF("RIFF\x24\x00\x00\x00WEB"));
        assert_null(SNIFF("RIFF"));
        assert_null(lab_sniff_content_type((const uint8_t *)"", 0));
        assert_null(lab_sniff_content_type(NULL, 0));
        assert_null(lab_sniff_content_type(NULL, 12));
        /* n is what counts, not what lies beyond it. */
        assert_null(lab_sniff_content_type((const uint8_t *)"\x89PNG\r\n\x1a\n", 7));
}

static void test_sniff_lookalikes(void **state)
{
        assert_null(SNIFF("\xff\xd8\x00\xe0")); /* JPEG SOI without a marker */
        assert_null(SNIFF("\xfe\xd8\xff\xe0"));
        assert_null(SNIFF("\x89PNG\r\n\x1a\x00\x00\x00\x00\x0d")); /* last byte wrong */
        assert_null(SNIFF("\x89png\r\n\x1a\n\x00\x00\x00\x0d"));   /* case matters */
        assert_null(SNIFF("PNG\r\n\x1a\n\x00\x00\x00\x0d\x00"));
        assert_null(SNIFF("II\x00*\x08\x00\x00\x00")); /* byte order swapped */
        assert_null(SNIFF("MM*\x00\x00\x00\x00\x08"));
        assert_null(SNIFF("II+\x00\x08\x00\x00\x00"));      /* BigTIFF: not printed */
        assert_null(SNIFF("RIFF\x24\x00\x00\x00WAVEfmt ")); /* RIFF, but audio */
        assert_null(SNIFF("RIFX\x24\x00\x00\x00WEBPVP8 "));
        assert_null(SNIFF("riff\x24\x00\x00\x00WEBPVP8 "));
        assert_null(SNIFF("xxxxxxxxWEBPVP8 "));
        assert_null(SNIFF("GIF89a\x01\x00\x01\x00\x00\x00"));
        assert_null(SNIFF("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00"));
        assert_null(SNIFF("%PDF-1.7\n%\xe2\xe3\xcf"));
        assert_null(SNIFF("<svg xmlns=\"http"));
}

static void test_backoff_protocol_defaults(void **state)
{
        const uint64_t b = LAB_BACKOFF_BASE_USEC_DEFAULT, c = LAB_BACKOFF_CAP_USEC_DEFAULT;

        assert_int_equal(lab_backoff_delay(0, b, c, UINT32_MAX), 1 * SEC);
        assert_int_equal(lab_backoff_delay(1, b, c, UINT32_MAX), 2 * SEC);
        assert_int_equal(lab_backoff_delay(5, b, c, UINT32_MAX), 32 * SEC);
        assert_int_equal(lab_backoff_delay(6, b, c, UINT32_MAX), 60 * SEC); /* 64 s capped */
        assert_int_equal(lab_backoff_delay(1000, b, c, UINT32_MAX), 60 * SEC);
        for (unsigned a = 0; a < 70; a++)
                assert_int_equal(lab_backoff_delay(a, b, c, 0), 0);
        /* Half the random range is half the ceiling (floored). */
        assert_int_equal(lab_backoff_delay(0, b, c, UINT32_MAX / 2), SEC / 2 - 1);
        assert_int_equal(lab_backoff_delay(10, b, c, UINT32_MAX / 2), 30 * SEC - 1);
}

/* For every attempt (0 .. far past 64) and a spread of randoms: 0 <= delay <= ceiling,
 * monotonic in random, exactly the ceiling at UINT32_MAX. */
static void test_backoff_bounds(void **state)
{
        static const uint32_t randoms[] = {0,          1,          2,          1000,
                                           0x7fffffff, 0x80000000, 0xfffffffe, UINT32_MAX};
        static const uint64_t bases[] = {1, 1000, SEC, 3 * SEC, UINT64_MAX / 3, UINT64_MAX};
        static const uint64_t caps[] = {1, 60 * SEC, UINT64_MAX - 1, UINT64_MAX};

        for (size_t bi = 0; bi < ELEMENTSOF(bases); bi++)
                for (size_t ci = 0; ci < ELEMENTSOF(caps); ci++)
                        for (unsigned a = 0; a <= 1100; a = a < 70 ? a + 1 : a + 103) {
                                uint64_t base = bases[bi], cap = caps[ci], ceiling, prev = 0;

                                ceiling = a < 64 && base <= (cap >> a) ? base << a : cap;
                                for (size_t ri = 0; ri < ELEMENTSOF(randoms); ri++) {
                                        uint64_t d = lab_backoff_delay(a, base, cap, randoms[ri]);

                                        assert_true(d <= ceiling);
                                        assert_true(d >= prev);
                                        prev = d;
                                }
                                assert_int_equal(prev, ceiling);
                        }
        assert_int_equal(lab_backoff_delay(UINT_MAX, SEC, 60 * SEC, UINT32_MAX), 60 * SEC);
}

static void test_backoff_degenerate(void **state)
{
        assert_int_equal(lab_backoff_delay(3, 0, 60 * SEC, UINT32_MAX), 0);
        assert_int_equal(lab_backoff_delay(3, SEC, 0, UINT32_MAX), 0);
        /* cap below base: the cap wins from the first attempt. */
        assert_int_equal(lab_backoff_delay(0, 10 * SEC, 3 * SEC, UINT32_MAX), 3 * SEC);
        /* base * 2 fits exactly, base * 4 would overflow 64 bits. */
        assert_int_equal(lab_backoff_delay(1, UINT64_MAX / 2, UINT64_MAX, UINT32_MAX),
                         UINT64_MAX - 1);
        assert_int_equal(lab_backoff_delay(2, UINT64_MAX / 2, UINT64_MAX, UINT32_MAX), UINT64_MAX);
        assert_int_equal(lab_backoff_delay(63, 1, UINT64_MAX, UINT32_MAX), 1ULL << 63);
        assert_int_equal(lab_backoff_delay(64, 1, UINT64_MAX, UINT32_MAX), UINT64_MAX);
}

static void test_backoff_struct(void **state)
{
        lab_backoff_t b = {0};
        const uint64_t base = SEC, cap = 60 * SEC;

        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 1 * SEC);
        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 2 * SEC);
        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 4 * SEC);
        assert_int_equal(b.attempt, 3);
        for (int i = 0; i < 20; i++)
                lab_backoff_next(&b, base, cap, 0);
        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 60 * SEC);
        lab_backoff_reset(&b);
        assert_int_equal(b.attempt, 0);
        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 1 * SEC);

        b.attempt = UINT_MAX; /* saturates instead of wrapping back to short delays */
        assert_int_equal(lab_backoff_next(&b, base, cap, UINT32_MAX), 60 * SEC);
        assert_int_equal(b.attempt, UINT_MAX);
}

/* Parse value at NOW; returns the result code, *usec = the wait (or UINT64_MAX untouched). */
static int retry_after(const char *value, uint64_t *usec)
{
        *usec = UINT64_MAX;
        return lab_parse_retry_after(value, NOW, usec);
}

static void test_retry_after_seconds(void **state)
{
        uint64_t u;

        assert_int_equal(retry_after("120", &u), 0);
        assert_int_equal(u, 120 * SEC);
        assert_int_equal(retry_after("0", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("007", &u), 0);
        assert_int_equal(u, 7 * SEC);
        assert_int_equal(retry_after(" 5 ", &u), 0);
        assert_int_equal(u, 5 * SEC);
        assert_int_equal(retry_after("\t5\r\n", &u), 0);
        assert_int_equal(u, 5 * SEC);
        /* Clamped to 10 minutes. */
        assert_int_equal(retry_after("600", &u), 0);
        assert_int_equal(u, 600 * SEC);
        assert_int_equal(retry_after("601", &u), 0);
        assert_int_equal(u, 600 * SEC);
        assert_int_equal(retry_after("86400", &u), 0);
        assert_int_equal(u, LAB_RETRY_AFTER_MAX_USEC);
        assert_int_equal(retry_after("18446744073709551615", &u), 0); /* UINT64_MAX fits */
        assert_int_equal(u, 600 * SEC);
}

static void test_retry_after_garbage(void **state)
{
        static const char *const bad[] = {
            "",
            "   ",
            "-5",
            "+5",
            "5s",
            "1.5",
            "1e3",
            "0x10",
            "5 5",
            "abc",
            "18446744073709551616",                /* UINT64_MAX + 1 */
            "99999999999999999999999999999999999", /* overflow */
            "Sat, 28 Nov 2026 16:42:01 UTC",       /* only GMT */
            "sat, 28 Nov 2026 16:42:01 GMT",       /* names are case-sensitive */
            "Sat, 28 nov 2026 16:42:01 GMT",
            "Xyz, 28 Nov 2026 16:42:01 GMT",
            "Sat, 28 Xyz 2026 16:42:01 GMT",
            "Sat,  28 Nov 2026 16:42:01 GMT", /* extra space */
            "Sat, 28 Nov 2026 16:42 GMT",
            "Sat, 28 Nov 26 16:42:01 GMT",
            "Sat, 28 Nov 2026 24:00:00 GMT",
            "Sat, 28 Nov 2026 16:60:00 GMT",
            "Sat, 28 Nov 2026 16:42:61 GMT",
            "Sat, 00 Nov 2026 16:42:01 GMT",
            "Sat, 31 Nov 2026 16:42:01 GMT",
            "Sat, 29 Feb 2027 16:42:01 GMT", /* not a leap year */
            "Sat, 2a Nov 2026 16:42:01 GMT",
            "Sat, 28 Nov 2026 16:42:01 GMTX",
            "Sat, 28-Nov-26 16:42:01 GMT", /* RFC 850 needs the long day name */
            "Saturday, 28-Nov-2026 16:42:01 GMT",
            "Caturday, 28-Nov-26 16:42:01 GMT",
            "Sat Nov 28 16:42:01 26",
            "Sat Nov 0x 16:42:01 2026",
            "2026-11-28T16:42:01Z",
        };
        uint64_t u;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (retry_after(bad[i], &u) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
                assert_int_equal(u, UINT64_MAX); /* untouched on error */
        }
        assert_int_equal(lab_parse_retry_after(NULL, NOW, &u), -EINVAL);
        assert_int_equal(lab_parse_retry_after("5", NOW, NULL), -EINVAL);
}

static void test_retry_after_dates(void **state)
{
        uint64_t u;

        /* The three RFC 9110 layouts of NOW + 120 s. */
        assert_int_equal(retry_after("Sat, 28 Nov 2026 16:42:01 GMT", &u), 0);
        assert_int_equal(u, 120 * SEC);
        assert_int_equal(retry_after("Saturday, 28-Nov-26 16:42:01 GMT", &u), 0);
        assert_int_equal(u, 120 * SEC);
        assert_int_equal(retry_after("Sat Nov 28 16:42:01 2026", &u), 0);
        assert_int_equal(u, 120 * SEC);
        assert_int_equal(retry_after("  Sat, 28 Nov 2026 16:42:01 GMT\r\n", &u), 0);
        assert_int_equal(u, 120 * SEC);
        /* The day name is not cross-checked against the date. */
        assert_int_equal(retry_after("Mon, 28 Nov 2026 16:40:02 GMT", &u), 0);
        assert_int_equal(u, 1 * SEC);

        /* Now and the past: retry at once. */
        assert_int_equal(retry_after("Sat, 28 Nov 2026 16:40:01 GMT", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("Sat, 28 Nov 2026 16:40:00 GMT", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("Sun Nov  6 08:49:37 1994", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(retry_after("Thu, 01 Jan 1970 00:00:00 GMT", &u), 0);
        assert_int_equal(u, 0);

        /* Far future: clamped. Exactly 600 s, and one second more. */
        assert_int_equal(retry_after("Sat, 28 Nov 2026 16:50:01 GMT", &u), 0);
        assert_int_equal(u, 600 * SEC);
        assert_int_equal(retry_after("Sat, 28 Nov 2026 16:50:02 GMT", &u), 0);
        assert_int_equal(u, 600 * SEC);
        assert_int_equal(retry_after("Fri, 31 Dec 9999 23:59:59 GMT", &u), 0);
        assert_int_equal(u, 600 * SEC);
        assert_int_equal(retry_after("Tue, 29 Feb 2028 00:00:00 GMT", &u), 0); /* leap day */
        assert_int_equal(u, 600 * SEC);

        /* RFC 850 two-digit years: up to 50 years ahead stay ahead, beyond is last century. */
        assert_int_equal(retry_after("Sunday, 28-Nov-76 16:42:01 GMT", &u), 0);
        assert_int_equal(u, 600 * SEC); /* 2076 */
        assert_int_equal(retry_after("Sunday, 28-Nov-77 16:42:01 GMT", &u), 0);
        assert_int_equal(u, 0); /* 1977 */
}

static void expect_expiry(time_t not_after_delta, lab_tls_expiry_t want, long want_days)
{
        long days = 12345;
        lab_tls_expiry_t got =
            lab_tls_expiry_classify(NOW, NOW - 100 * DAY, NOW + not_after_delta, &days);

        if (got != want || days != want_days)
                fail_msg("not_after = now %+lld s: got %s/%ld, want %s/%ld",
                         (long long)not_after_delta, lab_tls_expiry_to_string(got), days,
                         lab_tls_expiry_to_string(want), want_days);
}

static void test_expiry_boundaries(void **state)
{
        expect_expiry(365 * DAY, LAB_TLS_EXPIRY_OK, 365);
        expect_expiry(31 * DAY, LAB_TLS_EXPIRY_OK, 31);
        expect_expiry(31 * DAY - 1, LAB_TLS_EXPIRY_WARNING, 30); /* 30 d 23:59:59 floors to 30 */
        expect_expiry(30 * DAY, LAB_TLS_EXPIRY_WARNING, 30);
        expect_expiry(30 * DAY - 1, LAB_TLS_EXPIRY_WARNING, 29);
        expect_expiry(8 * DAY, LAB_TLS_EXPIRY_WARNING, 8);
        expect_expiry(8 * DAY - 1, LAB_TLS_EXPIRY_ERROR, 7);
        expect_expiry(7 * DAY, LAB_TLS_EXPIRY_ERROR, 7);
        expect_expiry(DAY, LAB_TLS_EXPIRY_ERROR, 1);
        expect_expiry(1, LAB_TLS_EXPIRY_ERROR, 0);
        expect_expiry(0, LAB_TLS_EXPIRY_EXPIRED, 0);
        expect_expiry(-1, LAB_TLS_EXPIRY_EXPIRED, -1);
        expect_expiry(-DAY, LAB_TLS_EXPIRY_EXPIRED, -1);
        expect_expiry(-DAY - 1, LAB_TLS_EXPIRY_EXPIRED, -2);
}

static void test_expiry_not_yet_valid(void **state)
{
        long days = 0;

        assert_int_equal(lab_tls_expiry_classify(NOW, NOW + 1, NOW + 90 * DAY, &days),
                         LAB_TLS_EXPIRY_NOT_YET_VALID);
        assert_int_equal(days, 90);
        assert_int_equal(lab_tls_expiry_classify(NOW, NOW, NOW + 90 * DAY, &days),
                         LAB_TLS_EXPIRY_OK); /* valid from this very second */
        /* A nonsense period (not_before after not_after): expired wins. */
        assert_int_equal(lab_tls_expiry_classify(NOW, NOW + 10, NOW - 10, NULL),
                         LAB_TLS_EXPIRY_EXPIRED);
        assert_int_equal(lab_tls_expiry_classify(NOW, NOW + DAY, NOW + 2 * DAY, NULL),
                         LAB_TLS_EXPIRY_NOT_YET_VALID);
}

static void test_expiry_extremes(void **state)
{
        const time_t tmin = (time_t)LLONG_MIN, tmax = (time_t)LLONG_MAX;
        long days = 0;

        assert_int_equal(lab_tls_expiry_classify(tmin, tmin, tmax, &days), LAB_TLS_EXPIRY_OK);
        assert_true(days > 0);
        assert_int_equal(lab_tls_expiry_classify(tmax, tmin, tmin, &days), LAB_TLS_EXPIRY_EXPIRED);
        assert_true(days < 0);
        assert_string_equal(lab_tls_expiry_to_string(LAB_TLS_EXPIRY_OK), "ok");
        assert_string_equal(lab_tls_expiry_to_string(LAB_TLS_EXPIRY_WARNING), "warning");
        assert_string_equal(lab_tls_expiry_to_string(LAB_TLS_EXPIRY_ERROR), "error");
        assert_string_equal(lab_tls_expiry_to_string(LAB_TLS_EXPIRY_EXPIRED), "expired");
        assert_string_equal(lab_tls_expiry_to_string(LAB_TLS_EXPIRY_NOT_YET_VALID),
                            "not_yet_valid");
}

#define SHA_EMPTY   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void test_sha256_vectors(void **state)
{
        char hex[LAB_SHA256_HEX_LEN + 1];

        assert_int_equal(lab_sha256_hex("", 0, hex), 0);
        assert_string_equal(hex, SHA_EMPTY);
        assert_int_equal(lab_sha256_hex(NULL, 0, hex), 0);
        assert_string_equal(hex, SHA_EMPTY);
        assert_int_equal(lab_sha256_hex("abc", 3, hex), 0);
        assert_string_equal(hex, SHA_ABC);
        assert_int_equal(
            lab_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex), 0);
        assert_string_equal(hex, SHA_448);
}

static void test_sha256_million_a(void **state)
{
        _cleanup_(lab_sha256_freep) lab_sha256_t *s = NULL;
        _cleanup_free_ char *big = malloc(1000000);
        char hex[LAB_SHA256_HEX_LEN + 1];
        char chunk[1000];

        /* One shot. */
        assert_non_null(big);
        memset(big, 'a', 1000000);
        assert_int_equal(lab_sha256_hex(big, 1000000, hex), 0);
        assert_string_equal(hex, SHA_MILLION);

        /* Incremental: 1000 updates of 1000 bytes plus empty updates in between. */
        memset(chunk, 'a', sizeof chunk);
        assert_int_equal(lab_sha256_new(&s), 0);
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(lab_sha256_update(s, chunk, sizeof chunk), 0);
                assert_int_equal(lab_sha256_update(s, NULL, 0), 0);
        }
        assert_int_equal(lab_sha256_final_hex(s, hex), 0);
        assert_string_equal(hex, SHA_MILLION);

        /* Finished: no more input, no second final. */
        assert_int_equal(lab_sha256_update(s, "a", 1), -EINVAL);
        assert_int_equal(lab_sha256_final_hex(s, hex), -EINVAL);
        assert_string_equal(hex, SHA_MILLION);
}

static void test_sha256_hex_valid(void **state)
{
        assert_true(lab_sha256_hex_valid(SHA_ABC));
        assert_true(lab_sha256_hex_valid(
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
        assert_true(lab_sha256_hex_valid(
            "Ba7816bF8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aD"));
        assert_false(lab_sha256_hex_valid(NULL));
        assert_false(lab_sha256_hex_valid(""));
        assert_false(lab_sha256_hex_valid(SHA_ABC "0")); /* 65 */
        assert_false(lab_sha256_hex_valid(&SHA_ABC[1])); /* 63 */
        assert_false(lab_sha256_hex_valid(
            "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert_false(lab_sha256_hex_valid(
            " a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert_false(lab_sha256_hex_valid(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\n"));
        assert_false(lab_sha256_hex_valid(
            "ba7816bf-f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

static void test_sha256_equal(void **state)
{
        assert_true(lab_sha256_equal(SHA_ABC, SHA_ABC));
        assert_true(lab_sha256_equal(
            SHA_ABC, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
        assert_false(lab_sha256_equal(SHA_ABC, SHA_EMPTY));
        assert_false(lab_sha256_equal(
            SHA_ABC, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae"));
        assert_false(lab_sha256_equal(
            SHA_ABC, "ca7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert_false(lab_sha256_equal(SHA_ABC, SHA_ABC "0"));
        assert_false(lab_sha256_equal(SHA_ABC, NULL));
        assert_false(lab_sha256_equal(NULL, NULL));
        assert_false(lab_sha256_equal("", ""));
        /* Not hex in both: never "equal", even when identical. */
        assert_false(
            lab_sha256_equal("zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                             "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sniff_types),
            cmocka_unit_test(test_sniff_truncated),
            cmocka_unit_test(test_sniff_lookalikes),
            cmocka_unit_test(test_backoff_protocol_defaults),
            cmocka_unit_test(test_backoff_bounds),
            cmocka_unit_test(test_backoff_degenerate),
            cmocka_unit_test(test_backoff_struct),
            cmocka_unit_test(test_retry_after_seconds),
            cmocka_unit_test(test_retry_after_garbage),
            cmocka_unit_test(test_retry_after_dates),
            cmocka_unit_test(test_expiry_boundaries),
            cmocka_unit_test(test_expiry_not_yet_valid),
            cmocka_unit_test(test_expiry_extremes),
            cmocka_unit_test(test_sha256_vectors),
            cmocka_unit_test(test_sha256_million_a),
            cmocka_unit_test(test_sha256_hex_valid),
            cmocka_unit_test(test_sha256_equal),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
