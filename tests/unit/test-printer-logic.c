/*
 * test-printer-logic.c - the driver-independent pure parts of drivers/printer.c:
 * stable job names (crash recovery depends on parsing them back), IPP reason
 * parsing, and when a status makes a printer unavailable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "printer.h"

static void test_job_name_round_trip(void **state)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], id[LAB_PRINTER_JOB_NAME_MAX];
        unsigned copy = 0, attempt = 0;

        assert_int_equal(lab_printer_job_name(name, sizeof name, "job-7f3a", 2, 13), 0);
        assert_string_equal(name, "job-7f3a/2/13");
        assert_int_equal(lab_printer_job_name_parse(name, id, sizeof id, &copy, &attempt), 0);
        assert_string_equal(id, "job-7f3a");
        assert_int_equal(copy, 2);
        assert_int_equal(attempt, 13);

        /* Ids may hold ':' and spaces, never '/'. */
        assert_int_equal(lab_printer_job_name(name, sizeof name, "a:b c", 1, 1), 0);
        assert_int_equal(lab_printer_job_name_parse(name, id, sizeof id, &copy, &attempt), 0);
        assert_string_equal(id, "a:b c");
}

static void test_job_name_refused(void **state)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], id[16], big[200];
        unsigned copy, attempt;

        assert_int_equal(lab_printer_job_name(name, sizeof name, "a/b", 1, 1), -EINVAL);
        assert_int_equal(lab_printer_job_name(name, sizeof name, "", 1, 1), -EINVAL);
        assert_int_equal(lab_printer_job_name(name, sizeof name, "a", 0, 1), -EINVAL);
        assert_int_equal(lab_printer_job_name(name, sizeof name, "a", 1, 0), -EINVAL);
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_int_equal(lab_printer_job_name(name, sizeof name, big, 1, 1), -ENAMETOOLONG);

        static const char *const bad[] = {
            "", "job", "job/1", "/1/1", "job//1", "job/1/", "job/0/1", "job/1/01",
            "job/x/1", "a/b/1/1", "job/1/1234567890", "job/-1/1",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(lab_printer_job_name_parse(bad[i], id, sizeof id, &copy, &attempt),
                                 -EINVAL);
        /* An id longer than the caller's buffer is refused, not truncated. */
        assert_int_equal(lab_printer_job_name_parse("0123456789abcdefg/1/1", id, sizeof id, &copy,
                                                    &attempt),
                         -EINVAL);
}

static void test_reason_parse(void **state)
{
        lab_printer_reason_t r;

        lab_printer_reason_parse("media-empty-error", &r);
        assert_string_equal(r.keyword, "media-empty");
        assert_int_equal(r.severity, LAB_SEVERITY_ERROR);
        lab_printer_reason_parse("marker-supply-low-warning", &r);
        assert_string_equal(r.keyword, "marker-supply-low");
        assert_int_equal(r.severity, LAB_SEVERITY_WARNING);
        lab_printer_reason_parse("offline-report", &r);
        assert_string_equal(r.keyword, "offline");
        assert_int_equal(r.severity, LAB_SEVERITY_REPORT);
        lab_printer_reason_parse("paused", &r);
        assert_string_equal(r.keyword, "paused");
        assert_int_equal(r.severity, LAB_SEVERITY_REPORT);
        lab_printer_reason_parse("-error", &r); /* nothing before the suffix: kept whole */
        assert_string_equal(r.keyword, "-error");
}

/* A status with the given reasons (IPP values), idle and accepting. */
static lab_printer_status_t status_with(const char *const *reasons, size_t n)
{
        lab_printer_status_t s = {.state = LAB_PRINTER_IDLE, .accepting = true};

        for (size_t i = 0; i < n; i++)
                lab_printer_reason_parse(reasons[i], &s.reasons[s.n_reasons++]);
        return s;
}

static void assert_unavailable(lab_printer_status_t s, const char *keyword)
{
        char why[256];

        assert_false(lab_printer_status_available(&s, why, sizeof why));
        assert_int_equal(strncmp(why, keyword, strlen(keyword)), 0);
        assert_int_equal(why[strlen(keyword)], ':');
}

static void test_available(void **state)
{
        char why[256] = "x";
        lab_printer_status_t s = status_with(NULL, 0);

        assert_true(lab_printer_status_available(&s, why, sizeof why));
        assert_string_equal(why, "");

        /* Warnings do not stop a printer. */
        static const char *const warn[] = {"media-low-warning", "marker-supply-low-report"};
        s = status_with(warn, 2);
        assert_true(lab_printer_status_available(&s, why, sizeof why));

        static const struct {
                const char *reason, *keyword;
        } cases[] = {
            {"media-empty-error", "media_empty"},
            {"media-empty-report", "media_empty"}, /* ippeveprinter's suffix for STATE: +media-empty-error */
            {"media-needed-warning", "media_empty"},
            {"media-jam-error", "media_jam"},
            {"cover-open-report", "cover_open"},
            {"door-open-error", "door_open"},
            {"marker-supply-empty-error", "marker_supply_empty"},
            {"offline-report", "printer_offline"},
            {"stalled", "printer_stalled"},
            {"input-tray-missing-error", "printer_error"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                assert_unavailable(status_with(&cases[i].reason, 1), cases[i].keyword);

        s = status_with(NULL, 0);
        s.state = LAB_PRINTER_STOPPED;
        assert_unavailable(s, "printer_stopped");
        /* A stopped printer with a reason says the reason. */
        static const char *const jam[] = {"media-jam-error"};
        s = status_with(jam, 1);
        s.state = LAB_PRINTER_STOPPED;
        assert_unavailable(s, "media_jam");

        s = status_with(NULL, 0);
        s.state = LAB_PRINTER_UNREACHABLE;
        assert_unavailable(s, "printer_unreachable");
        s = status_with(NULL, 0);
        s.accepting = false;
        assert_unavailable(s, "printer_not_accepting");
}

static void test_names(void **state)
{
        assert_string_equal(lab_printer_state_to_string(LAB_PRINTER_STOPPED), "stopped");
        assert_string_equal(lab_pjob_state_to_string(LAB_PJOB_ABORTED), "aborted");
        assert_string_equal(lab_pjob_state_to_string((lab_pjob_state_t)99), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_job_name_round_trip),
            cmocka_unit_test(test_job_name_refused),
            cmocka_unit_test(test_reason_parse),
            cmocka_unit_test(test_available),
            cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
