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
 * table is followed here without editing the test. Each door that moves a
 * job is one entry of doors[] (its targets, its call, its expected answer),
 * driven by one loop; the ack and the insert, which move no job in from,
 * have their own.
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

/* The keyword of state s, or "?" for one outside the table (messages only). */
static const char *name(lab_job_state_t s)
{
        const char *n = lab_job_state_to_string(s);

        return n ? n : "?";
}

/* States the table does not know: none, its end, and far past it. */
static const lab_job_state_t unknown[] = {
    LAB_JOB_STATE_INVALID,
    LAB_JOB_STATE_MAX,
    (lab_job_state_t)99,
};

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
static void put_job(lab_store_t *s, const char *id, lab_job_state_t state)
{
        lab_store_job_t job = {
            .id = (char *)id,
            .order_id = "o",
            .sku = "s",
            .quantity = 2,
            .state = state,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        store_fixture_insert_in(s, &job);
}

/* Give the job copy 1 in copy state `state` at printer p1 (SQL, no job move). */
static void put_copy(lab_store_t *s, const char *id, lab_copy_state_t state)
{
        assert_non_null(lab_copy_state_to_string(state));
        sql(s,
            "INSERT INTO copies (job_id, copy, state, printer, attempt) VALUES (?1, 1, ?2, 'p1', "
            "1)",
            id, lab_copy_state_to_string(state), NULL);
}

/* The job's state now. */
static lab_job_state_t state_of(lab_store_t *s, const char *id)
{
        _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;

        assert_int_equal(lab_store_job_get(s, id, &j), 0);
        return j->state;
}

/* What a call should answer for a job in `from` sent towards `to`. */
typedef struct want_s {
        int r;                                    /* the call's answer */
        lab_job_state_t end;                      /* where the job is when r is 0 */
        bool named;                               /* on -EPERM, the store names the move: */
        lab_job_state_t refused_from, refused_to; /* this one */
} want_t;

/*
 * Check a call's answer against the expected one: on success the job is in
 * w->end; when refused nothing changed (before is the snapshot taken before
 * the call) and, on -EPERM, the store names the refused move (if w->named).
 */
static void check(lab_store_t *s, const char *what, const char *id, int r, const want_t *w,
                  const char *before)
{
        _cleanup_free_ char *after = snapshot(s, id);
        lab_job_state_t st = state_of(s, id);

        if (r != w->r)
                fail_msg("%s: returned %d (%s), want %d", what, r, strerror(-r), w->r);
        if (r == 0 && st != w->end)
                fail_msg("%s: the job is %s, want %s", what, name(st), name(w->end));
        if (r < 0 && strcmp(before, after) != 0)
                fail_msg("%s: refused (%d) but the store changed:\n  before %s\n  after  %s", what,
                         r, before, after);
        if (r == -EPERM && w->named) {
                lab_job_state_t from = LAB_JOB_CLAIMING, to = LAB_JOB_CLAIMING;

                if (!lab_store_job_refused(s, &from, &to))
                        fail_msg("%s: -EPERM without a refused move", what);
                if (from != w->refused_from || to != w->refused_to)
                        fail_msg("%s: refused %s (%d) -> %s (%d), want %s (%d) -> %s (%d)", what,
                                 name(from), from, name(to), to, name(w->refused_from),
                                 w->refused_from, name(w->refused_to), w->refused_to);
        }
}

/* The table's answer for a move the caller names: to, or -EPERM naming from -> to. */
static want_t table(lab_job_state_t from, lab_job_state_t to)
{
        return (want_t){
            .r = lab_job_state_can_move(from, to) ? 0 : -EPERM,
            .end = to,
            .named = true,
            .refused_from = from,
            .refused_to = to,
        };
}

/*
 * What the store does when a job in `from` must follow its copies to `to`:
 * a finished job keeps its state, the same state is no move, else the table
 * decides.
 */
static want_t follow(lab_job_state_t from, lab_job_state_t to)
{
        want_t w = table(from, to);

        if (lab_job_state_is_final(from) || from == to)
                w = (want_t){.r = 0, .end = from};
        return w;
}

/*
 * A copy's change moves the job where its copies say: for each state copies
 * can give, one copy moved into the copy state that gives it.
 */
static const struct {
        lab_job_state_t job;
        lab_copy_state_t from, to;
} copy_moves[] = {
    {LAB_JOB_QUEUED, LAB_COPY_SUBMITTING, LAB_COPY_QUEUED},
    {LAB_JOB_SUBMITTING, LAB_COPY_QUEUED, LAB_COPY_SUBMITTING},
    {LAB_JOB_PRINTING, LAB_COPY_QUEUED, LAB_COPY_PRINTING},
    {LAB_JOB_PRINTED, LAB_COPY_QUEUED, LAB_COPY_PRINTED},
    {LAB_JOB_UNCERTAIN, LAB_COPY_QUEUED, LAB_COPY_UNCERTAIN},
    {LAB_JOB_FAILED, LAB_COPY_QUEUED, LAB_COPY_FAILED},
    {LAB_JOB_CANCELED, LAB_COPY_QUEUED, LAB_COPY_CANCELED},
};

/* The copy move that gives a job of one copy the state to. */
static size_t copy_move_to(lab_job_state_t to)
{
        for (size_t i = 0; i < ELEMENTSOF(copy_moves); i++)
                if (copy_moves[i].job == to)
                        return i;
        fail_msg("no copy state gives a job %s", name(to));
        return 0;
}

/* Whether a job in state f may have a copy reprinted: it goes (back) to printing. */
static bool reprintable(lab_job_state_t f)
{
        return f == LAB_JOB_PRINTING || lab_job_state_can_move(f, LAB_JOB_PRINTING);
}

/* ---- the store's doors that write a job's state, one entry each ---- */

/* lab_store_job_move: any pair; the event comes with the move. */
static int move_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        return lab_store_job_move(s, id, from, to, "why", "a sentence", "job.test", "{}");
}

static void move_after(lab_store_t *s, const char *id, lab_job_state_t to, int r)
{
        (void)to;
        if (r == 0)
                assert_int_equal(store_fixture_events_of(s, id, "job.test"), 1);
}

/* lab_store_job_rendered: any pair; the render row and its events come with the move. */
static int rendered_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        return lab_store_job_rendered(s, id, from, to, "p1", "/spool/x.jpg", "{\"a\":1}",
                                      "{\"gamut_share\":0.2}");
}

static void rendered_after(lab_store_t *s, const char *id, lab_job_state_t to, int r)
{
        (void)to;
        if (r == 0)
                assert_int_equal(store_fixture_events_of(s, id, "job.quality_warning"), 1);
}

/* lab_store_job_queue: its target is queued; the copies come with the move. */
static int queue_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        (void)to;
        return lab_store_job_queue(s, id, from, "p1");
}

static void queue_after(lab_store_t *s, const char *id, lab_job_state_t to, int r)
{
        lab_store_copy_t **v = NULL;
        size_t n = 0;

        (void)to;
        assert_int_equal(lab_store_job_copies(s, id, &v, &n), 0);
        assert_int_equal(n, r == 0 ? 2 : 0);
        lab_store_copies_free(v, n);
}

/*
 * lab_store_job_reroute: its move is fixed (queued -> rerouted, a legal
 * one); a job in any other state is not the one to reroute (-ESTALE), and
 * nothing is written either way but that move.
 */
static void reroute_prepare(lab_store_t *s, const char *id, lab_job_state_t to)
{
        (void)to;
        put_copy(s, id, LAB_COPY_QUEUED);
}

static int reroute_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        (void)from;
        (void)to;
        return lab_store_job_reroute(s, id, "printer_failed", "it failed");
}

static want_t reroute_want(lab_job_state_t from, lab_job_state_t to)
{
        return (want_t){.r = from == LAB_JOB_QUEUED ? 0 : -ESTALE, .end = to};
}

/*
 * lab_store_copy_move: one copy moves, the job follows it; a move the table
 * refuses undoes the copy's change as well.
 */
static void copy_prepare(lab_store_t *s, const char *id, lab_job_state_t to)
{
        put_copy(s, id, copy_moves[copy_move_to(to)].from);
}

static int copy_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        size_t i = copy_move_to(to);

        (void)from;
        return lab_store_copy_move(s, id, 1, copy_moves[i].from, copy_moves[i].to, NULL,
                                   "job.copy_test", "{}", NULL);
}

/*
 * lab_store_copy_reprint: a printed copy's reprint sends the job to
 * printing; an uncertain copy not printed is queued again, and the job
 * follows it to queued.
 */
static void reprint_prepare(lab_store_t *s, const char *id, lab_job_state_t to)
{
        put_copy(s, id, to == LAB_JOB_QUEUED ? LAB_COPY_UNCERTAIN : LAB_COPY_PRINTED);
}

static int reprint_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        lab_store_reprint_t rp = {
            .job_id = id,
            .copy = 1,
            .defect = to == LAB_JOB_QUEUED ? "not_printed" : "color_cast",
            .by = "tech",
            .actor = "test",
        };

        (void)from;
        return lab_store_copy_reprint(s, &rp);
}

static want_t reprint_want(lab_job_state_t from, lab_job_state_t to)
{
        /* A reported job is moved to printing first, then follows its copies. */
        lab_job_state_t start = from == LAB_JOB_REPORTED ? LAB_JOB_PRINTING : from;

        /* Refused up front (not reprintable): the job's move to printing, -EPERM. */
        if (!reprintable(from))
                return table(from, LAB_JOB_PRINTING);
        return follow(start, to);
}

/* lab_store_copy_confirm_printed: an uncertain copy printed; the job follows to printed. */
static void confirm_prepare(lab_store_t *s, const char *id, lab_job_state_t to)
{
        (void)to;
        put_copy(s, id, LAB_COPY_UNCERTAIN);
}

static int confirm_call(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to)
{
        (void)from;
        (void)to;
        return lab_store_copy_confirm_printed(s, id, 1, "j/1/1", "tech", "test", NULL, 0);
}

/* A door of the store that changes a job's state. */
typedef struct door_s {
        const char *name;
        /* The states it sends a job to (NULL: every state, named by the caller). */
        const lab_job_state_t *targets;
        size_t n_targets;
        /* Whether the caller names the state the job is in (unknown ones are refused). */
        bool from_caller;
        /* Give the job what the call needs (a copy) before the snapshot, or NULL. */
        void (*prepare)(lab_store_t *s, const char *id, lab_job_state_t to);
        int (*call)(lab_store_t *s, const char *id, lab_job_state_t from, lab_job_state_t to);
        want_t (*want)(lab_job_state_t from, lab_job_state_t to);
        /* More checks after the call, or NULL. */
        void (*after)(lab_store_t *s, const char *id, lab_job_state_t to, int r);
} door_t;

#define TARGETS(...)                                                                               \
        .targets = (const lab_job_state_t[]){__VA_ARGS__},                                         \
        .n_targets = ELEMENTSOF(((const lab_job_state_t[]){__VA_ARGS__}))

static const door_t doors[] = {
    {.name = "move", .from_caller = true, .call = move_call, .want = table, .after = move_after},
    {.name = "rendered",
     .from_caller = true,
     .call = rendered_call,
     .want = table,
     .after = rendered_after},
    {.name = "queue",
     TARGETS(LAB_JOB_QUEUED),
     .from_caller = true,
     .call = queue_call,
     .want = table,
     .after = queue_after},
    {.name = "reroute",
     TARGETS(LAB_JOB_REROUTED),
     .prepare = reroute_prepare,
     .call = reroute_call,
     .want = reroute_want},
    {.name = "copy",
     TARGETS(LAB_JOB_QUEUED, LAB_JOB_SUBMITTING, LAB_JOB_PRINTING, LAB_JOB_PRINTED,
             LAB_JOB_UNCERTAIN, LAB_JOB_FAILED, LAB_JOB_CANCELED),
     .prepare = copy_prepare,
     .call = copy_call,
     .want = follow},
    {.name = "reprint",
     TARGETS(LAB_JOB_PRINTING, LAB_JOB_QUEUED),
     .prepare = reprint_prepare,
     .call = reprint_call,
     .want = reprint_want},
    {.name = "confirm printed",
     TARGETS(LAB_JOB_PRINTED),
     .prepare = confirm_prepare,
     .call = confirm_call,
     .want = follow},
};

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

/* One call on a job put in from, checked against the expected answer; returns the call's. */
static int try_door(lab_store_t *s, const door_t *d, lab_job_state_t job_state,
                    lab_job_state_t from, lab_job_state_t to, const want_t *w)
{
        const char *id = next_id();
        _cleanup_free_ char *before = NULL;
        char what[128];
        int r;

        put_job(s, id, job_state);
        if (d->prepare)
                d->prepare(s, id, to);
        before = snapshot(s, id);
        r = d->call(s, id, from, to);
        snprintf(what, sizeof what, "%s %s (job %s) -> %s", d->name, name(from), name(job_state),
                 name(to));
        check(s, what, id, r, w, before);
        if (d->after)
                d->after(s, id, to, r);
        return r;
}

/*
 * Every door from every job state to every state it can send a job to, on
 * a fresh store each: the store does what the table says; and a state the
 * table does not know, named by the caller on either side, is refused.
 */
static void test_every_door_every_pair(void **state)
{
        unsigned accepted[ELEMENTSOF(doors)] = {0}, refused[ELEMENTSOF(doors)] = {0};

        for (size_t i = 0; i < ELEMENTSOF(doors); i++) {
                const door_t *d = &doors[i];
                size_t n_targets = d->targets ? d->n_targets : N;
                void *fixture = NULL;
                lab_store_t *s;

                assert_int_equal(setup(&fixture), 0);
                s = ((store_fixture_t *)fixture)->s;
                for (int f = 0; f < N; f++)
                        for (size_t k = 0; k < n_targets; k++) {
                                lab_job_state_t from = (lab_job_state_t)f;
                                lab_job_state_t to =
                                    d->targets ? d->targets[k] : (lab_job_state_t)k;
                                want_t w = d->want(from, to);
                                int r = try_door(s, d, from, from, to, &w);

                                accepted[i] += r == 0;
                                refused[i] += r == -EPERM;
                        }

                /* A state the table does not know, on either side the caller names. */
                for (size_t u = 0; d->from_caller && u < ELEMENTSOF(unknown); u++)
                        for (int f = 0; f < N; f++) {
                                lab_job_state_t job = (lab_job_state_t)f;
                                lab_job_state_t to = d->targets ? d->targets[0] : job;
                                want_t w = table(unknown[u], to);

                                try_door(s, d, job, unknown[u], to, &w);
                                if (!d->targets) {
                                        w = table(job, unknown[u]);
                                        try_door(s, d, job, job, unknown[u], &w);
                                }
                        }
                store_fixture_close(&fixture);
        }

        /*
         * The doors that take any pair (move, rendered) accept the table's
         * size (tests/unit/test-job-state.c): 43 moves, cancel and drop from 12.
         */
        for (size_t i = 0; i < ELEMENTSOF(doors); i++)
                if (!doors[i].targets)
                        assert_int_equal(accepted[i], 43 + 2 * 12);
        /* Every door that follows copies meets a move the table refuses. */
        for (size_t i = 0; i < ELEMENTSOF(doors); i++)
                if (doors[i].want == follow)
                        assert_true(refused[i] > 0);
}

/* A printed copy never moves: -EPERM, and no job move was refused. */
static void test_printed_copy_never_moves(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;
        const char *id = next_id();
        _cleanup_free_ char *before = NULL;
        const want_t w = {.r = -EPERM};

        put_job(s, id, LAB_JOB_PRINTED);
        put_copy(s, id, LAB_COPY_PRINTED);
        before = snapshot(s, id);
        check(s, "copy printed -> queued", id,
              lab_store_copy_move(s, id, 1, LAB_COPY_PRINTED, LAB_COPY_QUEUED, NULL, NULL, NULL,
                                  NULL),
              &w, before);
        assert_false(lab_store_job_refused(s, NULL, NULL));
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
                const char *uuid;

                put_job(s, id, (lab_job_state_t)f);
                assert_int_equal(
                    lab_store_event_append(s, LAB_EVENT_JOB, "job.printed", id, "{}", NULL), 0);
                assert_int_equal(lab_store_events_peek(s, 1000, &ev, &n), 0);
                assert_true(n > 0);
                uuid = ev[n - 1].uuid;
                assert_int_equal(lab_store_events_ack(s, &uuid, 1, &deleted), 0);
                assert_int_equal(deleted, 1);
                lab_store_events_free(ev, n);
                assert_int_equal(state_of(s, id),
                                 f == LAB_JOB_PRINTED ? LAB_JOB_REPORTED : (lab_job_state_t)f);
        }
}

/*
 * A new job's first state: claiming or rejected; any other, or one the table
 * does not know, is -EPERM with nothing written.
 */
static void test_insert_every_state(void **state)
{
        lab_store_t *s = ((store_fixture_t *)*state)->s;

        for (int f = 0; f < N + (int)ELEMENTSOF(unknown); f++) {
                lab_job_state_t st = f < N ? (lab_job_state_t)f : unknown[f - N];
                const char *id = next_id();
                bool ok = lab_job_state_can_start(st);
                lab_store_job_t job = {
                    .id = (char *)id,
                    .order_id = "o",
                    .sku = "s",
                    .quantity = 1,
                    .state = st,
                    .asset_url = "https://p/a",
                    .asset_sha256 = "00",
                    .asset_bytes = 1,
                    .spec = "{}",
                };
                lab_store_job_t *got = NULL;
                int64_t before = 0, after = 0;
                lab_job_state_t from = LAB_JOB_CLAIMING, to = LAB_JOB_CLAIMING;

                assert_int_equal(lab_store_event_count(s, &before), 0);
                assert_int_equal(lab_store_job_insert(s, &job, "job.test", "{}"), ok ? 0 : -EPERM);
                assert_int_equal(lab_store_event_count(s, &after), 0);
                assert_int_equal(after, before + (ok ? 1 : 0));
                assert_int_equal(lab_store_job_get(s, id, &got), ok ? 0 : -ENOENT);
                if (ok)
                        assert_int_equal(got->state, st);
                lab_store_job_free(got);
                if (!ok) {
                        assert_true(lab_store_job_refused(s, &from, &to));
                        assert_int_equal(from, LAB_JOB_STATE_INVALID);
                        assert_int_equal(to, st);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_door_every_pair),
            cmocka_unit_test_setup_teardown(test_printed_copy_never_moves, setup,
                                            store_fixture_close),
            cmocka_unit_test_setup_teardown(test_ack_every_state, setup, store_fixture_close),
            cmocka_unit_test_setup_teardown(test_insert_every_state, setup, store_fixture_close),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
