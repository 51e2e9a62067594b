/*
 * test-store-moves.c - the job state table guards every write of a job's
 * state, on a real SQLite file: for every pair (from, to) of job states, a
 * job put in `from` (written directly with SQL when the API cannot reach it)
 * and each store call that changes a job's state -- move, rendered, queue,
 * reroute, a copy's change (the job follows its copies), reprint, confirm
 * printed, the ack of job.printed, and the insert of a new job's first
 * state -- accepts exactly the moves lab_job_state_can_move() allows and
 * refuses the rest with -EPERM, leaving the job's row, its copies and
 * renders, and the whole outbox byte for byte as they were.
 *
 * Why: tests/unit/test-job-state.c proves the table over every pair; this
 * proves the store cannot write around it, whichever door a caller uses.
 * The expectations are computed from the table itself, so a change of the
 * table is followed here without editing the test.
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

#include "job-state.h"
#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

#define N LAB_JOB_STATE_MAX

/* The keyword of state i. */
static const char *name(int i)
{
        return lab_job_state_to_string((lab_job_state_t)i);
}

/* A fresh job id for each case: no case sees another's rows. */
static const char *next_id(void)
{
        static char id[32];
        static unsigned n;

        snprintf(id, sizeof id, "m-%u", ++n);
        return id;
}

/* Run SQL on the store's connection with text parameters ?1..?3 (NULL: unused). */
static void sql(lab_store_t *s, const char *q, const char *a1, const char *a2, const char *a3)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(lab_store_sqlite(s), q, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", q, sqlite3_errmsg(lab_store_sqlite(s)));
        if (a1)
                sqlite3_bind_text(st, 1, a1, -1, SQLITE_TRANSIENT);
        if (a2)
                sqlite3_bind_text(st, 2, a2, -1, SQLITE_TRANSIENT);
        if (a3)
                sqlite3_bind_text(st, 3, a3, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
                fail_msg("%s: %s", q, sqlite3_errmsg(lab_store_sqlite(s)));
        sqlite3_finalize(st);
}

/*
 * Everything a refused call must leave as it was: the job's row, its copies
 * and renders, and the whole outbox (a rolled-back event leaves no trace).
 */
static char *snapshot(lab_store_t *s, const char *id)
{
        static const char q[] =
            "SELECT (SELECT json_group_array(json_array(id, state, reason, detail, printer, "
            "updated_at, quantity, asset_path)) FROM jobs WHERE id = ?1) || '#' || "
            "(SELECT json_group_array(json_array(copy, state, printer, attempt, handle, reason, "
            "detail, updated_at)) FROM (SELECT * FROM copies WHERE job_id = ?1 ORDER BY copy)) "
            "|| '#' || (SELECT count(*) FROM renders WHERE job_id = ?1) || '#' || "
            "(SELECT json_group_array(json_array(seq, uuid, kind, job_id, body)) FROM "
            "(SELECT * FROM events ORDER BY seq)) || '#' || "
            "(SELECT coalesce(max(seq), 0) FROM events)";
        sqlite3_stmt *st = NULL;
        char *text = NULL;

        assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(s), q, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        text = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        assert_non_null(text);
        return text;
}

/* A job of two prints of sku s, put in state (claiming through the API, then SQL). */
static void put_job(lab_store_t *s, const char *id, const char *state)
{
        lab_store_job_t job = {
            .id = (char *)id,
            .order_id = "o",
            .sku = "s",
            .quantity = 2,
            .state = (char *)state,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        store_fixture_insert_in(s, &job);
}

/* Give the job copy 1 in copy state `state` at printer p1 (SQL, no job move). */
static void put_copy(lab_store_t *s, const char *id, const char *state)
{
        sql(s,
            "INSERT INTO copies (job_id, copy, state, printer, attempt) VALUES (?1, 1, ?2, 'p1', "
            "1)",
            id, state, NULL);
}

/* The job's state now. */
static char *state_of(lab_store_t *s, const char *id)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;
        char *st;

        assert_int_equal(lab_store_job_get(s, id, &j), 0);
        st = strdup(j->state);
        assert_non_null(st);
        return st;
}

/*
 * Check a call's answer against the expected one: on success the job is in
 * want_state; on -EPERM nothing changed (before is the snapshot taken before
 * the call) and the store names the refused move (when refused_from or
 * refused_to is given).
 */
static void check(lab_store_t *s, const char *what, const char *id, int r, int want,
                  const char *want_state, const char *before, const char *refused_from,
                  const char *refused_to)
{
        _cleanup_free_ char *after = snapshot(s, id), *st = state_of(s, id);

        if (r != want)
                fail_msg("%s: returned %d (%s), want %d", what, r, strerror(-r), want);
        if (r == 0 && want_state && strcmp(st, want_state) != 0)
                fail_msg("%s: the job is %s, want %s", what, st, want_state);
        if (r < 0 && strcmp(before, after) != 0)
                fail_msg("%s: refused (%d) but the store changed:\n  before %s\n  after  %s", what,
                         r, before, after);
        if (r == -EPERM && (refused_from || refused_to)) {
                const char *from = NULL, *to = NULL;

                if (!lab_store_job_refused(s, &from, &to))
                        fail_msg("%s: -EPERM without a refused move", what);
                if (!from || !refused_from || strcmp(from, refused_from) != 0 || !to ||
                    strcmp(to, refused_to) != 0)
                        fail_msg("%s: refused %s -> %s, want %s -> %s", what, from ? from : "-",
                                 to ? to : "-", refused_from ? refused_from : "-", refused_to);
        }
}

/*
 * What the store does when a job in `from` must follow its copies to `to`:
 * a finished job keeps its state, the same state is no move, else the table
 * decides. *ret_state is where the job ends on success.
 */
static int follow(lab_job_state_t from, lab_job_state_t to, lab_job_state_t *ret_state)
{
        *ret_state = from;
        if (lab_job_state_is_final(from) || from == to)
                return 0;
        if (!lab_job_state_can_move(from, to))
                return -EPERM;
        *ret_state = to;
        return 0;
}

static int setup(void **state)
{
        store_fixture_t *f;

        if (store_fixture_open(state, "moves") < 0)
                return -1;
        f = *state;
        /* Hundreds of small transactions: no fsync each (the store's own choice is tested
         * elsewhere). */
        return sqlite3_exec(lab_store_sqlite(f->s), "PRAGMA synchronous = OFF", NULL, NULL, NULL) ==
                       SQLITE_OK
                   ? 0
                   : -1;
}

/* lab_store_job_move over every pair, and unknown states. */
static void test_move_every_pair(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;
        unsigned legal = 0;

        for (int f = 0; f < N; f++)
                for (int t = 0; t < N; t++) {
                        const char *id = next_id();
                        bool ok = lab_job_state_can_move((lab_job_state_t)f, (lab_job_state_t)t);
                        _cleanup_free_ char *before = NULL;
                        char what[96];
                        int r;

                        put_job(s, id, name(f));
                        before = snapshot(s, id);
                        r = lab_store_job_move(s, id, name(f), name(t), "why", "a sentence",
                                               "job.test", "{}");
                        snprintf(what, sizeof what, "move %s -> %s", name(f), name(t));
                        check(s, what, id, r, ok ? 0 : -EPERM, name(t), before, name(f), name(t));
                        if (r == 0)
                                assert_int_equal(store_fixture_events_of(s, id, "job.test"), 1);
                        legal += ok;
                }
        /* The table's size (tests/unit/test-job-state.c): 43 moves, cancel and drop from 12. */
        assert_int_equal(legal, 43 + 2 * 12);

        /* A state the table does not know, on either side. */
        for (int i = 0; i < N; i++) {
                const char *id = next_id();
                _cleanup_free_ char *before = NULL;

                put_job(s, id, name(i));
                before = snapshot(s, id);
                check(s, "move to bogus", id,
                      lab_store_job_move(s, id, name(i), "bogus", NULL, NULL, "job.test", "{}"),
                      -EPERM, NULL, before, name(i), "bogus");
                check(s, "move from bogus", id,
                      lab_store_job_move(s, id, "bogus", name(i), NULL, NULL, "job.test", "{}"),
                      -EPERM, NULL, before, "bogus", name(i));
        }
}

/* lab_store_job_rendered over every pair: the render row and its events come with the move. */
static void test_rendered_every_pair(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N; f++)
                for (int t = 0; t < N; t++) {
                        const char *id = next_id();
                        bool ok = lab_job_state_can_move((lab_job_state_t)f, (lab_job_state_t)t);
                        _cleanup_free_ char *before = NULL;
                        char what[96];
                        int r;

                        put_job(s, id, name(f));
                        before = snapshot(s, id);
                        r = lab_store_job_rendered(s, id, name(f), name(t), "p1", "/spool/x.jpg",
                                                   "{\"a\":1}", "{\"gamut_share\":0.2}");
                        snprintf(what, sizeof what, "rendered %s -> %s", name(f), name(t));
                        check(s, what, id, r, ok ? 0 : -EPERM, name(t), before, name(f), name(t));
                        if (r == 0)
                                assert_int_equal(
                                    store_fixture_events_of(s, id, "job.quality_warning"), 1);
                }
}

/* lab_store_job_queue from every state (its target is queued): copies come with the move. */
static void test_queue_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N; f++) {
                const char *id = next_id();
                bool ok = lab_job_state_can_move((lab_job_state_t)f, LAB_JOB_QUEUED);
                _cleanup_free_ char *before = NULL;
                char what[96];
                lab_store_copy_t **v = NULL;
                size_t n = 0;

                put_job(s, id, name(f));
                before = snapshot(s, id);
                snprintf(what, sizeof what, "queue %s -> queued", name(f));
                check(s, what, id, lab_store_job_queue(s, id, name(f), "p1"), ok ? 0 : -EPERM,
                      "queued", before, name(f), "queued");
                assert_int_equal(lab_store_job_copies(s, id, &v, &n), 0);
                assert_int_equal(n, ok ? 2 : 0);
                lab_store_copies_free(v, n);
        }
}

/*
 * lab_store_job_reroute from every state. Its move is fixed (queued ->
 * rerouted, a legal one): a job in any other state is not the one to
 * reroute (-ESTALE), and nothing is written either way but that move.
 */
static void test_reroute_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        assert_true(lab_job_state_can_move(LAB_JOB_QUEUED, LAB_JOB_REROUTED));
        for (int f = 0; f < N; f++) {
                const char *id = next_id();
                _cleanup_free_ char *before = NULL;
                char what[96];

                put_job(s, id, name(f));
                put_copy(s, id, "queued");
                before = snapshot(s, id);
                snprintf(what, sizeof what, "reroute %s", name(f));
                check(s, what, id, lab_store_job_reroute(s, id, "printer_failed", "it failed"),
                      f == LAB_JOB_QUEUED ? 0 : -ESTALE, "rerouted", before, NULL, NULL);
        }
}

/*
 * A copy's change moves the job where its copies say: from every job state
 * to every state copies can give (one copy, moved into the copy state of
 * that name). A move the table refuses undoes the copy's change as well.
 */
static void test_copies_every_pair(void **state)
{
        static const lab_job_state_t targets[] = {
            LAB_JOB_QUEUED,    LAB_JOB_SUBMITTING, LAB_JOB_PRINTING, LAB_JOB_PRINTED,
            LAB_JOB_UNCERTAIN, LAB_JOB_FAILED,     LAB_JOB_CANCELED,
        };
        lab_store_t *s = ((store_fixture_t *)*state)->s;
        unsigned refused = 0;

        for (int f = 0; f < N; f++)
                for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                        const char *id = next_id(), *to = name(targets[i]);
                        /* One copy: the job's state from it is the copy's state's name. */
                        const char *copy_from =
                            targets[i] == LAB_JOB_QUEUED ? "submitting" : "queued";
                        lab_job_state_t end;
                        int want = follow((lab_job_state_t)f, targets[i], &end);
                        _cleanup_free_ char *before = NULL;
                        char what[96];

                        put_job(s, id, name(f));
                        put_copy(s, id, copy_from);
                        before = snapshot(s, id);
                        snprintf(what, sizeof what, "copy %s -> %s, job %s -> %s", copy_from, to,
                                 name(f), to);
                        check(s, what, id,
                              lab_store_copy_move(s, id, 1, copy_from, to, NULL, "job.copy_test",
                                                  "{}", NULL),
                              want, name(end), before, name(f), to);
                        refused += want == -EPERM;
                }
        assert_true(refused > 0);

        /* A printed copy never moves: -EPERM, and no job move was refused. */
        {
                const char *id = next_id();
                _cleanup_free_ char *before = NULL;

                put_job(s, id, "printed");
                put_copy(s, id, "printed");
                before = snapshot(s, id);
                check(s, "copy printed -> queued", id,
                      lab_store_copy_move(s, id, 1, "printed", "queued", NULL, NULL, NULL, NULL),
                      -EPERM, NULL, before, NULL, NULL);
                assert_false(lab_store_job_refused(s, NULL, NULL));
        }
}

/* Whether a job in state f may have a copy reprinted: it goes (back) to printing. */
static bool reprintable(int f)
{
        return f == LAB_JOB_PRINTING ||
               lab_job_state_can_move((lab_job_state_t)f, LAB_JOB_PRINTING);
}

/*
 * A reprint from every job state: a printed copy's reprint sends the job to
 * printing; an uncertain copy not printed is queued again, and the job
 * follows it to queued.
 */
static void test_reprint_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N; f++)
                for (int not_printed = 0; not_printed < 2; not_printed++) {
                        const char *id = next_id();
                        lab_store_reprint_t rp = {
                            .job_id = id,
                            .copy = 1,
                            .defect = not_printed ? "not_printed" : "color_cast",
                            .by = "tech",
                            .actor = "test",
                        };
                        /* A reported job is moved to printing first, then follows its copies. */
                        lab_job_state_t start =
                            f == LAB_JOB_REPORTED ? LAB_JOB_PRINTING : (lab_job_state_t)f;
                        lab_job_state_t target = not_printed ? LAB_JOB_QUEUED : LAB_JOB_PRINTING;
                        lab_job_state_t end = (lab_job_state_t)f;
                        int want = reprintable(f) ? follow(start, target, &end) : -EPERM;
                        _cleanup_free_ char *before = NULL;
                        char what[96];

                        put_job(s, id, name(f));
                        put_copy(s, id, not_printed ? "uncertain" : "printed");
                        before = snapshot(s, id);
                        snprintf(what, sizeof what, "reprint (%s) of a job %s", rp.defect, name(f));
                        /* Refused up front (not reprintable): the job's move to printing. */
                        check(s, what, id, lab_store_copy_reprint(s, &rp), want, name(end), before,
                              reprintable(f) ? name(start) : name(f),
                              reprintable(f) ? name(target) : "printing");
                }
}

/* A person confirms an uncertain copy printed, from every job state: the job follows to printed. */
static void test_confirm_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N; f++) {
                const char *id = next_id();
                lab_job_state_t end;
                int want = follow((lab_job_state_t)f, LAB_JOB_PRINTED, &end);
                _cleanup_free_ char *before = NULL;
                char what[96];

                put_job(s, id, name(f));
                put_copy(s, id, "uncertain");
                before = snapshot(s, id);
                snprintf(what, sizeof what, "confirm printed, job %s", name(f));
                check(s, what, id,
                      lab_store_copy_confirm_printed(s, id, 1, "j/1/1", "tech", "test"), want,
                      name(end), before, name(f), "printed");
        }
}

/* The platform acknowledges job.printed, from every job state: only a printed job is reported. */
static void test_ack_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        assert_true(lab_job_state_can_move(LAB_JOB_PRINTED, LAB_JOB_REPORTED));
        for (int f = 0; f < N; f++) {
                const char *id = next_id();
                lab_store_event_t *ev = NULL;
                size_t n = 0, deleted = 0;
                _cleanup_free_ char *st = NULL;
                const char *uuid;

                put_job(s, id, name(f));
                assert_int_equal(
                    lab_store_event_append(s, LAB_EVENT_JOB, "job.printed", id, "{}", NULL), 0);
                assert_int_equal(lab_store_events_peek(s, 1000, &ev, &n), 0);
                assert_true(n > 0);
                uuid = ev[n - 1].uuid;
                assert_int_equal(lab_store_events_ack(s, &uuid, 1, &deleted), 0);
                assert_int_equal(deleted, 1);
                lab_store_events_free(ev, n);
                st = state_of(s, id);
                assert_string_equal(st, f == LAB_JOB_PRINTED ? "reported" : name(f));
        }
}

/* A new job's first state: claiming or rejected; any other is -EPERM, nothing written. */
static void test_insert_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N; f++) {
                const char *id = next_id();
                bool ok = lab_job_state_can_start((lab_job_state_t)f);
                lab_store_job_t job = {
                    .id = (char *)id,
                    .order_id = "o",
                    .sku = "s",
                    .quantity = 1,
                    .state = (char *)name(f),
                    .asset_url = "https://p/a",
                    .asset_sha256 = "00",
                    .asset_bytes = 1,
                    .spec = "{}",
                };
                lab_store_job_t *got = NULL;
                int64_t before = 0, after = 0;
                const char *from = "x", *to = NULL;

                assert_int_equal(lab_store_event_count(s, &before), 0);
                assert_int_equal(lab_store_job_insert(s, &job, "job.test", "{}"), ok ? 0 : -EPERM);
                assert_int_equal(lab_store_event_count(s, &after), 0);
                assert_int_equal(after, before + (ok ? 1 : 0));
                assert_int_equal(lab_store_job_get(s, id, &got), ok ? 0 : -ENOENT);
                lab_store_job_free(got);
                if (!ok) {
                        assert_true(lab_store_job_refused(s, &from, &to));
                        assert_null(from);
                        assert_string_equal(to, name(f));
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_move_every_pair, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_rendered_every_pair, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_queue_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_reroute_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_copies_every_pair, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_reprint_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_confirm_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_ack_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_insert_every_state, setup, store_fixture_close),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
