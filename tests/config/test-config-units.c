/*
 * test-config-units.c - the unit grammar of labagent.yaml: durations, sizes, log levels.
 *
 * Why: these parsers decide what "25s" and "200MiB" mean for every timer and
 * limit in the daemon. Each case asserts the exact value or the exact errno,
 * including the overflow edges, so a grammar change shows up here first.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "config-private.h"
#include "config.h"

#define SEC  UINT64_C(1000000)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* Assert that s parses as a duration of want usec. */
static void duration_ok(const char *s, uint64_t want)
{
        uint64_t v = UINT64_C(0xdeadbeef);

        if (lab_parse_duration(s, &v) != 0)
                fail_msg("duration '%s' was refused", s);
        if (v != want)
                fail_msg("duration '%s' = %ju, expected %ju", s, (uintmax_t)v, (uintmax_t)want);
}

/* Assert that s is refused with err and the output is left alone. */
static void duration_bad(const char *s, int err)
{
        uint64_t v = 4242;
        int r = lab_parse_duration(s, &v);

        if (r != err)
                fail_msg("duration '%s': got %d, expected %d", s ? s : "(null)", r, err);
        assert_int_equal(v, 4242);
}

/* Assert that s parses as a size of want bytes. */
static void size_ok(const char *s, uint64_t want)
{
        uint64_t v = UINT64_C(0xdeadbeef);

        if (lab_parse_size(s, &v) != 0)
                fail_msg("size '%s' was refused", s);
        if (v != want)
                fail_msg("size '%s' = %ju, expected %ju", s, (uintmax_t)v, (uintmax_t)want);
}

/* Assert that s is refused with err and the output is left alone. */
static void size_bad(const char *s, int err)
{
        uint64_t v = 4242;
        int r = lab_parse_size(s, &v);

        if (r != err)
                fail_msg("size '%s': got %d, expected %d", s ? s : "(null)", r, err);
        assert_int_equal(v, 4242);
}

/* Every unit, combinations, zero and leading zeros. */
static void test_duration_good(void **state)
{
        (void)state;
        duration_ok("25s", 25 * SEC);
        duration_ok("5m", 5 * MIN);
        duration_ok("1h30m", HOUR + 30 * MIN);
        duration_ok("250ms", 250000);
        duration_ok("2d", 2 * DAY);
        duration_ok("1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5000);
        duration_ok("0s", 0);
        duration_ok("0ms", 0);
        duration_ok("007s", 7 * SEC);
        duration_ok("90s", 90 * SEC);
        duration_ok("1ms1s", SEC + 1000);
        /* The largest whole number of days that fits in uint64_t usec. */
        duration_ok("213503982d", UINT64_C(213503982) * DAY);
        duration_ok("18446744073709551ms", UINT64_C(18446744073709551) * 1000);
}

/* No unit, words, fractions, spaces, signs, wrong case, trailing digits. */
static void test_duration_bad(void **state)
{
        (void)state;
        duration_bad("25", -EINVAL);
        duration_bad("5 minutes", -EINVAL);
        duration_bad("5minutes", -EINVAL);
        duration_bad("1.5h", -EINVAL);
        duration_bad("", -EINVAL);
        duration_bad(NULL, -EINVAL);
        duration_bad("s", -EINVAL);
        duration_bad("-5s", -EINVAL);
        duration_bad("+5s", -EINVAL);
        duration_bad("5S", -EINVAL);
        duration_bad("5sec", -EINVAL);
        duration_bad("5us", -EINVAL);
        duration_bad(" 5s", -EINVAL);
        duration_bad("5s ", -EINVAL);
        duration_bad("1h 30m", -EINVAL);
        duration_bad("1h30", -EINVAL);
        duration_bad("5w", -EINVAL);
        /* A syntax error wins over an overflow. */
        duration_bad("99999999999999999999", -EINVAL);
}

/* Overflow anywhere is -ERANGE, never a wrapped value. */
static void test_duration_overflow(void **state)
{
        (void)state;
        duration_bad("213503983d", -ERANGE);
        duration_bad("99999999999999999999s", -ERANGE);
        duration_bad("18446744073709552ms", -ERANGE);
        duration_bad("213503982d213503982d", -ERANGE);
        duration_bad("18446744073709551615ms", -ERANGE);
        duration_bad("213503982d1d", -ERANGE);
}

/* SI and IEC units, bytes, zero and the largest values. */
static void test_size_good(void **state)
{
        (void)state;
        size_ok("200MB", UINT64_C(200000000));
        size_ok("200MiB", UINT64_C(200) * 1024 * 1024);
        size_ok("20GiB", UINT64_C(20) * 1024 * 1024 * 1024);
        size_ok("512KiB", UINT64_C(512) * 1024);
        size_ok("1GB", UINT64_C(1000000000));
        size_ok("1kB", 1000);
        size_ok("1KiB", 1024);
        size_ok("1TB", UINT64_C(1000000000000));
        size_ok("1TiB", UINT64_C(1) << 40);
        size_ok("4096B", 4096);
        size_ok("0B", 0);
        size_ok("18446744073709551615B", UINT64_MAX);
        size_ok("16777215TiB", UINT64_MAX - (UINT64_C(1) << 40) + 1);
}

/* Lower-case, no unit, fractions, spaces, unknown units, sequences, signs. */
static void test_size_bad(void **state)
{
        (void)state;
        size_bad("200mb", -EINVAL);
        size_bad("200", -EINVAL);
        size_bad("200 MiB", -EINVAL);
        size_bad("1.5GiB", -EINVAL);
        size_bad("MiB", -EINVAL);
        size_bad("", -EINVAL);
        size_bad(NULL, -EINVAL);
        size_bad("200KB", -EINVAL);
        size_bad("200mib", -EINVAL);
        size_bad("200Mib", -EINVAL);
        size_bad("-1B", -EINVAL);
        size_bad("+1B", -EINVAL);
        size_bad("1GiB512MiB", -EINVAL);
        size_bad("200MiB ", -EINVAL);
        size_bad("1PiB", -EINVAL);
        size_bad("99999999999999999999", -EINVAL);
}

/* Overflow is -ERANGE. */
static void test_size_overflow(void **state)
{
        (void)state;
        size_bad("18446744073709551616B", -ERANGE);
        size_bad("16777216TiB", -ERANGE);
        size_bad("18446744073709552kB", -ERANGE);
        size_bad("99999999999999999999999GiB", -ERANGE);
}

/* The five names map to syslog priorities; anything else is refused. */
static void test_log_level(void **state)
{
        (void)state;
        assert_int_equal(lab_parse_log_level("error"), LOG_ERR);
        assert_int_equal(lab_parse_log_level("warning"), LOG_WARNING);
        assert_int_equal(lab_parse_log_level("notice"), LOG_NOTICE);
        assert_int_equal(lab_parse_log_level("info"), LOG_INFO);
        assert_int_equal(lab_parse_log_level("debug"), LOG_DEBUG);
        assert_int_equal(lab_parse_log_level("warn"), -EINVAL);
        assert_int_equal(lab_parse_log_level("err"), -EINVAL);
        assert_int_equal(lab_parse_log_level("INFO"), -EINVAL);
        assert_int_equal(lab_parse_log_level("critical"), -EINVAL);
        assert_int_equal(lab_parse_log_level(" info"), -EINVAL);
        assert_int_equal(lab_parse_log_level(""), -EINVAL);
        assert_int_equal(lab_parse_log_level(NULL), -EINVAL);
}

/* The formatters used in out_of_range messages pick the largest exact unit. */
static void test_format(void **state)
{
        char buf[32];

        (void)state;
        lab_format_duration(300 * SEC, buf, sizeof buf);
        assert_string_equal(buf, "5m");
        lab_format_duration(DAY, buf, sizeof buf);
        assert_string_equal(buf, "1d");
        lab_format_duration(90 * SEC, buf, sizeof buf);
        assert_string_equal(buf, "90s");
        lab_format_duration(250000, buf, sizeof buf);
        assert_string_equal(buf, "250ms");
        lab_format_duration(0, buf, sizeof buf);
        assert_string_equal(buf, "0s");
        lab_format_duration(7, buf, sizeof buf);
        assert_string_equal(buf, "7us");
        lab_format_size(1024 * 1024, buf, sizeof buf);
        assert_string_equal(buf, "1MiB");
        lab_format_size(UINT64_C(20) << 30, buf, sizeof buf);
        assert_string_equal(buf, "20GiB");
        lab_format_size(1000, buf, sizeof buf);
        assert_string_equal(buf, "1000B");
        lab_format_size(0, buf, sizeof buf);
        assert_string_equal(buf, "0B");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_duration_good),     cmocka_unit_test(test_duration_bad),
            cmocka_unit_test(test_duration_overflow), cmocka_unit_test(test_size_good),
            cmocka_unit_test(test_size_bad),          cmocka_unit_test(test_size_overflow),
            cmocka_unit_test(test_log_level),         cmocka_unit_test(test_format),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
