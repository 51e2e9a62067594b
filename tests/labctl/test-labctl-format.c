/*
 * test-labctl-format.c - what labctl prints (agent/labctl-format.c) for
 * canned daemon answers in the shapes of docs/control.md: every column and
 * age of `status` (with its energy line), `jobs`, `job`, `printers` (with
 * its stock and defect columns), `stock` and `energy` to the character, the
 * sentences of pause/resume/reprint/printed/stock adjustments, cutting and
 * narrowing to the terminal, colours only when asked, and nothing from the
 * daemon that could drive the terminal (escape sequences, invalid UTF-8) or
 * crash the formatter (fields missing or of the wrong type).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amount.h"
#include "labctl-format.h"
#include "rfc3339.h"

/* 2026-11-28T09:12:44Z: the agent.now of the canned status answer. */
#define NOW 1795857164

/* `status` as docs/control.md shows it: a paused, a busy and an unreachable printer. */
static const char *STATUS_JSON =
    "{\"ok\": true, \"role\": \"operator\", \"user\": \"anna\","
    " \"agent\": {\"version\": \"0.1.0\", \"lab\": \"lab-eu-1\", \"pid\": 812,"
    "  \"started_at\": \"2026-11-28T08:00:01Z\", \"now\": \"2026-11-28T09:12:44Z\","
    "  \"status\": \"printing: 12 printed, 0 uncertain; 3 renders\"},"
    " \"platform\": {\"url\": \"https://platform.example/\", \"outbox\": 0},"
    " \"counts\": {\"printing\": 2, \"queued\": 5, \"reported\": 310, \"held\": 1},"
    " \"printers\": ["
    "  {\"name\": \"ds620-1\", \"driver\": \"ipp\", \"available\": false, \"state\": \"idle\","
    "   \"reason\": \"printer_paused: paused by anna at 2026-11-28T09:10:00Z: reloading 6x8 "
    "paper\","
    "   \"paused\": {\"by\": \"anna\", \"since\": \"2026-11-28T09:10:00Z\", \"reason\": "
    "\"reloading 6x8 paper\"},"
    "   \"queued\": 4, \"printing\": 1, \"stock\": \"low\", \"defect_rate_24h\": 0.0123},"
    "  {\"name\": \"ds620-2\", \"driver\": \"ipp\", \"available\": true, \"state\": \"processing\","
    "   \"reason\": \"\", \"paused\": null, \"queued\": 0, \"printing\": 2, \"stock\": \"\","
    "   \"defect_rate_24h\": 0},"
    "  {\"name\": \"minilab-1\", \"driver\": \"hotfolder\", \"available\": false, \"state\": "
    "\"unreachable\","
    "   \"reason\": \"printer_unreachable: no answer for 30 s\", \"paused\": null, \"queued\": 0, "
    "\"printing\": 0, \"stock\": null, \"defect_rate_24h\": null}],"
    " \"stuck\": ["
    "  {\"id\": \"J-7\", \"order_id\": \"O-17\", \"sku\": \"print-8x10-matte\", \"quantity\": 1,"
    "   \"priority\": \"standard\", \"deadline\": null, \"state\": \"held\", \"reason\": "
    "\"no_printer\","
    "   \"detail\": \"no printer can print this job\", \"printer\": null,"
    "   \"created_at\": \"2026-11-28T08:40:00Z\", \"updated_at\": \"2026-11-28T08:50:00Z\", "
    "\"copies\": {}},"
    "  {\"id\": \"J-3\", \"order_id\": \"O-13\", \"sku\": \"print-4x6-glossy\", \"quantity\": 2,"
    "   \"priority\": \"rush\", \"deadline\": null, \"state\": \"uncertain\", \"reason\": "
    "\"copy_uncertain\","
    "   \"detail\": null, \"printer\": \"ds620-2\","
    "   \"created_at\": \"2026-11-28T07:00:00Z\", \"updated_at\": \"2026-11-28T07:02:44Z\","
    "   \"copies\": {\"printed\": 1, \"uncertain\": 1}}]}";

/* `jobs` with a limit of 2 out of 5. */
static const char *JOBS_JSON =
    "{\"ok\": true, \"total\": 5, \"jobs\": ["
    " {\"id\": \"J-1\", \"order_id\": \"O-9\", \"sku\": \"print-4x6-glossy\", \"quantity\": 2,"
    "  \"priority\": \"rush\", \"deadline\": \"2026-11-28T12:00:00Z\", \"state\": \"printing\","
    "  \"reason\": null, \"detail\": null, \"printer\": \"ds620-1\","
    "  \"created_at\": \"2026-11-28T09:08:44Z\", \"updated_at\": \"2026-11-28T09:11:44Z\","
    "  \"copies\": {\"printed\": 1, \"printing\": 1}},"
    " {\"id\": \"J-2\", \"order_id\": \"O-10\", \"sku\": \"print-5x7-matte\", \"quantity\": 1,"
    "  \"priority\": \"standard\", \"deadline\": null, \"state\": \"queued\","
    "  \"reason\": null, \"detail\": null, \"printer\": \"ds620-2\","
    "  \"created_at\": \"2026-11-28T07:02:44Z\", \"updated_at\": \"2026-11-28T09:00:00Z\","
    "  \"copies\": {\"queued\": 1}}]}";

/* `job J-1`: two copies printed (one on its second attempt), one queued. */
static const char *JOB_JSON =
    "{\"ok\": true, \"job\": {\"id\": \"J-1\", \"order_id\": \"O-9\", \"sku\": "
    "\"print-4x6-glossy\","
    " \"quantity\": 2, \"priority\": \"rush\", \"deadline\": \"2026-11-28T12:00:00Z\","
    " \"state\": \"printing\", \"reason\": null, \"detail\": null, \"printer\": \"ds620-1\","
    " \"created_at\": \"2026-11-28T09:08:44Z\", \"updated_at\": \"2026-11-28T09:11:44Z\","
    " \"copies\": {\"printed\": 2, \"queued\": 1},"
    " \"copies_detail\": ["
    "  {\"copy\": 1, \"state\": \"printed\", \"printer\": \"ds620-1\", \"attempt\": 1,"
    "   \"job_name\": \"J-1/1/1\", \"reason\": null, \"detail\": null, \"updated_at\": "
    "\"2026-11-28T09:10:44Z\"},"
    "  {\"copy\": 2, \"state\": \"printed\", \"printer\": \"ds620-1\", \"attempt\": 2,"
    "   \"job_name\": \"J-1/2/2\", \"reason\": \"resent\", \"detail\": \"first attempt never "
    "reached the printer\","
    "   \"updated_at\": \"2026-11-28T09:11:44Z\"},"
    "  {\"copy\": 3, \"state\": \"queued\", \"printer\": \"ds620-1\", \"attempt\": 0,"
    "   \"job_name\": null, \"reason\": null, \"detail\": null, \"updated_at\": "
    "\"2026-11-28T09:12:40Z\"}]}}";

/* `stock`: a printer's own ribbon and tray (the tray's figures unknown), a minilab's counted
   paper (low, the printer's count 2 below ours) and ribbon (out, drift +3). */
static const char *STOCK_JSON =
    "{\"ok\": true, \"items\": ["
    " {\"printer\": \"ds620-1\", \"item\": \"photo ribbon\", \"kind\": \"ribbon\","
    "  \"media\": \"\", \"source\": \"printer\", \"remaining\": 310, \"unit\": \"prints\","
    "  \"level\": 80, \"capacity\": 400, \"threshold\": 60, \"state\": \"ok\","
    "  \"as_of\": \"2026-11-28T09:10:44Z\", \"drift\": null},"
    " {\"printer\": \"ds620-1\", \"item\": \"main\", \"kind\": \"paper\","
    "  \"media\": \"na_index-4x6_4x6in\", \"source\": \"printer\", \"remaining\": null,"
    "  \"unit\": \"sheets\", \"level\": null, \"capacity\": null, \"threshold\": 0,"
    "  \"state\": \"unknown\", \"as_of\": null, \"drift\": null},"
    " {\"printer\": \"minilab-1\", \"item\": \"paper-4x6\", \"kind\": \"paper\","
    "  \"media\": \"na_index-4x6_4x6in\", \"source\": \"counted\", \"remaining\": 35.5,"
    "  \"unit\": \"prints\", \"level\": 9, \"capacity\": 400.0, \"threshold\": 40,"
    "  \"state\": \"low\", \"as_of\": \"2026-11-28T08:12:44Z\", \"drift\": -2},"
    " {\"printer\": \"minilab-1\", \"item\": \"ribbon-x\", \"kind\": \"ribbon\","
    "  \"media\": \"\", \"source\": \"technician\", \"remaining\": 0.0, \"unit\": \"metres\","
    "  \"level\": 0, \"capacity\": 100, \"threshold\": 5, \"state\": \"out\","
    "  \"as_of\": \"2026-11-25T09:12:44Z\", \"drift\": 3}]}";

/* `energy`: a meter ok (an error an hour ago, since cleared), one in fault, one never read. */
static const char *ENERGY_JSON =
    "{\"ok\": true, \"meters\": ["
    " {\"name\": \"panel\", \"driver\": \"modbus\", \"printers\": [\"ds620-1\", \"minilab-1\"],"
    "  \"state\": \"ok\", \"power_w\": 450.0, \"kwh_today\": 1.2346, \"wh_per_print_24h\": "
    "14.285714285714286,"
    "  \"prints_24h\": 7, \"energy_wh_24h\": 112.5, \"idle_wh_24h\": 12.5,"
    "  \"last_ok_at\": \"2026-11-28T09:12:40Z\", \"fault\": null,"
    "  \"last_error\": {\"text\": \"meter_timeout: no answer within 500 ms\","
    "   \"at\": \"2026-11-28T08:12:44Z\"}},"
    " {\"name\": \"hall\", \"driver\": \"shelly\", \"printers\": [], \"state\": \"fault\","
    "  \"power_w\": null, \"kwh_today\": 0.05, \"wh_per_print_24h\": null, \"prints_24h\": 0,"
    "  \"energy_wh_24h\": 50, \"idle_wh_24h\": 50, \"last_ok_at\": \"2026-11-28T09:00:00Z\","
    "  \"fault\": {\"reason\": \"meter_unreachable\", \"detail\": \"connection refused\","
    "   \"since\": \"2026-11-28T09:02:44Z\"},"
    "  \"last_error\": {\"text\": \"meter_unreachable: connection refused\","
    "   \"at\": \"2026-11-28T09:12:14Z\"}},"
    " {\"name\": \"attic\", \"driver\": \"file\", \"printers\": [], \"state\": \"unknown\","
    "  \"power_w\": null, \"kwh_today\": 0, \"wh_per_print_24h\": null, \"prints_24h\": 0,"
    "  \"energy_wh_24h\": 0, \"idle_wh_24h\": 0, \"last_ok_at\": null, \"fault\": null,"
    "  \"last_error\": null}]}";

/* Parse a canned answer; a typo in one fails the test rather than testing nothing. */
static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);

        if (!j)
                fail_msg("canned JSON, line %d: %s", e.line, e.text);
        return j;
}

/* Run stmt with FILE *f writing into the string out (the caller frees it). */
#define CAPTURE(out, stmt)                                                                         \
        do {                                                                                       \
                size_t n_;                                                                         \
                FILE *f = open_memstream(&(out), &n_);                                             \
                assert_non_null(f);                                                                \
                stmt;                                                                              \
                assert_int_equal(fclose(f), 0);                                                    \
        } while (0)

/* A UTF-8 terminal of no particular width, no colours, at NOW. */
static lab_ctl_fmt_t plain(void)
{
        return (lab_ctl_fmt_t){.now = NOW, .utf8 = true};
}

/* Whether every line of s is at most width characters (UTF-8). */
static bool lines_fit(const char *s, size_t width)
{
        while (*s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t)(nl - s) : strlen(s);
                char *line = strndup(s, len);
                bool ok = lab_ctl_utf8_length(line) <= width;

                free(line);
                if (!ok)
                        return false;
                s += len + (nl ? 1 : 0);
        }
        return true;
}

static void test_age(void **state)
{
        char b[LAB_CTL_AGE_MAX];

        assert_string_equal(lab_ctl_format_age(0, b, sizeof b), "0s");
        assert_string_equal(lab_ctl_format_age(59, b, sizeof b), "59s");
        assert_string_equal(lab_ctl_format_age(60, b, sizeof b), "1m");
        assert_string_equal(lab_ctl_format_age(4 * 60 + 59, b, sizeof b), "4m");
        assert_string_equal(lab_ctl_format_age(3599, b, sizeof b), "59m");
        assert_string_equal(lab_ctl_format_age(3600, b, sizeof b), "1h");
        assert_string_equal(lab_ctl_format_age(2 * 3600 + 10 * 60 + 30, b, sizeof b), "2h10m");
        assert_string_equal(lab_ctl_format_age(86399, b, sizeof b), "23h59m");
        assert_string_equal(lab_ctl_format_age(86400, b, sizeof b), "1d");
        assert_string_equal(lab_ctl_format_age(3 * 86400 + 7 * 3600, b, sizeof b), "3d");
        /* Clocks that disagree: never a negative age. */
        assert_string_equal(lab_ctl_format_age(-5, b, sizeof b), "0s");
}

static void test_parse_time(void **state)
{
        time_t t = 0;

        assert_int_equal(lab_parse_rfc3339("2026-11-28T09:12:44Z", &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(lab_parse_rfc3339("2026-11-28T09:12:44.123Z", &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(lab_parse_rfc3339("2026-11-28T10:12:44+01:00", &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(lab_parse_rfc3339("2026-11-28t08:12:44-01:00", &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(lab_parse_rfc3339("2026-02-31T00:00:00Z", &t), -EINVAL);
        assert_int_equal(lab_parse_rfc3339("2026-11-28 09:12:44Z", &t), -EINVAL);
        assert_int_equal(lab_parse_rfc3339("2026-11-28T09:12:44", &t), -EINVAL);
        assert_int_equal(lab_parse_rfc3339("2026-11-28T09:12:44Zjunk", &t), -EINVAL);
        assert_int_equal(lab_parse_rfc3339("", &t), -EINVAL);
        assert_int_equal(lab_parse_rfc3339(NULL, &t), -EINVAL);
}

static void test_answer_now(void **state)
{
        json_t *a = load("{\"ok\": true, \"agent\": {\"now\": \"2026-11-28T09:12:44Z\"}}");
        json_t *b = load("{\"ok\": true, \"printers\": []}");
        json_t *c = load("{\"ok\": true, \"agent\": {\"now\": \"yesterday\"}}");

        assert_int_equal(lab_ctl_answer_now(a, 42), NOW);
        assert_int_equal(lab_ctl_answer_now(b, 42), 42); /* no agent.now: the local clock */
        assert_int_equal(lab_ctl_answer_now(c, 42), 42);
        assert_int_equal(lab_ctl_answer_now(NULL, 42), 42);
        json_decref(a);
        json_decref(b);
        json_decref(c);
}

/* lab_ctl_clean(s, utf8) equals want. */
static void expect_clean(const char *s, bool utf8, const char *want)
{
        char *c = lab_ctl_clean(s, utf8);

        assert_non_null(c);
        assert_string_equal(c, want);
        free(c);
}

static void test_clean(void **state)
{
        expect_clean("reloading 6x8 paper", true, "reloading 6x8 paper");
        expect_clean(NULL, true, "-");
        /* Escape sequences lose their ESC (and BEL): no title change, no screen clear. */
        expect_clean("a\033]0;owned\007b\033[2J", true, "a?]0;owned?b?[2J");
        expect_clean("line1\nline2\tx\r", true, "line1 line2 x ");
        expect_clean("del\x7f", true, "del?");
        /* C1 controls (U+009B is CSI on some terminals), invalid and overlong UTF-8. */
        expect_clean("x\xc2\x9by", true, "x?y");
        expect_clean("\xff\xfe", true, "??");
        expect_clean("\xc0\xaf", true, "??");
        expect_clean("\xed\xa0\x80", true, "???"); /* a UTF-16 surrogate */
        expect_clean("caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x93\xb7", true,
                     "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x93\xb7");
        /* A terminal that is not UTF-8 gets one '?' per character. */
        expect_clean("caf\xc3\xa9 \xf0\x9f\x93\xb7", false, "caf? ?");
        expect_clean("cut \xe2\x80", true, "cut ??"); /* truncated sequence */
}

static void test_lists(void **state)
{
        assert_true(lab_ctl_defect_valid("colour_cast"));
        assert_true(lab_ctl_defect_valid("not_printed"));
        assert_false(lab_ctl_defect_valid("color_cast"));
        assert_false(lab_ctl_defect_valid(NULL));
        assert_int_equal(lab_ctl_utf8_length("caf\xc3\xa9"), 4);
        assert_int_equal(lab_ctl_utf8_length(""), 0);
}

static void test_copies(void **state)
{
        json_t *a = load("{\"printed\": 1, \"queued\": 1}");
        json_t *b = load("{\"printed\": 2, \"uncertain\": 1, \"failed\": 1}");
        json_t *c = load("{}");
        json_t *d = load("{\"queued\": \"many\", \"printing\": -3}");
        char buf[96];

        assert_string_equal(lab_ctl_format_copies(a, buf, sizeof buf), "1/2 printed");
        assert_string_equal(lab_ctl_format_copies(b, buf, sizeof buf),
                            "2/4 printed, 1 uncertain, 1 failed");
        assert_string_equal(lab_ctl_format_copies(c, buf, sizeof buf), "-");
        assert_string_equal(lab_ctl_format_copies(NULL, buf, sizeof buf), "-");
        assert_string_equal(lab_ctl_format_copies(d, buf, sizeof buf), "-");
        json_decref(a);
        json_decref(b);
        json_decref(c);
        json_decref(d);
}

static void test_status(void **state)
{
        json_t *a = load(STATUS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        o.now = 0; /* taken from agent.now below, as labctl does */
        o.now = lab_ctl_answer_now(a, o.now);
        CAPTURE(out, lab_ctl_format_status(f, a, &o));
        assert_string_equal(
            out,
            "labagent 0.1.0 at lab-eu-1, up 1h12m: printing: 12 printed, 0 uncertain; 3 "
            "renders\n"
            "Platform https://platform.example/: outbox empty, every event delivered\n"
            "You are anna (operator)\n"
            "\n"
            "NAME       STATE        AVAILABLE                                    PAUSED       "
            "                        QUEUED  PRINTING\n"
            "ds620-1    idle         no: printer_paused                           by anna 2m "
            "ago: reloading 6x8 paper       4         1\n"
            "ds620-2    processing   yes                                          -            "
            "                             0         2\n"
            "minilab-1  unreachable  no: printer_unreachable: no answer for 30 s  -            "
            "                             0         0\n"
            "\n"
            "Jobs: 5 queued, 2 printing, 310 reported, 1 held\n"
            "\n"
            "Needs attention (2):\n"
            "ID   ORDER  STATE      SINCE  REASON\n"
            "J-7  O-17   held         22m  no_printer: no printer can print this job\n"
            "J-3  O-13   uncertain  2h10m  copy_uncertain\n");
        free(out);
        json_decref(a);
}

static void test_status_empty(void **state)
{
        json_t *a =
            load("{\"ok\": true, \"agent\": {\"version\": \"0.1.0\", \"lab\": \"lab-eu-1\","
                 " \"started_at\": \"2026-11-25T09:00:00Z\", \"now\": \"2026-11-28T09:12:44Z\"},"
                 " \"platform\": {\"url\": \"https://p/\", \"outbox\": 1},"
                 " \"counts\": {}, \"printers\": [], \"stuck\": []}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_status(f, a, &o));
        assert_string_equal(out, "labagent 0.1.0 at lab-eu-1, up 3d\n"
                                 "Platform https://p/: 1 event waiting in the outbox\n"
                                 "\n"
                                 "No printers configured.\n"
                                 "\n"
                                 "Jobs: none\n"
                                 "\n"
                                 "Needs attention: nothing\n");
        free(out);
        json_decref(a);
}

static void test_counts_unknown_state(void **state)
{
        json_t *a =
            load("{\"counts\": {\"archived\": 3, \"failed\": 1, \"claiming\": 2, \"held\": 0}}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* Lifecycle order, empty states left out, a state labctl does not know last. */
        CAPTURE(out, lab_ctl_format_counts(f, a, &o));
        assert_string_equal(out, "Jobs: 2 claiming, 1 failed, 3 archived\n");
        free(out);
        json_decref(a);
}

static void test_jobs(void **state)
{
        json_t *a = load(JOBS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_jobs(f, a, &o));
        assert_string_equal(
            out,
            "ID   ORDER  SKU               QTY  PRIO      STATE     PRINTER  COPIES         AGE  "
            "REASON\n"
            "J-1  O-9    print-4x6-glossy    2  rush      printing  ds620-1  1/2 printed     4m  "
            "-\n"
            "J-2  O-10   print-5x7-matte     1  standard  queued    ds620-2  0/1 printed  2h10m  "
            "-\n"
            "\n"
            "2 of 5 shown (oldest first; --limit shows more, --state narrows)\n");
        free(out);
        json_decref(a);
}

static void test_jobs_empty(void **state)
{
        json_t *a = load("{\"ok\": true, \"jobs\": [], \"total\": 0}");
        json_t *b = load("{\"ok\": true, \"jobs\": []}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_jobs(f, a, &o));
        assert_string_equal(out, "0 of 0 shown\n");
        free(out);
        CAPTURE(out, lab_ctl_format_active_jobs(f, b, &o));
        assert_string_equal(out, "Active jobs: none\n");
        free(out);
        json_decref(a);
        json_decref(b);
}

static void test_job(void **state)
{
        json_t *a = load(JOB_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_job(f, a, &o));
        assert_string_equal(
            out, "Job J-1, order O-9\n"
                 "  State:    printing\n"
                 "  Product:  print-4x6-glossy, quantity 2\n"
                 "  Priority: rush\n"
                 "  Deadline: 2026-11-28T12:00:00Z (in 2h47m)\n"
                 "  Printer:  ds620-1\n"
                 "  Copies:   2/3 printed\n"
                 "  Created:  2026-11-28T09:08:44Z (4m ago)\n"
                 "  Updated:  2026-11-28T09:11:44Z (1m ago)\n"
                 "\n"
                 "COPY  STATE    PRINTER  ATTEMPT  JOB NAME  UPDATED  REASON\n"
                 "   1  printed  ds620-1        1  J-1/1/1        2m  -\n"
                 "   2  printed  ds620-1        2  J-1/2/2        1m  resent: first attempt never "
                 "reached the printer\n"
                 "   3  queued   ds620-1        0  -              4s  -\n");
        free(out);
        json_decref(a);
}

static void test_job_held_no_copies(void **state)
{
        json_t *a = load("{\"ok\": true, \"job\": {\"id\": \"J-7\", \"order_id\": \"O-17\","
                         " \"state\": \"held\", \"reason\": \"no_printer\","
                         " \"detail\": \"no printer can print this job\", \"copies\": {},"
                         " \"copies_detail\": []}}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_job(f, a, &o));
        assert_non_null(strstr(out, "  State:    held (no_printer)\n"
                                    "  Detail:   no printer can print this job\n"));
        assert_non_null(strstr(out, "  Deadline: -\n"));
        assert_non_null(strstr(out, "\nNo copies yet: the job is not queued at a printer.\n"));
        free(out);
        json_decref(a);
}

static void test_printers(void **state)
{
        json_t *a = load(STATUS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* STOCK: the worst item's state, "-" for none ("") or unknown (null); DEFECTS/24H: the
           rate as a percentage, "-" when the daemon cannot say. */
        CAPTURE(out, lab_ctl_format_printers(f, a, &o));
        assert_string_equal(
            out,
            "NAME       DRIVER     STATE        AVAILABLE                                    "
            "PAUSED                               QUEUED  PRINTING  STOCK  DEFECTS/24H\n"
            "ds620-1    ipp        idle         no: printer_paused                           by "
            "anna 2m ago: reloading 6x8 paper       4         1  low           1.2%\n"
            "ds620-2    ipp        processing   yes                                          - "
            "                                        0         2  -             0.0%\n"
            "minilab-1  hotfolder  unreachable  no: printer_unreachable: no answer for 30 s  - "
            "                                        0         0  -                -\n");
        free(out);
        json_decref(a);
}

static void test_narrow_terminal(void **state)
{
        json_t *a = load(STATUS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* 72 columns: AVAILABLE and PAUSED (free text) give way; names and numbers do not. */
        o.width = 72;
        CAPTURE(out, lab_ctl_format_printer_table(f, json_object_get(a, "printers"), false, &o));
        assert_true(lines_fit(out, 72));
        assert_string_equal(out, "NAME       STATE        AVAILABLE       PAUSED          QUEUED  "
                                 "PRINTING\n"
                                 "ds620-1    idle         no: printer_p\xe2\x80\xa6  by anna 2m "
                                 "ag\xe2\x80\xa6       4         1\n"
                                 "ds620-2    processing   yes             -                    0  "
                                 "       2\n"
                                 "minilab-1  unreachable  no: printer_u\xe2\x80\xa6  -             "
                                 "       0         0\n");
        free(out);

        /* Not UTF-8: the cut is marked with three dots. */
        o.utf8 = false;
        CAPTURE(out, lab_ctl_format_printer_table(f, json_object_get(a, "printers"), false, &o));
        assert_true(lines_fit(out, 72));
        assert_non_null(strstr(out, "  no: printer...  by anna 2m ...  "));
        free(out);
        json_decref(a);
}

static void test_cut_long_cells(void **state)
{
        char id[81], reason[201], json[1024], want[128];
        json_t *a;
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        memset(id, 'J', 80);
        id[80] = '\0';
        memset(reason, 'r', 200);
        reason[200] = '\0';
        snprintf(json, sizeof json,
                 "{\"jobs\": [{\"id\": \"%s\", \"state\": \"held\", \"reason\": \"%s\"}],"
                 " \"total\": 1}",
                 id, reason);
        a = load(json);
        CAPTURE(out, lab_ctl_format_jobs(f, a, &o));
        /* The id is whole (people type it into `labctl job`); the reason is cut at 60. */
        assert_non_null(strstr(out, id));
        memset(want, 'r', 59);
        strcpy(want + 59, "\xe2\x80\xa6\n");
        assert_non_null(strstr(out, want));
        memset(want, 'r', 60);
        want[60] = '\0';
        assert_null(strstr(out, want));
        free(out);
        json_decref(a);
}

static void test_colours(void **state)
{
        json_t *a = load(STATUS_JSON);
        json_t *j = load("{\"jobs\": [{\"id\": \"J-9\", \"state\": \"failed\"}], \"total\": 1}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_status(f, a, &o));
        assert_null(strchr(out, '\033'));
        free(out);

        o.color = true;
        CAPTURE(out, lab_ctl_format_jobs(f, j, &o));
        assert_non_null(strstr(out, "\033[31mfailed\033[0m"));
        assert_non_null(strstr(out, "\033[1mID\033[0m"));
        free(out);
        CAPTURE(out, lab_ctl_format_counts(f, a, &o));
        assert_string_equal(out, "Jobs: 5 queued, 2 printing, 310 \033[32mreported\033[0m, 1 "
                                 "\033[33mheld\033[0m\n");
        free(out);
        json_decref(a);
        json_decref(j);
}

static void test_no_terminal_control(void **state)
{
        json_t *a = load("{\"ok\": true, \"printer\": {\"name\": \"ds620-1\","
                         " \"paused\": {\"by\": \"eve\", \"since\": \"2026-11-28T09:12:44Z\","
                         "  \"reason\": \"x\\u001b]0;owned\\u0007\\u001b[2J\\nrm -rf\"}}}");
        json_t *s = load("{\"printers\": [{\"name\": \"p\\u001b[31m\", \"available\": false,"
                         " \"reason\": \"bad\\u009b1m\", \"paused\": {\"by\": \"\\u001b\","
                         " \"reason\": \"\\r\"}}], \"stuck\": [{\"id\": \"J\\u0007\"}]}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_paused(f, a, &o));
        assert_string_equal(out, "ds620-1 paused: x?]0;owned??[2J rm -rf. Jobs waiting for it stay "
                                 "in its queue; resume with: labctl resume ds620-1\n");
        free(out);
        CAPTURE(out, lab_ctl_format_status(f, s, &o));
        assert_null(strchr(out, '\033'));
        assert_null(strchr(out, '\007'));
        assert_null(strstr(out, "\xc2\x9b"));
        assert_non_null(strstr(out, "p?[31m"));
        free(out);
        json_decref(a);
        json_decref(s);
}

static void test_sentences(void **state)
{
        json_t *paused =
            load("{\"ok\": true, \"printer\": {\"name\": \"ds620-1\", \"available\": false,"
                 " \"paused\": {\"by\": \"anna\", \"since\": \"2026-11-28T09:10:00Z\","
                 " \"reason\": \"reloading 6x8 paper\"}}}");
        json_t *paused_bare = load("{\"ok\": true, \"printer\": {\"name\": \"ds620-1\","
                                   " \"paused\": {\"by\": \"anna\", \"reason\": \"\"}}}");
        json_t *resumed = load("{\"ok\": true, \"printer\": {\"name\": \"ds620-1\", \"available\":"
                               " true, \"paused\": null}, \"was_paused\": true}");
        json_t *not_paused = load("{\"ok\": true, \"printer\": {\"name\": \"ds620-1\"},"
                                  " \"was_paused\": false}");
        json_t *still_down =
            load("{\"ok\": true, \"printer\": {\"name\": \"ds620-2\", \"available\":"
                 " false, \"reason\": \"printer_unreachable: no answer\"},"
                 " \"was_paused\": true}");
        json_t *reprint = load("{\"ok\": true, \"job\": \"J-1\", \"copy\": 1, \"reprint_copy\": 3,"
                               " \"printer\": \"ds620-1\"}");
        json_t *again = load("{\"ok\": true, \"job\": \"J-1\", \"copy\": 2, \"reprint_copy\": 2,"
                             " \"printer\": \"ds620-1\"}");
        json_t *printed = load("{\"ok\": true, \"job\": {\"id\": \"J-1\", \"state\": \"printed\","
                               " \"copies\": {\"printed\": 2}}}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_paused(f, paused, &o));
        assert_string_equal(out, "ds620-1 paused: reloading 6x8 paper. Jobs waiting for it stay in "
                                 "its queue; resume with: labctl resume ds620-1\n");
        free(out);
        CAPTURE(out, lab_ctl_format_paused(f, paused_bare, &o));
        assert_string_equal(out, "ds620-1 paused. Jobs waiting for it stay in its queue; resume "
                                 "with: labctl resume ds620-1\n");
        free(out);
        CAPTURE(out, lab_ctl_format_resumed(f, resumed, &o));
        assert_string_equal(out, "ds620-1 resumed: it takes work again.\n");
        free(out);
        CAPTURE(out, lab_ctl_format_resumed(f, not_paused, &o));
        assert_string_equal(out, "ds620-1 was not paused; nothing changed.\n");
        free(out);
        CAPTURE(out, lab_ctl_format_resumed(f, still_down, &o));
        assert_string_equal(out, "ds620-2 resumed, but it is not available (printer_unreachable: "
                                 "no answer): it takes work again once that clears.\n");
        free(out);
        CAPTURE(out, lab_ctl_format_reprinted(f, reprint, "banding", &o));
        assert_string_equal(out, "Job J-1: copy 1 reported as banding; reprint queued as copy 3 on "
                                 "ds620-1\n");
        free(out);
        CAPTURE(out, lab_ctl_format_reprinted(f, again, "not_printed", &o));
        assert_string_equal(out, "Job J-1: copy 2 reported as not_printed; queued again as copy 2 "
                                 "(a new attempt) on ds620-1\n");
        free(out);
        CAPTURE(out, lab_ctl_format_printed(f, printed, 2, &o));
        assert_string_equal(out, "Job J-1: copy 2 recorded as printed; the job is now printed (2/2 "
                                 "printed)\n");
        free(out);
        json_decref(paused);
        json_decref(paused_bare);
        json_decref(resumed);
        json_decref(not_paused);
        json_decref(still_down);
        json_decref(reprint);
        json_decref(again);
        json_decref(printed);
}

static void test_refusal(void **state)
{
        json_t *a =
            load("{\"ok\": false, \"error\": \"unknown_printer\", \"message\": \"there is no "
                 "printer called \\\"ds9\\\"; labctl printers lists them\"}");
        json_t *b = load("{\"ok\": false}");
        json_t *c = load("{\"ok\": false, \"error\": \"shutting_down\"}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_refusal(f, a, &o));
        assert_string_equal(out,
                            "unknown_printer: there is no printer called \"ds9\"; labctl printers "
                            "lists them");
        free(out);
        CAPTURE(out, lab_ctl_format_refusal(f, b, &o));
        assert_string_equal(out, "bad_answer: labagent refused the request without saying why");
        free(out);
        CAPTURE(out, lab_ctl_format_refusal(f, c, &o));
        assert_string_equal(out, "shutting_down: (no message)");
        free(out);
        json_decref(a);
        json_decref(b);
        json_decref(c);
}

static void test_malformed(void **state)
{
        /* Every field of the wrong type or missing: "-" and "?", never a crash. */
        static const char *const answers[] = {
            "{}",
            "{\"ok\": true, \"agent\": null, \"platform\": 3, \"counts\": [], \"printers\": \"x\","
            " \"stuck\": 5}",
            "{\"ok\": true, \"printers\": [null, 1, {\"name\": 2, \"queued\": \"4\","
            " \"available\": \"no\", \"paused\": {\"since\": 7}}],"
            " \"stuck\": [null, {\"updated_at\": \"soon\"}], \"jobs\": [[], {\"copies\": 1}],"
            " \"job\": {\"copies_detail\": [3, {\"copy\": \"one\"}]}, \"total\": \"many\"}",
        };
        lab_ctl_fmt_t o = plain();

        for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
                json_t *a = load(answers[i]);
                char *out = NULL;

                CAPTURE(out, {
                        lab_ctl_format_status(f, a, &o);
                        lab_ctl_format_jobs(f, a, &o);
                        lab_ctl_format_job(f, a, &o);
                        lab_ctl_format_printers(f, a, &o);
                        lab_ctl_format_paused(f, a, &o);
                        lab_ctl_format_resumed(f, a, &o);
                        lab_ctl_format_reprinted(f, a, NULL, &o);
                        lab_ctl_format_printed(f, a, 1, &o);
                        lab_ctl_format_refusal(f, a, &o);
                        lab_ctl_format_frame(f, a, a, &o);
                });
                assert_non_null(strstr(out, "labagent ? at ?, up -\n"));
                free(out);
                json_decref(a);
        }
        {
                json_t *a = load(answers[2]);
                char *out = NULL;

                CAPTURE(out,
                        lab_ctl_format_printer_table(f, json_object_get(a, "printers"), false, &o));
                assert_string_equal(out, "NAME  STATE  AVAILABLE  PAUSED      QUEUED  PRINTING\n"
                                         "-     -      -          -                -         -\n"
                                         "-     -      -          -                -         -\n"
                                         "-     -      -          by ? - ago       -         -\n");
                free(out);
                json_decref(a);
        }
}

static void test_amount(void **state)
{
        char b[64];

        assert_string_equal(lab_format_amount(400, b, sizeof b), "400");
        assert_string_equal(lab_format_amount(0, b, sizeof b), "0");
        assert_string_equal(lab_format_amount(12.5, b, sizeof b), "12.5");
        assert_string_equal(lab_format_amount(1.0 / 3.0, b, sizeof b), "0.33");
        assert_string_equal(lab_format_amount(2.999, b, sizeof b), "3");
        assert_string_equal(lab_format_amount(0.001, b, sizeof b), "0");
        assert_string_equal(lab_format_amount(-0.001, b, sizeof b), "0");
        assert_string_equal(lab_format_amount(-2, b, sizeof b), "-2");
        assert_string_equal(lab_format_amount(1e6, b, sizeof b), "1000000");
        assert_string_equal(lab_format_amount(0.0 / 0.0, b, sizeof b), "-");
}

static void test_stock(void **state)
{
        json_t *a = load(STOCK_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* Every printer's: the PRINTER column first; unknown figures "-"; drift signed. */
        CAPTURE(out, lab_ctl_format_stock(f, a, NULL, &o));
        assert_string_equal(
            out, "PRINTER    ITEM          SOURCE      REMAINING  UNIT    LEVEL  STATE     AS OF  "
                 "DRIFT\n"
                 "ds620-1    photo ribbon  printer           310  prints    80%  ok       2m ago  "
                 "    -\n"
                 "ds620-1    main          printer             -  sheets      -  unknown       -  "
                 "    -\n"
                 "minilab-1  paper-4x6     counted          35.5  prints     9%  low      1h ago  "
                 "   -2\n"
                 "minilab-1  ribbon-x      technician          0  metres     0%  out      3d ago  "
                 "   +3\n");
        free(out);
        json_decref(a);
}

static void test_stock_one_printer(void **state)
{
        json_t *a = load("{\"ok\": true, \"items\": [{\"printer\": \"minilab\", \"item\": "
                         "\"paper-4x6\", \"source\": \"counted\", \"remaining\": null, \"unit\": "
                         "\"prints\", \"level\": null, \"capacity\": 400, \"state\": "
                         "\"unknown\", \"as_of\": null, \"drift\": null}]}");
        json_t *none = load("{\"ok\": true, \"items\": []}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* One printer's: no PRINTER column; before a load nothing is known. */
        CAPTURE(out, lab_ctl_format_stock(f, a, "minilab", &o));
        assert_string_equal(out, "ITEM       SOURCE   REMAINING  UNIT    LEVEL  STATE    AS OF  "
                                 "DRIFT\n"
                                 "paper-4x6  counted          -  prints      -  unknown      -  "
                                 "    -\n");
        free(out);
        CAPTURE(out, lab_ctl_format_stock(f, none, "minilab", &o));
        assert_string_equal(out, "minilab has no stock items: it reports no supplies or trays and "
                                 "the config declares no consumables for it "
                                 "(printers[].consumables).\n");
        free(out);
        CAPTURE(out, lab_ctl_format_stock(f, none, NULL, &o));
        assert_string_equal(out, "No stock items: the printers report no supplies or trays and the "
                                 "config declares no consumables (printers[].consumables).\n");
        free(out);
        json_decref(a);
        json_decref(none);
}

static void test_stock_colours(void **state)
{
        json_t *a = load(STOCK_JSON);
        json_t *p = load(STATUS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        o.color = true;
        CAPTURE(out, lab_ctl_format_stock(f, a, NULL, &o));
        assert_non_null(strstr(out, "\033[32mok\033[0m"));
        assert_non_null(strstr(out, "\033[33mlow\033[0m"));
        assert_non_null(strstr(out, "\033[31mout\033[0m"));
        assert_null(strstr(out, "\033[32munknown")); /* unknown: no colour */
        free(out);
        CAPTURE(out, lab_ctl_format_printers(f, p, &o));
        assert_non_null(strstr(out, "\033[33mlow\033[0m"));
        free(out);
        json_decref(a);
        json_decref(p);
}

static void test_stock_adjusted(void **state)
{
        json_t *load_ok = load(
            "{\"ok\": true, \"action\": \"load\", \"amount\": 400.0, \"note\": \"new roll\","
            " \"event\": null, \"item\": {\"printer\": \"minilab\", \"item\": \"paper-4x6\","
            " \"source\": \"counted\", \"remaining\": 400.0, \"unit\": \"prints\", \"level\": 100,"
            " \"state\": \"ok\"}}");
        json_t *low =
            load("{\"ok\": true, \"action\": \"remove\", \"amount\": 370, \"event\": \"stock.low\","
                 " \"item\": {\"printer\": \"minilab\", \"item\": \"paper-4x6\", \"remaining\": 30,"
                 " \"unit\": \"prints\", \"state\": \"low\"}}");
        json_t *set =
            load("{\"ok\": true, \"action\": \"set\", \"amount\": 12.5,"
                 " \"item\": {\"printer\": \"m\", \"item\": \"foil\", \"remaining\": 12.5,"
                 " \"unit\": \"metres\", \"state\": \"ok\"}}");
        json_t *odd = load("{\"ok\": true, \"action\": \"recount\", \"amount\": \"x\","
                           " \"item\": {\"item\": \"a\\u001b[2Jb\", \"remaining\": null}}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_stock_adjusted(f, load_ok, &o));
        assert_string_equal(out, "minilab paper-4x6: loaded 400 prints; 400 prints left, ok\n");
        free(out);
        CAPTURE(out, lab_ctl_format_stock_adjusted(f, low, &o));
        assert_string_equal(out, "minilab paper-4x6: removed 370 prints; 30 prints left, low (the "
                                 "platform is told stock.low)\n");
        free(out);
        CAPTURE(out, lab_ctl_format_stock_adjusted(f, set, &o));
        assert_string_equal(out, "m foil: set to 12.5 metres; 12.5 metres left, ok\n");
        free(out);
        /* Untrusted: an unknown action, a mistyped amount, an escape in a name. */
        CAPTURE(out, lab_ctl_format_stock_adjusted(f, odd, &o));
        assert_string_equal(out, "? a?[2Jb: recount -; remaining unknown, -\n");
        free(out);
        json_decref(load_ok);
        json_decref(low);
        json_decref(set);
        json_decref(odd);
}

/* Every formatter of one command, for one answer. */
typedef void (*format_fn)(FILE *f, const json_t *answer, const lab_ctl_fmt_t *o);

/*
 * What fmt writes for each of n malformed answers: no crash, and no escape or
 * bell from the daemon reaches the terminal. The last answer's text goes to
 * *last (the caller frees it).
 */
static void expect_inert(const char *const *answers, size_t n, format_fn fmt, char **last)
{
        lab_ctl_fmt_t o = plain();

        for (size_t i = 0; i < n; i++) {
                json_t *a = load(answers[i]);
                char *out = NULL;

                CAPTURE(out, fmt(f, a, &o));
                assert_null(strchr(out, '\033'));
                assert_null(strchr(out, '\007'));
                json_decref(a);
                if (i + 1 < n)
                        free(out);
                else
                        *last = out;
        }
}

static void format_stock_all(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_stock(f, a, NULL, o);
        lab_ctl_format_stock(f, a, "p\033", o);
        lab_ctl_format_stock_adjusted(f, a, o);
}

static void test_stock_malformed(void **state)
{
        static const char *const answers[] = {
            "{}",
            "{\"ok\": true, \"items\": 7}",
            "{\"ok\": true, \"items\": [null, 3, {\"printer\": 1, \"remaining\": \"400\","
            " \"level\": 12.5, \"as_of\": \"soon\", \"drift\": \"x\", \"state\": [],"
            " \"item\": \"p\\u001b]0;x\\u0007\"}], \"item\": [], \"action\": 5}",
        };
        lab_ctl_fmt_t o = plain();
        char *last = NULL;

        expect_inert(answers, sizeof answers / sizeof answers[0], format_stock_all, &last);
        free(last);
        {
                json_t *a = load(answers[2]);
                char *out = NULL;

                CAPTURE(out, lab_ctl_format_stock(f, a, NULL, &o));
                assert_string_equal(out, "PRINTER  ITEM     SOURCE  REMAINING  UNIT  LEVEL  STATE  "
                                         "AS OF  DRIFT\n"
                                         "-        -        -               -  -         -  -      "
                                         "    -      -\n"
                                         "-        -        -               -  -         -  -      "
                                         "    -      -\n"
                                         "-        p?]0;x?  -               -  -         -  -      "
                                         "    -      -\n");
                free(out);
                json_decref(a);
        }
}

static void test_frame(void **state)
{
        json_t *s = load(STATUS_JSON);
        json_t *j = load(JOBS_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL, *status = NULL;

        CAPTURE(status, lab_ctl_format_status(f, s, &o));
        CAPTURE(out, lab_ctl_format_frame(f, s, j, &o));
        /* The status overview, then the active jobs, the same text as the commands. */
        assert_memory_equal(out, status, strlen(status));
        assert_string_equal(
            out + strlen(status),
            "\n"
            "Active jobs (2 of 5):\n"
            "ID   ORDER  SKU               QTY  PRIO      STATE     PRINTER  COPIES         AGE  "
            "REASON\n"
            "J-1  O-9    print-4x6-glossy    2  rush      printing  ds620-1  1/2 printed     4m  "
            "-\n"
            "J-2  O-10   print-5x7-matte     1  standard  queued    ds620-2  0/1 printed  2h10m  "
            "-\n");
        free(out);
        free(status);
        json_decref(s);
        json_decref(j);
}

static void test_energy(void **state)
{
        json_t *a = load(ENERGY_JSON);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* Config order; no power but while ok ("-", never 0); the last error with its age. */
        CAPTURE(out, lab_ctl_format_energy(f, a, &o));
        assert_string_equal(out, "METER  STATE      W  KWH-TODAY  WH/PRINT-24H  LAST-ERROR\n"
                                 "panel  ok       450      1.235         14.29  meter_timeout: no "
                                 "answer within 500 ms (1h ago)\n"
                                 "hall   fault      -      0.050             -  meter_unreachable: "
                                 "connection refused (30s ago)\n"
                                 "attic  unknown    -      0.000             -  -\n");
        free(out);
        json_decref(a);
}

static void test_energy_none(void **state)
{
        json_t *a = load("{\"ok\": true, \"meters\": []}");
        json_t *b = load("{\"ok\": true, \"meters\": [{\"name\": \"panel\", \"state\": \"ok\","
                         " \"power_w\": 0, \"kwh_today\": 0, \"wh_per_print_24h\": 0,"
                         " \"last_error\": {\"text\": \"meter_reset: counter went back\"}}]}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_energy(f, a, &o));
        assert_string_equal(out, "No energy meters configured (meters[] in the agent's config).\n");
        free(out);
        /* A real 0 W is 0; an error with no time has no age. */
        CAPTURE(out, lab_ctl_format_energy(f, b, &o));
        assert_string_equal(out, "METER  STATE  W  KWH-TODAY  WH/PRINT-24H  LAST-ERROR\n"
                                 "panel  ok     0      0.000             0  meter_reset: counter "
                                 "went back\n");
        free(out);
        json_decref(a);
        json_decref(b);
}

/* The status answer with "energy" set to the JSON text energy (NULL: none). */
static json_t *status_with_energy(const char *energy)
{
        json_t *a = load(STATUS_JSON);
        json_t *e = energy ? json_loads(energy, JSON_DECODE_ANY, NULL) : NULL;

        if (energy && !e)
                fail_msg("canned JSON: %s", energy);
        if (e)
                json_object_set_new(a, "energy", e);
        return a;
}

/* lab_ctl_format_energy_line's text for the status answer with "energy": energy. */
static void expect_energy_line(const char *energy, const char *want)
{
        json_t *a = status_with_energy(energy);
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        CAPTURE(out, lab_ctl_format_energy_line(f, a, &o));
        assert_string_equal(out, want);
        free(out);
        json_decref(a);
}

static void test_energy_line(void **state)
{
        expect_energy_line("{\"meters\": 2, \"ok\": 1, \"fault\": 1, \"unknown\": 0, \"power_w\": "
                           "450.0, \"faults\": [{\"meter\": \"panel\", \"reason\": "
                           "\"meter_timeout\"}]}",
                           "Energy: 2 meters, 1 ok, 1 fault (panel: meter_timeout), 450 W now\n");
        expect_energy_line("{\"meters\": 3, \"ok\": 0, \"fault\": 2, \"unknown\": 1, \"power_w\": "
                           "null, \"faults\": [{\"meter\": \"a\", \"reason\": \"meter_protocol\"},"
                           " {\"meter\": \"b\", \"reason\": null}]}",
                           "Energy: 3 meters, 2 fault (a: meter_protocol, b), 1 unknown\n");
        expect_energy_line("{\"meters\": 1, \"ok\": 1, \"fault\": 0, \"unknown\": 0, \"power_w\": "
                           "12.25, \"faults\": []}",
                           "Energy: 1 meter, 1 ok, 12.25 W now\n");
        expect_energy_line("{\"meters\": 0, \"ok\": 0, \"fault\": 0, \"unknown\": 0, \"power_w\": "
                           "null, \"faults\": []}",
                           "Energy: no meters\n");
        /* The agent could not read its meters. */
        expect_energy_line("null", "Energy: unknown\n");
        expect_energy_line("{\"meters\": \"two\"}", "Energy: unknown\n");
        expect_energy_line("{}", "Energy: unknown\n");
        /* An agent that sends no "energy" at all: no line. */
        expect_energy_line(NULL, "");
}

static void test_status_energy(void **state)
{
        json_t *a = status_with_energy(
            "{\"meters\": 2, \"ok\": 1, \"fault\": 1, \"unknown\": 0, \"power_w\": 450,"
            " \"faults\": [{\"meter\": \"panel\", \"reason\": \"meter_timeout\"}]}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        /* One line, after the job counts. */
        CAPTURE(out, lab_ctl_format_status(f, a, &o));
        assert_non_null(strstr(out, "\nJobs: 5 queued, 2 printing, 310 reported, 1 held\n"
                                    "Energy: 2 meters, 1 ok, 1 fault (panel: meter_timeout), "
                                    "450 W now\n\nNeeds attention (2):\n"));
        free(out);
        json_decref(a);
}

static void test_energy_colours(void **state)
{
        json_t *a = load(ENERGY_JSON);
        json_t *s = status_with_energy("{\"meters\": 2, \"ok\": 1, \"fault\": 1, \"faults\": []}");
        lab_ctl_fmt_t o = plain();
        char *out = NULL;

        o.color = true;
        CAPTURE(out, lab_ctl_format_energy(f, a, &o));
        assert_non_null(strstr(out, "\033[32mok\033[0m"));
        assert_non_null(strstr(out, "\033[31mfault\033[0m"));
        assert_null(strstr(out, "unknown\033[0m")); /* unknown: no colour */
        free(out);
        CAPTURE(out, lab_ctl_format_energy_line(f, s, &o));
        assert_string_equal(out, "Energy: 2 meters, 1 \033[32mok\033[0m, 1 \033[31mfault\033[0m\n");
        free(out);
        json_decref(a);
        json_decref(s);
}

static void format_energy_all(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_energy(f, a, o);
        lab_ctl_format_energy_line(f, a, o);
}

static void test_energy_malformed(void **state)
{
        static const char *const answers[] = {
            "{}",
            "{\"ok\": true, \"meters\": 7}",
            "{\"ok\": true, \"meters\": [null, 3, {\"name\": 1, \"state\": [], \"power_w\": "
            "\"450\","
            " \"kwh_today\": \"1\", \"wh_per_print_24h\": {}, \"last_error\": {\"text\": "
            "\"x\\u001b[2Jy\", \"at\": \"soon\"}}, {\"name\": \"p\\u001b]0;x\\u0007\"}],"
            " \"energy\": {\"meters\": 2, \"ok\": \"1\", \"fault\": 1, \"faults\": [7, {\"meter\":"
            " \"m\\u001b[31m\", \"reason\": \"r\\u0007\"}], \"power_w\": \"x\"}}",
        };
        char *out = NULL;

        /* The last answer's text: every cell "-" or cleaned, the status line too. */
        expect_inert(answers, sizeof answers / sizeof answers[0], format_energy_all, &out);
        assert_string_equal(out, "METER    STATE  W  KWH-TODAY  WH/PRINT-24H  LAST-ERROR\n"
                                 "-        -      -          -             -  -\n"
                                 "-        -      -          -             -  -\n"
                                 "-        -      -          -             -  x?[2Jy\n"
                                 "p?]0;x?  -      -          -             -  -\n"
                                 "Energy: 2 meters, 1 fault (?, m?[31m: r?)\n");
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_age),
            cmocka_unit_test(test_parse_time),
            cmocka_unit_test(test_answer_now),
            cmocka_unit_test(test_clean),
            cmocka_unit_test(test_lists),
            cmocka_unit_test(test_copies),
            cmocka_unit_test(test_status),
            cmocka_unit_test(test_status_empty),
            cmocka_unit_test(test_counts_unknown_state),
            cmocka_unit_test(test_jobs),
            cmocka_unit_test(test_jobs_empty),
            cmocka_unit_test(test_job),
            cmocka_unit_test(test_job_held_no_copies),
            cmocka_unit_test(test_printers),
            cmocka_unit_test(test_narrow_terminal),
            cmocka_unit_test(test_cut_long_cells),
            cmocka_unit_test(test_colours),
            cmocka_unit_test(test_no_terminal_control),
            cmocka_unit_test(test_sentences),
            cmocka_unit_test(test_refusal),
            cmocka_unit_test(test_malformed),
            cmocka_unit_test(test_frame),
            cmocka_unit_test(test_amount),
            cmocka_unit_test(test_stock),
            cmocka_unit_test(test_stock_one_printer),
            cmocka_unit_test(test_stock_colours),
            cmocka_unit_test(test_stock_adjusted),
            cmocka_unit_test(test_stock_malformed),
            cmocka_unit_test(test_energy),
            cmocka_unit_test(test_energy_none),
            cmocka_unit_test(test_energy_line),
            cmocka_unit_test(test_status_energy),
            cmocka_unit_test(test_energy_colours),
            cmocka_unit_test(test_energy_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
