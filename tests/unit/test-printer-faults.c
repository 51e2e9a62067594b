/*
 * test-printer-faults.c - the fault tracker of drivers/printer-faults.c:
 * when a fault is raised and cleared, what an unreachable read does, how
 * IPP reasons fold into one keyword, and how flapping is told once.
 *
 * Why: printer.fault is a job-class event the platform never sheds; a rule
 * off by one read floods it or hides a jam. Every case is a scripted series
 * of reads with their times, and the exact changes they must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "printer-faults.h"

/* A status with the given reasons (IPP values), idle. */
static lab_printer_status_t status_with(const char *const *reasons, size_t n)
{
        lab_printer_status_t s = {.state = LAB_PRINTER_IDLE, .accepting = true};

        for (size_t i = 0; i < n; i++)
                lab_printer_reason_parse(reasons[i], &s.reasons[s.n_reasons++]);
        return s;
}

/* Feed a read showing one reason (NULL: none) at t; returns the changes. */
static size_t read_one(lab_faults_t *f, const char *reason, int64_t t, lab_fault_change_t *out)
{
        lab_printer_status_t s = status_with(&reason, reason ? 1 : 0);

        return lab_faults_update(f, &s, t, out, LAB_FAULTS_MAX);
}

static void test_one_read_nothing(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];

        assert_int_equal(read_one(&f, "media-jam-error", 100, out), 0);
        assert_null(lab_faults_error(&f));
        /* Gone at the next read: never told. */
        assert_int_equal(read_one(&f, NULL, 130, out), 0);
        assert_int_equal(read_one(&f, NULL, 160, out), 0);
        assert_null(lab_faults_error(&f));
}

static void test_two_reads_raise(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];

        assert_int_equal(read_one(&f, "media-jam-error", 100, out), 0);
        assert_int_equal(read_one(&f, "media-jam-error", 130, out), 1);
        assert_string_equal(out[0].keyword, "media_jam");
        assert_int_equal(out[0].severity, LAB_SEVERITY_ERROR);
        assert_true(out[0].raised);
        assert_false(out[0].flapping);
        assert_int_equal(out[0].since, 100);
        assert_int_equal(out[0].duration_s, 0);
        assert_string_equal(out[0].ipp_reasons, "media-jam-error");
        assert_string_equal(lab_faults_error(&f), "media_jam");
        /* Raised once: more reads showing it tell nothing. */
        assert_int_equal(read_one(&f, "media-jam-error", 160, out), 0);
        assert_int_equal(read_one(&f, "media-jam-error", 190, out), 0);
}

static void test_one_without_still_raised(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];

        read_one(&f, "cover-open-error", 0, out);
        assert_int_equal(read_one(&f, "cover-open-error", 30, out), 1);
        assert_int_equal(read_one(&f, NULL, 60, out), 0);
        assert_string_equal(lab_faults_error(&f), "cover_open");
        /* Back at the next read: nothing happened. */
        assert_int_equal(read_one(&f, "cover-open-error", 90, out), 0);
        assert_int_equal(read_one(&f, NULL, 120, out), 0);
        assert_string_equal(lab_faults_error(&f), "cover_open");
}

static void test_two_without_cleared(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];

        read_one(&f, "media-jam-error", 0, out);
        assert_int_equal(read_one(&f, "media-jam-error", 30, out), 1);
        read_one(&f, "media-jam-error", 60, out);
        assert_int_equal(read_one(&f, NULL, 90, out), 0);
        assert_int_equal(read_one(&f, NULL, 120, out), 1);
        assert_string_equal(out[0].keyword, "media_jam");
        assert_false(out[0].raised);
        assert_false(out[0].flapping);
        assert_int_equal(out[0].since, 0);
        assert_int_equal(out[0].duration_s, 90); /* raised at 0, gone at 90 */
        assert_string_equal(out[0].ipp_reasons, "media-jam-error");
        assert_null(lab_faults_error(&f));
        /* Cleared once. */
        assert_int_equal(read_one(&f, NULL, 150, out), 0);
        assert_int_equal(read_one(&f, NULL, 180, out), 0);
}

static void test_unreachable_changes_nothing(void **state)
{
        lab_faults_t f = {0}, before;
        lab_fault_change_t out[LAB_FAULTS_MAX];
        lab_printer_status_t down = {.state = LAB_PRINTER_UNREACHABLE};

        read_one(&f, "media-jam-error", 0, out);
        before = f;
        assert_int_equal(lab_faults_update(&f, &down, 30, out, LAB_FAULTS_MAX), 0);
        assert_memory_equal(&f, &before, sizeof f);
        /* Not even with the reasons it last knew. */
        down = status_with((const char *const[]){"media-jam-error"}, 1);
        down.state = LAB_PRINTER_UNREACHABLE;
        assert_int_equal(lab_faults_update(&f, &down, 40, out, LAB_FAULTS_MAX), 0);
        assert_memory_equal(&f, &before, sizeof f);
        /* Nor does it break the run: the next read is the second. */
        assert_int_equal(read_one(&f, "media-jam-error", 60, out), 1);
        assert_int_equal(out[0].since, 0);

        /* A raised fault is not cleared by the printer going away. */
        down = (lab_printer_status_t){.state = LAB_PRINTER_UNREACHABLE};
        for (int64_t t = 90; t < 3600; t += 30)
                assert_int_equal(lab_faults_update(&f, &down, t, out, LAB_FAULTS_MAX), 0);
        assert_string_equal(lab_faults_error(&f), "media_jam");
}

static void test_media_empty_suffixes(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];
        const char *both[] = {"media-empty-report", "media-needed"};
        lab_printer_status_t s = status_with(both, 2);

        /* ippeveprinter's -report, then -error: one fault, two reads. */
        assert_int_equal(read_one(&f, "media-empty-report", 0, out), 0);
        assert_int_equal(read_one(&f, "media-empty-error", 30, out), 1);
        assert_string_equal(out[0].keyword, "media_empty");
        assert_int_equal(out[0].severity, LAB_SEVERITY_ERROR);
        assert_int_equal(out[0].since, 0);
        assert_string_equal(out[0].ipp_reasons, "media-empty-error");
        assert_int_equal(f.n, 1);

        /* Two reasons of one fault in one read: one keyword, both reasons named. */
        assert_int_equal(lab_faults_update(&f, &s, 60, out, LAB_FAULTS_MAX), 0);
        assert_int_equal(f.n, 1);
        read_one(&f, NULL, 90, out);
        assert_int_equal(read_one(&f, NULL, 120, out), 1);
        assert_string_equal(out[0].keyword, "media_empty");
        assert_false(out[0].raised);
        assert_string_equal(out[0].ipp_reasons, "media-empty-report,media-needed-report");
}

static void test_warning_severity(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];
        const char *both[] = {"media-low-warning", "marker-supply-low-warning"};
        lab_printer_status_t s;

        read_one(&f, "media-low-report", 0, out);
        assert_int_equal(read_one(&f, "media-low-warning", 30, out), 1);
        assert_string_equal(out[0].keyword, "media_low");
        assert_int_equal(out[0].severity, LAB_SEVERITY_WARNING);
        assert_true(out[0].raised);
        assert_string_equal(out[0].ipp_reasons, "media-low-warning");
        assert_null(lab_faults_error(&f)); /* a warning is not an error */

        /* The other warning joins it: both tracked, each with its own severity. */
        s = status_with(both, 2);
        assert_int_equal(lab_faults_update(&f, &s, 60, out, LAB_FAULTS_MAX), 0);
        assert_int_equal(lab_faults_update(&f, &s, 90, out, LAB_FAULTS_MAX), 1);
        assert_string_equal(out[0].keyword, "marker_supply_low");
        assert_int_equal(out[0].severity, LAB_SEVERITY_WARNING);
        assert_int_equal(f.n, 2);
        assert_null(lab_faults_error(&f));
}

/* A fault toggling every 2 reads, reads every 30 s, over [from, to): the changes. */
static size_t toggle(lab_faults_t *f, int64_t from, int64_t to, lab_fault_change_t *all, size_t max)
{
        size_t n = 0;

        for (int64_t t = from; t < to; t += 30) {
                bool on = ((t - from) / 60) % 2 == 0;
                lab_fault_change_t out[LAB_FAULTS_MAX];
                size_t k = read_one(f, on ? "media-jam-error" : NULL, t, out);
                for (size_t i = 0; i < k && n < max; i++)
                        all[n++] = out[i];
        }
        return n;
}

static void test_flapping(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t all[64];
        size_t n = toggle(&f, 0, 600, all, 64);

        /* Raises at 0, 120, 240, 360 with their clears, then the 5th raise (480) flaps. */
        assert_int_equal(n, 9);
        for (size_t i = 0; i < 8; i++) {
                assert_string_equal(all[i].keyword, "media_jam");
                assert_int_equal(all[i].raised, i % 2 == 0);
                assert_false(all[i].flapping);
                assert_int_equal(all[i].since, (int64_t)(i / 2) * 120);
                assert_int_equal(all[i].duration_s, i % 2 ? 60 : 0);
        }
        assert_string_equal(all[8].keyword, "media_jam");
        assert_true(all[8].flapping);
        assert_true(all[8].raised);
        assert_int_equal(all[8].since, 480);

        /* It goes on flapping for another 10 minutes: nothing more. */
        assert_int_equal(toggle(&f, 600, 1200, all, 64), 0);
}

static void test_flapping_ends(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t all[64], out[LAB_FAULTS_MAX];
        int64_t t;

        assert_int_equal(toggle(&f, 0, 600, all, 64), 9);
        /* Its last read showing it was 510; the clear is dated 540. Quiet from there. */
        for (t = 600; t < 540 + 900; t += 30)
                assert_int_equal(read_one(&f, NULL, t, out), 0);
        assert_int_equal(read_one(&f, NULL, t, out), 1);
        assert_int_equal(t, 1440);
        assert_string_equal(out[0].keyword, "media_jam");
        assert_false(out[0].flapping);
        assert_false(out[0].raised);
        assert_int_equal(out[0].since, 0);
        assert_int_equal(out[0].duration_s, 0);
        assert_int_equal(read_one(&f, NULL, t + 30, out), 0);

        /* Back to the plain rule: two reads raise it. */
        assert_int_equal(read_one(&f, "media-jam-error", t + 60, out), 0);
        assert_int_equal(read_one(&f, "media-jam-error", t + 90, out), 1);
        assert_true(out[0].raised);
        assert_false(out[0].flapping);
        assert_int_equal(out[0].since, t + 60);
}

static void test_flapping_ends_raised(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t all[64], out[LAB_FAULTS_MAX];
        int64_t t;

        assert_int_equal(toggle(&f, 0, 600, all, 64), 9);
        /* It stays: raised at 600 (untold), quiet 15 minutes from there. */
        for (t = 600; t < 600 + 900; t += 30)
                assert_int_equal(read_one(&f, "media-jam-error", t, out), 0);
        assert_int_equal(read_one(&f, "media-jam-error", t, out), 1);
        assert_false(out[0].flapping);
        assert_true(out[0].raised);
        assert_int_equal(out[0].since, 600);
        assert_string_equal(lab_faults_error(&f), "media_jam");
}

static void test_error_not_warning(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];
        const char *reasons[] = {"media-low-warning", "marker-supply-low-warning",
                                 "door-open-error"};
        lab_printer_status_t s = status_with(reasons, 3);

        assert_int_equal(lab_faults_update(&f, &s, 0, out, LAB_FAULTS_MAX), 0);
        assert_int_equal(lab_faults_update(&f, &s, 30, out, LAB_FAULTS_MAX), 3);
        assert_string_equal(f.v[0].keyword, "media_low"); /* the first in the table */
        assert_string_equal(lab_faults_error(&f), "door_open");

        /* Only the warning left: no error. */
        s = status_with(reasons, 1);
        lab_faults_update(&f, &s, 60, out, LAB_FAULTS_MAX);
        assert_int_equal(lab_faults_update(&f, &s, 90, out, LAB_FAULTS_MAX), 2);
        assert_null(lab_faults_error(&f));
}

static void test_full_table(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];

        /* lab_printer_fault_of has fewer keywords than slots: fill the table by hand
           with 16 flapping faults, which hold their slots. */
        for (size_t i = 0; i < LAB_FAULTS_MAX; i++) {
                lab_fault_t *x = &f.v[f.n++];
                snprintf(x->keyword, sizeof x->keyword, "fake_%zu", i);
                x->severity = LAB_SEVERITY_WARNING;
                x->raised = x->flapping = true;
                x->since = x->changed_at = 0;
        }
        for (int64_t t = 0; t < 300; t += 30)
                assert_int_equal(read_one(&f, "media-jam-error", t, out), 0);
        assert_int_equal(f.n, LAB_FAULTS_MAX);
        for (size_t i = 0; i < f.n; i++)
                assert_string_not_equal(f.v[i].keyword, "media_jam");
        assert_null(lab_faults_error(&f));

        /* One slot freed (its flapping ended, cleared): the new keyword takes it. */
        f.v[3].flapping = f.v[3].raised = false;
        f.v[3].seen = 0;
        assert_int_equal(read_one(&f, "media-jam-error", 300, out), 0);
        assert_int_equal(read_one(&f, "media-jam-error", 330, out), 1);
        assert_string_equal(out[0].keyword, "media_jam");
        assert_int_equal(out[0].since, 300);
        assert_string_equal(lab_faults_error(&f), "media_jam");
}

static void test_no_room_waits(void **state)
{
        lab_faults_t f = {0};
        lab_fault_change_t out[LAB_FAULTS_MAX];
        lab_printer_status_t s = status_with((const char *const[]){"media-jam-error"}, 1);

        lab_faults_update(&f, &s, 0, out, 0);
        assert_int_equal(lab_faults_update(&f, &s, 30, NULL, 0), 0);
        /* Told at the next read with room, dated as it was. */
        assert_int_equal(lab_faults_update(&f, &s, 60, out, 1), 1);
        assert_true(out[0].raised);
        assert_int_equal(out[0].since, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_one_read_nothing),
            cmocka_unit_test(test_two_reads_raise),
            cmocka_unit_test(test_one_without_still_raised),
            cmocka_unit_test(test_two_without_cleared),
            cmocka_unit_test(test_unreachable_changes_nothing),
            cmocka_unit_test(test_media_empty_suffixes),
            cmocka_unit_test(test_warning_severity),
            cmocka_unit_test(test_flapping),
            cmocka_unit_test(test_flapping_ends),
            cmocka_unit_test(test_flapping_ends_raised),
            cmocka_unit_test(test_error_not_warning),
            cmocka_unit_test(test_full_table),
            cmocka_unit_test(test_no_room_waits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
