/*
 * store.h - the agent's durable state: one SQLite file, owned by this module.
 *
 * Why: a lab must never lose a job nor print one twice, across crashes and
 * power cuts. All durable state lives in one SQLite database (WAL,
 * synchronous=FULL, foreign keys on). This module is the only one that
 * includes sqlite3.h or writes SQL; everyone else calls these functions.
 *
 * The schema is versioned with PRAGMA user_version and only ever migrated
 * forward. A database that is corrupt, or that a newer labagent wrote, is
 * refused with a clear error and left byte-for-byte untouched: it is never
 * recreated or truncated.
 */
#pragma once

#include <stdint.h>

#include "error.h"

typedef struct lab_store_s lab_store_t;

/* The schema version this build writes. */
int lab_store_schema_latest(void);

/*
 * Open (creating if absent) the store at path and migrate it to the latest
 * schema. Error keywords: store_open_failed, store_corrupt,
 * store_schema_newer, store_migration_failed, store_not_wal.
 */
int lab_store_open(lab_store_t **ret, /* O - store */
                   const char *path,  /* I - database file */
                   lab_error_t *err); /* O - why it was refused */

/* As lab_store_open, but migrate only up to target_version (tests, tools). */
int lab_store_open_version(lab_store_t **ret, const char *path, int target_version,
                           lab_error_t *err);

/* Close the store (NULL is fine). */
void lab_store_close(lab_store_t *s);

/* The schema version of the open database. */
int lab_store_schema_version(lab_store_t *s);

/*
 * Append an event to the outbox (the platform link delivers it later).
 * kind is a stable event name, job_id may be NULL, body is a JSON object text.
 * A UUID is generated. *ret_seq (may be NULL) receives the per-lab sequence.
 */
int lab_store_event_append(lab_store_t *s, const char *kind, const char *job_id,
                           const char *body_json, int64_t *ret_seq);

/* Number of events in the outbox. */
int lab_store_event_count(lab_store_t *s, int64_t *ret);

/* Whether the outbox holds the event with this sequence number (1) or not (0). */
int lab_store_event_exists(lab_store_t *s, int64_t seq);

/* Record an action in the audit log: who (e.g. "daemon", "labctl:uid=1000"), what, detail. */
int lab_store_audit_append(lab_store_t *s, const char *actor, const char *action,
                           const char *detail);
