/*
 * test-printer-logic.c - the driver-independent pure parts of drivers/printer.c:
 * stable job names (crash recovery depends on parsing them back), IPP reason
 * parsing, when a status makes a printer unavailable, which fault keyword an
 * IPP reason is, what kind a supply type names, which of a printer's sizes a
 * product's media is, and which options and queue defaults alter colour.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config-print-options.h"
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

/* The fault keyword of each IPP reason, whatever its suffix, and its severity. */
static void test_fault_of(void **state)
{
        static const struct {
                const char *reason, *keyword;
                lab_severity_t severity;
        } cases[] = {
            {"media-empty-error", "media_empty", LAB_SEVERITY_ERROR},
            {"media-empty-report", "media_empty", LAB_SEVERITY_ERROR}, /* ippeveprinter */
            {"media-empty", "media_empty", LAB_SEVERITY_ERROR},
            {"media-needed-warning", "media_empty", LAB_SEVERITY_ERROR},
            {"media-jam-report", "media_jam", LAB_SEVERITY_ERROR},
            {"marker-supply-empty-warning", "marker_supply_empty", LAB_SEVERITY_ERROR},
            {"cover-open-report", "cover_open", LAB_SEVERITY_ERROR},
            {"door-open", "door_open", LAB_SEVERITY_ERROR},
            {"offline-report", "printer_offline", LAB_SEVERITY_ERROR},
            {"shutdown-warning", "printer_offline", LAB_SEVERITY_ERROR},
            {"stalled", "printer_stalled", LAB_SEVERITY_ERROR},
            {"marker-waste-full-warning", "waste_full", LAB_SEVERITY_ERROR},
            {"marker-waste-almost-full-report", "waste_almost_full", LAB_SEVERITY_WARNING},
            {"media-low-report", "media_low", LAB_SEVERITY_WARNING},
            {"media-low-error", "media_low", LAB_SEVERITY_WARNING}, /* the suffix does not count */
            {"marker-supply-low-warning", "marker_supply_low", LAB_SEVERITY_WARNING},
            {"input-tray-missing-error", "printer_error", LAB_SEVERITY_ERROR},
            {"toner-empty-error", "printer_error", LAB_SEVERITY_ERROR},
        };
        static const char *const none[] = {
            "paused",           "paused-error",    "moving-to-paused",     "other-warning",
            "toner-low-report", "media-empty-ish", "connecting-to-device",
        };
        lab_printer_reason_t r;
        const char *kw;
        lab_severity_t sev;

        (void)state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                lab_printer_reason_parse(cases[i].reason, &r);
                kw = NULL;
                assert_true(lab_printer_fault_of(&r, &kw, &sev));
                assert_string_equal(kw, cases[i].keyword);
                assert_int_equal(sev, cases[i].severity);
        }
        for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
                lab_printer_reason_parse(none[i], &r);
                assert_false(lab_printer_fault_of(&r, &kw, &sev));
        }
}

/* A full waste container stops the printer; almost full is a warning only. */
static void test_available_waste(void **state)
{
        static const char *const full[] = {"marker-waste-full-report"};
        static const char *const almost[] = {"marker-waste-almost-full-warning"};
        lab_printer_status_t s;
        char why[256];

        (void)state;
        assert_unavailable(status_with(full, 1), "waste_full");
        s = status_with(almost, 1);
        assert_true(lab_printer_status_available(&s, why, sizeof why));
}

/* Supply kinds from PWG and CUPS type keywords. */
static void test_supply_kind(void **state)
{
        static const struct {
                const char *type;
                lab_supply_kind_t kind;
        } cases[] = {
            {"ribbonWax", LAB_SUPPLY_RIBBON},
            {"ribbon-wax", LAB_SUPPLY_RIBBON},
            {"inkRibbon", LAB_SUPPLY_RIBBON},
            {"ink", LAB_SUPPLY_INK},
            {"inkCartridge", LAB_SUPPLY_INK},
            {"ink-cartridge", LAB_SUPPLY_INK},
            {"solidWax", LAB_SUPPLY_INK},
            {"toner", LAB_SUPPLY_TONER},
            {"tonerCartridge", LAB_SUPPLY_TONER},
            {"wasteToner", LAB_SUPPLY_WASTE},
            {"waste-ink", LAB_SUPPLY_WASTE},
            {"wastePaper", LAB_SUPPLY_WASTE},
            {"paper", LAB_SUPPLY_PAPER},
            {"paperWrap", LAB_SUPPLY_OTHER},
            {"fuser", LAB_SUPPLY_OTHER},
            {"", LAB_SUPPLY_OTHER},
            {NULL, LAB_SUPPLY_OTHER},
        };

        (void)state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                assert_int_equal(lab_supply_kind_of(cases[i].type), cases[i].kind);
        assert_string_equal(lab_supply_kind_to_string(LAB_SUPPLY_PAPER), "paper");
        assert_string_equal(lab_supply_kind_to_string(LAB_SUPPLY_RIBBON), "ribbon");
        assert_string_equal(lab_supply_kind_to_string((lab_supply_kind_t)99), "other");
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

/* PPD names: those libcups knows, and w<pt>h<pt> with nothing after it. */
static void test_ppd_nominal(void **state)
{
        int w = 0, h = 0;

        (void)state;
        assert_int_equal(lab_ppd_size_nominal("w288h432", &w, &h), 0);
        assert_int_equal(w, 10160);
        assert_int_equal(h, 15240);
        assert_int_equal(lab_ppd_size_nominal("4x6", &w, &h), 0);
        assert_int_equal(w, 10160);
        assert_int_equal(lab_ppd_size_nominal("A4", &w, &h), 0);
        assert_int_equal(h, 29700);
        assert_int_equal(lab_ppd_size_nominal("w288h432-div2", &w, &h), -EINVAL);
        assert_int_equal(lab_ppd_size_nominal("w360h504-w360h360_w360h144", &w, &h), -EINVAL);
        assert_int_equal(lab_ppd_size_nominal("w0h432", &w, &h), -EINVAL);
        assert_int_equal(lab_ppd_size_nominal("wh", &w, &h), -EINVAL);
        assert_int_equal(lab_ppd_size_nominal("", &w, &h), -EINVAL);
        assert_int_equal(lab_ppd_size_nominal("w99999999h1", &w, &h), -EINVAL);
}

/* A size with a nominal size and an imageable area in points. */
static lab_printer_size_t size_of(const char *name, const char *text, double aw, double ah)
{
        lab_printer_size_t s = {.area_w = aw, .area_h = ah};

        snprintf(s.name, sizeof s.name, "%s", name);
        snprintf(s.text, sizeof s.text, "%s", text);
        if (lab_ppd_size_nominal(name, &s.nominal_w, &s.nominal_h) < 0)
                s.nominal_w = s.nominal_h = 0;
        return s;
}

static void test_media_choose(void **state)
{
        lab_printer_size_t sizes[] = {
            size_of("w288h432", "4x6", 297.6, 442.56),
            size_of("w288h432-div2", "2x6*2", 297.6, 442.56),
            size_of("w360h504", "5x7", 371.52, 513.12),
        };
        char *media[] = {"custom_104.99x162.56mm_104.99x162.56mm", "na_letter_8.5x11in"};
        lab_printer_caps_t caps = {
            .sizes = sizes, .n_sizes = 3, .ppd = true, .media = media, .n_media = 2};
        const lab_printer_size_t *s = NULL;
        char why[1024];

        (void)state;
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "na_index-4x6_4x6in", NULL, &s, why, sizeof why),
            0);
        assert_ptr_equal(s, &sizes[0]);
        /* Listed by the queue as a PWG name: its own mapping, sent as it is. */
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "na_letter_8.5x11in", NULL, &s, why, sizeof why),
            0);
        assert_null(s);
        /* A custom_ name cupsd built from a PPD's dimensions: never sent. */
        assert_int_equal(lab_printer_media_choose(&caps, "q", media[0], NULL, &s, why, sizeof why),
                         -ENOENT);
        assert_non_null(strstr(why, "printer_refused: printer q has no size that is custom_"));
        assert_non_null(strstr(why, "w288h432 (4x6), w288h432-div2 (2x6*2), w360h504 (5x7)"));
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "not-a-size", NULL, &s, why, sizeof why), -ENOENT);
        assert_non_null(strstr(why, "(not a PWG 5101.1 media name)"));

        /* Two plain sizes that are both 4x6: a guess, refused, naming both. */
        sizes[1] = size_of("4x6", "4x6 borderless", 288, 432);
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "na_index-4x6_4x6in", NULL, &s, why, sizeof why),
            -EEXIST);
        assert_non_null(strstr(why, "printer_refused: printer q has 2 sizes that are "
                                    "na_index-4x6_4x6in (w288h432 (4x6), 4x6 (4x6 borderless)); "
                                    "name the one to use in printers[].media"));
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "na_index-4x6_4x6in", "4x6", &s, why, sizeof why),
            0);
        assert_ptr_equal(s, &sizes[1]);
        /* Landscape nominal sizes match too (5x7 listed as 7x5). */
        sizes[2] = size_of("w504h360", "7x5", 513.12, 371.52);
        assert_int_equal(
            lab_printer_media_choose(&caps, "q", "na_5x7_5x7in", NULL, &s, why, sizeof why), 0);
        assert_ptr_equal(s, &sizes[2]);

        /* An IPP Everywhere printer: its media-supported names. */
        caps = (lab_printer_caps_t){.media = media + 1, .n_media = 1};
        assert_int_equal(
            lab_printer_media_choose(&caps, "e", "na_letter_8.5x11in", NULL, &s, why, sizeof why),
            0);
        assert_int_equal(
            lab_printer_media_choose(&caps, "e", "na_index-4x6_4x6in", NULL, &s, why, sizeof why),
            -ENOENT);
        assert_non_null(strstr(why, "its sizes: na_letter_8.5x11in"));
        assert_int_equal(lab_printer_media_choose(&caps, "e", "na_index-4x6_4x6in", "oe_4x6", &s,
                                                  why, sizeof why),
                         -ENOENT);
}

static void test_size_fits(void **state)
{
        lab_printer_size_t s = size_of("w288h432", "4x6", 297.6, 442.56);
        char why[512];

        (void)state;
        assert_true(lab_printer_size_fits(&s, "q", 1240, 1844, 300, why, sizeof why));
        assert_true(lab_printer_size_fits(&s, "q", 1844, 1240, 300, why, sizeof why));
        assert_true(lab_printer_size_fits(&s, "q", 2480, 3688, 600, why, sizeof why));
        assert_false(lab_printer_size_fits(&s, "q", 1240, 1845, 300, why, sizeof why));
        /* A pixel short fills it (imagetoraster truncates); two do not. */
        assert_true(lab_printer_size_fits(&s, "q", 1239, 1843, 300, why, sizeof why));
        assert_false(lab_printer_size_fits(&s, "q", 1240, 1842, 300, why, sizeof why));
        assert_false(lab_printer_size_fits(&s, "q", 1240, 1844, 0, why, sizeof why));
        /* A hostile PPD's areas: infinite, huge, negative; never a fit, never an overflow. */
        lab_printer_size_t bad = s;
        bad.area_h = INFINITY;
        assert_false(lab_printer_size_fits(&bad, "q", 1240, 1844, 300, NULL, 0));
        bad.area_h = 1e300;
        assert_false(lab_printer_size_fits(&bad, "q", 1240, 1844, 300, NULL, 0));
        bad.area_h = -442.56;
        assert_false(lab_printer_size_fits(&bad, "q", 1240, 0, 300, NULL, 0));
        assert_false(lab_printer_size_fits(&s, "q", 1240, 1920, 300, why, sizeof why));
        assert_string_equal(
            why, "media_size_mismatch: printer q prints w288h432 4x6 on an "
                 "imageable area of 1240x1844 pixels at 300 dpi (a pixel less "
                 "may fit), but the registry's media table makes 1240x1920; the filter would crop "
                 "or resample every print: correct the model's media table in "
                 "the colour registry");
}

static void test_colour_rules(void **state)
{
        static const struct {
                const char *name, *value;
                bool alters;
        } cases[] = {
            {"gamma", "1000", false},
            {"gamma", "1500", true},
            {"brightness", "100", false},
            {"brightness", "120", true},
            {"saturation", "150", true},
            {"hue", "0", false},
            {"hue", "10", true},
            {"profile", "x.icc", true},
            {"print-color-mode", "color", false},
            {"print-color-mode", "monochrome", true},
            {"print-color-mode", "auto-monochrome", true},
            {"ColorModel", "RGB", false},
            {"ColorModel", "Gray", true},
            {"StpColorCorrection", "Raw", false},
            {"StpColorCorrection", "Uncorrected", false},
            {"StpColorCorrection", "None", true},
            {"StpColorCorrection", "Desaturated", true},
            {"StpGamma", "None", false},
            {"StpGamma", "1500", true},
            {"StpFineCyanBalance", "None", false},
            {"StpFineCyanBalance", "50", true},
            {"StpYellowGamma", "900", true},
            {"StpLegacyDyesubGamma", "False", false},
            {"StpLegacyDyesubGamma", "True", true},
            {"StpLinearContrast", "True", true},
            {"StpUseLUT", "True", false},
            {"StpSharpen", "4", false},
            {"StpImageType", "Photo", false},
            {"StpGammaX", "1500", false},
            {"Stp", "1", false},
        };
        lab_printer_status_t st = {0};
        lab_config_pair_t raw[] = {{"StpColorCorrection", "Raw"}};
        char buf[512];

        (void)state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                if (lab_print_option_alters_colour(cases[i].name, cases[i].value, buf,
                                                   sizeof buf) != cases[i].alters)
                        fail_msg("%s=%s: expected %s", cases[i].name, cases[i].value,
                                 cases[i].alters ? "alters colour" : "neutral");

        assert_null(lab_print_option_check("StpColorCorrection", "Raw", buf, sizeof buf));
        assert_string_equal(lab_print_option_check("media", "w288h432", buf, sizeof buf),
                            "option_reserved");
        assert_string_equal(lab_print_option_check("hue", "10", buf, sizeof buf),
                            "colour_managed_twice");
        assert_string_equal(lab_print_option_check("a=b", "1", buf, sizeof buf), "bad_value");
        assert_string_equal(lab_print_option_check("x", "two words", buf, sizeof buf), "bad_value");

        /* The agent sends print-color-mode=color on every job: that default is no reason. */
        snprintf(st.colour_defaults[0].name, sizeof st.colour_defaults[0].name, "print-color-mode");
        snprintf(st.colour_defaults[0].value, sizeof st.colour_defaults[0].value, "monochrome");
        st.n_colour_defaults = 1;
        assert_true(lab_printer_colour_ok(&st, "q", NULL, 0, buf, sizeof buf));

        /* A queue default of None: unless the agent sends Raw on every job, it is refused. */
        snprintf(st.colour_defaults[0].name, sizeof st.colour_defaults[0].name,
                 "StpColorCorrection");
        snprintf(st.colour_defaults[0].value, sizeof st.colour_defaults[0].value, "None");
        st.n_colour_defaults = 1;
        assert_false(lab_printer_colour_ok(&st, "q", NULL, 0, buf, sizeof buf));
        assert_non_null(strstr(buf, "queue_colour_altered: the queue of printer q has the "
                                    "default StpColorCorrection=None"));
        assert_true(lab_printer_colour_ok(&st, "q", raw, 1, buf, sizeof buf));
}

/* Why a job that stopped, aborted or was canceled did not print. */
static void test_pjob_failure(void **state)
{
        lab_pjob_status_t st = {.state = LAB_PJOB_PROCESSING,
                                .stopped = true,
                                .reasons = "job-completed-with-errors",
                                .message = "The print file could not be opened."};

        (void)state;
        assert_string_equal(lab_pjob_failure(&st), "filter_failed");
        st = (lab_pjob_status_t){
            .state = LAB_PJOB_ABORTED, .stopped = true, .reasons = "job-printing"};
        assert_string_equal(lab_pjob_failure(&st), "printer_stopped");
        st = (lab_pjob_status_t){.state = LAB_PJOB_CANCELED,
                                 .reasons = "job-canceled-at-device",
                                 .message = "Incorrect media for job loaded (300 vs 3)"};
        assert_string_equal(lab_pjob_failure(&st), "media_mismatch");
        st = (lab_pjob_status_t){.state = LAB_PJOB_ABORTED,
                                 .reasons = "aborted-by-system,document-format-error"};
        assert_string_equal(lab_pjob_failure(&st), "filter_failed");
        st = (lab_pjob_status_t){.state = LAB_PJOB_ABORTED, .reasons = "job-completed-with-errors"};
        assert_string_equal(lab_pjob_failure(&st), "printer_aborted");
        st = (lab_pjob_status_t){.state = LAB_PJOB_CANCELED, .reasons = "job-canceled-by-user"};
        assert_string_equal(lab_pjob_failure(&st), "printer_canceled");
        /* A keyword that merely starts like another is not it. */
        st = (lab_pjob_status_t){.state = LAB_PJOB_ABORTED, .reasons = "media-mismatchy"};
        assert_string_equal(lab_pjob_failure(&st), "printer_aborted");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_job_name_round_trip),
            cmocka_unit_test(test_job_name_refused),
            cmocka_unit_test(test_reason_parse),
            cmocka_unit_test(test_available),
            cmocka_unit_test(test_fault_of),
            cmocka_unit_test(test_available_waste),
            cmocka_unit_test(test_supply_kind),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_may_resend),
            cmocka_unit_test(test_ppd_nominal),
            cmocka_unit_test(test_media_choose),
            cmocka_unit_test(test_size_fits),
            cmocka_unit_test(test_colour_rules),
            cmocka_unit_test(test_pjob_failure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
