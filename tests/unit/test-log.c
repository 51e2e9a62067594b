/*
 * test-log.c - the stderr line format and level filter of log.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* 2026-11-28T16:40:01.123Z */
#define T0 (1795884001ULL * 1000000ULL + 123456ULL)

static void test_format_plain(void **state)
{
        char buf[256];
        int n = lab_log_format_line(buf, sizeof buf, T0, 812, LOG_INFO, "ready", NULL, 0);

        assert_string_equal(buf, "2026-11-28T16:40:01.123Z labagent[812] info: ready");
        assert_int_equal(n, (int)strlen(buf));
}

static void test_format_fields_skip_null(void **state)
{
        const lab_log_field_t fields[] = {
            {"JOB_ID", "j-1"}, {"ORDER_ID", NULL}, {"PRINTER", "ds620"}};
        char buf[256];

        lab_log_format_line(buf, sizeof buf, T0, 1, LOG_WARNING, "media low", fields, 3);
        assert_string_equal(buf, "2026-11-28T16:40:01.123Z labagent[1] warning: media low "
                                 "JOB_ID=j-1 PRINTER=ds620");
}

/* Fields the message already shows are not repeated on stderr (the journal still gets them). */
static void test_format_skips_fields_in_message(void **state)
{
        const lab_log_field_t fields[] = {{"ERROR_KEYWORD", "state_locked"}, {"PRINTER", "ds620"}};
        char buf[256];

        lab_log_format_line(buf, sizeof buf, T0, 1, LOG_ERR, "state_locked: held", fields, 2);
        assert_string_equal(buf, "2026-11-28T16:40:01.123Z labagent[1] error: state_locked: held "
                                 "PRINTER=ds620");
}

static void test_format_truncates_and_reports_length(void **state)
{
        const lab_log_field_t fields[] = {{"JOB_ID", "abcdef"}};
        char full[256], small[40];
        int need = lab_log_format_line(full, sizeof full, T0, 7, LOG_ERR, "x", fields, 1);
        int n = lab_log_format_line(small, sizeof small, T0, 7, LOG_ERR, "x", fields, 1);

        assert_int_equal(n, need);
        assert_int_equal(strlen(small), sizeof small - 1);
        assert_memory_equal(small, full, sizeof small - 1);
}

static void test_level_names(void **state)
{
        assert_string_equal(lab_log_level_name(LOG_ERR), "error");
        assert_string_equal(lab_log_level_name(LOG_WARNING), "warning");
        assert_string_equal(lab_log_level_name(LOG_NOTICE), "notice");
        assert_string_equal(lab_log_level_name(LOG_INFO), "info");
        assert_string_equal(lab_log_level_name(LOG_DEBUG), "debug");
}

/* Messages below the level are dropped, %m expands the errno, the return is -errno. */
static void test_filter_and_errno(void **state)
{
        int pipefd[2], saved, r;
        char buf[1024] = "";
        ssize_t n;

        assert_int_equal(pipe(pipefd), 0);
        saved = dup(STDERR_FILENO);
        dup2(pipefd[1], STDERR_FILENO);
        lab_log_open(LAB_LOG_TARGET_STDERR);
        lab_log_set_max_level(LOG_NOTICE);

        log_info("dropped");
        r = log_error_errno(-ENOENT, "open %s: %m", "/x");
        assert_int_equal(r, -ENOENT);
        assert_int_equal(log_warning("no errno"), -EIO);

        dup2(saved, STDERR_FILENO);
        close(saved);
        close(pipefd[1]);
        n = read(pipefd[0], buf, sizeof buf - 1);
        close(pipefd[0]);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_null(strstr(buf, "dropped"));
        assert_non_null(strstr(buf, " error: open /x: No such file or directory\n"));
        assert_non_null(strstr(buf, " warning: no errno\n"));
}

/* A refused job move: one error line with the keyword, the job and both states; -EPERM. */
static void test_illegal_transition(void **state)
{
        int pipefd[2], saved;
        char buf[1024] = "";
        ssize_t n;

        assert_int_equal(pipe(pipefd), 0);
        saved = dup(STDERR_FILENO);
        dup2(pipefd[1], STDERR_FILENO);
        lab_log_open(LAB_LOG_TARGET_STDERR);
        lab_log_set_max_level(LOG_INFO);

        assert_int_equal(lab_log_illegal_transition("j-1", "printed", "queued"), -EPERM);
        assert_int_equal(lab_log_illegal_transition("j-2", NULL, "queued"), -EPERM);

        dup2(saved, STDERR_FILENO);
        close(saved);
        close(pipefd[1]);
        n = read(pipefd[0], buf, sizeof buf - 1);
        close(pipefd[0]);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_non_null(strstr(buf, " error: illegal_transition: job j-1: printed → queued is not "
                                    "allowed; not applied\n"));
        assert_non_null(strstr(buf, " error: illegal_transition: job j-2: (none) → queued is not "
                                    "allowed; not applied\n"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_format_plain),
            cmocka_unit_test(test_format_fields_skip_null),
            cmocka_unit_test(test_format_skips_fields_in_message),
            cmocka_unit_test(test_format_truncates_and_reports_length),
            cmocka_unit_test(test_level_names),
            cmocka_unit_test(test_filter_and_errno),
            cmocka_unit_test(test_illegal_transition),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
