/*
 * test-ipp-eve.c - the IPP driver against a real ippeveprinter set up as a
 * photo printer: capabilities, a JPEG printed byte-identical, supplies and
 * loaded media changing at the printer, busy retries, cancel, find-by-name,
 * refusals and an unreachable printer.
 *
 * Why: these are the exchanges the daemon has with every IPP printer of a
 * lab; each test asserts what the printer really did (its spool file, its
 * attributes), not only what the driver returned.
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

typedef struct fixture_s {
        ipp_peer_t eve;
        char *dir;  /* scratch: print files */
        char *jpeg; /* a 640x480 noise JPEG */
} fixture_t;

static fixture_t fx;

/* Start one photo printer for the whole group and make the print file. */
static int group_setup(void **state)
{
        ipp_peer_start_eve(&fx.eve, "labagent-eve");
        fx.dir = lab_test_mkdtemp("ipp-eve");
        fx.jpeg = lab_test_path(fx.dir, "photo.jpg");
        ipp_peer_make_jpeg(fx.jpeg, 640, 480);
        return 0;
}

/* Stop the printer and remove the files. */
static int group_teardown(void **state)
{
        ipp_peer_stop(&fx.eve);
        lab_test_rm_rf(fx.dir);
        free(fx.dir);
        free(fx.jpeg);
        return 0;
}

/* Open the driver on the group's printer with a timeout in ms. */
static lab_printer_t *open_eve(unsigned timeout_ms)
{
        lab_config_printer_t cfg = ipp_peer_config("ds620", fx.eve.uri, timeout_ms);
        lab_printer_t *p = NULL;
        lab_error_t err = {0};

        assert_int_equal(lab_printer_open(&cfg, &p, &err), 0);
        assert_non_null(p);
        return p;
}

/* A print request for the group's JPEG under job name "<id>/1/1". */
static lab_print_request_t photo_request(char *name, size_t size, const char *id)
{
        assert_int_equal(lab_printer_job_name(name, size, id, 1, 1), 0);
        return (lab_print_request_t){.file = fx.jpeg,
                                     .format = "image/jpeg",
                                     .job_name = name,
                                     .copies = 1,
                                     .media = "na_index-4x6_4x6in",
                                     .media_type = "photographic-glossy"};
}

/* Capabilities: both media, both types, JPEG (from the first of two format lists), 300 dpi. */
static void test_capabilities(void **state)
{
        lab_printer_t *p = open_eve(5000);
        lab_printer_caps_t caps = {0};
        lab_error_t err = {0};

        assert_int_equal(lab_printer_capabilities(p, &caps, &err), 0);
        assert_int_equal(caps.n_media, 2);
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_index-4x6_4x6in"));
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_5x7_5x7in"));
        assert_true(
            lab_printer_caps_has(caps.media_types, caps.n_media_types, "photographic-matte"));
        assert_true(lab_printer_caps_has(caps.formats, caps.n_formats, "image/jpeg"));
        /* ippeveprinter's own second list adds octet-stream; pwg-raster is in both, once. */
        assert_true(lab_printer_caps_has(caps.formats, caps.n_formats, "application/octet-stream"));
        assert_int_equal(caps.n_formats, 4);
        assert_int_equal(caps.n_resolutions, 1);
        assert_int_equal(caps.resolutions[0], 300);
        assert_true(caps.color);
        assert_string_equal(caps.make_model, "DNP DS620 (labagent test)");
        lab_printer_caps_done(&caps);
        lab_printer_close(p);
}

/* A JPEG submitted completes and the printer keeps exactly the bytes that were sent. */
static void test_submit_byte_identical(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char name[LAB_PRINTER_JOB_NAME_MAX], prefix[64], *handle = NULL, *kept, *sent, *spooled;
        lab_print_request_t rq = photo_request(name, sizeof name, "job-124");
        lab_pjob_status_t st;
        lab_error_t err = {0};
        size_t sent_len, kept_len;

        if (lab_printer_submit(p, &rq, &handle, &err) < 0)
                fail_msg("%s: %s", err.keyword, err.message);
        assert_non_null(handle);
        assert_true(atoi(handle) > 0);
        st = ipp_wait_job(p, handle, LAB_PJOB_COMPLETED, 10000);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);

        /* -k keeps SPOOL/<job-id>-<job-name>.<ext> with '/' turned into '_'. */
        snprintf(prefix, sizeof prefix, "%s-job-124_1_1.jpg", handle);
        kept = ipp_peer_find_file(fx.eve.spool, prefix);
        assert_non_null(kept);
        sent = lab_test_read_file(fx.jpeg, &sent_len);
        spooled = lab_test_read_file(kept, &kept_len);
        assert_non_null(sent);
        assert_non_null(spooled);
        assert_true(sent_len > 1000);
        assert_int_equal(kept_len, sent_len);
        assert_memory_equal(spooled, sent, sent_len);
        free(sent);
        free(spooled);
        free(kept);
        free(handle);
        lab_printer_close(p);
}

/* A supply level reported by the printer's -c command and media loaded through /media appear in the
 * status. */
static void test_status_supplies_media(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char name[LAB_PRINTER_JOB_NAME_MAX], why[256], *handle = NULL;
        lab_print_request_t rq = photo_request(name, sizeof name, "supply40");
        lab_printer_status_t s;
        lab_error_t err = {0};

        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.state, LAB_PRINTER_IDLE);
        assert_true(s.accepting);
        assert_int_equal(s.n_supplies, 1);
        assert_string_equal(s.supplies[0].name, "4x6 ribbon");
        assert_string_equal(s.supplies[0].type, "ribbonWax");
        assert_string_equal(s.supplies[0].color, "multi-color");
        assert_int_equal(s.supplies[0].level, 80);
        assert_string_equal(s.supplies[0].message, "310 native prints remaining");
        assert_int_equal(s.supplies[0].remaining, 310);
        assert_int_equal(s.n_media, 1);
        assert_string_equal(s.media[0].size, "na_index-4x6_4x6in");
        assert_string_equal(s.media[0].type, "photographic-glossy");
        assert_string_equal(s.media[0].source, "main");
        assert_true(lab_printer_status_available(&s, why, sizeof why));

        /* The job's -c command writes ATTR: printer-supply=...level=40 and a marker-message. */
        if (lab_printer_submit(p, &rq, &handle, &err) < 0)
                fail_msg("%s: %s", err.keyword, err.message);
        assert_int_equal(ipp_wait_job(p, handle, LAB_PJOB_COMPLETED, 10000).state,
                         LAB_PJOB_COMPLETED);
        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.n_supplies, 1);
        assert_int_equal(s.supplies[0].level, 40);
        assert_string_equal(s.supplies[0].message, "155 native prints remaining");
        assert_int_equal(s.supplies[0].remaining, 155);

        /* The operator loads 5x7 matte: ippeveprinter's /media web form. */
        assert_int_equal(ipp_peer_http_get(fx.eve.port, "/media?size0=na_5x7_5x7in&type0="
                                                        "photographic-matte&level0=500"),
                         200);
        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.n_media, 1);
        assert_string_equal(s.media[0].size, "na_5x7_5x7in");
        assert_string_equal(s.media[0].type, "photographic-matte");
        /* ... and back, so that other tests print on 4x6. */
        assert_int_equal(ipp_peer_http_get(fx.eve.port, "/media?size0=na_index-4x6_4x6in&type0="
                                                        "photographic-glossy&level0=500"),
                         200);
        free(handle);
        lab_printer_close(p);
}

/* Submit the group's JPEG as "<id>/1/1" with handle p; fails the test on error. */
static char *submit_ok(lab_printer_t *p, const char *id)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], *handle = NULL;
        lab_print_request_t rq = photo_request(name, sizeof name, id);
        lab_error_t err = {0};

        if (lab_printer_submit(p, &rq, &handle, &err) < 0)
                fail_msg("submit %s: %s: %s", id, err.keyword, err.message);
        assert_non_null(handle);
        return handle;
}

/* Poll until the job is processing (at most ms). */
static void wait_processing(lab_printer_t *p, const char *handle, int ms)
{
        long long end = lab_test_now_ms() + ms;
        lab_pjob_status_t st = {0};
        lab_error_t err = {0};

        while (lab_test_now_ms() < end) {
                assert_int_equal(lab_printer_job_status(p, handle, &st, &err), 0);
                if (st.state == LAB_PJOB_PROCESSING)
                        return;
                usleep(50000);
        }
        fail_msg("job %s never processing (%s)", handle, lab_pjob_state_to_string(st.state));
}

/*
 * ippeveprinter prints one job at a time and answers server-error-busy
 * meanwhile: a submit with time to spare is retried until the printer is
 * free; one with a short timeout gives up with printer_busy in time.
 */
static void test_busy(void **state)
{
        lab_printer_t *p = open_eve(8000), *quick = NULL;
        lab_config_printer_t qcfg = ipp_peer_config("ds620-quick", fx.eve.uri, 1000);
        char name[LAB_PRINTER_JOB_NAME_MAX], *slow, *handle = NULL;
        lab_print_request_t rq = photo_request(name, sizeof name, "after-slow");
        lab_error_t err = {0};
        long long t0;
        int r;

        assert_int_equal(lab_printer_open(&qcfg, &quick, &err), 0);

        /* The job script sleeps 3 s for "slow" jobs. */
        slow = submit_ok(p, "slow-1");
        wait_processing(p, slow, 3000);
        t0 = lab_test_now_ms();
        r = lab_printer_submit(quick, &rq, &handle, &err);
        assert_int_equal(r, -EBUSY);
        assert_string_equal(err.keyword, "printer_busy");
        assert_null(handle);
        assert_true(lab_test_now_ms() - t0 < 2000); /* timeout 1 s: gave up within it */
        assert_true(lab_test_now_ms() - t0 >= 700); /* ...after retrying, not at once */

        t0 = lab_test_now_ms();
        r = lab_printer_submit(p, &rq, &handle, &err);
        if (r < 0)
                fail_msg("%s: %s", err.keyword, err.message);
        /* Accepted only once the slow job was done: the busy answers were retried. */
        assert_true(lab_test_now_ms() - t0 >= 800);
        assert_true(lab_test_now_ms() - t0 < 8000);
        assert_int_equal(ipp_wait_job(p, slow, LAB_PJOB_COMPLETED, 1000).state, LAB_PJOB_COMPLETED);
        assert_int_equal(ipp_wait_job(p, handle, LAB_PJOB_COMPLETED, 10000).state,
                         LAB_PJOB_COMPLETED);
        free(slow);
        free(handle);
        lab_printer_close(quick);
        lab_printer_close(p);
}

/* Cancel a job being printed: it ends canceled; canceling it again, or a completed job, is 0. */
static void test_cancel(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char *slow = submit_ok(p, "slow-cancel"), *done;
        lab_pjob_status_t st;
        lab_error_t err = {0};

        wait_processing(p, slow, 3000);
        assert_int_equal(lab_printer_cancel(p, slow, &err), 0);
        st = ipp_wait_job(p, slow, LAB_PJOB_COMPLETED, 6000);
        assert_int_equal(st.state, LAB_PJOB_CANCELED);
        assert_non_null(strstr(st.reasons, "canceled"));
        assert_int_equal(lab_printer_cancel(p, slow, &err), 0);

        done = submit_ok(p, "cancel-done");
        assert_int_equal(ipp_wait_job(p, done, LAB_PJOB_COMPLETED, 10000).state,
                         LAB_PJOB_COMPLETED);
        assert_int_equal(lab_printer_cancel(p, done, &err), 0);
        assert_int_equal(lab_printer_cancel(p, "987654", &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        free(slow);
        free(done);
        lab_printer_close(p);
}

/* Crash recovery: a new handle finds the job by its name; an unknown name is -ENOENT. */
static void test_find_by_name(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char *handle = submit_ok(p, "job-find"), *found = NULL;
        lab_pjob_status_t st;
        lab_error_t err = {0};

        lab_printer_close(p); /* the agent "crashes" right after submitting */
        p = open_eve(5000);
        assert_int_equal(lab_printer_find_job(p, "job-find/1/1", &found, &st, NULL, &err), 0);
        assert_string_equal(found, handle);
        assert_true(st.state == LAB_PJOB_PROCESSING || st.state == LAB_PJOB_PENDING ||
                    st.state == LAB_PJOB_COMPLETED);
        assert_int_equal(ipp_wait_job(p, found, LAB_PJOB_COMPLETED, 10000).state,
                         LAB_PJOB_COMPLETED);
        free(found);
        found = NULL;
        assert_int_equal(lab_printer_find_job(p, "job-find/1/2", &found, &st, NULL, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        assert_null(found);
        assert_int_equal(lab_printer_find_job(p, "never-submitted/1/1", &found, &st, NULL, &err),
                         -ENOENT);
        assert_int_equal(lab_printer_job_status(p, "999999", &st, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        free(handle);
        lab_printer_close(p);
}

/*
 * The printer's memory against a real restart: its boot instant (now minus
 * printer-up-time) holds still while it runs, its list reaches back past a
 * job that ended; after a SIGKILL and start on the same port the boot instant
 * moves forward and the job is gone with the rest of its list.
 */
static void test_memory_across_restart(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char *handle = submit_ok(p, "job-memory"), *found = NULL;
        lab_printer_status_t s1, s2;
        lab_printer_memory_t m;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        time_t before = time(NULL);

        assert_int_equal(ipp_wait_job(p, handle, LAB_PJOB_COMPLETED, 10000).state,
                         LAB_PJOB_COMPLETED);
        assert_int_equal(lab_printer_status(p, &s1, &err), 0);
        assert_true(s1.boot > 0 && s1.boot <= before);
        sleep(2);
        assert_int_equal(lab_printer_find_job(p, "job-memory/1/1", &found, &st, &m, &err), 0);
        free(found);
        found = NULL;
        assert_int_equal(lab_printer_find_job(p, "absent/1/1", &found, &st, &m, &err), -ENOENT);
        assert_true(m.boot >= s1.boot - 1 && m.boot <= s1.boot + 1); /* whole seconds */
        /* The job that ended is the oldest finished one: the list covers what came after. */
        assert_true(m.complete_since >= m.boot && m.complete_since <= time(NULL));

        sleep(1); /* a boot instant in another second */
        ipp_peer_restart(&fx.eve, true);
        assert_int_equal(lab_printer_status(p, &s2, &err), 0);
        assert_true(s2.boot >= before + 1);
        assert_true(s2.boot > s1.boot + LAB_PRINTER_CLOCK_SLACK);
        assert_int_equal(lab_printer_find_job(p, "job-memory/1/1", &found, &st, &m, &err), -ENOENT);
        assert_true(m.boot > s1.boot + LAB_PRINTER_CLOCK_SLACK);
        assert_int_equal(m.complete_since, 0); /* nothing listed: nothing proven */
        /* So a copy sent before the restart and not listed is never sent again. */
        char why[256];
        assert_int_equal(
            lab_printer_may_resend(&m, before, 60ULL * 1000000ULL, time(NULL), why, sizeof why),
            LAB_RESEND_RESTARTED);
        free(handle);
        lab_printer_close(p);
}

/* Count the files in the printer's spool. */
static int spool_count(void)
{
        char *f;
        int n = 0;
        char prefix[8];

        for (int id = 1; id < 200; id++) {
                snprintf(prefix, sizeof prefix, "%d-", id);
                if ((f = ipp_peer_find_file(fx.eve.spool, prefix))) {
                        n++;
                        free(f);
                }
        }
        return n;
}

/* A format, medium or media type the printer does not list is refused before anything is sent. */
static void test_refused(void **state)
{
        lab_printer_t *p = open_eve(5000);
        char name[LAB_PRINTER_JOB_NAME_MAX], *handle = NULL;
        lab_print_request_t rq = photo_request(name, sizeof name, "refused");
        lab_error_t err = {0};
        int before = spool_count();

        rq.format = "image/tiff";
        assert_int_equal(lab_printer_submit(p, &rq, &handle, &err), -ENOTSUP);
        assert_string_equal(err.keyword, "printer_refused");
        assert_non_null(strstr(err.message, "image/tiff"));

        rq = photo_request(name, sizeof name, "refused");
        rq.media = "iso_a4_210x297mm";
        assert_int_equal(lab_printer_submit(p, &rq, &handle, &err), -EINVAL);
        assert_string_equal(err.keyword, "printer_refused");
        assert_non_null(strstr(err.message, "iso_a4_210x297mm"));

        rq = photo_request(name, sizeof name, "refused");
        rq.media_type = "photographic-satin";
        assert_int_equal(lab_printer_submit(p, &rq, &handle, &err), -EINVAL);
        assert_string_equal(err.keyword, "printer_refused");

        rq = photo_request(name, sizeof name, "refused");
        rq.file = "/nonexistent/photo.jpg";
        assert_int_equal(lab_printer_submit(p, &rq, &handle, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_file_error");

        assert_null(handle);
        assert_int_equal(spool_count(), before);
        lab_printer_close(p);
}

/* Nothing listening: status says unreachable (0 + keyword), calls fail printer_unreachable fast. */
static void test_unreachable(void **state)
{
        char uri[128], why[256], name[LAB_PRINTER_JOB_NAME_MAX], *handle = NULL;
        lab_print_request_t rq = photo_request(name, sizeof name, "nowhere");
        lab_config_printer_t cfg;
        lab_printer_t *p = NULL;
        lab_printer_status_t s;
        lab_error_t err = {0};
        long long t0 = lab_test_now_ms();

        snprintf(uri, sizeof uri, "ipp://localhost:%d/ipp/print", ipp_peer_free_port());
        cfg = ipp_peer_config("ghost", uri, 3000);
        assert_int_equal(lab_printer_open(&cfg, &p, &err), 0);
        assert_int_equal(lab_printer_status(p, &s, &err), 0);
        assert_int_equal(s.state, LAB_PRINTER_UNREACHABLE);
        assert_string_equal(err.keyword, "printer_unreachable");
        assert_non_null(strstr(err.message, "cannot connect to ghost"));
        assert_non_null(strstr(err.message, uri));
        assert_false(lab_printer_status_available(&s, why, sizeof why));
        assert_int_equal(strncmp(why, "printer_unreachable", 19), 0);
        assert_true(lab_printer_submit(p, &rq, &handle, &err) < 0);
        assert_string_equal(err.keyword, "printer_unreachable");
        assert_true(lab_test_now_ms() - t0 < 2000);
        lab_printer_close(p);

        /* A config the driver cannot use fails at open. */
        cfg = ipp_peer_config("bad", "http://localhost/ipp/print", 3000);
        p = NULL;
        assert_int_equal(lab_printer_open(&cfg, &p, &err), -EINVAL);
        assert_string_equal(err.keyword, "printer_config");
        assert_null(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_capabilities),
            cmocka_unit_test(test_submit_byte_identical),
            cmocka_unit_test(test_status_supplies_media),
            cmocka_unit_test(test_busy),
            cmocka_unit_test(test_cancel),
            cmocka_unit_test(test_find_by_name),
            cmocka_unit_test(test_memory_across_restart),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_unreachable),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
