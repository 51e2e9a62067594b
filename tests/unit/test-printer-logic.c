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
            "",        "job",      "job/1",   "/1/1",    "job//1",           "job/1/",
            "job/0/1", "job/1/01", "job/x/1", "a/b/1/1", "job/1/1234567890", "job/-1/1",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(lab_printer_job_name_parse(bad[i], id, sizeof id, &copy, &attempt),
                                 -EINVAL);
        /* An id longer than the caller's buffer is refused, not truncated. */
        assert_int_equal(
            lab_printer_job_name_parse("0123456789abcdefg/1/1", id, sizeof id, &copy, &attempt),
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
            {"media-empty-report",
             "media_empty"}, /* ippeveprinter's suffix for STATE: +media-empty-error */
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
        /* Connected but silent (the driver's message keyword): printer_timeout, not unreachable. */
        snprintf(s.message, sizeof s.message, "printer_timeout: printer x did not answer");
        assert_unavailable(s, "printer_timeout");
        snprintf(s.message, sizeof s.message, "printer_unreachable: printer_timeout: no");
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

/* The one resend rule: restarted, forgot, or provably never received. */
static void test_may_resend(void **state)
{
        const int64_t now = 1800000000, sent = now - 30;
        const uint64_t minute = 60ULL * 1000000ULL;
        char why[256];
        lab_printer_memory_t m;

        /* Up since long before, its list reaches back past the send: send again. */
        m = (lab_printer_memory_t){.boot = now - 3600, .complete_since = sent - 10};
        assert_int_equal(lab_printer_may_resend(&m, sent, 0, now, why, sizeof why), LAB_RESEND_OK);
        assert_string_equal(why, "");
        /* Within the clock slack of the send is not "before" it. */
        m.complete_since = sent - LAB_PRINTER_CLOCK_SLACK + 1;
        assert_int_equal(lab_printer_may_resend(&m, sent, 0, now, why, sizeof why),
                         LAB_RESEND_FORGOT);
        assert_non_null(strstr(why, "printer_forgot: "));
        /* No old job listed, but up since before the send and within job_history. */
        assert_int_equal(lab_printer_may_resend(&m, sent, minute, now, why, sizeof why),
                         LAB_RESEND_OK);
        assert_int_equal(lab_printer_may_resend(&m, now - 61, minute, now, why, sizeof why),
                         LAB_RESEND_FORGOT);
        /* Restarted after the send (or just before it): never sent again, whatever else. */
        m = (lab_printer_memory_t){.boot = sent + 5, .complete_since = sent - 100};
        assert_int_equal(lab_printer_may_resend(&m, sent, minute, now, why, sizeof why),
                         LAB_RESEND_RESTARTED);
        assert_int_equal(strncmp(why, "printer_restarted: ", 19), 0);
        assert_non_null(strstr(why, "began 5 s after the send"));
        m.boot = sent - 1;
        assert_int_equal(lab_printer_may_resend(&m, sent, minute, now, why, sizeof why),
                         LAB_RESEND_RESTARTED);
        assert_non_null(strstr(why, "began 1 s before the send, too close"));
        /* No boot instant (cupsd): neither its list nor job_history proves anything. */
        m = (lab_printer_memory_t){.complete_since = sent - 100};
        assert_int_equal(lab_printer_may_resend(&m, sent, minute, now, why, sizeof why),
                         LAB_RESEND_FORGOT);
        assert_non_null(strstr(why, "does not tell when it started"));
        m = (lab_printer_memory_t){0};
        assert_int_equal(lab_printer_may_resend(&m, sent, minute, now, why, sizeof why),
                         LAB_RESEND_FORGOT);
        assert_non_null(strstr(why, "does not tell when it started"));
        /* The send time unknown: nothing can be proven. */
        m = (lab_printer_memory_t){.boot = now - 3600, .complete_since = now - 3000};
        assert_int_equal(lab_printer_may_resend(&m, 0, minute, now, why, sizeof why),
                         LAB_RESEND_FORGOT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_job_name_round_trip),
            cmocka_unit_test(test_job_name_refused),
            cmocka_unit_test(test_reason_parse),
            cmocka_unit_test(test_available),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_may_resend),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
