/*
 * worker-pool.h - a bounded pool of threads for blocking and CPU-heavy work.
 *
 * Why: the event loop must never block, yet renders take seconds of CPU and
 * printer calls can wait on the network. Work runs on a fixed number of
 * threads; its completion comes back to the loop thread through an eventfd,
 * so results are applied (store, state machine) only on the loop. Workers
 * never touch the store or the state machine.
 */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

typedef struct lab_pool_s lab_pool_t;

/* Runs on a worker thread. */
typedef void (*lab_pool_work_t)(void *userdata);

/*
 * Runs on the loop thread after work(userdata) returned (ran = true), or
 * when the pool is freed before the work started (ran = false). Frees
 * userdata.
 */
typedef void (*lab_pool_done_t)(void *userdata, bool ran);

/* A pool of threads (1..64) whose completions are dispatched on e. */
int lab_pool_new(lab_pool_t **ret, sd_event *e, unsigned threads, const char *name);

/* Queue work; done follows on the loop. 0, or -ENOMEM. */
int lab_pool_submit(lab_pool_t *p, lab_pool_work_t work, lab_pool_done_t done, void *userdata);

/* Items queued or running whose done has not run yet. */
unsigned lab_pool_pending(const lab_pool_t *p);

/* Number of threads. */
unsigned lab_pool_threads(const lab_pool_t *p);

/*
 * Stop: waits for the work that is running, then calls done for every item
 * (ran = true for what finished, false for what never started). NULL is fine.
 */
void lab_pool_free(lab_pool_t *p);
