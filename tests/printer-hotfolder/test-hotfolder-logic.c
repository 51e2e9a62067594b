/*
 * test-hotfolder-logic.c - the pure parts of the hot-folder driver: item
 * names (the job name, encoded reversibly for a file name), the media table,
 * MIME types and the cleaning of a minilab's reason text.
 *
 * Why: the item name is what finds a job again after a restart; if encoding
 * were not exactly reversible and canonical, a job could be printed twice.
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

/* Run the pure hot-folder checks. */
int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_item_names),
            cmocka_unit_test(test_media_and_mime),
            cmocka_unit_test(test_reason_clean),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
