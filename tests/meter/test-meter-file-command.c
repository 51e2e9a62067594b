/*
 * test-meter-file-command.c - the counter-file and command meter drivers,
 * against real files and real executables (shell scripts) in a scratch
 * directory.
 *
 * Why: these two drivers read what the lab itself provides, so they must
 * hold against what it can get wrong: a file that is missing, empty, junk
 * or negative; a command that hangs, floods, prints HTML, or fails. Each
 * must end as the documented keyword and never as a figure, and a command
 * past its timeout must be killed with what it started, not left running.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "meter-fixture.h"
#include "macro.h"
#include "meter.h"
#include "testutil.h"

#define UJ_TO_WH   (1.0 / 3.6e9)
#define MAX_POWER  3000.0
#define TIMEOUT_MS 500

static char *scratch;

static int setup(void **state)
{
        scratch = lab_test_mkdtemp("meter");
        return 0;
}

static int teardown(void **state)
{
        lab_test_rm_rf(scratch);
        free(scratch);
        return 0;
}

static lab_meter_t *open_kind(lab_meter_kind_t kind, const char *path, double scale,
                              uint64_t timeout_ms)
{
        lab_meter_settings_t s = {
            .name = "m2",
            .kind = kind,
            .address = path,
            .timeout_usec = timeout_ms * 1000,
            .max_power_w = MAX_POWER,
            .file_scale = scale,
        };
        lab_meter_t *m = NULL;
        lab_error_t err = {0};

        if (lab_meter_open(&s, &m, &err) < 0)
                fail_msg("open %s: %s: %s", path, err.keyword, err.message);
        return m;
}

static void expect_config(lab_meter_kind_t kind, const char *path, double scale)
{
        lab_meter_settings_t s = {.name = "m2",
                                  .kind = kind,
                                  .address = path,
                                  .timeout_usec = 1000000,
                                  .file_scale = scale};

        meter_expect_config(&s, path);
}

/* ---- the counter file ---- */

/* A µJ counter (hwmon energy1_input) scaled to Wh; deltas to within 0.001 Wh. */
static void test_file_counter(void **state)
{
        _cleanup_free_ char *path = lab_test_path(scratch, "energy1_input");
        lab_meter_reading_t a, b;
        lab_meter_t *m;

        lab_test_write_string(path, "3600000000\n");
        m = open_kind(LAB_METER_FILE, path, UJ_TO_WH, TIMEOUT_MS);
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 1.0, 1e-9);
        assert_true(isnan(a.power_w)); /* a counter file has no power */

        lab_test_write_string(path, "123456789012345\n");
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 123456789012345.0 / 3.6e9, 0.001);
        lab_test_write_string(path, "123460389012345\n"); /* + 3.6e9 µJ */
        b = meter_read_ok(m);
        assert_near(b.energy_wh - a.energy_wh, 1.0, 0.001);
        lab_test_write_string(path, "123461289012345"); /* + 9e8 µJ = 0.25 Wh, no newline */
        a = meter_read_ok(m);
        assert_near(a.energy_wh - b.energy_wh, 0.25, 0.001);
        lab_meter_close(m);

        /* Other scales and spellings of a decimal number. */
        m = open_kind(LAB_METER_FILE, path, 1.0, TIMEOUT_MS);
        lab_test_write_string(path, "  12.5 \r\n");
        assert_near(meter_read_ok(m).energy_wh, 12.5, 1e-12);
        lab_test_write_string(path, "1e3\n");
        assert_near(meter_read_ok(m).energy_wh, 1000.0, 1e-12);
        lab_test_write_string(path, "+0\n");
        assert_near(meter_read_ok(m).energy_wh, 0.0, 0.0);
        lab_meter_close(m);
}

/* Unreadable: meter_unreachable. */
static void test_file_unreadable(void **state)
{
        _cleanup_free_ char *missing = lab_test_path(scratch, "missing");
        _cleanup_free_ char *dir = lab_test_path(scratch, "adir");
        _cleanup_free_ char *fifo = lab_test_path(scratch, "afifo");
        const char *paths[] = {missing, dir, fifo};

        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                lab_meter_t *m = open_kind(LAB_METER_FILE, paths[i], 1.0, TIMEOUT_MS);

                /* the FIFO has no writer: it must not hang the read */
                assert_true(meter_read_fails(m, "meter_unreachable") < 1000);
                lab_meter_close(m);
        }
}

/* Junk, and a file too long for a counter: meter_protocol. */
static void test_file_junk(void **state)
{
        static const char *const junk[] = {"",      "\n",      "abc\n", "12abc\n", "0x10\n",
                                           "1,5\n", "12 13\n", "--1\n", ".\n",     "1e\n",
                                           "e5\n",  "1.2.3\n", "١٢\n"};
        _cleanup_free_ char *path = lab_test_path(scratch, "junk");
        _cleanup_free_ char *big = lab_test_repeat('1', 70 * 1024);
        lab_meter_t *m = open_kind(LAB_METER_FILE, path, 1.0, TIMEOUT_MS);

        for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
                print_message("  \"%s\"\n", junk[i]);
                lab_test_write_string(path, junk[i]);
                meter_read_fails(m, "meter_protocol");
        }
        lab_test_write_file(path,
                            "12\0"
                            "34\n",
                            6);
        meter_read_fails(m, "meter_protocol");
        lab_test_write_string(path, big);
        meter_read_fails(m, "meter_protocol");
        lab_meter_close(m);
}

/* Negative, NaN, infinite: meter_bad_value. */
static void test_file_bad_values(void **state)
{
        static const char *const bad[] = {"-5\n",  "-0.001\n", "nan\n",  "NaN\n",
                                          "inf\n", "-inf\n",   "1e999\n"};
        _cleanup_free_ char *path = lab_test_path(scratch, "bad");
        lab_meter_t *m = open_kind(LAB_METER_FILE, path, UJ_TO_WH, TIMEOUT_MS);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                print_message("  \"%s\"\n", bad[i]);
                lab_test_write_string(path, bad[i]);
                meter_read_fails(m, "meter_bad_value");
        }
        lab_meter_close(m);

        expect_config(LAB_METER_FILE, "relative/energy1_input", 1.0);
        expect_config(LAB_METER_FILE, "/x", 0.0);
        expect_config(LAB_METER_FILE, "/x", -1.0);
        expect_config(LAB_METER_FILE, "/x", NAN);
        expect_config(LAB_METER_FILE, "/x", INFINITY);
}

/* ---- the command ---- */

/* Write an executable shell script named name in the scratch directory; returns its path. */
_printf_(2, 3) static char *script(const char *name, const char *fmt, ...)
{
        char *path = lab_test_path(scratch, name);
        char *body, *text;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&body, fmt, ap) >= 0);
        va_end(ap);
        assert_true(asprintf(&text, "#!/bin/sh\n%s\n", body) >= 0);
        lab_test_write_string(path, text);
        assert_int_equal(chmod(path, 0700), 0);
        free(body);
        free(text);
        return path;
}

/* The command's JSON is the reading; deltas to within 0.001 Wh; power optional. */
static void test_command_reading(void **state)
{
        _cleanup_free_ char *path = NULL;
        lab_meter_reading_t a, b;
        lab_meter_t *m;

        path = script("meter", "printf '{\"energy_wh\": 1234.5, \"power_w\": 56.5}\\n'");
        m = open_kind(LAB_METER_COMMAND, path, 0, 2000);
        a = meter_read_ok(m);
        assert_near(a.energy_wh, 1234.5, 1e-9);
        assert_near(a.power_w, 56.5, 1e-9);

        free(script("meter", "printf '{\"power_w\": 0, \"energy_wh\": 1234.501}'"));
        b = meter_read_ok(m);
        assert_near(b.energy_wh - a.energy_wh, 0.001, 1e-9);
        assert_near(b.power_w, 0.0, 0.0);

        /* power_w absent or null: no power figure (NAN), never 0 */
        free(script("meter", "echo '{\"energy_wh\": 7}'"));
        b = meter_read_ok(m);
        assert_near(b.energy_wh, 7.0, 0.0);
        assert_true(isnan(b.power_w));
        free(script("meter", "echo '{\"energy_wh\": 8, \"power_w\": null, \"extra\": [1]}'"));
        b = meter_read_ok(m);
        assert_true(isnan(b.power_w));

        /* stdin is /dev/null: a command that reads it does not hang */
        free(script("meter", "cat >/dev/null; echo '{\"energy_wh\": 9}' >&1"));
        assert_near(meter_read_ok(m).energy_wh, 9.0, 0.0);

        /* The environment goes through, but systemd's notify and watchdog variables. */
        setenv("LAB_METER_TEST", "abc", 1);
        setenv("NOTIFY_SOCKET", "/run/nowhere", 1);
        setenv("WATCHDOG_USEC", "1000000", 1);
        free(script("meter", "n=$((${#NOTIFY_SOCKET} + ${#WATCHDOG_USEC}))\n"
                             "printf '{\"energy_wh\": %%d, \"power_w\": %%d}' \"$n\" "
                             "\"${#LAB_METER_TEST}\""));
        b = meter_read_ok(m);
        unsetenv("LAB_METER_TEST");
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        assert_near(b.energy_wh, 0.0, 0.0);
        assert_near(b.power_w, 3.0, 0.0);
        lab_meter_close(m);
}

/* Whether pid is gone (or a zombie waiting for its reaper). */
static bool gone(pid_t pid)
{
        char path[64], buf[512], *p;
        FILE *f;
        size_t n;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return true;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] == 'Z';
}

static pid_t read_pid(const char *dir, const char *name)
{
        _cleanup_free_ char *path = lab_test_path(dir, name);
        _cleanup_free_ char *text = NULL;

        /* the script writes it first thing: wait for it, boundedly */
        for (int i = 0; i < 200 && !(text = lab_test_read_file(path, NULL)); i++)
                usleep(10000);
        assert_non_null(text);
        return (pid_t)atoi(text);
}

/* A slow command: meter_timeout within the timeout, and it is killed with its child. */
static void test_command_timeout(void **state)
{
        _cleanup_free_ char *path = NULL;
        lab_meter_t *m;
        pid_t shell, child;
        long long took, end;

        path = script("slow",
                      "echo $$ > %s/shell.pid\n"
                      "sleep 30 &\n"
                      "echo $! > %s/child.pid\n"
                      "wait\n"
                      "echo '{\"energy_wh\": 1}'",
                      scratch, scratch);
        m = open_kind(LAB_METER_COMMAND, path, 0, TIMEOUT_MS);
        took = meter_read_fails(m, "meter_timeout");
        print_message("    took %lld ms (timeout %d ms)\n", took, TIMEOUT_MS);
        assert_true(took >= TIMEOUT_MS - 20 && took <= TIMEOUT_MS + 500);
        shell = read_pid(scratch, "shell.pid");
        child = read_pid(scratch, "child.pid");
        assert_true(shell > 1 && child > 1);
        end = lab_test_now_ms() + 2000;
        for (int i = 0; i < 200 && !(gone(shell) && gone(child)) && lab_test_now_ms() < end; i++)
                usleep(10000);
        assert_true(gone(shell));
        assert_true(gone(child));

        /* A command that exits but leaves a child holding its stdout is still running. */
        free(script("slow", "(sleep 30; echo x) &\necho '{\"energy_wh\": 1}'"));
        meter_read_fails(m, "meter_timeout");
        lab_meter_close(m);
}

/* Too much output, not JSON, not the reading: meter_protocol. */
static void test_command_protocol(void **state)
{
        static const char *const bodies[] = {
            "head -c 102400 /dev/zero | tr '\\000' 'x'",
            "exec yes", /* never ends: killed at 64 KiB, well before the timeout */
            "echo hello",
            "echo '<html><body>502 Bad Gateway</body></html>'",
            "true",
            "echo '[1, 2]'",
            "echo '{\"energy_wh\": 1} trailing'",
            "echo '{\"power_w\": 5}'",
            "echo '{\"energy_wh\": \"12\"}'",
            "echo '{\"energy_wh\": true}'",
            "echo '{\"energy_wh\": 1, \"power_w\": \"x\"}'",
            "echo '{\"energy_wh\": 1, \"energy_wh\": 2}'",
            "echo '{\"energy_wh\": 1e400}'",
            "echo '{\"energy_wh\": 1}'; exit 3",
            "echo '{\"energy_wh\": 1}'; kill -9 $$",
        };
        lab_meter_t *m;
        _cleanup_free_ char *path = script("proto", "true");

        m = open_kind(LAB_METER_COMMAND, path, 0, 3000);
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                long long took;

                print_message("  %s\n", bodies[i]);
                free(script("proto", "%s", bodies[i]));
                took = meter_read_fails(m, "meter_protocol");
                assert_true(took < 2500);
        }
        lab_meter_close(m);
}

/* Figures that cannot be true: meter_bad_value. */
static void test_command_bad_values(void **state)
{
        static const char *const bodies[] = {
            "echo '{\"energy_wh\": -1}'",
            "echo '{\"energy_wh\": -0.001, \"power_w\": 5}'",
            "echo '{\"energy_wh\": 1, \"power_w\": -3}'",
            "echo '{\"energy_wh\": 1, \"power_w\": 3000.1}'",
        };
        _cleanup_free_ char *path = script("bad", "true");
        lab_meter_t *m = open_kind(LAB_METER_COMMAND, path, 0, 2000);

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                print_message("  %s\n", bodies[i]);
                free(script("bad", "%s", bodies[i]));
                meter_read_fails(m, "meter_bad_value");
        }
        free(script("bad", "echo '{\"energy_wh\": 1, \"power_w\": 3000}'"));
        assert_near(meter_read_ok(m).power_w, MAX_POWER, 0.0);
        lab_meter_close(m);
}

/* A command that cannot be run: meter_unreachable; a relative path: meter_config. */
static void test_command_unrunnable(void **state)
{
        _cleanup_free_ char *missing = lab_test_path(scratch, "no-such-command");
        _cleanup_free_ char *noexec = script("noexec", "echo '{\"energy_wh\": 1}'");
        _cleanup_free_ char *badinterp = lab_test_path(scratch, "badinterp");
        const char *paths[] = {missing, noexec, badinterp, scratch};

        assert_int_equal(chmod(noexec, 0600), 0);
        lab_test_write_string(badinterp, "#!/no/such/interpreter\n");
        assert_int_equal(chmod(badinterp, 0700), 0);
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                lab_meter_t *m = open_kind(LAB_METER_COMMAND, paths[i], 0, 2000);

                meter_read_fails(m, "meter_unreachable");
                lab_meter_close(m);
        }
        expect_config(LAB_METER_COMMAND, "meter.sh", 0);
        expect_config(LAB_METER_COMMAND, "./meter.sh", 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_file_counter),       cmocka_unit_test(test_file_unreadable),
            cmocka_unit_test(test_file_junk),          cmocka_unit_test(test_file_bad_values),
            cmocka_unit_test(test_command_reading),    cmocka_unit_test(test_command_timeout),
            cmocka_unit_test(test_command_protocol),   cmocka_unit_test(test_command_bad_values),
            cmocka_unit_test(test_command_unrunnable),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
