/*
 * test-url-path.c - the id grammar and the URL builder (url-path.c): an id
 * of ".." once changed the path of a request, so every edge of both is
 * pinned here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "url-path.h"

static void test_id_grammar(void **state)
{
        static const char *const good[] = {"job-7f3a",
                                           "a",
                                           "A",
                                           "0",
                                           "...",
                                           ".a",
                                           "a.",
                                           "a..b",
                                           "_",
                                           ":",
                                           "-",
                                           "a:b",
                                           "ord-20261128-0042",
                                           "job.7f3a_x:y-z",
                                           "ABCxyz019",
                                           "-.",
                                           "...."};
        static const char *const bad[] = {
            "",     ".",    "..",   "a/b",   "a%2Fb",       "a?b=c",        "a#b", "a b",  " ",
            "a\tb", "a\nb", "a~b",  "a+b",   "a@b",         "a!b",          "a$b", "a&b",  "a'b",
            "a(b",  "a*b",  "a,b",  "a;b",   "a=b",         "a[b",          "a]b", "a\\b", "a\"b",
            "a<b",  "a>b",  "a^b",  "a`b",   "a{b",         "a|b",          "a}b", "%",    "?",
            "#",    "/",    "\x7f", "a\x01", "caf\xc3\xa9", "\xe2\x82\xac", "\xff"};

        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
                if (!lab_id_valid(good[i]))
                        fail_msg("'%s' must be a valid id", good[i]);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (lab_id_valid(bad[i]))
                        fail_msg("'%s' must not be a valid id", bad[i]);
        assert_false(lab_id_valid(NULL));

        /* Every allowed punctuation alone and between letters. */
        for (const char *c = "._:-"; *c; c++) {
                char id[4] = {'a', *c, 'b', '\0'}, alone[2] = {*c, '\0'};

                assert_true(lab_id_valid(id));
                assert_true(lab_id_valid(alone) == (*c != '.'));
        }
        /* Every byte: exactly the grammar's characters, and only as a whole id of one. */
        for (int b = 1; b < 256; b++) {
                char id[3] = {'x', (char)b, '\0'};
                bool allowed = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
                               (b >= '0' && b <= '9') || b == '.' || b == '_' || b == ':' ||
                               b == '-';

                assert_int_equal(lab_id_valid(id), allowed);
        }
}

static void test_id_length(void **state)
{
        char *s128 = lab_test_repeat('a', LAB_ID_MAX), *s129 = lab_test_repeat('a', LAB_ID_MAX + 1);
        char *dots = lab_test_repeat('.', LAB_ID_MAX);

        assert_int_equal(LAB_ID_MAX, 128);
        assert_true(lab_id_valid(s128));
        assert_false(lab_id_valid(s129));
        assert_true(lab_id_valid(dots)); /* 128 dots: a name, not a dot segment */
        free(s128);
        free(s129);
        free(dots);
}

/* Build with one segment and compare with the expected URL (NULL: refused with -EINVAL). */
static void check_one(const char *base, const char *tmpl, const char *seg, const char *query,
                      const char *want)
{
        const char *segs[] = {seg};
        char *url = (char *)0x1;
        int r = lab_url_build(base, tmpl, segs, 1, query, &url);

        if (!want) {
                if (r != -EINVAL)
                        fail_msg("segment '%s': expected -EINVAL, got %d (%s)", seg, r,
                                 r == 0 ? url : "");
                assert_null(url);
                return;
        }
        if (r != 0)
                fail_msg("segment '%s': %d", seg, r);
        if (strcmp(url, want) != 0)
                fail_msg("segment '%s': '%s', want '%s'", seg, url, want);
        free(url);
}

static void test_url_segments(void **state)
{
        static const struct {
                const char *seg, *want;
        } cases[] = {
            {"job-7f3a", "https://p.example/api/v1/jobs/job-7f3a/accept"},
            {"a.b_c~d-e", "https://p.example/api/v1/jobs/a.b_c~d-e/accept"},
            {"...", "https://p.example/api/v1/jobs/.../accept"},
            {"a/b", "https://p.example/api/v1/jobs/a%2Fb/accept"},
            {"a%2Fb", "https://p.example/api/v1/jobs/a%252Fb/accept"},
            {"a?b=c", "https://p.example/api/v1/jobs/a%3Fb%3Dc/accept"},
            {"a#b", "https://p.example/api/v1/jobs/a%23b/accept"},
            {"a b", "https://p.example/api/v1/jobs/a%20b/accept"},
            {"%", "https://p.example/api/v1/jobs/%25/accept"},
            {"a:b", "https://p.example/api/v1/jobs/a%3Ab/accept"},
            {"..%2F", "https://p.example/api/v1/jobs/..%252F/accept"},
            {"./", "https://p.example/api/v1/jobs/.%2F/accept"},
            {"\\", "https://p.example/api/v1/jobs/%5C/accept"},
            {"caf\xc3\xa9", "https://p.example/api/v1/jobs/caf%C3%A9/accept"},
            {"\x7f\x01\n", "https://p.example/api/v1/jobs/%7F%01%0A/accept"},
            {".", NULL},
            {"..", NULL},
            {"", NULL},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                check_one("https://p.example/api", "/v1/jobs/{}/accept", cases[i].seg, NULL,
                          cases[i].want);
}

static void test_url_base_and_query(void **state)
{
        const char *segs[] = {"test-lab", "x"};
        char *url = NULL;

        /* Trailing slashes of the base go; a query is appended as given. */
        check_one("https://p.example/api///", "/v1/labs/{}/assignments", "lab-1", "wait=25",
                  "https://p.example/api/v1/labs/lab-1/assignments?wait=25");
        check_one("https://p.example:8443", "/v1/labs/{}/events", "lab-1", NULL,
                  "https://p.example:8443/v1/labs/lab-1/events");
        check_one("https://p.example/", "/v1/labs/{}/events", "lab-1", NULL,
                  "https://p.example/v1/labs/lab-1/events");

        /* A base with a query, a fragment or a space would move the path: refused. */
        check_one("https://p.example/api?x=1", "/v1/labs/{}/events", "lab-1", NULL, NULL);
        check_one("https://p.example/api#f", "/v1/labs/{}/events", "lab-1", NULL, NULL);
        check_one("https://p.example/a pi", "/v1/labs/{}/events", "lab-1", NULL, NULL);
        check_one("", "/v1/labs/{}/events", "lab-1", NULL, NULL);
        /* A query that would need encoding, or hold a fragment: refused. */
        check_one("https://p.example", "/v1/labs/{}/events", "lab-1", "a=b#c", NULL);
        check_one("https://p.example", "/v1/labs/{}/events", "lab-1", "a=b c", NULL);
        check_one("https://p.example", "/v1/labs/{}/events", "lab-1", "a=%41", NULL);

        /* Templates: plain paths whose "{}" are whole segments, as many as the segments. */
        assert_int_equal(lab_url_build("https://p", "/v1/{}/{}", segs, 2, NULL, &url), 0);
        assert_string_equal(url, "https://p/v1/test-lab/x");
        free(url);
        assert_int_equal(lab_url_build("https://p", "/v1/{}/{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1/{}", segs, 2, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1/a{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "v1/{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1//{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1/../{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1/./{}", segs, 1, NULL, &url), -EINVAL);
        assert_int_equal(lab_url_build("https://p", "/v1/{}?a=b", segs, 1, NULL, &url), -EINVAL);
        assert_null(url);
        assert_int_equal(lab_url_build("https://p", "/v1/x", NULL, 0, NULL, &url), 0);
        assert_string_equal(url, "https://p/v1/x");
        free(url);

        /* A 128-character id and a 129-character segment both build (the grammar is the id's). */
        {
                char *s128 = lab_test_repeat('z', 128), *s129 = lab_test_repeat('z', 129);

                assert_int_equal(lab_url_build("https://p", "/v1/jobs/{}/accept",
                                               (const char *const[]){s129}, 1, NULL, &url),
                                 0);
                assert_int_equal(strlen(url), strlen("https://p/v1/jobs//accept") + 129);
                free(url);
                assert_int_equal(lab_url_build("https://p", "/v1/jobs/{}/accept",
                                               (const char *const[]){s128}, 1, NULL, &url),
                                 0);
                free(url);
                free(s128);
                free(s129);
        }
}

/* Every id the grammar allows goes into a URL as it is, but ':' (not unreserved): %3A. */
static void test_valid_ids_in_urls(void **state)
{
        for (int b = 1; b < 256; b++) {
                char id[3] = {'x', (char)b, '\0'}, want[64];

                if (!lab_id_valid(id))
                        continue;
                snprintf(want, sizeof want, "https://p/v1/jobs/x%s/accept",
                         b == ':' ? "%3A" : id + 1);
                check_one("https://p", "/v1/jobs/{}/accept", id, NULL, want);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_id_grammar),        cmocka_unit_test(test_id_length),
            cmocka_unit_test(test_url_segments),      cmocka_unit_test(test_url_base_and_query),
            cmocka_unit_test(test_valid_ids_in_urls),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
