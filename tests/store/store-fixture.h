/*
 * store-fixture.h - what the store's tests share: a fresh store in a
 * scratch directory, a job put in any state (the API only inserts a job in
 * a first state; the rest are reached by moves), a job built through the
 * public API up to "rendered", and the questions they ask of the result.
 */
#pragma once

#include <stdint.h>

#include "store.h"

typedef struct store_fixture_s {
        char *dir;
        char *db;
        lab_store_t *s;
} store_fixture_t;

/* cmocka setup: open a fresh store in a new scratch directory named after name. */
int store_fixture_open(void **state, const char *name);

/* cmocka teardown: close the store, remove the directory. */
int store_fixture_close(void **state);

/*
 * Insert job through the API in claiming (a first state), then write its
 * state job->state (and nothing else) directly with SQL: the job as if moves
 * had taken it there.
 */
void store_fixture_insert_in(lab_store_t *s, const lab_store_job_t *job);

/* Write the job's state directly with SQL (no check, no event). */
void store_fixture_put_state(lab_store_t *s, const char *id, lab_job_state_t state);

/* Insert job id (quantity copies of print-4x6) and render it for printer: state rendered. */
void store_fixture_rendered_job(lab_store_t *s, const char *id, int quantity, const char *printer);

/* Insert job id (quantity copies) rendered for printer, and queue it there: state queued. */
void store_fixture_queued_job(lab_store_t *s, const char *id, int quantity, const char *printer);

/* Send a queued copy: queued → submitting (a new attempt) → printing (handle "17"). */
void store_fixture_send_copy(lab_store_t *s, const char *id, int copy);

/* Assert the job's state. */
void store_fixture_assert_job_state(lab_store_t *s, const char *id, lab_job_state_t want);

/* How many events of kind the job has in the outbox. */
int64_t store_fixture_events_of(lab_store_t *s, const char *id, const char *kind);
