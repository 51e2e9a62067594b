/*
 * test-job-state.c - the job state machine (job-state.c), over every pair of
 * states: the allowed moves are exactly the ones listed here (written out
 * independently of the table in the code), finished states never move (but a reported job
 * reprinted from the console, back to printing), and
 * every live state can still reach an end. That the store writes exactly
 * these moves, whichever call makes them, is tests/store/test-store-moves.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "job-state.h"

/* Every allowed move, "from>to". Cancel and drop are allowed from every live state but printed. */
static const char *const allowed[] = {
    "claiming>accepted",
    "accepted>downloading",
    "accepted>failed",
    "downloading>downloaded",
    "downloading>failed",
    "downloading>rejected",
    "downloaded>rendering",
    "downloaded>held",
    "downloaded>failed",
    "rendering>rendered",
    "rendering>rejected",
    "rendering>held",
    "rendering>failed",
    "rendering>downloaded",
    "rendered>queued",
    "rendered>held",
    "rendered>rerouted",
    "held>rendering",
    "held>held",
    "held>queued",
    "held>failed",
    "rerouted>rendering",
    "rerouted>held",
    "queued>submitting",
    "queued>rerouted",
    "queued>held",
    "submitting>printing",
    "submitting>queued",
    "submitting>uncertain",
    "submitting>failed",
    "printing>printed",
    "printing>queued",
    "printing>uncertain",
    "printing>failed",
    "uncertain>printed",
    "uncertain>queued",
    "printed>reported",
    /* copies: a job whose copies move on separately */
    "submitting>printed",
    "printing>submitting",
    "uncertain>printing",
    /* a person confirms the uncertain copy, and a sibling copy had failed */
    "uncertain>failed",
    /* a technician reported a bad print: the reprint copy prints, the job with it */
    "printed>printing",
    "reported>printing",
};

static const char *const live[] = {
    "claiming", "accepted", "downloading", "downloaded", "rendering", "rendered",
    "held",     "rerouted", "queued",      "submitting", "printing",  "uncertain",
};
static const char *const final[] = {"reported", "rejected", "canceled", "failed", "dropped"};

static bool listed(const char *from, const char *to)
{
        char pair[64];

        snprintf(pair, sizeof pair, "%s>%s", from, to);
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
                if (strcmp(allowed[i], pair) == 0)
                        return true;
        for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
                if (strcmp(live[i], from) == 0)
                        return strcmp(to, "canceled") == 0 || strcmp(to, "dropped") == 0;
        return false;
}

static void test_names_round_trip(void **state)
{
        assert_int_equal(LAB_JOB_STATE_MAX, 18);
        for (int s = 0; s < LAB_JOB_STATE_MAX; s++) {
                const char *name = lab_job_state_to_string((lab_job_state_t)s);
                assert_non_null(name);
                assert_int_equal(lab_job_state_from_string(name), s);
        }
        assert_null(lab_job_state_to_string(LAB_JOB_STATE_MAX));
        assert_null(lab_job_state_to_string(LAB_JOB_STATE_INVALID));
        assert_int_equal(lab_job_state_from_string("printed "), LAB_JOB_STATE_INVALID);
        assert_int_equal(lab_job_state_from_string(NULL), LAB_JOB_STATE_INVALID);
}

/* Copy states: the keywords the copies table stores, each a job state's keyword too. */
static void test_copy_names(void **state)
{
        static const char *const want[] = {"queued",    "submitting", "printing", "printed",
                                           "uncertain", "failed",     "canceled", "rerouted"};

        assert_int_equal(LAB_COPY_STATE_MAX, 8);
        for (int s = 0; s < LAB_COPY_STATE_MAX; s++) {
                const char *name = lab_copy_state_to_string((lab_copy_state_t)s);

                assert_string_equal(name, want[s]);
                assert_int_equal(lab_copy_state_from_string(name), s);
                /* labctl colours a copy by the job state of the same name. */
                assert_int_not_equal(lab_job_state_from_string(name), LAB_JOB_STATE_INVALID);
        }
        assert_null(lab_copy_state_to_string(LAB_COPY_STATE_MAX));
        assert_null(lab_copy_state_to_string(LAB_COPY_STATE_INVALID));
        assert_int_equal(lab_copy_state_from_string("claiming"), LAB_COPY_STATE_INVALID);
        assert_int_equal(lab_copy_state_from_string(NULL), LAB_COPY_STATE_INVALID);
}

static void test_state_in(void **state)
{
        static const lab_job_state_t v[] = {LAB_JOB_QUEUED, LAB_JOB_HELD};

        assert_true(lab_job_state_in(LAB_JOB_HELD, v, 2));
        assert_false(lab_job_state_in(LAB_JOB_HELD, v, 1));
        assert_false(lab_job_state_in(LAB_JOB_PRINTED, v, 2));
        assert_false(lab_job_state_in(LAB_JOB_QUEUED, NULL, 0));
}

static void test_every_pair(void **state)
{
        unsigned n_allowed = 0;

        for (int f = 0; f < LAB_JOB_STATE_MAX; f++)
                for (int t = 0; t < LAB_JOB_STATE_MAX; t++) {
                        const char *from = lab_job_state_to_string((lab_job_state_t)f);
                        const char *to = lab_job_state_to_string((lab_job_state_t)t);
                        bool got = lab_job_state_can_move((lab_job_state_t)f, (lab_job_state_t)t);

                        if (got != listed(from, to))
                                fail_msg("%s -> %s: the code says %s", from, to,
                                         got ? "allowed" : "refused");
                        n_allowed += got;
                }
        /* 43 listed moves plus cancel and drop from the 12 live states. */
        assert_int_equal(n_allowed, 43 + 2 * 12);
        assert_false(lab_job_state_can_move(LAB_JOB_STATE_INVALID, LAB_JOB_QUEUED));
        assert_false(lab_job_state_can_move(LAB_JOB_QUEUED, LAB_JOB_STATE_MAX));
}

static void test_finals(void **state)
{
        for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
                assert_true(lab_job_state_is_final(lab_job_state_from_string(final[i])));
        for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
                assert_false(lab_job_state_is_final(lab_job_state_from_string(live[i])));
        assert_false(lab_job_state_is_final(LAB_JOB_PRINTED));
}

/* From every live state an end is reachable, and reported from every state of the main line. */
static void test_reachability(void **state)
{
        for (int s = 0; s < LAB_JOB_STATE_MAX; s++) {
                bool seen[LAB_JOB_STATE_MAX] = {false};
                int stack[LAB_JOB_STATE_MAX * LAB_JOB_STATE_MAX], n = 0;

                stack[n++] = s;
                seen[s] = true;
                while (n > 0) {
                        int cur = stack[--n];
                        for (int t = 0; t < LAB_JOB_STATE_MAX; t++)
                                if (!seen[t] && lab_job_state_can_move((lab_job_state_t)cur,
                                                                       (lab_job_state_t)t)) {
                                        seen[t] = true;
                                        stack[n++] = t;
                                }
                }
                if (!lab_job_state_is_final((lab_job_state_t)s) && !seen[LAB_JOB_REPORTED] &&
                    !seen[LAB_JOB_CANCELED])
                        fail_msg("%s reaches no end", lab_job_state_to_string((lab_job_state_t)s));
                if (s <= LAB_JOB_PRINTED && !seen[LAB_JOB_REPORTED])
                        fail_msg("%s cannot reach reported",
                                 lab_job_state_to_string((lab_job_state_t)s));
        }
}

/* A job starts claiming (an offer) or rejected (an offer refused before any claim), only. */
static void test_can_start(void **state)
{
        for (int s = 0; s < LAB_JOB_STATE_MAX; s++)
                assert_int_equal(lab_job_state_can_start((lab_job_state_t)s),
                                 s == LAB_JOB_CLAIMING || s == LAB_JOB_REJECTED);
        assert_false(lab_job_state_can_start(LAB_JOB_STATE_INVALID));
        assert_false(lab_job_state_can_start(LAB_JOB_STATE_MAX));
        assert_false(lab_job_state_can_start(lab_job_state_from_string("bogus")));
}

/* The job's state from its copies: every case of the rule, and each result a legal target. */
static void test_from_copies(void **state)
{
        static const struct {
                lab_copy_counts_t c;
                lab_job_state_t want;
        } cases[] = {
            {{0}, LAB_JOB_STATE_INVALID},
            {{.queued = 3}, LAB_JOB_QUEUED},
            {{.queued = 2, .submitting = 1}, LAB_JOB_SUBMITTING},
            {{.queued = 1, .printing = 1}, LAB_JOB_PRINTING},
            {{.queued = 1, .printed = 2}, LAB_JOB_PRINTING},
            {{.submitting = 1, .failed = 1}, LAB_JOB_PRINTING},
            {{.printed = 3}, LAB_JOB_PRINTED},
            {{.printed = 2, .uncertain = 1}, LAB_JOB_UNCERTAIN},
            {{.printed = 2, .failed = 1}, LAB_JOB_FAILED},
            {{.uncertain = 1, .failed = 1}, LAB_JOB_UNCERTAIN},
            {{.canceled = 2}, LAB_JOB_CANCELED},
            {{.printed = 1, .canceled = 1}, LAB_JOB_PRINTED},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                if (lab_job_state_from_copies(&cases[i].c) != cases[i].want)
                        fail_msg("case %zu: got %s", i,
                                 lab_job_state_to_string(lab_job_state_from_copies(&cases[i].c)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_names_round_trip), cmocka_unit_test(test_copy_names),
            cmocka_unit_test(test_state_in),         cmocka_unit_test(test_every_pair),
            cmocka_unit_test(test_finals),           cmocka_unit_test(test_reachability),
            cmocka_unit_test(test_can_start),        cmocka_unit_test(test_from_copies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
