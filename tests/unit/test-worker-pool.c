/*
 * test-worker-pool.c - the bounded pool (worker-pool.c): work runs on at most
 * N threads at once, every done runs on the loop thread exactly once, and
 * freeing the pool hands back work that never started with ran = false.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "worker-pool.h"

#define N_ITEMS 40

typedef struct ctx_s {
        atomic_int running, max_running, ran;
        int done_ran, done_not_ran;
        pthread_t loop_thread;
        bool wrong_thread;
        sd_event *event;
        int remaining;
} ctx_t;

typedef struct item_s {
        ctx_t *ctx;
        int done_calls;
} item_t;

static item_t items[N_ITEMS];

/* Work: note the concurrency, sleep 2 ms. */
static void work(void *userdata)
{
        item_t *it = userdata;
        ctx_t *c = it->ctx;
        int now = atomic_fetch_add(&c->running, 1) + 1;
        int max = atomic_load(&c->max_running);
        struct timespec ts = {0, 2000000};

        while (now > max && !atomic_compare_exchange_weak(&c->max_running, &max, now))
                ;
        nanosleep(&ts, NULL);
        atomic_fetch_add(&c->ran, 1);
        atomic_fetch_sub(&c->running, 1);
}

/* Done: on the loop thread, once per item. */
static void done(void *userdata, bool ran)
{
        item_t *it = userdata;
        ctx_t *c = it->ctx;

        it->done_calls++;
        if (!pthread_equal(pthread_self(), c->loop_thread))
                c->wrong_thread = true;
        if (ran)
                c->done_ran++;
        else
                c->done_not_ran++;
        if (--c->remaining == 0 && c->event)
                sd_event_exit(c->event, 0);
}

static void test_bounded_and_on_loop(void **state)
{
        ctx_t c = {.loop_thread = pthread_self(), .remaining = N_ITEMS};
        lab_pool_t *p = NULL;

        assert_int_equal(sd_event_new(&c.event), 0);
        assert_int_equal(lab_pool_new(&p, c.event, 3, "test"), 0);
        assert_int_equal(lab_pool_threads(p), 3);
        for (int i = 0; i < N_ITEMS; i++) {
                items[i] = (item_t){.ctx = &c};
                assert_int_equal(lab_pool_submit(p, work, done, &items[i]), 0);
        }
        assert_int_equal(lab_pool_pending(p), N_ITEMS);
        /* Bounded: the loop would be stopped by a 10 s timer if done never came. */
        assert_int_equal(sd_event_add_time_relative(c.event, NULL, CLOCK_MONOTONIC, 10000000, 0,
                                                    NULL, (void *)(intptr_t)1),
                         0);
        assert_int_equal(sd_event_loop(c.event), 0);
        assert_int_equal(c.done_ran, N_ITEMS);
        assert_int_equal(atomic_load(&c.ran), N_ITEMS);
        assert_true(atomic_load(&c.max_running) <= 3);
        assert_true(atomic_load(&c.max_running) >= 1);
        assert_false(c.wrong_thread);
        assert_int_equal(lab_pool_pending(p), 0);
        for (int i = 0; i < N_ITEMS; i++)
                assert_int_equal(items[i].done_calls, 1);
        lab_pool_free(p);
        sd_event_unref(c.event);
}

static void test_free_hands_back(void **state)
{
        ctx_t c = {.loop_thread = pthread_self(), .remaining = N_ITEMS};
        sd_event *e = NULL;
        lab_pool_t *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(lab_pool_new(&p, e, 1, "test"), 0);
        for (int i = 0; i < N_ITEMS; i++) {
                items[i] = (item_t){.ctx = &c};
                assert_int_equal(lab_pool_submit(p, work, done, &items[i]), 0);
        }
        /* Free at once: one thread cannot have run 40 × 2 ms of work yet. */
        lab_pool_free(p);
        assert_int_equal(c.done_ran + c.done_not_ran, N_ITEMS);
        assert_int_equal(c.done_ran, atomic_load(&c.ran));
        assert_true(c.done_not_ran > 0);
        assert_false(c.wrong_thread);
        for (int i = 0; i < N_ITEMS; i++)
                assert_int_equal(items[i].done_calls, 1);
        sd_event_unref(e);
}

static void test_bad_size(void **state)
{
        sd_event *e = NULL;
        lab_pool_t *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(lab_pool_new(&p, e, 0, "x"), -EINVAL);
        assert_int_equal(lab_pool_new(&p, e, 65, "x"), -EINVAL);
        sd_event_unref(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bounded_and_on_loop),
            cmocka_unit_test(test_free_hands_back),
            cmocka_unit_test(test_bad_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
