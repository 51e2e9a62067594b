/*
 * test-ipp-cupsd.c - the IPP driver through a CUPS queue: a cupsd started by
 * the test in the foreground with its own files, and a queue made with
 * lpadmin -m everywhere that points at an ippeveprinter photo printer.
 *
 * Why: many labs print through a local cupsd; the driver must work the same
 * on ipp://localhost:PORT/printers/QUEUE as directly on the printer, and the
 * photo must reach the printer unchanged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipp-peer.h"
#include "ipp-wait.h"
#include "printer.h"
#include "testutil.h"

static ipp_peer_t eve, cupsd;
static char *scratch, *jpeg;

/* Start the printer, cupsd and its queue; make the print file. */
static int group_setup(void **state)
{
        ipp_peer_start_eve(&eve, "labagent-behind-cups");
        ipp_peer_start_cupsd(&cupsd, "ds620q", eve.uri);
        scratch = lab_test_mkdtemp("ipp-cupsd");
        jpeg = lab_test_path(scratch, "photo.jpg");
        ipp_peer_make_jpeg(jpeg, 640, 480);
        return 0;
}

/* Stop cupsd and the printer. */
static int group_teardown(void **state)
{
        ipp_peer_stop(&cupsd);
        ipp_peer_stop(&eve);
        if (!getenv("LAB_TEST_KEEP"))
                lab_test_rm_rf(scratch);
        free(scratch);
        free(jpeg);
        return 0;
}

/* Open the driver on the CUPS queue. */
static lab_printer_t *open_queue(void)
{
        lab_config_printer_t cfg = ipp_peer_config("ds620-cups", cupsd.uri, 5000);
        lab_printer_t *p = NULL;
        lab_error_t err = {0};

        assert_int_equal(lab_printer_open(&cfg, &p, &err), 0);
        return p;
}

/* The file ippeveprinter kept for job name stem (any job-id), or NULL. */
static char *kept_file(const char *stem)
{
        char prefix[128], *f;

        for (int id = 1; id < 100; id++) {
                snprintf(prefix, sizeof prefix, "%d-%s.jpg", id, stem);
                if ((f = ipp_peer_find_file(eve.spool, prefix)))
                        return f;
        }
        return NULL;
}

/* Submit through the queue with media (and type, if given); returns the CUPS job handle. */
static char *submit(lab_printer_t *p, const char *id, const char *media, const char *type)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], *handle = NULL;
        lab_print_request_t rq = {.file = jpeg,
                                  .format = "image/jpeg",
                                  .job_name = name,
                                  .copies = 1,
                                  .media = media,
                                  .media_type = type};
        lab_error_t err = {0};

        assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
        if (lab_printer_submit(p, &rq, &handle, &err) < 0)
                fail_msg("submit %s: %s: %s", id, err.keyword, err.message);
        return handle;
}

/* Check that the printer behind the queue kept exactly the bytes of our JPEG under stem. */
static void assert_reached_identical(const char *stem)
{
        char *kept = NULL, *sent, *got;
        size_t sent_len, got_len;

        for (int i = 0; i < 50 && !kept; i++) {
                kept = kept_file(stem);
                if (!kept)
                        usleep(100000);
        }
        if (!kept)
                fail_msg("no file for %s reached the printer", stem);
        sent = lab_test_read_file(jpeg, &sent_len);
        /* ippeveprinter writes the file while it receives it: wait for the whole of it. */
        for (int i = 0; i < 50; i++) {
                got = lab_test_read_file(kept, &got_len);
                if (got && got_len >= sent_len)
                        break;
                if (got && i == 49)
                        fail_msg("%s: %zu bytes, sent %zu", kept, got_len, sent_len);
                free(got);
                got = NULL;
                usleep(100000);
        }
        assert_non_null(got);
        assert_int_equal(got_len, sent_len);
        assert_memory_equal(got, sent, sent_len);
        free(sent);
        free(got);
        free(kept);
}

/* Capabilities and status of a CUPS queue made from the printer (-m everywhere). */
static void test_queue_caps_status(void **state)
{
        lab_printer_t *p = open_queue();
        lab_printer_caps_t caps = {0};
        lab_printer_status_t s;
        lab_error_t err = {0};
        char why[256];

        if (lab_printer_capabilities(p, &caps, &err) < 0)
                fail_msg("%s: %s", err.keyword, err.message);
        assert_true(lab_printer_caps_has(caps.formats, caps.n_formats, "image/jpeg"));
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_index-4x6_4x6in"));
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_5x7_5x7in"));
        /* From the PPD cupsd made (-m everywhere). */
        assert_true(
            lab_printer_caps_has(caps.media_types, caps.n_media_types, "photographic-matte"));
        assert_true(caps.color);
        lab_printer_caps_done(&caps);

        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.state, LAB_PRINTER_IDLE);
        assert_true(s.accepting);
        assert_true(lab_printer_status_available(&s, why, sizeof why));
        lab_printer_close(p);
}

/* A JPEG with media keyword only, and one with media type too, reach the printer unchanged. */
static void test_queue_submit(void **state)
{
        lab_printer_t *p = open_queue();
        char *h1 = submit(p, "cups-1", "na_index-4x6_4x6in", NULL), *h2, *found = NULL;
        lab_pjob_status_t st;
        lab_printer_status_t s;
        lab_error_t err = {0};

        st = ipp_wait_job(p, h1, LAB_PJOB_COMPLETED, 20000);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_reached_identical("cups-1_1_1");

        h2 = submit(p, "cups-2", "na_5x7_5x7in", "photographic-matte");
        st = ipp_wait_job(p, h2, LAB_PJOB_COMPLETED, 20000);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_reached_identical("cups-2_1_1");

        assert_int_equal(lab_printer_find_job(p, "cups-2/1/1", &found, &st, NULL, &err), 0);
        assert_string_equal(found, h2);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_int_equal(lab_printer_cancel(p, h1, &err), 0); /* already completed */

        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        /* After a job, cupsd reports the printer's supplies as marker-* (from the ipp backend). */
        assert_int_equal(s.state, LAB_PRINTER_IDLE);
        assert_int_equal(s.n_supplies, 1);
        assert_string_equal(s.supplies[0].name, "4x6 glossy ribbon");
        assert_string_equal(s.supplies[0].type, "ribbon-wax");
        assert_int_equal(s.supplies[0].level, 80);
        assert_int_equal(s.supplies[0].remaining, 310);
        free(found);
        free(h1);
        free(h2);
        lab_printer_close(p);
}

/*
 * cupsd against real restarts: printer-up-time is its wall clock (no boot
 * instant; printer-config-change-time and printer-state-change-time do not
 * move either). A clean restart reads its jobs back: a job that ended before
 * it is still found, and the list still reaches back past it. A crash right
 * after a job ended (before cupsd wrote its job cache; seen with cupsd 2.4.2)
 * loses that job and keeps the older one: the list seems to reach back past
 * a send it has in fact forgotten. So without a boot instant nothing is
 * proven, and a copy it does not list is never sent again.
 */
static void test_queue_memory_across_restart(void **state)
{
        lab_printer_t *p = open_queue();
        char *h = submit(p, "cups-mem", "na_index-4x6_4x6in", NULL), *found = NULL;
        lab_printer_status_t s;
        lab_printer_memory_t m;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        time_t before = time(NULL);

        assert_int_equal(ipp_wait_job(p, h, LAB_PJOB_COMPLETED, 20000).state, LAB_PJOB_COMPLETED);
        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.boot, 0);
        ipp_peer_restart(&cupsd, false);
        assert_int_equal(lab_printer_find_job(p, "cups-mem/1/1", &found, &st, &m, &err), 0);
        assert_string_equal(found, h);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        free(found);
        found = NULL;
        assert_int_equal(lab_printer_find_job(p, "absent/1/1", &found, &st, &m, &err), -ENOENT);
        assert_int_equal(m.boot, 0);
        assert_true(m.complete_since > 0 && m.complete_since <= before + 1);
        free(h);

        h = submit(p, "cups-crash", "na_index-4x6_4x6in", NULL);
        assert_int_equal(ipp_wait_job(p, h, LAB_PJOB_COMPLETED, 20000).state, LAB_PJOB_COMPLETED);
        ipp_peer_restart(&cupsd, true);
        assert_int_equal(lab_printer_find_job(p, "cups-crash/1/1", &found, &st, &m, &err), -ENOENT);
        assert_int_equal(m.boot, 0);
        /* The older job survived the crash: it "ended before the send". */
        assert_true(m.complete_since > 0 && m.complete_since <= before + 1);
        assert_int_equal(lab_printer_may_resend(&m, before + 2 + LAB_PRINTER_CLOCK_SLACK,
                                                60ULL * 1000000ULL, time(NULL), NULL, 0),
                         LAB_RESEND_FORGOT);
        free(h);
        lab_printer_close(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_queue_caps_status),
            cmocka_unit_test(test_queue_submit),
            cmocka_unit_test(test_queue_memory_across_restart),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
