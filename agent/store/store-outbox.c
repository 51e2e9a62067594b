/*
 * store-outbox.c - the event outbox: append, peek, ack and shed.
 *
 * Why: nothing the platform must hear about may be lost across a crash or
 * applied twice. An event is committed here before anyone tries to send it;
 * the platform link peeks the oldest, sends them, and acks exactly the UUIDs
 * the platform acknowledged (docs/protocol.md, "Send events"). The one idea:
 * only two things ever delete an event. An ack deletes any class, by UUID.
 * The shed deletes telemetry only, oldest first, and in the same transaction
 * leaves a job-class lab.telemetry_shed event saying how many it dropped.
 *
 * Never: delete a job-class event other than by its acknowledged UUID; reuse
 * a seq (the table is AUTOINCREMENT).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-id128.h>

#include "macro.h"
#include "store-private.h"

#define LAB_EVENT_TELEMETRY_SHED "lab.telemetry_shed"

/* A list of events being built, freed whole on an early return. */
typedef struct event_list_s {
        lab_store_event_t *v;
        size_t n, cap;
} event_list_t;

/* Free a partly built event list (cleanup). */
static void event_list_freep(event_list_t *l)
{
        lab_store_events_free(l->v, l->n);
}

/* The events.class text of cls, or NULL for a value that is not a class. */
static const char *event_class_name(lab_event_class_t cls)
{
        switch (cls) {
        case LAB_EVENT_JOB:
                return "job";
        case LAB_EVENT_TELEMETRY:
                return "telemetry";
        }
        return NULL;
}

/* The class named by events.class text. -EBADMSG for text the schema's CHECK forbids. */
static int event_class_parse(const unsigned char *text, lab_event_class_t *ret)
{
        if (text && strcmp((const char *)text, "job") == 0)
                *ret = LAB_EVENT_JOB;
        else if (text && strcmp((const char *)text, "telemetry") == 0)
                *ret = LAB_EVENT_TELEMETRY;
        else
                return -EBADMSG;
        return 0;
}

/* Insert an event, in the caller's transaction or as its own autocommit one. */
int store_event_insert(lab_store_t *s, lab_event_class_t cls, const char *kind, const char *job_id,
                       const char *body_json, int64_t *ret_seq)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        const char *class_name = event_class_name(cls);
        char uuid[SD_ID128_UUID_STRING_MAX];
        sd_id128_t id;
        int r;

        if (!s || !kind || !*kind || !class_name)
                return -EINVAL;
        /* The CHECK constraint accepts any JSON value; an event body must be an object. */
        if (!store_is_json_object(body_json))
                return -EINVAL;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        sd_id128_to_uuid_string(id, uuid);

        r = store_stmt(s, &s->event_append,
                       "INSERT INTO events (uuid, kind, job_id, body, class) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
                       &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, uuid)) < 0 || (r = store_bind_text(stmt, 2, kind)) < 0 ||
            (r = store_bind_text(stmt, 3, job_id)) < 0 ||
            (r = store_bind_text(stmt, 4, body_json)) < 0 ||
            (r = store_bind_text(stmt, 5, class_name)) < 0)
                return r;

        r = (int)store_step_write(s, stmt);
        if (r < 0)
                return r;

        if (ret_seq)
                *ret_seq = sqlite3_last_insert_rowid(s->db);
        return 0;
}

/* Append an event to the outbox in one autocommit (durable) transaction. */
int lab_store_event_append(lab_store_t *s, lab_event_class_t cls, const char *kind,
                           const char *job_id, const char *body_json, int64_t *ret_seq)
{
        return store_event_insert(s, cls, kind, job_id, body_json, ret_seq);
}

/* Run a cached count(*) query. */
static int store_count(lab_store_t *s, sqlite3_stmt **cache, const char *sql, int64_t *ret)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = store_stmt(s, cache, sql, &stmt);
        if (r < 0)
                return r;

        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);

        *ret = sqlite3_column_int64(stmt, 0);
        return 0;
}

/* Number of events in the outbox. */
int lab_store_event_count(lab_store_t *s, int64_t *ret)
{
        if (!s || !ret)
                return -EINVAL;
        return store_count(s, &s->event_count, "SELECT count(*) FROM events", ret);
}

/* Whether the outbox holds the event with this sequence number (1) or not (0). */
int lab_store_event_exists(lab_store_t *s, int64_t seq)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s)
                return -EINVAL;

        r = store_stmt(s, &s->event_exists, "SELECT 1 FROM events WHERE seq = ?1", &stmt);
        if (r < 0)
                return r;
        r = store_bind_int64(stmt, 1, seq);
        if (r < 0)
                return r;
        return store_step_exists(s, stmt);
}

/* The columns of a peek, in its order (class, a keyword, is parsed apart). */
static const store_col_t event_cols[] = {
    STORE_COL(lab_store_event_t, seq, INT64),   STORE_COL(lab_store_event_t, uuid, TEXT),
    STORE_COL(lab_store_event_t, kind, TEXT),   STORE_COL(lab_store_event_t, cls, SKIP),
    STORE_COL(lab_store_event_t, job_id, TEXT), STORE_COL(lab_store_event_t, created_at, TEXT),
    STORE_COL(lab_store_event_t, body, TEXT),
};

/* Add the event in the current row of a peek to l. */
static int event_list_add_row(event_list_t *l, sqlite3_stmt *stmt)
{
        lab_store_event_t *e;
        int r;

        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                lab_store_event_t *v = reallocarray(l->v, cap, sizeof *v);

                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->cap = cap;
        }
        /* Counted before it is filled, so a failure below frees what it got. */
        e = &l->v[l->n++];
        *e = (lab_store_event_t){0};
        r = store_row_read(stmt, e, event_cols, ELEMENTSOF(event_cols));
        if (r < 0)
                return r;
        return event_class_parse(sqlite3_column_text(stmt, 3), &e->cls);
}

/* The oldest events, by seq, at most max of them. */
int lab_store_events_peek(lab_store_t *s, size_t max, lab_store_event_t **ret, size_t *ret_n)
{
        _cleanup_(event_list_freep) event_list_t l = {};
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r, rc;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        *ret = NULL;
        *ret_n = 0;
        if (max == 0)
                return 0;

        r = store_stmt(s, &s->events_peek,
                       "SELECT seq, uuid, kind, class, job_id, created_at, body FROM events "
                       "ORDER BY seq LIMIT ?1",
                       &stmt);
        if (r < 0)
                return r;
        r = store_bind_int64(stmt, 1,
                             (uint64_t)max > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)max);
        if (r < 0)
                return r;

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                r = event_list_add_row(&l, stmt);
                if (r < 0)
                        return r;
        }
        if (rc != SQLITE_DONE)
                return store_step_errno(s, rc);

        *ret = TAKE_PTR(l.v);
        *ret_n = l.n;
        l.n = 0;
        return 0;
}

/* Free n events returned by lab_store_events_peek(). */
void lab_store_events_free(lab_store_event_t *v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++) {
                free(v[i].uuid);
                free(v[i].kind);
                free(v[i].job_id);
                free(v[i].created_at);
                free(v[i].body);
        }
        free(v);
}

/* Delete the event with this UUID, in the caller's transaction. Returns how many (0 or 1). */
static int store_event_delete(lab_store_t *s, const char *uuid)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        r = store_stmt(s, &s->event_ack, "DELETE FROM events WHERE uuid = ?1", &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, uuid);
        if (r < 0)
                return r;

        return (int)store_step_write(s, stmt);
}

/*
 * The platform has a job's job.printed: the job is reported, the end of its
 * life here (caller's transaction; nothing happens for other events).
 */
static int store_job_reported(lab_store_t *s, const char *uuid)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        const char *job_id;
        int r, rc;

        r = store_prepare(s,
                          "SELECT job_id FROM events WHERE uuid = ?1 AND kind = 'job.printed' "
                          "AND job_id IS NOT NULL",
                          &stmt);
        if (r < 0)
                return r;
        r = store_bind_text(stmt, 1, uuid);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return store_step_errno(s, rc);
        job_id = (const char *)sqlite3_column_text(stmt, 0);
        /* Through the one door; a job printing again (a reprint) or gone stays as it is. */
        r = store_job_move(s, job_id, LAB_JOB_PRINTED, LAB_JOB_REPORTED, NULL, NULL);
        return r == -ESTALE || r == -ENOENT ? 0 : r;
}

/* Delete the acknowledged events, in one transaction. */
int lab_store_events_ack(lab_store_t *s, const char *const *uuids, size_t n, size_t *ret_deleted)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        size_t deleted = 0;
        int r;

        if (!s || (n > 0 && !uuids))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!uuids[i])
                        return -EINVAL;
        if (ret_deleted)
                *ret_deleted = 0;
        if (n == 0)
                return 0;

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = store_job_reported(s, uuids[i]);
                if (r < 0)
                        return r;
                r = store_event_delete(s, uuids[i]);
                if (r < 0)
                        return r;
                deleted += (size_t)r;
        }
        r = store_txn_commit(&txn);
        if (r < 0)
                return r;

        if (ret_deleted)
                *ret_deleted = deleted;
        return 0;
}

/* Delete the n oldest telemetry events, in the caller's transaction. Returns how many. */
static int store_events_shed_oldest(lab_store_t *s, int64_t n, int64_t *ret)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        /* The literal class matches the partial index events_telemetry, which serves it. */
        r = store_stmt(s, &s->events_shed,
                       "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                       "WHERE class = 'telemetry' ORDER BY seq LIMIT ?1)",
                       &stmt);
        if (r < 0)
                return r;
        r = store_bind_int64(stmt, 1, n);
        if (r < 0)
                return r;

        *ret = store_step_write(s, stmt);
        return *ret < 0 ? (int)*ret : 0;
}

/* Shed the oldest telemetry until the outbox, shed event included, is at or under cap. */
int lab_store_events_shed(lab_store_t *s, int64_t cap, int64_t *ret_dropped)
{
        _cleanup_(store_txn_rollbackp) lab_store_t *txn = NULL;
        int64_t total = 0, telemetry = 0, n, dropped = 0;
        char body[64];
        int r;

        if (!s || cap < 1)
                return -EINVAL;
        if (ret_dropped)
                *ret_dropped = 0;

        r = store_txn_begin(s, true, &txn);
        if (r < 0)
                return r;
        r = lab_store_event_count(s, &total);
        if (r < 0)
                return r;
        if (total <= cap)
                return store_txn_commit(&txn);
        r = store_count(s, &s->events_telemetry_count,
                        "SELECT count(*) FROM events WHERE class = 'telemetry'", &telemetry);
        if (r < 0)
                return r;

        /* total - cap + 1: what brings the count to cap with the shed event added. */
        n = telemetry < total - cap + 1 ? telemetry : total - cap + 1;
        if (n == 0)
                return store_txn_commit(&txn);

        r = store_events_shed_oldest(s, n, &dropped);
        if (r < 0)
                return r;
        if (dropped != n)
                return -EIO; /* cannot happen inside one write transaction */
        snprintf(body, sizeof body, "{\"dropped\":%" PRId64 "}", dropped);
        r = store_event_insert(s, LAB_EVENT_JOB, LAB_EVENT_TELEMETRY_SHED, NULL, body, NULL);
        if (r < 0)
                return r;
        r = store_txn_commit(&txn);
        if (r < 0)
                return r;

        if (ret_dropped)
                *ret_dropped = dropped;
        return 0;
}
