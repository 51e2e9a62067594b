/*
 * test-store-metrics.c - the metrics file's figures from the store (store-metrics.c):
 * jobs per state, the outbox per class, and prints and defects per printer as lifetime
 * counters.
 *
 * Why: lab IT graphs labagent_prints_total with rate(); a counter that goes down reads
 * as a reset and draws a spike. printer_tally forgets rows after 8 days, so the
 * counters are read whole once (copies printed, job.reprint audit records) and then
 * grow by the tally rows dated since. These tests print and report defects through the
 * store's API, drop the tally rows as the 8-day pruning would (raw SQL), and check that
 * the figures neither go down nor count anything twice, that a fresh read (a restart)
 * gives the same, and that nothing is read when nothing was written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

typedef store_fixture_t fixture_t;

static int setup(void **state)
{
        return store_fixture_open(state, "store-metrics");
}

static int teardown(void **state)
{
        return store_fixture_close(state);
}

/* Print a queued copy through the API (which dates it in printer_tally). */
static void print_copy(lab_store_t *s, const char *id, int copy)
{
        lab_store_copy_change_t done = {0};

        store_fixture_send_copy(s, id, copy);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             &done, "job.copy_printed", "{\"copy\":1}", NULL),
                         0);
}

static void printed_job(lab_store_t *s, const char *id, int quantity, const char *printer)
{
        store_fixture_queued_job(s, id, quantity, printer);
        for (int i = 1; i <= quantity; i++)
                print_copy(s, id, i);
}

/* A technician reports copy of job bad: a new copy queued, the defect dated and audited. */
static int report_defect(lab_store_t *s, const char *job, int copy)
{
        lab_store_reprint_t rp = {.job_id = job,
                                  .copy = copy,
                                  .defect = "banding",
                                  .by = "anna",
                                  .actor = "labctl:uid=1000",
                                  .media = "na_index-4x6_4x6in"};

        assert_int_equal(lab_store_copy_reprint(s, &rp), 0);
        return rp.reprint_copy;
}

static void sql(lab_store_t *s, const char *text)
{
        char *err = NULL;

        if (sqlite3_exec(lab_store_sqlite(s), text, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", text, err);
}

/* Assert m says printer printed and defects (printer absent: both 0, and not listed). */
static void assert_counts(const lab_store_metrics_t *m, const char *printer, int64_t printed,
                          int64_t defects)
{
        for (size_t i = 0; i < m->n_printers; i++)
                if (strcmp(m->printers[i].printer, printer) == 0) {
                        if (m->printers[i].printed != printed || m->printers[i].defects != defects)
                                fail_msg("%s: printed %lld defects %lld, want %lld %lld", printer,
                                         (long long)m->printers[i].printed,
                                         (long long)m->printers[i].defects, (long long)printed,
                                         (long long)defects);
                        return;
                }
        if (printed || defects)
                fail_msg("%s: not listed, want printed %lld defects %lld", printer,
                         (long long)printed, (long long)defects);
}

/* The outbox by class as the outbox API says it. */
static void assert_outbox(lab_store_t *s, const lab_store_metrics_t *m)
{
        lab_store_event_t *ev = NULL;
        int64_t telemetry = 0;
        size_t n = 0;

        assert_int_equal(lab_store_events_peek(s, 10000, &ev, &n), 0);
        for (size_t i = 0; i < n; i++)
                telemetry += ev[i].cls == LAB_EVENT_TELEMETRY;
        lab_store_events_free(ev, n);
        assert_int_equal(m->outbox_job + m->outbox_telemetry, n);
        assert_int_equal(m->outbox_telemetry, telemetry);
}

/* How many copies are printed, as the copies API says. */
static size_t printed_copies(lab_store_t *s)
{
        static const lab_copy_state_t printed[] = {LAB_COPY_PRINTED};
        lab_store_copy_t **v = NULL;
        size_t n = 0;

        assert_int_equal(lab_store_copies_list(s, NULL, printed, 1, &v, &n), 0);
        lab_store_copies_free(v, n);
        return n;
}

static void test_empty_then_quiet(void **state)
{
        fixture_t *f = *state;
        lab_store_metrics_t m = {0};

        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        for (int i = 0; i < LAB_JOB_STATE_MAX; i++)
                assert_int_equal(m.jobs[i], 0);
        assert_int_equal(m.n_printers, 0);
        assert_outbox(f->s, &m);
        /* Nothing written since: nothing read. */
        assert_int_equal(lab_store_metrics_read(f->s, &m), 0);
        assert_int_equal(lab_store_metrics_read(f->s, &m), 0);
        /* A write anywhere: read again. */
        assert_int_equal(
            lab_store_event_append(f->s, LAB_EVENT_TELEMETRY, "stock.level", NULL, "{}", NULL), 0);
        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_int_equal(m.outbox_telemetry, 1);
        assert_outbox(f->s, &m);
        assert_int_equal(lab_store_metrics_read(f->s, NULL), -EINVAL);
        assert_int_equal(lab_store_metrics_read(NULL, &m), -EINVAL);
        lab_store_metrics_done(&m);
        lab_store_metrics_done(NULL);
}

static void test_counters_never_go_down(void **state)
{
        fixture_t *f = *state;
        lab_store_metrics_t m = {0}, fresh = {0};
        int again;

        /* Before the first read: 3 copies on ds620, 1 on qss, a defect on ds620. */
        printed_job(f->s, "a", 2, "ds620");
        printed_job(f->s, "b", 1, "qss");
        again = report_defect(f->s, "a", 1);
        print_copy(f->s, "a", again);
        store_fixture_queued_job(f->s, "c", 1, "qss"); /* queued: not printed */

        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_counts(&m, "ds620", 3, 1);
        assert_counts(&m, "qss", 1, 0);
        assert_int_equal(m.n_printers, 2);
        assert_string_equal(m.printers[0].printer, "ds620"); /* by name */
        assert_int_equal(m.jobs[LAB_JOB_PRINTED], 2);
        assert_int_equal(m.jobs[LAB_JOB_QUEUED], 1);
        assert_outbox(f->s, &m);

        /* After it: added from the tally, not counted again from the copies. */
        printed_job(f->s, "d", 2, "qss");
        print_copy(f->s, "c", 1);
        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_counts(&m, "ds620", 3, 1);
        assert_counts(&m, "qss", 4, 0);
        assert_int_equal(m.jobs[LAB_JOB_PRINTED], 4);
        assert_int_equal(m.jobs[LAB_JOB_QUEUED], 0);

        /* The 8-day pruning drops every tally row: the counters stay. */
        sql(f->s, "DELETE FROM printer_tally");
        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_counts(&m, "ds620", 3, 1);
        assert_counts(&m, "qss", 4, 0);

        /* A defect and a print after it: counted once each. */
        again = report_defect(f->s, "d", 2);
        print_copy(f->s, "d", again);
        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_counts(&m, "qss", 5, 1);
        assert_int_equal(printed_copies(f->s), 3 + 5);

        /* A restart reads them whole, from rows never deleted: the same figures. */
        assert_int_equal(lab_store_metrics_read(f->s, &fresh), 1);
        assert_counts(&fresh, "ds620", 3, 1);
        assert_counts(&fresh, "qss", 5, 1);
        assert_memory_equal(fresh.jobs, m.jobs, sizeof m.jobs);

        /* A printer first seen in the tally (printed since): listed, in name order. */
        sql(f->s, "INSERT INTO printer_tally (printer, what, at) VALUES ('cpd90', 'printed', 1),"
                  " ('cpd90', 'aborted', 1), ('cpd90', 'fault', 1), ('', 'printed', 1)");
        assert_int_equal(lab_store_metrics_read(f->s, &m), 1);
        assert_int_equal(m.n_printers, 3);
        assert_string_equal(m.printers[0].printer, "cpd90");
        assert_counts(&m, "cpd90", 1, 0);
        assert_int_equal(lab_store_metrics_read(f->s, &m), 0);
        assert_counts(&m, "cpd90", 1, 0);

        lab_store_metrics_done(&m);
        lab_store_metrics_done(&fresh);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_empty_then_quiet, setup, teardown),
            cmocka_unit_test_setup_teardown(test_counters_never_go_down, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
