/*
 * test-store-copies.c - copies of a job at its printer (store-copies.c): the
 * job's state always follows its copies in the same transaction, with the
 * events that says so; a copy moves only from the state the caller saw;
 * attempts count up; a job is rerouted only while no copy is at (or on its
 * way to) the printer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store-private.h"
#include "store-fixture.h"
#include "testutil.h"

typedef store_fixture_t fixture_t;

/* A fresh store for each test. */
static int setup(void **state)
{
        return store_fixture_open(state, "store-copies");
}

static int teardown(void **state)
{
        return store_fixture_close(state);
}

static void test_copies_drive_the_job(void **state)
{
        fixture_t *f = *state;
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        int attempt = 0;
        const lab_store_copy_change_t begin = {.new_attempt = true};
        const lab_store_copy_change_t sent = {.handle = "17"};

        store_fixture_rendered_job(f->s, "j1", 2, "ds620");
        assert_int_equal(lab_store_job_queue(f->s, "j1", LAB_JOB_RENDERED, "ds620"), 0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_QUEUED);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.queued"), 1);
        /* The router's backlog: prints waiting for each printer. */
        {
                int64_t backlog = -1;
                assert_int_equal(lab_store_printer_backlog(f->s, "ds620", &backlog), 0);
                assert_int_equal(backlog, 2);
                assert_int_equal(lab_store_printer_backlog(f->s, "cpd90", &backlog), 0);
                assert_int_equal(backlog, 0);
        }

        /* A filter with a state that is none: refused, not matched against unreadable rows. */
        assert_int_equal(lab_store_copies_list(f->s, "ds620",
                                               (const lab_copy_state_t[]){LAB_COPY_STATE_INVALID},
                                               1, &v, &n),
                         -EINVAL);
        assert_int_equal(lab_store_copies_list(f->s, "ds620", NULL, 0, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0]->copy, 1);
        assert_int_equal(v[0]->state, LAB_COPY_QUEUED);
        assert_int_equal(v[0]->attempt, 0);
        assert_string_equal(v[0]->output_path, "/spool/render/x.jpg");
        lab_store_copies_free(v, n);

        /* Attempt 1 of copy 1: persisted before anything is sent. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, &attempt),
                         0);
        assert_int_equal(attempt, 1);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_SUBMITTING);
        /* Only from the state the caller saw. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, &attempt),
                         -ESTALE);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 3, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         -ENOENT);

        assert_int_equal(lab_store_copy_move(f->s, "j1", 1, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING,
                                             &sent, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTING);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.printing"), 1);

        assert_int_equal(lab_store_copies_list(
                             f->s, NULL, (const lab_copy_state_t[]){LAB_COPY_PRINTING}, 1, &v, &n),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0]->handle, "17");
        lab_store_copies_free(v, n);

        assert_int_equal(lab_store_copy_move(f->s, "j1", 1, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             NULL, "job.copy_printed", "{\"copy\":1}", NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTING);
        /* Copy 2 aborted once, sent again: attempt 2, no second job.printing. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED,
                                             NULL, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, &attempt),
                         0);
        assert_int_equal(attempt, 2);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING,
                                             &sent, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_PRINTING, LAB_COPY_PRINTED,
                                             NULL, "job.copy_printed", "{\"copy\":2}", NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
        {
                int64_t backlog = -1;
                assert_int_equal(lab_store_printer_backlog(f->s, "ds620", &backlog), 0);
                assert_int_equal(backlog, 0);
        }
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.printing"), 1);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.copy_printed"), 2);
        assert_int_equal(store_fixture_events_of(f->s, "j1", "job.printed"), 1);
        /* A printed copy is a fact. */
        assert_int_equal(lab_store_copy_move(f->s, "j1", 2, LAB_COPY_PRINTED, LAB_COPY_QUEUED, NULL,
                                             NULL, NULL, NULL),
                         -EPERM);
        store_fixture_assert_job_state(f->s, "j1", LAB_JOB_PRINTED);
}

static void test_uncertain_and_canceled(void **state)
{
        fixture_t *f = *state;
        const lab_store_copy_change_t begin = {.new_attempt = true};

        store_fixture_rendered_job(f->s, "j2", 1, "ds620");
        assert_int_equal(lab_store_job_queue(f->s, "j2", LAB_JOB_RENDERED, "ds620"), 0);
        assert_int_equal(lab_store_copy_move(f->s, "j2", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j2", 1, LAB_COPY_SUBMITTING, LAB_COPY_UNCERTAIN,
                                             NULL, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j2", LAB_JOB_UNCERTAIN);
        assert_int_equal(store_fixture_events_of(f->s, "j2", "job.uncertain"), 1);

        /* A canceled job keeps its state whatever its copies do. */
        store_fixture_rendered_job(f->s, "j3", 1, "ds620");
        assert_int_equal(lab_store_job_queue(f->s, "j3", LAB_JOB_RENDERED, "ds620"), 0);
        assert_int_equal(lab_store_job_move(f->s, "j3", LAB_JOB_QUEUED, LAB_JOB_CANCELED, NULL,
                                            NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j3", 1, LAB_COPY_QUEUED, LAB_COPY_CANCELED,
                                             NULL, NULL, NULL, NULL),
                         0);
        store_fixture_assert_job_state(f->s, "j3", LAB_JOB_CANCELED);
}

static void test_reroute(void **state)
{
        fixture_t *f = *state;
        const lab_store_copy_change_t begin = {.new_attempt = true};
        lab_store_copy_t **v = NULL;
        size_t n = 0;

        store_fixture_rendered_job(f->s, "j4", 3, "ds620");
        assert_int_equal(lab_store_job_queue(f->s, "j4", LAB_JOB_RENDERED, "ds620"), 0);
        assert_int_equal(lab_store_job_reroute(f->s, "j4", "media_empty", "out of paper"), 0);
        store_fixture_assert_job_state(f->s, "j4", LAB_JOB_REROUTED);
        assert_int_equal(store_fixture_events_of(f->s, "j4", "job.rerouted"), 1);
        assert_int_equal(lab_store_copies_list(
                             f->s, NULL, (const lab_copy_state_t[]){LAB_COPY_QUEUED}, 1, &v, &n),
                         0);
        for (size_t i = 0; i < n; i++)
                assert_string_not_equal(v[i]->job_id, "j4");
        lab_store_copies_free(v, n);
        /* Not queued any more. */
        assert_int_equal(lab_store_job_reroute(f->s, "j4", "x", NULL), -ESTALE);

        /* Once a copy was sent, the job stays with its printer. */
        store_fixture_rendered_job(f->s, "j5", 2, "ds620");
        assert_int_equal(lab_store_job_queue(f->s, "j5", LAB_JOB_RENDERED, "ds620"), 0);
        assert_int_equal(lab_store_copy_move(f->s, "j5", 1, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(f->s, "j5", 1, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED,
                                             NULL, NULL, NULL, NULL),
                         0);
        /* Back in the queue (the printer was found not to have it): it may go elsewhere... */
        store_fixture_assert_job_state(f->s, "j5", LAB_JOB_QUEUED);
        assert_int_equal(lab_store_copy_move(f->s, "j5", 2, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        /* ...but not while a copy is on its way to the printer. */
        assert_int_equal(lab_store_job_reroute(f->s, "j5", "x", NULL), -ESTALE);
        assert_int_equal(lab_store_copy_move(f->s, "j5", 2, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED,
                                             NULL, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_job_reroute(f->s, "j5", "x", NULL), 0);

        /* Queued again elsewhere: the attempt counts go on, so job names are never reused. */
        assert_int_equal(lab_store_job_move(f->s, "j5", LAB_JOB_REROUTED, LAB_JOB_RENDERING, NULL,
                                            NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_job_rendered(f->s, "j5", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "cpd90", "/r2.jpg", "{}", NULL),
                         0);
        assert_int_equal(lab_store_job_queue(f->s, "j5", LAB_JOB_RENDERED, "cpd90"), 0);
        assert_int_equal(lab_store_copies_list(f->s, "cpd90", NULL, 0, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0]->attempt, 1);
        assert_int_equal(v[1]->attempt, 1);
        assert_int_equal(v[0]->state, LAB_COPY_QUEUED);
        assert_string_equal(v[0]->output_path, "/r2.jpg");
        assert_null(v[0]->handle);
        lab_store_copies_free(v, n);
}

static void test_rush_first(void **state)
{
        fixture_t *f = *state;
        lab_store_copy_t **v = NULL;
        size_t n = 0;
        lab_store_job_t job = {
            .id = "j-rush",
            .order_id = "o",
            .sku = "s",
            .quantity = 1,
            .priority = "rush",
            .state = LAB_JOB_RENDERING,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        store_fixture_rendered_job(f->s, "j-std", 1, "cpd90");
        store_fixture_insert_in(f->s, &job);
        assert_int_equal(lab_store_job_rendered(f->s, "j-rush", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "cpd90", "/r.jpg", "{}", NULL),
                         0);
        assert_int_equal(lab_store_job_queue(f->s, "j-std", LAB_JOB_RENDERED, "cpd90"), 0);
        assert_int_equal(lab_store_job_queue(f->s, "j-rush", LAB_JOB_RENDERED, "cpd90"), 0);
        assert_int_equal(lab_store_copies_list(
                             f->s, "cpd90", (const lab_copy_state_t[]){LAB_COPY_QUEUED}, 1, &v, &n),
                         0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0]->job_id, "j-rush");
        assert_string_equal(v[1]->job_id, "j-std");
        lab_store_copies_free(v, n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_copies_drive_the_job, setup, teardown),
            cmocka_unit_test_setup_teardown(test_uncertain_and_canceled, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reroute, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rush_first, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
