/*
 * test-prom-text.c - the Prometheus text format (prom-text.c) and the metrics file's text
 * (lab_metrics_format): one bad line makes node_exporter drop the whole file, and an
 * unknown figure written as 0 is a lie on a graph, so each rule is pinned here byte for
 * byte. node_exporter itself reads the files in tests/metrics and tests/jobs/test_metrics.py.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics-stage.h"
#include "prom-text.h"
#include "testutil.h"

/* The text of p, which must have succeeded; p is emptied. */
static char *steal_ok(lab_prom_t *p)
{
        size_t n = 0;
        int e = -1;
        char *t = lab_prom_steal(p, &n, &e);

        assert_non_null(t);
        assert_int_equal(e, 0);
        assert_int_equal(n, strlen(t));
        return t;
}

static void check_value(double v, const char *want)
{
        char buf[32];

        assert_int_equal(lab_prom_format_value(v, buf, sizeof buf), 0);
        assert_string_equal(buf, want);
        if (!isinf(v))
                assert_true(strtod(buf, NULL) == v || (v == 0 && strtod(buf, NULL) == 0));
}

static void test_values(void **state)
{
        char buf[32];

        check_value(0, "0");
        check_value(-0.0, "0");
        check_value(42, "42");
        check_value(-7, "-7");
        check_value(0.1, "0.1");
        check_value(1.5, "1.5");
        check_value(0.25, "0.25");
        check_value(3.6e-5, "3.6e-05");
        check_value(1e300, "1e+300");
        check_value(123456789012345.0, "123456789012345");
        check_value(9007199254740992.0, "9007199254740992"); /* 2^53: %g from here */
        check_value(1e17, "1e+17");
        check_value(INFINITY, "+Inf");
        check_value(-INFINITY, "-Inf");
        /* Joules from whole mWh as the stage computes them: the short decimal, not 3.6000..01. */
        check_value((double)(1 * 36) / 10.0, "3.6");
        check_value((double)(12345 * 36) / 10.0, "44442");
        check_value((double)(7 * 36) / 10.0, "25.2");
        /* Every double comes back as itself. */
        check_value(1.0 / 3.0, "0.3333333333333333");
        check_value(0.1 + 0.2, "0.30000000000000004");
        assert_int_equal(lab_prom_format_value(NAN, buf, sizeof buf), -EDOM);
        assert_int_equal(lab_prom_format_value(1.0 / 3.0, buf, 4), -ENOBUFS);
        assert_int_equal(lab_prom_format_value(42, buf, 2), -ENOBUFS);
}

static void test_names(void **state)
{
        static const char *const good[] = {"a", "_", ":", "labagent_jobs", "a:b_c9", "A"};
        static const char *const bad[] = {"", "9a", "a-b", "a b", "a.b", "é", "a\n"};
        char longest[LAB_PROM_NAME_MAX + 2];

        for (size_t i = 0; i < sizeof good / sizeof *good; i++)
                assert_true(lab_prom_name_valid(good[i]));
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                assert_false(lab_prom_name_valid(bad[i]));
                assert_false(lab_prom_label_name_valid(bad[i]));
        }
        assert_false(lab_prom_name_valid(NULL));
        assert_true(lab_prom_label_name_valid("printer"));
        assert_true(lab_prom_label_name_valid("_x"));
        assert_false(lab_prom_label_name_valid("a:b"));
        assert_false(lab_prom_label_name_valid("__name__"));
        memset(longest, 'a', sizeof longest);
        longest[LAB_PROM_NAME_MAX] = '\0';
        assert_true(lab_prom_name_valid(longest));
        longest[LAB_PROM_NAME_MAX] = 'a';
        longest[LAB_PROM_NAME_MAX + 1] = '\0';
        assert_false(lab_prom_name_valid(longest));
}

static void test_families_and_escaping(void **state)
{
        lab_prom_t p = {0};
        _cleanup_free_ char *t = NULL;

        assert_int_equal(lab_prom_family(&p, "x_total", LAB_PROM_COUNTER, "Say \\ and\nmore."), 0);
        assert_int_equal(lab_prom_sample(&p, NULL, 0, 3), 0);
        assert_int_equal(lab_prom_family(&p, "x_info", LAB_PROM_GAUGE, "Labels."), 0);
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "back\\slash"}, {"b", "q\"uote"}}, 2, 1),
            0);
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "new\nline"}, {"b", ""}}, 2, 2.5), 0);
        /* UTF-8 kept; bytes that are not UTF-8 (stray, overlong, surrogate, truncated) become
           U+FFFD, one each. */
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "caf\xc3\xa9"}, {"b", "\xff"}}, 2, 3),
            0);
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "\xc0\xaf"}, {"b", "\xed\xa0\x80"}}, 2,
                            4),
            0);
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "\xe2\x82"}, {"b", "\xf4\x90\x80\x80"}},
                            2, 5),
            0);
        /* NaN: left out, not an error. */
        assert_int_equal(
            lab_prom_sample(&p, (lab_prom_label_t[]){{"a", "nan"}, {"b", "x"}}, 2, NAN), 0);
        /* A family whose samples are all unknown is not written at all. */
        assert_int_equal(lab_prom_family(&p, "x_unknown", LAB_PROM_GAUGE, "Never known."), 0);
        assert_int_equal(lab_prom_sample(&p, NULL, 0, NAN), 0);
        t = steal_ok(&p);
        assert_string_equal(t, "# HELP x_total Say \\\\ and\\nmore.\n"
                               "# TYPE x_total counter\n"
                               "x_total 3\n"
                               "# HELP x_info Labels.\n"
                               "# TYPE x_info gauge\n"
                               "x_info{a=\"back\\\\slash\",b=\"q\\\"uote\"} 1\n"
                               "x_info{a=\"new\\nline\",b=\"\"} 2.5\n"
                               "x_info{a=\"caf\xc3\xa9\",b=\"\xef\xbf\xbd\"} 3\n"
                               "x_info{a=\"\xef\xbf\xbd\xef\xbf\xbd\",b=\"\xef\xbf\xbd\xef\xbf\xbd"
                               "\xef\xbf\xbd\"} 4\n"
                               "x_info{a=\"\xef\xbf\xbd\xef\xbf\xbd\",b=\"\xef\xbf\xbd\xef\xbf\xbd"
                               "\xef\xbf\xbd\xef\xbf\xbd\"} 5\n");
        /* p is empty again and can be used from zero. */
        assert_null(p.buf);
        assert_int_equal(p.n_families, 0);
}

static void test_refusals(void **state)
{
        lab_prom_t p = {0};
        _cleanup_free_ char *t = NULL;
        int e = 0;

        /* The same label set twice: the second dropped (-EEXIST), the text still good. */
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "A."), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "v"}}, 1, 1), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "v"}}, 1, 2), -EEXIST);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "v2"}}, 1, 3), 0);
        /* "\xff" and "\xfe" both read U+FFFD: the same set, dropped. */
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "\xff"}}, 1, 4), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "\xfe"}}, 1, 5), -EEXIST);
        t = steal_ok(&p);
        assert_string_equal(t, "# HELP a A.\n# TYPE a gauge\na{k=\"v\"} 1\na{k=\"v2\"} 3\n"
                               "a{k=\"\xef\xbf\xbd\"} 4\n");

        /* Sticky failures: nothing more is written and steal says why. */
        assert_int_equal(lab_prom_sample(&p, NULL, 0, 1), -EINVAL); /* no family */
        assert_null(lab_prom_steal(&p, NULL, &e));
        assert_int_equal(e, -EINVAL);

        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "A."), 0);
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "Again."), -EINVAL);
        assert_int_equal(lab_prom_family(&p, "b", LAB_PROM_GAUGE, "B."), -EINVAL);
        assert_null(lab_prom_steal(&p, NULL, &e));
        assert_int_equal(e, -EINVAL);

        assert_int_equal(lab_prom_family(&p, "bad-name", LAB_PROM_GAUGE, "X."), -EINVAL);
        lab_prom_done(&p);
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "A."), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", "1"}, {"k", "2"}}, 2, 1),
                         -EINVAL); /* a label twice */
        lab_prom_done(&p);
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "A."), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"__x", "1"}}, 1, 1), -EINVAL);
        lab_prom_done(&p);
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_GAUGE, "A."), 0);
        assert_int_equal(lab_prom_sample(&p, (lab_prom_label_t[]){{"k", NULL}}, 1, 1), -EINVAL);
        lab_prom_done(&p);
        assert_int_equal(lab_prom_family(&p, "a", LAB_PROM_HISTOGRAM, "A."), 0);
        assert_int_equal(lab_prom_sample(&p, NULL, 0, 1), -EINVAL); /* a histogram's samples */
        lab_prom_done(&p);

        /* Nothing at all: an empty text. */
        t = (free(t), steal_ok(&p));
        assert_string_equal(t, "");
}

static void test_histogram(void **state)
{
        static const double bounds[] = {0.5, 1, 2.5};
        static const double bad_order[] = {1, 1}, bad_nan[] = {1, NAN}, bad_inf[] = {INFINITY};
        double many[LAB_PROM_BUCKETS_MAX + 1];
        lab_prom_histogram_t h;
        lab_prom_t p = {0};
        _cleanup_free_ char *t = NULL;

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (double)i;
        assert_int_equal(lab_prom_histogram_init(&h, bad_order, 2), -EINVAL);
        assert_int_equal(lab_prom_histogram_init(&h, bad_nan, 2), -EINVAL);
        assert_int_equal(lab_prom_histogram_init(&h, bad_inf, 1), -EINVAL);
        assert_int_equal(lab_prom_histogram_init(&h, bounds, 0), -EINVAL);
        assert_int_equal(lab_prom_histogram_init(&h, many, ELEMENTSOF(many)), -EINVAL);
        assert_int_equal(lab_prom_histogram_init(&h, many, LAB_PROM_BUCKETS_MAX), 0);
        assert_int_equal(lab_prom_histogram_init(&h, bounds, 3), 0);

        /* A bound is inclusive (le); NaN is not an observation; above every bound: +Inf only. */
        lab_prom_histogram_observe(&h, 0.5);
        lab_prom_histogram_observe(&h, 0.75);
        lab_prom_histogram_observe(&h, 1);
        lab_prom_histogram_observe(&h, 7);
        lab_prom_histogram_observe(&h, NAN);
        assert_int_equal(h.count, 4);

        assert_int_equal(lab_prom_family(&p, "r_seconds", LAB_PROM_HISTOGRAM, "R."), 0);
        assert_int_equal(lab_prom_histogram(&p, (lab_prom_label_t[]){{"le", "1"}}, 1, &h), -EINVAL);
        lab_prom_done(&p);
        assert_int_equal(lab_prom_family(&p, "r_seconds", LAB_PROM_HISTOGRAM, "R."), 0);
        assert_int_equal(lab_prom_histogram(&p, NULL, 0, &h), 0);
        assert_int_equal(lab_prom_family(&p, "l_seconds", LAB_PROM_HISTOGRAM, "L."), 0);
        assert_int_equal(lab_prom_histogram(&p, (lab_prom_label_t[]){{"printer", "p1"}}, 1, &h), 0);
        t = steal_ok(&p);
        assert_string_equal(t, "# HELP r_seconds R.\n"
                               "# TYPE r_seconds histogram\n"
                               "r_seconds_bucket{le=\"0.5\"} 1\n"
                               "r_seconds_bucket{le=\"1\"} 3\n"
                               "r_seconds_bucket{le=\"2.5\"} 3\n"
                               "r_seconds_bucket{le=\"+Inf\"} 4\n"
                               "r_seconds_sum 9.25\n"
                               "r_seconds_count 4\n"
                               "# HELP l_seconds L.\n"
                               "# TYPE l_seconds histogram\n"
                               "l_seconds_bucket{printer=\"p1\",le=\"0.5\"} 1\n"
                               "l_seconds_bucket{printer=\"p1\",le=\"1\"} 3\n"
                               "l_seconds_bucket{printer=\"p1\",le=\"2.5\"} 3\n"
                               "l_seconds_bucket{printer=\"p1\",le=\"+Inf\"} 4\n"
                               "l_seconds_sum{printer=\"p1\"} 9.25\n"
                               "l_seconds_count{printer=\"p1\"} 4\n");
}

/* The line of text that starts with prefix, or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
        size_t n = strlen(prefix);

        for (const char *c = text; c && *c; c = strchr(c, '\n') ? strchr(c, '\n') + 1 : NULL)
                if (strncmp(c, prefix, n) == 0)
                        return c;
        return NULL;
}

static void expect_line(const char *text, const char *line)
{
        const char *l = line_of(text, line);

        if (!l || (l[strlen(line)] != '\n'))
                fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void expect_no_line(const char *text, const char *prefix)
{
        if (line_of(text, prefix))
                fail_msg("a line \"%s...\" in:\n%s", prefix, text);
}

static void test_metrics_text(void **state)
{
        lab_metrics_printer_t printers[] = {{"ds620", 1}, {"qss", 0}, {"new", -1}};
        lab_store_print_count_t counts[] = {{"ds620", 12, 1}, {"gone", 3, 0}};
        lab_store_metrics_t figures = {.printers = counts, .n_printers = 2};
        lab_stock_item_t stock[3] = {0};
        lab_store_energy_meter_t meters[] = {
            {.name = "plug", .state = "ok", .counted_mwh = 12345, .power_w = 61.5},
            {.name = "nopower", .state = "ok", .counted_mwh = 1, .power_w = NAN},
            {.name = "broken", .state = "fault", .counted_mwh = 7, .power_w = 80},
            {.name = "never", .state = "unknown", .counted_mwh = 0, .power_w = NAN},
        };
        lab_prom_histogram_t h;
        _cleanup_free_ char *t = NULL;
        size_t n = 0;

        figures.jobs[LAB_JOB_PRINTED] = 4;
        figures.jobs[LAB_JOB_REPORTED] = 9;
        figures.outbox_job = 2;
        figures.outbox_telemetry = 5;
        snprintf(stock[0].printer, sizeof stock[0].printer, "qss");
        snprintf(stock[0].item, sizeof stock[0].item, "paper-4x6");
        stock[0].unit = LAB_STOCK_UNIT_PRINTS;
        stock[0].remaining = 370;
        stock[0].capacity = 400;
        stock[0].level = 92;
        snprintf(stock[1].printer, sizeof stock[1].printer, "qss");
        snprintf(stock[1].item, sizeof stock[1].item, "paper-5x7");
        stock[1].unit = LAB_STOCK_UNIT_PRINTS;
        stock[1].remaining = -1; /* declared, never loaded */
        stock[1].capacity = 0;
        stock[1].level = -1;
        snprintf(stock[2].printer, sizeof stock[2].printer, "ds620");
        snprintf(stock[2].item, sizeof stock[2].item, "ribbon");
        stock[2].unit = LAB_STOCK_UNIT_PERCENT;
        stock[2].remaining = 40;
        stock[2].level = 40;
        assert_int_equal(
            lab_prom_histogram_init(&h, lab_metrics_render_buckets, lab_metrics_render_n_buckets),
            0);
        lab_prom_histogram_observe(&h, 1.5);

        assert_int_equal(lab_metrics_format(&(lab_metrics_snapshot_t){.printers = printers,
                                                                      .n_printers = 3,
                                                                      .store = &figures,
                                                                      .stock = stock,
                                                                      .n_stock = 3,
                                                                      .meters = meters,
                                                                      .n_meters = 4,
                                                                      .render = &h},
                                            &t, &n),
                         0);
        assert_int_equal(n, strlen(t));
        expect_line(t, "labagent_build_info{version=\"" LABAGENT_VERSION "\"} 1");
        /* Every state, 0 included. */
        for (int s = 0; s < LAB_JOB_STATE_MAX; s++) {
                char want[96];

                snprintf(want, sizeof want, "labagent_jobs{state=\"%s\"} %s",
                         lab_job_state_to_string(s),
                         s == LAB_JOB_PRINTED    ? "4"
                         : s == LAB_JOB_REPORTED ? "9"
                                                 : "0");
                expect_line(t, want);
        }
        expect_line(t, "labagent_outbox_events{class=\"job\"} 2");
        expect_line(t, "labagent_outbox_events{class=\"telemetry\"} 5");
        /* The config's printers (0 when they never printed), and one that printed, since removed.
         */
        expect_line(t, "# TYPE labagent_prints_total counter");
        expect_line(t, "labagent_prints_total{printer=\"ds620\"} 12");
        expect_line(t, "labagent_prints_total{printer=\"qss\"} 0");
        expect_line(t, "labagent_prints_total{printer=\"new\"} 0");
        expect_line(t, "labagent_prints_total{printer=\"gone\"} 3");
        expect_line(t, "labagent_defects_total{printer=\"ds620\"} 1");
        expect_line(t, "labagent_defects_total{printer=\"qss\"} 0");
        /* Up: known printers only. */
        expect_line(t, "labagent_printer_up{printer=\"ds620\"} 1");
        expect_line(t, "labagent_printer_up{printer=\"qss\"} 0");
        expect_no_line(t, "labagent_printer_up{printer=\"new\"}");
        /* Stock: known figures only; a level alone is a ratio, not a count. */
        expect_line(t,
                    "labagent_stock_remaining{printer=\"qss\",item=\"paper-4x6\",unit=\"prints\"} "
                    "370");
        expect_line(t,
                    "labagent_stock_capacity{printer=\"qss\",item=\"paper-4x6\",unit=\"prints\"} "
                    "400");
        expect_line(t, "labagent_stock_level_ratio{printer=\"qss\",item=\"paper-4x6\"} 0.92");
        expect_line(t, "labagent_stock_level_ratio{printer=\"ds620\",item=\"ribbon\"} 0.4");
        expect_no_line(t, "labagent_stock_remaining{printer=\"qss\",item=\"paper-5x7\"");
        expect_no_line(t, "labagent_stock_capacity{printer=\"qss\",item=\"paper-5x7\"");
        expect_no_line(t, "labagent_stock_level_ratio{printer=\"qss\",item=\"paper-5x7\"");
        expect_no_line(t, "labagent_stock_remaining{printer=\"ds620\"");
        /* Render times. */
        expect_line(t, "# TYPE labagent_render_seconds histogram");
        expect_line(t, "labagent_render_seconds_bucket{le=\"1\"} 0");
        expect_line(t, "labagent_render_seconds_bucket{le=\"2\"} 1");
        expect_line(t, "labagent_render_seconds_bucket{le=\"+Inf\"} 1");
        expect_line(t, "labagent_render_seconds_sum 1.5");
        expect_line(t, "labagent_render_seconds_count 1");
        /* Meters: joules exact; no power where none or in fault; a meter never read absent. */
        expect_line(t, "labagent_meter_up{meter=\"plug\"} 1");
        expect_line(t, "labagent_meter_up{meter=\"broken\"} 0");
        expect_line(t, "labagent_meter_energy_joules_total{meter=\"plug\"} 44442");
        expect_line(t, "labagent_meter_energy_joules_total{meter=\"nopower\"} 3.6");
        expect_line(t, "labagent_meter_energy_joules_total{meter=\"broken\"} 25.2");
        expect_line(t, "labagent_meter_power_watts{meter=\"plug\"} 61.5");
        expect_no_line(t, "labagent_meter_power_watts{meter=\"nopower\"}");
        expect_no_line(t, "labagent_meter_power_watts{meter=\"broken\"}");
        expect_no_line(t, "labagent_meter_up{meter=\"never\"}");
        expect_no_line(t, "labagent_meter_energy_joules_total{meter=\"never\"}");
        /* No NaN anywhere, every family declared once. */
        assert_null(strstr(t, "NaN"));
        assert_null(strstr(t, "nan"));
        for (const char *c = t; (c = strstr(c, "# TYPE ")); c++) {
                char name[160];

                assert_int_equal(sscanf(c, "# TYPE %159s", name), 1);
                for (const char *d = strstr(c + 1, "# TYPE "); d; d = strstr(d + 1, "# TYPE ")) {
                        char other[160];

                        assert_int_equal(sscanf(d, "# TYPE %159s", other), 1);
                        assert_string_not_equal(name, other);
                }
        }
}

static void test_metrics_text_empty(void **state)
{
        _cleanup_free_ char *t = NULL;

        /* Nothing read yet (no store figures, no printers, no meters): a valid file still. */
        assert_int_equal(lab_metrics_format(&(lab_metrics_snapshot_t){0}, &t, NULL), 0);
        expect_line(t, "labagent_build_info{version=\"" LABAGENT_VERSION "\"} 1");
        expect_no_line(t, "labagent_jobs{");
        expect_no_line(t, "# HELP labagent_jobs ");
        expect_no_line(t, "# HELP labagent_meter");
        expect_no_line(t, "# HELP labagent_render_seconds");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_families_and_escaping),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_histogram),
            cmocka_unit_test(test_metrics_text),
            cmocka_unit_test(test_metrics_text_empty),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
