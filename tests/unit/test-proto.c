/*
 * test-proto.c - the pure parsers of the platform's answers (platform-proto.c) and of
 * the job object (job-spec.c), on good and hostile bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job-spec.h"
#include "platform-proto.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const char job_json[] =
    "{\"id\":\"job-7f3a\",\"order_id\":\"ord-1\",\"sku\":\"print-4x6-glossy\",\"quantity\":2,"
    "\"priority\":\"rush\",\"deadline\":\"2026-11-28T18:00:00Z\","
    "\"asset\":{\"url\":\"https://p.example/v1/assets/a\",\"sha256\":\"" SHA "\","
    "\"bytes\":4718592,\"content_type\":\"image/jpeg\"},"
    "\"lease_expires_at\":\"2026-11-28T16:55:00Z\"}";

/* Parse text as a job; returns the result and fills spec/err. */
static int parse_job(const char *text, lab_job_spec_t *spec, lab_error_t *err)
{
        json_t *j = json_loads(text, 0, NULL);
        int r;

        assert_non_null(j);
        r = lab_job_spec_parse(j, spec, err);
        json_decref(j);
        return r;
}

static void test_job_good(void **state)
{
        lab_job_spec_t s;
        lab_error_t err = {0};

        assert_int_equal(parse_job(job_json, &s, &err), 0);
        assert_string_equal(s.id, "job-7f3a");
        assert_string_equal(s.order_id, "ord-1");
        assert_string_equal(s.sku, "print-4x6-glossy");
        assert_int_equal(s.quantity, 2);
        assert_string_equal(s.priority, "rush");
        assert_string_equal(s.deadline, "2026-11-28T18:00:00Z");
        assert_string_equal(s.asset_url, "https://p.example/v1/assets/a");
        assert_string_equal(s.asset_sha256, SHA);
        assert_int_equal(s.asset_bytes, 4718592);
        assert_string_equal(s.asset_content_type, "image/jpeg");
        assert_non_null(strstr(s.json, "\"id\":\"job-7f3a\""));
        assert_false(s.has_crop);
        lab_job_spec_done(&s);
}

/* The optional crop box comes through as numbers. */
static void test_job_crop(void **state)
{
        char text[1024];
        lab_job_spec_t s;
        lab_error_t err = {0};

        snprintf(text, sizeof text,
                 "%.*s,\"crop\":{\"x\":10,\"y\":0,\"width\":800,\"height\":1200}}",
                 (int)strlen(job_json) - 1, job_json);
        assert_int_equal(parse_job(text, &s, &err), 0);
        assert_true(s.has_crop);
        assert_int_equal(s.crop.x, 10);
        assert_int_equal(s.crop.y, 0);
        assert_int_equal(s.crop.width, 800);
        assert_int_equal(s.crop.height, 1200);
        lab_job_spec_done(&s);
}

/* Each broken variant is refused with bad_job and a message naming the field. */
static void test_job_bad(void **state)
{
        static const struct {
                const char *from, *to, *message, *field;
        } cases[] = {
            {"\"quantity\":2", "\"quantity\":0", "'quantity' must be an integer from 1 to 1000",
             "quantity"},
            {"\"quantity\":2", "\"quantity\":\"2\"", "'quantity'", "quantity"},
            {"\"quantity\":2", "\"quantity\":1001", "'quantity'", "quantity"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"a/b\"", "job id must be 1 to 128 characters from",
             "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"..\"", "and not '.' or '..'", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\".\"", "and not '.' or '..'", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"a%2Fb\"", "job id must be", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"a?b=c\"", "job id must be", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"a b\"", "job id must be", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"caf\\u00e9\"", "job id must be", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":\"\"", "'id' must be 1 to 128", "id"},
            {"\"id\":\"job-7f3a\"", "\"id\":7", "'id' must be a string", "id"},
            {"\"id\":\"job-7f3a\",", "", "'id' is missing", "id"},
            {"\"sku\":\"print-4x6-glossy\"", "\"sku\":5", "'sku' must be a string", "sku"},
            {"\"priority\":\"rush\"", "\"priority\":\"urgent\"", "rush or standard", "priority"},
            {"\"deadline\":\"2026-11-28T18:00:00Z\"", "\"deadline\":\"tomorrow\"", "RFC 3339",
             "deadline"},
            {"https://p.example", "http://p.example", "asset url must be https://", "asset.url"},
            {"https://p.example", "https://", "asset url must be an https:// URL with a host",
             "asset.url"},
            {"https://p.example", "https://p.exa mple", "without spaces", "asset.url"},
            {SHA, "9f86", "64 hexadecimal digits", "asset.sha256"},
            {"\"bytes\":4718592", "\"bytes\":-1", "asset bytes must be a positive integer",
             "asset.bytes"},
            {"\"lease_expires_at\":\"2026-11-28T16:55:00Z\"", "\"lease_expires_at\":null",
             "'lease_expires_at' is missing", "lease_expires_at"},
            {"\"quantity\":2", "\"quantity\":2,\"crop\":[1,2,3,4]", "'crop' must be an object",
             "crop"},
            {"\"quantity\":2", "\"quantity\":2,\"crop\":{\"x\":0,\"y\":0,\"width\":0,\"height\":5}",
             "crop.width must be an integer from 1", "crop.width"},
            {"\"quantity\":2",
             "\"quantity\":2,\"crop\":{\"x\":-1,\"y\":0,\"width\":5,\"height\":5}",
             "crop.x must be an integer from 0", "crop.x"},
            {"\"quantity\":2", "\"quantity\":2,\"crop\":{\"x\":0,\"y\":0,\"width\":5}",
             "crop.height", "crop.height"},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char text[1024], *at;
                lab_job_spec_t s;
                lab_error_t err = {0};

                at = strstr(job_json, cases[i].from);
                assert_non_null(at);
                snprintf(text, sizeof text, "%.*s%s%s", (int)(at - job_json), job_json, cases[i].to,
                         at + strlen(cases[i].from));
                assert_int_equal(parse_job(text, &s, &err), -EBADMSG);
                assert_string_equal(err.keyword, "bad_job");
                if (!strstr(err.message, cases[i].message))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.message, cases[i].message);
                assert_null(s.id);

                /* The same verdict, and the field at fault as protocol.md names it. */
                {
                        json_t *j = json_loads(text, 0, NULL);
                        const char *field = "unset";

                        assert_non_null(j);
                        assert_int_equal(lab_job_spec_parse_field(j, &s, &err, &field), -EBADMSG);
                        json_decref(j);
                        if (!field || strcmp(field, cases[i].field) != 0)
                                fail_msg("case %zu: field '%s', want '%s'", i,
                                         field ? field : "(null)", cases[i].field);
                }
        }
}

/* Not an object: bad_job with no field; a good job: no field either. */
static void test_job_field_whole(void **state)
{
        json_t *j = json_loads("[1,2]", 0, NULL);
        const char *field = "unset";
        lab_job_spec_t s;
        lab_error_t err = {0};

        assert_int_equal(lab_job_spec_parse_field(j, &s, &err, &field), -EBADMSG);
        assert_null(field);
        json_decref(j);
        j = json_loads(job_json, 0, NULL);
        field = "unset";
        assert_int_equal(lab_job_spec_parse_field(j, &s, &err, &field), 0);
        assert_null(field);
        lab_job_spec_done(&s);
        json_decref(j);
}

static void test_assignments(void **state)
{
        static const char body[] = "{\"assignments\":[{\"id\":\"a\"},{\"id\":\"b\"}],"
                                   "\"cancellations\":[{\"job_id\":\"c\",\"reason\":\"x\"}]}";
        lab_proto_assignments_t a;
        lab_error_t err = {0};

        assert_int_equal(lab_proto_parse_assignments(body, strlen(body), &a, &err), 0);
        assert_int_equal(json_array_size(a.jobs), 2);
        assert_int_equal(a.n_cancellations, 1);
        assert_string_equal(a.cancellations[0].job_id, "c");
        assert_string_equal(a.cancellations[0].reason, "x");
        assert_int_equal(a.cancellations[0].action, LAB_PROTO_CANCEL);
        lab_proto_assignments_done(&a);

        /* Hostile: not JSON, not an object, duplicate keys, wrong types, bad ids. */
        static const char *const bad[] = {
            "",
            "[]",
            "{\"assignments\":{}}",
            "{\"cancellations\":[]}",
            "{\"assignments\":[],\"assignments\":[]}",
            "{\"assignments\":[],\"cancellations\":[{\"job_id\":\"a/b\"}]}",
            "{\"assignments\":[],\"cancellations\":[7]}",
            "{\"assignments\":[",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                assert_int_equal(lab_proto_parse_assignments(bad[i], strlen(bad[i]), &a, &err),
                                 -EBADMSG);
                assert_string_equal(err.keyword, "platform_bad_response");
                assert_null(a.jobs);
        }
}

static void test_ack(void **state)
{
        static const char body[] = "{\"acknowledged\":[\"0b5e0c6e-6a39-4d0a-9b1e-5b2d0e0c1f11\","
                                   "7,\"short\",\"0b5e0c6e-6a39-4d0a-9b1e-5b2d0e0c1f12\"]}";
        lab_error_t err = {0};
        char **v;
        size_t n;

        assert_int_equal(lab_proto_parse_ack(body, strlen(body), &v, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0], "0b5e0c6e-6a39-4d0a-9b1e-5b2d0e0c1f11");
        assert_string_equal(v[1], "0b5e0c6e-6a39-4d0a-9b1e-5b2d0e0c1f12");
        assert_null(v[2]);
        lab_proto_strv_free(v);

        assert_int_equal(lab_proto_parse_ack("{}", 2, &v, &n, &err), -EBADMSG);
        assert_null(v);
}

static void test_reconcile(void **state)
{
        static const char body[] = "{\"jobs\":[{\"id\":\"a\",\"action\":\"continue\"},"
                                   "{\"id\":\"b\",\"action\":\"cancel\",\"reason\":\"r\"},"
                                   "{\"id\":\"c\",\"action\":\"drop\"}]}";
        lab_proto_job_action_t *v;
        lab_error_t err = {0};
        size_t n;

        assert_int_equal(lab_proto_parse_reconcile(body, strlen(body), &v, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_int_equal(v[0].action, LAB_PROTO_CONTINUE);
        assert_int_equal(v[1].action, LAB_PROTO_CANCEL);
        assert_string_equal(v[1].reason, "r");
        assert_int_equal(v[2].action, LAB_PROTO_DROP);
        assert_null(v[2].reason);
        lab_proto_actions_free(v, n);

        static const char bad[] = "{\"jobs\":[{\"id\":\"a\",\"action\":\"explode\"}]}";
        assert_int_equal(lab_proto_parse_reconcile(bad, strlen(bad), &v, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "continue, cancel or drop"));
}

static void test_problem(void **state)
{
        static const char body[] = "{\"type\":\"x\",\"title\":\"T\",\"status\":409,"
                                   "\"detail\":\"line1\\nline2\",\"code\":\"lease_lost\"}";
        char code[32], detail[64];

        lab_proto_parse_problem(body, strlen(body), code, sizeof code, detail, sizeof detail);
        assert_string_equal(code, "lease_lost");
        assert_string_equal(detail, "line1?line2");
        lab_proto_parse_problem("<html>", 6, code, sizeof code, detail, sizeof detail);
        assert_string_equal(code, "");
        assert_string_equal(detail, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_job_good), cmocka_unit_test(test_job_bad),
            cmocka_unit_test(test_job_crop), cmocka_unit_test(test_assignments),
            cmocka_unit_test(test_ack),      cmocka_unit_test(test_reconcile),
            cmocka_unit_test(test_problem),  cmocka_unit_test(test_job_field_whole),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
