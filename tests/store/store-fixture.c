/*
 * store-fixture.c - the shared fixture of the store's copy and console tests
 * (see store-fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

int store_fixture_open(void **state, const char *name)
{
        store_fixture_t *f = calloc(1, sizeof *f);
        lab_error_t err = {0};

        if (!f)
                return -1;
        f->dir = lab_test_mkdtemp(name);
        f->db = lab_test_path(f->dir, "labagent.db");
        if (lab_store_open(&f->s, f->db, &err) < 0)
                return -1;
        *state = f;
        return 0;
}

int store_fixture_close(void **state)
{
        store_fixture_t *f = *state;

        lab_store_close(f->s);
        lab_test_rm_rf(f->dir);
        free(f->db);
        free(f->dir);
        free(f);
        return 0;
}

void store_fixture_put_state(lab_store_t *s, const char *id, lab_job_state_t state)
{
        sqlite3_stmt *st = NULL;

        assert_non_null(lab_job_state_to_string(state));
        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s),
                                            "UPDATE jobs SET state = ?2 WHERE id = ?1", -1, &st,
                                            NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, lab_job_state_to_string(state), -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        assert_int_equal(sqlite3_changes(lab_store_sqlite(s)), 1);
        sqlite3_finalize(st);
}

void store_fixture_insert_in(lab_store_t *s, const lab_store_job_t *job)
{
        lab_store_job_t first = *job;

        first.state = LAB_JOB_CLAIMING;
        assert_int_equal(lab_store_job_insert(s, &first, NULL, NULL), 0);
        store_fixture_put_state(s, job->id, job->state);
}

void store_fixture_rendered_job(lab_store_t *s, const char *id, int quantity, const char *printer)
{
        lab_store_job_t job = {
            .id = (char *)id,
            .order_id = "o",
            .sku = "print-4x6",
            .quantity = quantity,
            .state = LAB_JOB_RENDERING,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        store_fixture_insert_in(s, &job);
        assert_int_equal(lab_store_job_rendered(s, id, LAB_JOB_RENDERING, LAB_JOB_RENDERED, printer,
                                                "/spool/render/x.jpg", "{\"a\":1}", NULL),
                         0);
}

/* The state's keyword, or "?" outside the table (messages only). */
static const char *state_name(lab_job_state_t st)
{
        const char *n = lab_job_state_to_string(st);

        return n ? n : "?";
}

void store_fixture_assert_job_state(lab_store_t *s, const char *id, lab_job_state_t want)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;

        assert_int_equal(lab_store_job_get(s, id, &j), 0);
        if (j->state != want)
                fail_msg("job %s: state %s (%d), want %s (%d)", id, state_name(j->state), j->state,
                         state_name(want), want);
}

int64_t store_fixture_events_of(lab_store_t *s, const char *id, const char *kind)
{
        sqlite3_stmt *st = NULL;
        int64_t n = -1;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s),
                                            "SELECT count(*) FROM events WHERE job_id = ?1 AND "
                                            "kind = ?2",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return n;
}

void store_fixture_queued_job(lab_store_t *s, const char *id, int quantity, const char *printer)
{
        store_fixture_rendered_job(s, id, quantity, printer);
        assert_int_equal(lab_store_job_queue(s, id, LAB_JOB_RENDERED, printer), 0);
}

void store_fixture_send_copy(lab_store_t *s, const char *id, int copy)
{
        static const lab_store_copy_change_t begin = {.new_attempt = true};
        static const lab_store_copy_change_t sent = {.handle = "17"};

        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING,
                                             &begin, NULL, NULL, NULL),
                         0);
        assert_int_equal(lab_store_copy_move(s, id, copy, LAB_COPY_SUBMITTING, LAB_COPY_PRINTING,
                                             &sent, NULL, NULL, NULL),
                         0);
}
