/*
 * test-control-request.c - console requests (console-request.c): every
 * command with every field, every way a line can be refused (with its
 * keyword and a sentence), who gets which role from the kernel's
 * credentials, and which role may run which command.
 *
 * Why: the control socket is open to every local user, so this parser is
 * the wall between untrusted bytes and the code that pauses printers and
 * reprints jobs. Expected values are written out from docs/control.md, not
 * from the code.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "console-request.h"
#include "testutil.h"

/* Parse a NUL-terminated line. */
static int parse(const char *line, lab_control_request_t *req, lab_error_t *err)
{
        *err = (lab_error_t){0};
        return lab_control_request_parse(line, strlen(line), req, err);
}

/* Whether a request holds nothing (what a refused parse must leave). */
static bool request_empty(const lab_control_request_t *req)
{
        return !req->root && !req->printer && !req->reason && !req->job && req->copy == 0 &&
               !req->defect && !req->note && req->n_states == 0;
}

/* The refusal's message: not empty, one line. */
static void assert_message(const lab_error_t *err)
{
        assert_true(strlen(err->message) > 0);
        assert_null(strchr(err->message, '\n'));
}

/* line (len bytes) must be refused with keyword, a sentence, and nothing to free. */
static void assert_refused_len(const char *line, size_t len, const char *keyword)
{
        lab_control_request_t req;
        lab_error_t err = {0};
        int r;

        memset(&req, 0xa5, sizeof req);
        r = lab_control_request_parse(line, len, &req, &err);
        if (r >= 0) {
                lab_control_request_done(&req);
                fail_msg("accepted: %.*s", (int)(len > 200 ? 200 : len), line ? line : "(null)");
        }
        assert_true(r == -EINVAL || r == -EMSGSIZE);
        assert_string_equal(err.keyword, keyword);
        assert_message(&err);
        assert_null(req.root);
        assert_true(request_empty(&req));
        /* Nothing to free, and freeing it anyway is harmless. */
        lab_control_request_done(&req);
}

/* line must be refused with keyword. */
static void assert_refused(const char *line, const char *keyword)
{
        assert_refused_len(line, strlen(line), keyword);
}

/* line must parse as cmd; req is then the caller's to free. */
static void assert_parses(const char *line, lab_control_cmd_t cmd, lab_control_request_t *req)
{
        lab_error_t err = {0};
        int r = parse(line, req, &err);

        if (r < 0)
                fail_msg("refused (%s: %s): %s", err.keyword, err.message, line);
        assert_int_equal(r, 0);
        assert_int_equal(req->cmd, cmd);
        assert_non_null(req->root);
}

/* A malloc'd request line, formatted. */
_printf_(1, 2) static char *line_with(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        assert_true(r > 0);
        return s;
}

/* ---- good requests ---- */

static void test_status_printers(void **state)
{
        lab_control_request_t req;

        (void)state;
        assert_parses("{\"cmd\": \"status\"}", LAB_CONTROL_STATUS, &req);
        assert_null(req.printer);
        assert_null(req.job);
        assert_int_equal(req.n_states, 0);
        lab_control_request_done(&req);
        assert_null(req.root);

        assert_parses("{\"cmd\":\"printers\"}", LAB_CONTROL_PRINTERS, &req);
        lab_control_request_done(&req);
        /* Whitespace around, CR of a CRLF line, unknown extra fields. */
        assert_parses("  {\"cmd\":\"status\"}\r", LAB_CONTROL_STATUS, &req);
        lab_control_request_done(&req);
        assert_parses("{\"verbose\":true,\"cmd\":\"status\"}", LAB_CONTROL_STATUS, &req);
        lab_control_request_done(&req);
}

static void test_jobs(void **state)
{
        lab_control_request_t req;
        char all[1024] = "{\"cmd\":\"jobs\",\"states\":[";

        (void)state;
        assert_parses("{\"cmd\": \"jobs\", \"states\": [\"printing\", \"queued\"], \"limit\": 100}",
                      LAB_CONTROL_JOBS, &req);
        assert_int_equal(req.n_states, 2);
        assert_int_equal(req.states[0], LAB_JOB_PRINTING);
        assert_int_equal(req.states[1], LAB_JOB_QUEUED);
        assert_int_equal(req.limit, 100);
        lab_control_request_done(&req);

        /* Defaults: the unfinished states (n_states 0), limit 100. */
        assert_parses("{\"cmd\":\"jobs\"}", LAB_CONTROL_JOBS, &req);
        assert_int_equal(req.n_states, 0);
        assert_int_equal(req.limit, 100);
        lab_control_request_done(&req);

        /* Limit bounds 1 and 1000. */
        assert_parses("{\"cmd\":\"jobs\",\"limit\":1}", LAB_CONTROL_JOBS, &req);
        assert_int_equal(req.limit, 1);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\":\"jobs\",\"limit\":1000,\"states\":[\"held\"]}", LAB_CONTROL_JOBS,
                      &req);
        assert_int_equal(req.limit, 1000);
        assert_int_equal(req.n_states, 1);
        assert_int_equal(req.states[0], LAB_JOB_HELD);
        lab_control_request_done(&req);

        /* Every job state, in order. */
        for (int i = 0; i < LAB_JOB_STATE_MAX; i++) {
                strcat(all, i ? ",\"" : "\"");
                strcat(all, lab_job_state_to_string((lab_job_state_t)i));
                strcat(all, "\"");
        }
        strcat(all, "]}");
        assert_parses(all, LAB_CONTROL_JOBS, &req);
        assert_int_equal(req.n_states, LAB_JOB_STATE_MAX);
        for (int i = 0; i < LAB_JOB_STATE_MAX; i++)
                assert_int_equal(req.states[i], i);
        lab_control_request_done(&req);
}

static void test_job(void **state)
{
        lab_control_request_t req;
        char *id = lab_test_repeat('j', 255),
             *line = line_with("{\"cmd\":\"job\",\"id\":\"%s\"}", id);

        (void)state;
        assert_parses("{\"cmd\": \"job\", \"id\": \"J-1\"}", LAB_CONTROL_JOB, &req);
        assert_string_equal(req.job, "J-1");
        assert_null(req.printer);
        lab_control_request_done(&req);

        /* 255 bytes is the longest id. */
        assert_parses(line, LAB_CONTROL_JOB, &req);
        assert_string_equal(req.job, id);
        lab_control_request_done(&req);
        free(line);
        free(id);
}

static void test_pause_resume(void **state)
{
        lab_control_request_t req;
        char *name = lab_test_repeat('p', 255), *reason = lab_test_repeat('r', 200), *line;

        (void)state;
        assert_parses("{\"cmd\": \"pause\", \"printer\": \"ds620-1\", \"reason\": \"reloading 6x8 "
                      "paper\"}",
                      LAB_CONTROL_PAUSE, &req);
        assert_string_equal(req.printer, "ds620-1");
        assert_string_equal(req.reason, "reloading 6x8 paper");
        lab_control_request_done(&req);

        /* The reason is optional: absent, null and "" are none. */
        assert_parses("{\"cmd\":\"pause\",\"printer\":\"ds620-1\"}", LAB_CONTROL_PAUSE, &req);
        assert_string_equal(req.printer, "ds620-1");
        assert_null(req.reason);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\":\"pause\",\"printer\":\"ds620-1\",\"reason\":null}",
                      LAB_CONTROL_PAUSE, &req);
        assert_null(req.reason);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\":\"pause\",\"printer\":\"ds620-1\",\"reason\":\"\"}",
                      LAB_CONTROL_PAUSE, &req);
        assert_null(req.reason);
        lab_control_request_done(&req);

        /* Longest printer name (255 bytes) and reason (200). */
        assert_true(asprintf(&line, "{\"cmd\":\"pause\",\"printer\":\"%s\",\"reason\":\"%s\"}",
                             name, reason) > 0);
        assert_parses(line, LAB_CONTROL_PAUSE, &req);
        assert_string_equal(req.printer, name);
        assert_string_equal(req.reason, reason);
        lab_control_request_done(&req);
        free(line);

        /* Non-ASCII text is fine. */
        assert_parses("{\"cmd\":\"pause\",\"printer\":\"ds620-1\",\"reason\":\"Papier f\\u00fcr "
                      "6x8 nachf\xc3\xbcllen\"}",
                      LAB_CONTROL_PAUSE, &req);
        assert_string_equal(req.reason, "Papier f\xc3\xbcr 6x8 nachf\xc3\xbcllen");
        lab_control_request_done(&req);

        assert_parses("{\"cmd\": \"resume\", \"printer\": \"ds620-1\"}", LAB_CONTROL_RESUME, &req);
        assert_string_equal(req.printer, "ds620-1");
        assert_null(req.reason);
        lab_control_request_done(&req);
        free(name);
        free(reason);
}

static void test_reprint(void **state)
{
        static const char *const defects[] = {"banding",   "colour_cast", "scratch",
                                              "crease",    "smear",       "cut",
                                              "paper_jam", "not_printed", "other"};
        lab_control_request_t req;
        char *note = lab_test_repeat('n', 500), *line;

        (void)state;
        assert_parses("{\"cmd\": \"reprint\", \"job\": \"J-1\", \"copy\": 1, \"defect\": "
                      "\"banding\", \"note\": \"cyan stripe at the top\"}",
                      LAB_CONTROL_REPRINT, &req);
        assert_string_equal(req.job, "J-1");
        assert_int_equal(req.copy, 1);
        assert_string_equal(req.defect, "banding");
        assert_string_equal(req.note, "cyan stripe at the top");
        lab_control_request_done(&req);

        /* copy may be left out (a one-copy job): 0; note is optional. */
        assert_parses("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"other\"}",
                      LAB_CONTROL_REPRINT, &req);
        assert_int_equal(req.copy, 0);
        assert_null(req.note);
        lab_control_request_done(&req);

        /* Every documented defect; the largest copy number. */
        for (size_t i = 0; i < sizeof defects / sizeof defects[0]; i++) {
                assert_true(asprintf(&line,
                                     "{\"cmd\":\"reprint\",\"job\":\"J-2\",\"copy\":1000000,"
                                     "\"defect\":\"%s\"}",
                                     defects[i]) > 0);
                assert_parses(line, LAB_CONTROL_REPRINT, &req);
                assert_string_equal(req.defect, defects[i]);
                assert_int_equal(req.copy, 1000000);
                lab_control_request_done(&req);
                free(line);
                assert_true(lab_control_defect_valid(defects[i]));
        }

        /* The longest note: 500. */
        line = line_with("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"cut\",\"note\":\"%s\"}",
                         note);
        assert_parses(line, LAB_CONTROL_REPRINT, &req);
        assert_string_equal(req.note, note);
        lab_control_request_done(&req);
        free(line);
        free(note);
}

static void test_printed(void **state)
{
        lab_control_request_t req;

        (void)state;
        assert_parses("{\"cmd\": \"printed\", \"job\": \"J-1\", \"copy\": 2}", LAB_CONTROL_PRINTED,
                      &req);
        assert_string_equal(req.job, "J-1");
        assert_int_equal(req.copy, 2);
        assert_null(req.defect);
        lab_control_request_done(&req);
}

static void test_stock(void **state)
{
        lab_control_request_t req;

        (void)state;
        assert_parses("{\"cmd\": \"stock\"}", LAB_CONTROL_STOCK, &req);
        assert_null(req.printer);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\": \"stock\", \"printer\": \"minilab\"}", LAB_CONTROL_STOCK, &req);
        assert_string_equal(req.printer, "minilab");
        lab_control_request_done(&req);
        assert_parses(
            "{\"cmd\": \"stock.adjust\", \"printer\": \"minilab\", \"item\": "
            "\"paper-4x6\", \"action\": \"load\", \"amount\": 400, \"note\": \"new roll\"}",
            LAB_CONTROL_STOCK_ADJUST, &req);
        assert_string_equal(req.printer, "minilab");
        assert_string_equal(req.item, "paper-4x6");
        assert_int_equal(req.action, LAB_STOCK_LOAD);
        assert_true(req.amount == 400.0);
        assert_string_equal(req.note, "new roll");
        lab_control_request_done(&req);
        /* A real amount, 0, every action; no note. */
        assert_parses("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"foil\","
                      "\"action\":\"remove\",\"amount\":12.5}",
                      LAB_CONTROL_STOCK_ADJUST, &req);
        assert_int_equal(req.action, LAB_STOCK_REMOVE);
        assert_true(req.amount == 12.5);
        assert_null(req.note);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"foil\","
                      "\"action\":\"set\",\"amount\":0}",
                      LAB_CONTROL_STOCK_ADJUST, &req);
        assert_int_equal(req.action, LAB_STOCK_SET);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"foil\","
                      "\"action\":\"add\",\"amount\":1}",
                      LAB_CONTROL_STOCK_ADJUST, &req);
        assert_int_equal(req.action, LAB_STOCK_ADD);
        lab_control_request_done(&req);

        /* Refused: each field missing or wrong. */
        assert_refused("{\"cmd\":\"stock\",\"printer\":7}", "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"item\":\"i\",\"action\":\"add\","
                       "\"amount\":1}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"action\":\"add\","
                       "\"amount\":1}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"amount\":1}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"action\":\"refill\",\"amount\":1}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"action\":\"add\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"action\":\"add\",\"amount\":-1}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"action\":\"add\",\"amount\":\"10\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"stock.adjust\",\"printer\":\"m\",\"item\":\"i\","
                       "\"action\":\"add\",\"amount\":1,\"note\":\"a\\u0007b\"}",
                       "bad_request");
}

static void test_energy(void **state)
{
        lab_control_request_t req;

        (void)state;
        assert_parses("{\"cmd\": \"energy\"}", LAB_CONTROL_ENERGY, &req);
        assert_null(req.meter);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\": \"energy\", \"meter\": \"panel\"}", LAB_CONTROL_ENERGY, &req);
        assert_string_equal(req.meter, "panel");
        assert_null(req.printer);
        lab_control_request_done(&req);
        /* null and "" are every meter, as for stock's printer. */
        assert_parses("{\"cmd\": \"energy\", \"meter\": null}", LAB_CONTROL_ENERGY, &req);
        assert_null(req.meter);
        lab_control_request_done(&req);
        assert_parses("{\"cmd\": \"energy\", \"meter\": \"\"}", LAB_CONTROL_ENERGY, &req);
        assert_null(req.meter);
        lab_control_request_done(&req);

        assert_refused("{\"cmd\":\"energy\",\"meter\":7}", "bad_request");
        assert_refused("{\"cmd\":\"energy\",\"meter\":[\"panel\"]}", "bad_request");
        assert_refused("{\"cmd\":\"energy\",\"meter\":\"pa\\u001bnel\"}", "bad_request");
        assert_refused("{\"cmd\":\"Energy\"}", "bad_request");
}

/* ---- refused requests ---- */

static void test_not_json_not_object(void **state)
{
        (void)state;
        assert_refused("", "bad_request");
        assert_refused("   ", "bad_request");
        assert_refused("{", "bad_request");
        assert_refused("status", "bad_request");
        assert_refused("{cmd: \"status\"}", "bad_request");
        assert_refused("{'cmd': 'status'}", "bad_request");
        assert_refused("{\"cmd\":\"status\",}", "bad_request");
        /* One object per line: nothing after it. */
        assert_refused("{\"cmd\":\"status\"} x", "bad_request");
        assert_refused("{\"cmd\":\"status\"}{\"cmd\":\"status\"}", "bad_request");
        /* Invalid UTF-8. */
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"ds\xff\"}", "bad_request");
        /* A NUL inside the line. */
        assert_refused_len("{\"cmd\":\"status\"}\0{}", 19, "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"a\\u0000b\"}", "bad_request");

        assert_refused("[]", "bad_request");
        assert_refused("[{\"cmd\":\"status\"}]", "bad_request");
        assert_refused("\"status\"", "bad_request");
        assert_refused("42", "bad_request");
        assert_refused("null", "bad_request");
        assert_refused("true", "bad_request");
}

static void test_cmd(void **state)
{
        (void)state;
        assert_refused("{}", "bad_request");
        assert_refused("{\"id\":\"J-1\"}", "bad_request");
        assert_refused("{\"cmd\":null}", "bad_request");
        assert_refused("{\"cmd\":5}", "bad_request");
        assert_refused("{\"cmd\":[\"status\"]}", "bad_request");
        assert_refused("{\"cmd\":{\"status\":1}}", "bad_request");
        assert_refused("{\"cmd\":\"\"}", "bad_request");
        assert_refused("{\"cmd\":\"reboot\"}", "bad_request");
        assert_refused("{\"cmd\":\"STATUS\"}", "bad_request");
        assert_refused("{\"cmd\":\"status \"}", "bad_request");
        assert_refused("{\"cmd\":\"stat\"}", "bad_request");
        assert_refused("{\"cmd\":\"top\"}", "bad_request");
}

static void test_missing_fields(void **state)
{
        (void)state;
        assert_refused("{\"cmd\":\"job\"}", "bad_request");
        assert_refused("{\"cmd\":\"job\",\"id\":null}", "bad_request");
        assert_refused("{\"cmd\":\"job\",\"id\":\"\"}", "bad_request");
        assert_refused("{\"cmd\":\"job\",\"job\":\"J-1\"}", "bad_request");
        assert_refused("{\"cmd\":\"pause\"}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"\"}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"reason\":\"x\"}", "bad_request");
        assert_refused("{\"cmd\":\"resume\"}", "bad_request");
        assert_refused("{\"cmd\":\"resume\",\"printer\":\"\"}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"copy\":1,\"defect\":\"cut\"}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":1}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"\",\"defect\":\"cut\"}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\"}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"copy\":1}", "bad_request");
}

static void test_wrong_types(void **state)
{
        (void)state;
        /* copy: a whole number from 1 to 1000000. */
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":\"1\",\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":0,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":-1,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":1000001,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":4294967297,\"defect\":"
                       "\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":1.5,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":1.0,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":true,\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":[1],\"defect\":\"cut\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\",\"copy\":\"2\"}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\",\"copy\":0}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\",\"copy\":-3}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\",\"copy\":1000001}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J-1\",\"copy\":null}", "bad_request");

        /* Strings that are not strings. */
        assert_refused("{\"cmd\":\"job\",\"id\":1}", "bad_request");
        assert_refused("{\"cmd\":\"job\",\"id\":[\"J-1\"]}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":5}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":5}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":{}}", "bad_request");
        assert_refused("{\"cmd\":\"resume\",\"printer\":true}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":7,\"defect\":\"cut\"}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":7}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"cut\",\"note\":7}",
                       "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":false,\"copy\":1}", "bad_request");

        /* limit: 1 to 1000. */
        assert_refused("{\"cmd\":\"jobs\",\"limit\":0}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"limit\":1001}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"limit\":-1}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"limit\":\"10\"}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"limit\":10.5}", "bad_request");

        /* states: a non-empty list of job states. */
        assert_refused("{\"cmd\":\"jobs\",\"states\":[]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":\"printing\"}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":null}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[\"printing\",\"bogus\"]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[\"PRINTING\"]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[\"\"]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[1]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[null]}", "bad_request");
        assert_refused("{\"cmd\":\"jobs\",\"states\":[[\"queued\"]]}", "bad_request");
        /* More entries than there are states. */
        assert_refused("{\"cmd\":\"jobs\",\"states\":[\"queued\",\"queued\",\"queued\","
                       "\"queued\",\"queued\",\"queued\",\"queued\",\"queued\",\"queued\","
                       "\"queued\",\"queued\",\"queued\",\"queued\",\"queued\",\"queued\","
                       "\"queued\",\"queued\",\"queued\",\"queued\"]}",
                       "bad_request");
}

static void test_too_long(void **state)
{
        char *s, *line;
        char *big;

        (void)state;
        /* printer and job ids: 255 bytes at most. */
        s = lab_test_repeat('p', 256);
        line = line_with("{\"cmd\":\"pause\",\"printer\":\"%s\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        line = line_with("{\"cmd\":\"resume\",\"printer\":\"%s\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        line = line_with("{\"cmd\":\"job\",\"id\":\"%s\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        line = line_with("{\"cmd\":\"reprint\",\"job\":\"%s\",\"defect\":\"cut\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        line = line_with("{\"cmd\":\"printed\",\"job\":\"%s\",\"copy\":1}", s);
        assert_refused(line, "bad_request");
        free(line);
        free(s);

        /* reason: 200; note: 500. */
        s = lab_test_repeat('r', 201);
        line = line_with("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"%s\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        free(s);
        s = lab_test_repeat('n', 501);
        line =
            line_with("{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"cut\",\"note\":\"%s\"}", s);
        assert_refused(line, "bad_request");
        free(line);
        free(s);

        /* The line: at most 65536 bytes with its newline, so 65535 without. */
        big = malloc(LAB_CONTROL_LINE_MAX + 1);
        assert_non_null(big);
        memset(big, ' ', LAB_CONTROL_LINE_MAX);
        memcpy(big, "{\"cmd\":\"status\"}", 16);
        big[LAB_CONTROL_LINE_MAX] = '\0';
        assert_refused_len(big, LAB_CONTROL_LINE_MAX, "bad_request");
        {
                lab_control_request_t req;
                lab_error_t err = {0};

                assert_int_equal(
                    lab_control_request_parse(big, LAB_CONTROL_LINE_MAX - 1, &req, &err), 0);
                assert_int_equal(req.cmd, LAB_CONTROL_STATUS);
                lab_control_request_done(&req);
        }
        free(big);
        assert_refused_len(NULL, 0, "bad_request");
}

static void test_control_characters(void **state)
{
        (void)state;
        /* Escaped control characters in every text field. */
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"a\\u0007b\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"ds\\u001b[2J\"}", "bad_request");
        assert_refused("{\"cmd\":\"resume\",\"printer\":\"ds\\r\"}", "bad_request");
        assert_refused("{\"cmd\":\"job\",\"id\":\"J-1\\n\"}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J\\t1\",\"defect\":\"cut\"}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"cut\",\"note\":\"a\\nb\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"cut\",\"note\":"
                       "\"\\u001b]0;pwned\\u0007\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J\\u0001\",\"copy\":1}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"del\\u007f\"}",
                       "bad_request");
        /* Raw ones are not even JSON. */
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"a\tb\"}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"a\x1b[31mb\"}",
                       "bad_request");
}

/*
 * The C1 controls (U+0080..U+009F) are control characters too: U+009B is the
 * 8-bit CSI some terminals act on, and labctl prints reasons and notes to
 * other people's terminals.
 */
static void test_c1_control_characters(void **state)
{
        (void)state;
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"a\\u009b2Jb\"}",
                       "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"cut\",\"note\":"
                       "\"\xc2\x9b"
                       "31m\"}",
                       "bad_request");
}

/* docs/control.md counts the reason and the note in characters, not bytes. */
static void test_lengths_in_characters(void **state)
{
        lab_control_request_t req;
        char reason[2 * 200 + 1] = "", note[2 * 500 + 1] = "", line[2048];

        (void)state;
        for (int i = 0; i < 200; i++)
                strcat(reason, "\xc3\xa9"); /* é */
        for (int i = 0; i < 500; i++)
                strcat(note, "\xc3\xbc"); /* ü */
        snprintf(line, sizeof line, "{\"cmd\":\"pause\",\"printer\":\"p\",\"reason\":\"%s\"}",
                 reason);
        assert_parses(line, LAB_CONTROL_PAUSE, &req);
        assert_string_equal(req.reason, reason);
        lab_control_request_done(&req);
        snprintf(line, sizeof line,
                 "{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"cut\",\"note\":\"%s\"}", note);
        assert_parses(line, LAB_CONTROL_REPRINT, &req);
        assert_string_equal(req.note, note);
        lab_control_request_done(&req);
}

/*
 * The sentence of a refusal is printed by labctl on a terminal and may be
 * logged: it must be one printable line even when the request was not (the
 * JSON parser's own error text quotes the bytes near the error).
 */
static void test_message_printable(void **state)
{
        static const struct {
                const char *line;
                size_t len;
        } cases[] = {
            {"{\"cmd\" \x1b]0;pwned\x07}", 18},
            {"{\"cmd\":\"a\x1b[2J\x07", 14},
            {"{\"\\\n{}", 6},
            {"{\"cmd\"\r:1}", 10},
        };

        (void)state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                lab_control_request_t req;
                lab_error_t err = {0};

                assert_int_equal(strlen(cases[i].line), cases[i].len);
                assert_true(lab_control_request_parse(cases[i].line, cases[i].len, &req, &err) < 0);
                assert_string_equal(err.keyword, "bad_request");
                assert_true(strlen(err.message) > 0);
                for (const char *m = err.message; *m; m++)
                        if ((unsigned char)*m < 0x20 || *m == 0x7f)
                                fail_msg("case %zu: control byte 0x%02x in \"%s\"", i,
                                         (unsigned char)*m, err.message);
        }
}

static void test_duplicate_keys(void **state)
{
        (void)state;
        assert_refused("{\"cmd\":\"status\",\"cmd\":\"status\"}", "bad_request");
        assert_refused("{\"cmd\":\"status\",\"cmd\":\"pause\"}", "bad_request");
        assert_refused("{\"cmd\":\"pause\",\"printer\":\"a\",\"printer\":\"b\"}", "bad_request");
        assert_refused("{\"cmd\":\"printed\",\"job\":\"J\",\"copy\":1,\"copy\":2}", "bad_request");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J\",\"defect\":\"other\",\"defect\":"
                       "\"cut\"}",
                       "bad_request");
}

static void test_bad_defect(void **state)
{
        (void)state;
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"burnt\"}", "bad_defect");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"Banding\"}",
                       "bad_defect");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"banding \"}",
                       "bad_defect");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"defect\":\"color_cast\"}",
                       "bad_defect");
        assert_refused("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":2,\"defect\":\"printed\","
                       "\"note\":\"x\"}",
                       "bad_defect");
        assert_false(lab_control_defect_valid(NULL));
        assert_false(lab_control_defect_valid(""));
        assert_false(lab_control_defect_valid("burnt"));
        assert_false(lab_control_defect_valid("bandingx"));
        assert_false(lab_control_defect_valid("band"));
}

/* A parsed request is freed by done (ASan finds leaks); done twice or on NULL is fine. */
static void test_done_frees(void **state)
{
        lab_control_request_t req;

        (void)state;
        for (int i = 0; i < 1000; i++) {
                assert_parses("{\"cmd\":\"reprint\",\"job\":\"J-1\",\"copy\":3,\"defect\":"
                              "\"smear\",\"note\":\"wet\"}",
                              LAB_CONTROL_REPRINT, &req);
                lab_control_request_done(&req);
                assert_null(req.root);
                assert_null(req.job);
                assert_null(req.defect);
                assert_null(req.note);
                assert_int_equal(req.copy, 0);
                assert_true(request_empty(&req));
                lab_control_request_done(&req);
        }
        assert_parses("{\"cmd\":\"jobs\",\"states\":[\"queued\"]}", LAB_CONTROL_JOBS, &req);
        lab_control_request_done(&req);
        assert_int_equal(req.n_states, 0);
        lab_control_request_done(NULL);
}

/* ---- names ---- */

static void test_names(void **state)
{
        static const char *const names[LAB_CONTROL_CMD_MAX] = {
            "status",  "jobs",    "job",   "printers",     "pause", "resume",
            "reprint", "printed", "stock", "stock.adjust", "energy"};

        (void)state;
        for (int i = 0; i < LAB_CONTROL_CMD_MAX; i++)
                assert_string_equal(lab_control_cmd_to_string((lab_control_cmd_t)i), names[i]);
        assert_null(lab_control_cmd_to_string(LAB_CONTROL_CMD_MAX));
        assert_null(lab_control_cmd_to_string((lab_control_cmd_t)-1));
        assert_string_equal(lab_control_role_to_string(LAB_CONTROL_ROLE_OPERATOR), "operator");
        assert_string_equal(lab_control_role_to_string(LAB_CONTROL_ROLE_VIEWER), "viewer");
        assert_string_equal(lab_control_role_to_string(LAB_CONTROL_ROLE_NONE), "none");
}

/* ---- roles ---- */

#define SELF      998  /* the daemon's uid */
#define OPERATORS 1500 /* labagent-operators */
#define VIEWERS   1501 /* labagent-viewers */
#define NOBODY    65534

static void test_roles(void **state)
{
        const gid_t none[] = {100, 27};
        const gid_t ops[] = {100, OPERATORS, 27};
        const gid_t views[] = {VIEWERS};
        const gid_t both[] = {VIEWERS, OPERATORS};
        const gid_t minus[] = {(gid_t)-1};

        (void)state;
        /* root, whatever its groups. */
        assert_int_equal(lab_control_role(0, 0, NULL, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_OPERATOR);
        assert_int_equal(lab_control_role(0, 0, NULL, 0, SELF, (gid_t)-1, (gid_t)-1),
                         LAB_CONTROL_ROLE_OPERATOR);
        /* the daemon's own user. */
        assert_int_equal(lab_control_role(SELF, SELF, NULL, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_OPERATOR);
        assert_int_equal(lab_control_role(SELF, 100, none, 2, SELF, (gid_t)-1, (gid_t)-1),
                         LAB_CONTROL_ROLE_OPERATOR);
        /* members of operators: primary group or supplementary. */
        assert_int_equal(lab_control_role(1000, OPERATORS, NULL, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_OPERATOR);
        assert_int_equal(lab_control_role(1000, 1000, ops, 3, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_OPERATOR);
        /* in both groups: the larger role. */
        assert_int_equal(lab_control_role(1000, 1000, both, 2, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_OPERATOR);
        /* members of viewers. */
        assert_int_equal(lab_control_role(1001, VIEWERS, NULL, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_VIEWER);
        assert_int_equal(lab_control_role(1001, 1001, views, 1, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_VIEWER);
        /* anyone else. */
        assert_int_equal(lab_control_role(NOBODY, NOBODY, NULL, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_NONE);
        assert_int_equal(lab_control_role(1002, 1002, none, 2, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_NONE);
        /* Groups are counted to n_gids only. */
        assert_int_equal(lab_control_role(1002, 1002, ops, 1, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_NONE);
        assert_int_equal(lab_control_role(1002, 1002, ops, 0, SELF, OPERATORS, VIEWERS),
                         LAB_CONTROL_ROLE_NONE);

        /* A group that does not exist ((gid_t)-1) matches no one, even a caller claiming it. */
        assert_int_equal(lab_control_role(1000, (gid_t)-1, minus, 1, SELF, (gid_t)-1, (gid_t)-1),
                         LAB_CONTROL_ROLE_NONE);
        assert_int_equal(lab_control_role(1000, (gid_t)-1, NULL, 0, SELF, (gid_t)-1, VIEWERS),
                         LAB_CONTROL_ROLE_NONE);
        assert_int_equal(lab_control_role(1000, 1000, minus, 1, SELF, OPERATORS, (gid_t)-1),
                         LAB_CONTROL_ROLE_NONE);
        /* The other group still works. */
        assert_int_equal(lab_control_role(1001, 1001, views, 1, SELF, (gid_t)-1, VIEWERS),
                         LAB_CONTROL_ROLE_VIEWER);
        assert_int_equal(lab_control_role(1000, 1000, ops, 3, SELF, OPERATORS, (gid_t)-1),
                         LAB_CONTROL_ROLE_OPERATOR);
}

static void test_allowed(void **state)
{
        /* docs/control.md, "Who may do what": [cmd][role] for none, viewer, operator. */
        static const bool want[LAB_CONTROL_CMD_MAX][3] = {
            [LAB_CONTROL_STATUS] = {false, true, true},
            [LAB_CONTROL_JOBS] = {false, true, true},
            [LAB_CONTROL_JOB] = {false, true, true},
            [LAB_CONTROL_PRINTERS] = {false, true, true},
            [LAB_CONTROL_PAUSE] = {false, false, true},
            [LAB_CONTROL_RESUME] = {false, false, true},
            [LAB_CONTROL_REPRINT] = {false, false, true},
            [LAB_CONTROL_PRINTED] = {false, false, true},
            [LAB_CONTROL_STOCK] = {false, true, true},
            [LAB_CONTROL_STOCK_ADJUST] = {false, false, true},
            [LAB_CONTROL_ENERGY] = {false, true, true},
        };
        static const lab_control_role_t roles[3] = {LAB_CONTROL_ROLE_NONE, LAB_CONTROL_ROLE_VIEWER,
                                                    LAB_CONTROL_ROLE_OPERATOR};

        (void)state;
        for (int c = 0; c < LAB_CONTROL_CMD_MAX; c++)
                for (int r = 0; r < 3; r++)
                        if (lab_control_allowed((lab_control_cmd_t)c, roles[r]) != want[c][r])
                                fail_msg("%s by %s: want %s",
                                         lab_control_cmd_to_string((lab_control_cmd_t)c),
                                         lab_control_role_to_string(roles[r]),
                                         want[c][r] ? "allowed" : "refused");
        /* No command outside the list, for anyone. */
        for (int r = 0; r < 3; r++) {
                assert_false(lab_control_allowed(LAB_CONTROL_CMD_MAX, roles[r]));
                assert_false(lab_control_allowed((lab_control_cmd_t)-1, roles[r]));
        }
        assert_false(lab_control_allowed(LAB_CONTROL_STATUS, (lab_control_role_t)7));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_status_printers),
            cmocka_unit_test(test_jobs),
            cmocka_unit_test(test_job),
            cmocka_unit_test(test_pause_resume),
            cmocka_unit_test(test_reprint),
            cmocka_unit_test(test_printed),
            cmocka_unit_test(test_stock),
            cmocka_unit_test(test_energy),
            cmocka_unit_test(test_not_json_not_object),
            cmocka_unit_test(test_cmd),
            cmocka_unit_test(test_missing_fields),
            cmocka_unit_test(test_wrong_types),
            cmocka_unit_test(test_too_long),
            cmocka_unit_test(test_control_characters),
            cmocka_unit_test(test_c1_control_characters),
            cmocka_unit_test(test_lengths_in_characters),
            cmocka_unit_test(test_message_printable),
            cmocka_unit_test(test_duplicate_keys),
            cmocka_unit_test(test_bad_defect),
            cmocka_unit_test(test_done_frees),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_roles),
            cmocka_unit_test(test_allowed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
