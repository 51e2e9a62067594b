/*
 * test-hotfolder-logic.c - the pure parts of the hot-folder driver: item
 * names (the job name, encoded reversibly for a file name), the media table,
 * MIME types, the cleaning of a minilab's reason text, and the folder's
 * memory: the identity file's syntax, the sent records' day names and from
 * when the records are complete.
 *
 * Why: the item name is what finds a job again after a restart; if encoding
 * were not exactly reversible and canonical, a job could be printed twice.
 * The same goes for the memory: a record taken for another day's, or records
 * said complete from before they are, would let a copy be sent again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hotfolder-private.h"

/* Encode then decode a name; check the encoded form and the round trip. */
static void roundtrip(const char *name, const char *item)
{
        char enc[HF_ITEM_MAX + 1], dec[LAB_PRINTER_JOB_NAME_MAX * 3];

        assert_int_equal(hf_item_encode(name, enc, sizeof enc), 0);
        assert_string_equal(enc, item);
        assert_int_equal(hf_item_decode(enc, dec, sizeof dec), 0);
        assert_string_equal(dec, name);
}

/* Item names: canonical, reversible, bounded, never hidden or prefixed. */
static void test_item_names(void **state)
{
        char enc[HF_ITEM_MAX + 1], dec[512], id[256];

        roundtrip("J42/1/1", "J42%2F1%2F1");
        roundtrip("a_b.c-d/12/3", "a_b.c-d%2F12%2F3");
        roundtrip("A 7:x/1/1", "A%207%3Ax%2F1%2F1");
        roundtrip("%41/1/1", "%2541%2F1%2F1");
        /* A leading '.' or '_' is encoded: items are never hidden files or our prefixes. */
        roundtrip("./1/1", "%2E%2F1%2F1");
        roundtrip("_tmp_x/1/1", "%5Ftmp_x%2F1%2F1");
        roundtrip("caf\xc3\xa9/1/1", "caf%C3%A9%2F1%2F1");

        assert_int_equal(hf_item_encode("", enc, sizeof enc), -EINVAL);
        memset(id, 'a', HF_ITEM_MAX);
        id[HF_ITEM_MAX] = '\0';
        assert_int_equal(hf_item_encode(id, enc, sizeof enc), 0);
        id[HF_ITEM_MAX - 1] = '/'; /* 179 plain + 3 encoded */
        assert_int_equal(hf_item_encode(id, enc, sizeof enc), -ENAMETOOLONG);
        assert_int_equal(hf_item_encode("a/1/1", enc, 5), -ENAMETOOLONG);

        /* Only canonical item names decode. */
        static const char *const bad[] = {"",   "a/b", "..",  ".x",  "_acc_x", "%41", "%2f",
                                          "%2", "%",   "%00", "a b", "x~1",    "%ZZ"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (hf_item_decode(bad[i], dec, sizeof dec) == 0)
                        fail_msg("'%s' decoded as an item", bad[i]);
}

/* The size table, its aliases and short names; MIME types; the format table. */
static void test_media_and_mime(void **state)
{
        size_t n;
        const hf_media_t *t = hf_media_table(&n);

        assert_true(n >= 8 && n <= LAB_PRINTER_MEDIA_MAX);
        assert_string_equal(hf_media_find("na_index-4x6_4x6in")->short_name, "4x6");
        assert_string_equal(hf_media_find("na_5x7_5x7in")->short_name, "5x7");
        assert_string_equal(hf_media_find("na_govt-letter_8x10in")->short_name, "8x10");
        assert_string_equal(hf_media_find("om_6x8_6x8in")->short_name, "6x8");
        assert_string_equal(hf_media_find("custom_6x8_6x8in")->short_name, "6x8");
        assert_null(hf_media_find("iso_a4_210x297mm"));
        assert_null(hf_media_find(NULL));
        assert_ptr_equal(hf_media_find_short("4x6"), &t[1]);
        assert_null(hf_media_find_short("4x5"));
        for (size_t i = 0; i < n; i++)
                assert_ptr_equal(hf_media_find_short(t[i].short_name), &t[i]);

        assert_string_equal(hf_mime_ext("image/jpeg"), "jpg");
        assert_string_equal(hf_mime_ext("image/tiff"), "tif");
        assert_null(hf_mime_ext("image/pwg-raster"));
        assert_null(hf_mime_ext(NULL));

        assert_ptr_equal(hf_format_for(LAB_HOTFOLDER_GENERIC), &hf_format_generic);
        assert_string_equal(hf_format_for(LAB_HOTFOLDER_NORITSU)->name, "noritsu");
        assert_string_equal(hf_format_for(LAB_HOTFOLDER_DNP)->name, "dnp");
}

/* A minilab's reason text becomes one clean, bounded line. */
static void test_reason_clean(void **state)
{
        char buf[16];
        const char *s;

        s = "  paper\tjam\r\n\n code 4 \n";
        hf_reason_clean(s, strlen(s), buf, sizeof buf);
        assert_string_equal(buf, "paper jam code");
        s = "0123456789abcdefghij";
        hf_reason_clean(s, strlen(s), buf, sizeof buf);
        assert_string_equal(buf, "0123456789abcde");
        /* A UTF-8 character cut by the buffer is dropped whole. */
        s = "abcdefghijklmn\xc3\xa9z";
        hf_reason_clean(s, strlen(s), buf, sizeof buf);
        assert_string_equal(buf, "abcdefghijklmn");
        s = "abcdefghijklm\xc3\xa9z";
        hf_reason_clean(s, strlen(s), buf, sizeof buf);
        assert_string_equal(buf, "abcdefghijklm\xc3\xa9");
        hf_reason_clean("", 0, buf, sizeof buf);
        assert_string_equal(buf, "");
}

/* The identity file: exactly "<32 lowercase hex> <seconds>\n", anything else is unparsable. */
static void test_folder_id(void **state)
{
        static const char *const bad[] = {
            "",
            "\n",
            "0123456789abcdef0123456789abcdef 1700000000",            /* no newline */
            "0123456789abcdef0123456789abcdef 1700000000\n\n",        /* more after it */
            "0123456789abcdef0123456789abcde 1700000000\n",           /* 31 digits */
            "0123456789abcdef0123456789abcdef0 1700000000\n",         /* 33 digits */
            "0123456789ABCDEF0123456789abcdef 1700000000\n",          /* uppercase */
            "0123456789abcdef0123456789abcdeg 1700000000\n",          /* not hex */
            "0123456789abcdef0123456789abcdef  1700000000\n",         /* two spaces */
            "0123456789abcdef0123456789abcdef 0\n",                   /* zero */
            "0123456789abcdef0123456789abcdef 01700000000\n",         /* leading zero */
            "0123456789abcdef0123456789abcdef -1700000000\n",         /* negative */
            "0123456789abcdef0123456789abcdef 1700000000 \n",         /* trailing space */
            "0123456789abcdef0123456789abcdef 1234567890123456789\n", /* 19 digits */
            "0123456789abcdef0123456789abcdef\n",                     /* no time */
        };
        const char *good = "0123456789abcdef0123456789abcdef 1700000000\n";
        int64_t t = 0;

        assert_int_equal(hf_folder_id_parse(good, strlen(good), &t), 0);
        assert_int_equal(t, 1700000000);
        /* Only the bytes given count (the file is read, not a C string). */
        assert_int_equal(hf_folder_id_parse(good, strlen(good) - 1, &t), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (hf_folder_id_parse(bad[i], strlen(bad[i]), &t) != -EINVAL)
                        fail_msg("'%s' parsed as an identity", bad[i]);
}

/* Day directory names: UTC, canonical, and back to the day's first second. */
static void test_sent_days(void **state)
{
        static const char *const bad[] = {
            "",           "2025-02-30", "2025-2-03",   "2025-02-3", "20250-02-03", "2025/02/03",
            "2025-13-01", "abcd-ef-gh", "2025-02-03x", ".labtmp-x", "1969-12-31",  "2025-00-10"};
        char buf[16];

        assert_int_equal(hf_sent_day_name(0, buf, sizeof buf), 0);
        assert_string_equal(buf, "1970-01-01");
        assert_int_equal(hf_sent_day_name(1700000000, buf, sizeof buf), 0); /* 22:13:20 UTC */
        assert_string_equal(buf, "2023-11-14");
        assert_int_equal(hf_sent_day_name(1699920000 - 1, buf, sizeof buf), 0);
        assert_string_equal(buf, "2023-11-13");
        assert_int_equal(hf_sent_day_name(1700000000, buf, 10), -EINVAL); /* no room */
        assert_int_equal(hf_sent_day_name(-1, buf, sizeof buf), -EINVAL);
        assert_int_equal(hf_sent_day_parse("2023-11-14"), 1699920000);
        assert_int_equal(hf_sent_day_parse("1970-01-01"), 0);
        assert_int_equal(hf_sent_day_parse("2024-02-29"), 1709164800); /* a leap day */
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (hf_sent_day_parse(bad[i]) != -1)
                        fail_msg("'%s' parsed as a day", bad[i]);
}

/* Records are complete from the latest of: the identity, the oldest day kept, the last prune. */
static void test_complete_since(void **state)
{
        const int64_t day = 86400, now = 1700000000; /* 2023-11-14 22:13:20 UTC */
        const int64_t today = 1699920000, kept = today - HF_SENT_KEEP_DAYS * day;

        /* A young identity: complete since it began. */
        assert_int_equal(hf_sent_complete_since(now - 3600, 0, now), now - 3600);
        /* An old one: since the first day still kept (whole days: today's and the 30 before). */
        assert_int_equal(hf_sent_complete_since(now - 400 * day, 0, now), kept);
        assert_int_equal(hf_sent_complete_since(now - 400 * day, 0, today), kept);
        assert_int_equal(hf_sent_complete_since(now - 400 * day, 0, today - 1), kept - day);
        /* A prune mark later than that (the clock went back after a prune) wins. */
        assert_int_equal(hf_sent_complete_since(now - 400 * day, now + 5 * day, now),
                         now + 5 * day);
        assert_int_equal(hf_sent_complete_since(now - 400 * day, kept - day, now), kept);
        /* No identity: nothing can be said. */
        assert_int_equal(hf_sent_complete_since(0, kept, now), 0);
}

/* Run the pure hot-folder checks. */
int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_item_names),   cmocka_unit_test(test_media_and_mime),
            cmocka_unit_test(test_reason_clean), cmocka_unit_test(test_folder_id),
            cmocka_unit_test(test_sent_days),    cmocka_unit_test(test_complete_since),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
