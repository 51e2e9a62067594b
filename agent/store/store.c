/*
 * store.c - open, check, migrate and use the agent's SQLite store.
 *
 * Why: all durable state lives in one SQLite file and this is the only code
 * that talks to it. The one idea: decide whether a file may be used before
 * writing a single byte to it. lab_store_open_version() runs, in order:
 *   1. sqlite3_open_v2 (the only write so far: an absent file is created);
 *   2. PRAGMA user_version: a file that is not a database fails here
 *      (store_corrupt); a version newer than this build's is refused
 *      (store_schema_newer);
 *   3. PRAGMA quick_check(1) (store_corrupt);
 *   4. only then the pragmas that write (journal_mode=WAL) and the migrations,
 *      each in its own BEGIN IMMEDIATE transaction with its user_version.
 * A refused file is closed the way it was found and stays byte-identical.
 *
 * This file also holds what the store's other files share: the statement
 * cache, binding, error mapping and transactions (store-private.h). The
 * outbox is store-outbox.c, the jobs store-jobs.c, the schema store-schema.c.
 *
 * quick_check, not integrity_check: both walk every page of every b-tree and
 * catch damaged pages, bad page links, freelist and record-format errors;
 * integrity_check additionally cross-checks every index against its table,
 * which is O(N log N) and makes start-up time grow with the outbox. A lab
 * restarts the agent after a power cut while customers wait, so start-up
 * uses the linear check; a full integrity_check belongs in a maintenance
 * command. (1) stops at the first error: we report one and refuse.
 *
 * A zero-length file is accepted as a new, empty store (SQLite's own view of
 * it): it holds no data that refusing could protect, and it is exactly what
 * a crash during the very first start leaves behind, since sqlite3_open_v2
 * creates the file before the first migration commits.
 *
 * Never: recreate, truncate or "repair" a file; format SQL with caller strings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "macro.h"
#include "store-private.h"

#define LAB_STORE_BUSY_TIMEOUT_MS 5000

LAB_DEFINE_CLEANUP(lab_store_t *, lab_store_close)

/* Free memory sqlite3 allocated (error messages of sqlite3_exec). */
static inline void sqlite3_freep(char **p)
{
        sqlite3_free(*p);
}

/* Map a SQLite result code to a negative errno (0 for success codes). */
int store_errno(sqlite3 *db, int rc)
{
        int sys = db ? sqlite3_system_errno(db) : 0;

        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
                return -EEXIST;
        default:
                break;
        }

        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
                return -EINVAL;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EPERM;
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
                return sys > 0 ? -sys : -EIO;
        default:
                return -EIO;
        }
}

/* Whether a result code means the file's content is damaged or not a database. */
static bool store_rc_is_corrupt(int rc)
{
        return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* Make a quick_check report one line: drop its "*** in database main ***" heading. */
static void store_one_line(char *s)
{
        static const char heading[] = "*** in database main ***";
        size_t skip = 0;

        if (strncmp(s, heading, sizeof heading - 1) == 0)
                skip = sizeof heading - 1;
        skip += strspn(s + skip, " \r\n");
        memmove(s, s + skip, strlen(s + skip) + 1);
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
}

/*
 * Run a statement that answers one row (a pragma) and keep the first column
 * of its first row: as text in buf and, if ret_int is not NULL, as an
 * integer. On failure buf holds sqlite's message. Returns a SQLite code.
 */
static int store_query_first(sqlite3 *db, const char *sql, int64_t *ret_int, char *buf, size_t size)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int rc;

        buf[0] = '\0';
        rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(stmt, 0);

                snprintf(buf, size, "%s", t ? (const char *)t : "");
                if (ret_int)
                        *ret_int = sqlite3_column_int64(stmt, 0);
                return SQLITE_OK;
        }
        if (rc == SQLITE_DONE)
                return SQLITE_OK;
        snprintf(buf, size, "%s", sqlite3_errmsg(db));
        return rc;
}

/* Fail with store_corrupt: what the file is, what is wrong, what to do. */
static int store_refuse_corrupt(lab_store_t *s, const char *what, lab_error_t *err)
{
        return lab_error_set(err, EBADMSG, "store_corrupt",
                             "the store %s is damaged (%s); restore it from a backup or move it "
                             "aside; labagent never recreates a damaged store. The file was not "
                             "changed.",
                             s->path, what);
}

/* Fail with store_open_failed for an unexpected SQLite error while opening. */
static int store_open_failed(lab_store_t *s, int rc, const char *step, const char *msg,
                             lab_error_t *err)
{
        return lab_error_set(err, store_errno(s->db, rc), "store_open_failed",
                             "cannot open the store %s: %s failed: %s; check that the file and "
                             "its directory are readable and writable by labagent and that no "
                             "other process holds it",
                             s->path, step, msg);
}

/* Open the connection without touching an existing file's content. */
static int store_connect(lab_store_t *s, lab_error_t *err)
{
        _cleanup_free_ char *wal = NULL;
        int rc;

        rc =
            sqlite3_open_v2(s->path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                int e = s->db ? store_errno(s->db, rc) : -ENOMEM;

                return lab_error_set(err, e, "store_open_failed",
                                     "cannot open the store %s: %s (%s); check that the state "
                                     "directory exists and is writable by labagent",
                                     s->path, strerror(-e),
                                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        }

        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, LAB_STORE_BUSY_TIMEOUT_MS);
        /*
         * Hardening: no writable_schema or raw page writes. (trusted_schema
         * stays on: SQLite 3.40 does not mark json_valid, used by a CHECK
         * constraint, as innocuous.)
         */
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

        /*
         * A -wal left by a crash holds committed transactions: until the file
         * is accepted, closing must not checkpoint them into it (that would
         * change a file we may refuse). Re-enabled once the checks pass.
         */
        if (asprintf(&wal, "%s-wal", s->path) < 0)
                return -ENOMEM;
        if (access(wal, F_OK) == 0)
                sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

        if (sqlite3_db_readonly(s->db, "main") == 1)
                return lab_error_set(err, EROFS, "store_open_failed",
                                     "cannot open the store %s for writing (read-only file or "
                                     "filesystem); make it writable by labagent",
                                     s->path);
        return 0;
}

/*
 * Refuse a database some other program made: it has schema objects or a
 * version but not labagent's application_id. Migrating it would write our
 * tables into someone else's file. An empty file (new store) passes.
 */
static int store_check_ours(lab_store_t *s, int64_t version, lab_error_t *err)
{
        char buf[LAB_ERROR_MESSAGE_MAX / 2];
        int64_t app_id = 0, objects = 0;
        int rc;

        rc = store_query_first(s->db, "PRAGMA application_id", &app_id, buf, sizeof buf);
        if (rc == SQLITE_OK)
                rc = store_query_first(s->db, "SELECT count(*) FROM sqlite_schema", &objects, buf,
                                       sizeof buf);
        if (store_rc_is_corrupt(rc))
                return store_refuse_corrupt(s, buf, err);
        if (rc != SQLITE_OK)
                return store_open_failed(s, rc, "reading the application id", buf, err);

        if ((uint32_t)app_id == LAB_STORE_APPLICATION_ID ||
            (app_id == 0 && version == 0 && objects == 0))
                return 0;
        return lab_error_set(err, EMEDIUMTYPE, "store_foreign",
                             "the file %s is an SQLite database but not a labagent store "
                             "(application_id 0x%08" PRIx32 ", schema %lld, %lld schema objects); "
                             "labagent will not change it. Move it aside, or point "
                             "storage.state_dir at a directory of labagent's own. The file was "
                             "not changed.",
                             s->path, (uint32_t)app_id, (long long)version, (long long)objects);
}

/* Read user_version and the quick check, refusing a damaged or newer file. Writes nothing. */
static int store_check(lab_store_t *s, lab_error_t *err)
{
        char buf[LAB_ERROR_MESSAGE_MAX / 2];
        int64_t version = 0;
        int rc, r;

        rc = store_query_first(s->db, "PRAGMA user_version", &version, buf, sizeof buf);
        if (store_rc_is_corrupt(rc))
                return store_refuse_corrupt(s, buf, err);
        if (rc != SQLITE_OK)
                return store_open_failed(s, rc, "reading the schema version", buf, err);

        if (version > lab_store_schema_latest())
                return lab_error_set(err, EPROTONOSUPPORT, "store_schema_newer",
                                     "the store %s was written by a newer labagent (schema %lld; "
                                     "this build knows up to %d). Install that version or "
                                     "restore a backup; the file was not changed.",
                                     s->path, (long long)version, lab_store_schema_latest());
        if (version < 0) {
                snprintf(buf, sizeof buf, "schema version %lld, which no labagent writes",
                         (long long)version);
                return store_refuse_corrupt(s, buf, err);
        }

        r = store_check_ours(s, version, err);
        if (r < 0)
                return r;

        rc = store_query_first(s->db, "PRAGMA quick_check(1)", NULL, buf, sizeof buf);
        store_one_line(buf);
        if (store_rc_is_corrupt(rc))
                return store_refuse_corrupt(s, buf, err);
        if (rc != SQLITE_OK)
                return store_open_failed(s, rc, "the integrity check", buf, err);
        if (strcmp(buf, "ok") != 0)
                return store_refuse_corrupt(s, buf, err);

        s->version = (int)version;
        return 0;
}

/* Switch to WAL and set the per-connection pragmas. The first step that may write. */
static int store_set_pragmas(lab_store_t *s, lab_error_t *err)
{
        char buf[256];
        int rc;

        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);

        rc = store_query_first(s->db, "PRAGMA journal_mode = WAL", NULL, buf, sizeof buf);
        if (rc != SQLITE_OK)
                return store_open_failed(s, rc, "switching to write-ahead logging", buf, err);
        if (strcasecmp(buf, "wal") != 0)
                return lab_error_set(err, EOPNOTSUPP, "store_not_wal",
                                     "the store %s cannot use write-ahead logging (journal mode "
                                     "stayed '%s'); labagent needs WAL for crash safety. Keep the "
                                     "state directory on a local filesystem that supports "
                                     "shared-memory files (not NFS or a network share).",
                                     s->path, buf);

        rc = store_query_first(s->db, "PRAGMA synchronous = FULL", NULL, buf, sizeof buf);
        if (rc == SQLITE_OK)
                rc = store_query_first(s->db, "PRAGMA foreign_keys = ON", NULL, buf, sizeof buf);
        if (rc != SQLITE_OK)
                return store_open_failed(s, rc, "setting pragmas", buf, err);
        return 0;
}

/* Apply migration version in one transaction with its user_version, or roll it back. */
static int store_migrate_one(lab_store_t *s, int version, lab_error_t *err)
{
        _cleanup_(sqlite3_freep) char *msg = NULL;
        char set_version[64];
        int rc;

        snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", version);

        rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, lab_store_migration_sql(version), NULL, NULL, &msg);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, set_version, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                int e = store_errno(s->db, rc);

                if (!sqlite3_get_autocommit(s->db))
                        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return lab_error_set(err, e, "store_migration_failed",
                                     "migrating the store %s to schema %d failed: %s; the "
                                     "migration was rolled back and the file is still at schema "
                                     "%d. Report this as a labagent bug, with this message; "
                                     "the previous labagent version can still use the file.",
                                     s->path, version, msg ? msg : sqlite3_errstr(rc), s->version);
        }

        s->version = version;
        return 0;
}

/* Migrate forward, one version at a time, up to target. */
static int store_migrate(lab_store_t *s, int target, lab_error_t *err)
{
        for (int v = s->version + 1; v <= target; v++) {
                int r = store_migrate_one(s, v, err);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* Open, check and migrate the store up to target_version. */
int lab_store_open_version(lab_store_t **ret, const char *path, int target_version,
                           lab_error_t *err)
{
        _cleanup_(lab_store_closep) lab_store_t *s = NULL;
        int r;

        lab_error_clear(err);
        if (!ret || !path || !*path)
                return lab_error_set(err, EINVAL, "store_open_failed", "no store path given");
        *ret = NULL;
        if (target_version < 0 || target_version > lab_store_schema_latest())
                return lab_error_set(err, EINVAL, "store_open_failed",
                                     "cannot open the store %s at schema %d: this build knows "
                                     "schemas 0 to %d",
                                     path, target_version, lab_store_schema_latest());

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;

        r = store_connect(s, err);
        if (r < 0)
                return r;
        r = store_check(s, err);
        if (r < 0)
                return r;
        r = store_set_pragmas(s, err);
        if (r < 0)
                return r;
        r = store_migrate(s, target_version, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

/* Open, check and migrate the store to the latest schema. */
int lab_store_open(lab_store_t **ret, const char *path, lab_error_t *err)
{
        return lab_store_open_version(ret, path, lab_store_schema_latest(), err);
}

/* Finalize the cached statements and close the connection. */
void lab_store_close(lab_store_t *s)
{
        if (!s)
                return;

        sqlite3_finalize(s->event_append);
        sqlite3_finalize(s->event_count);
        sqlite3_finalize(s->event_exists);
        sqlite3_finalize(s->events_peek);
        sqlite3_finalize(s->event_ack);
        sqlite3_finalize(s->events_telemetry_count);
        sqlite3_finalize(s->events_shed);
        sqlite3_finalize(s->audit_append);
        sqlite3_finalize(s->job_insert);
        sqlite3_finalize(s->job_get);
        sqlite3_finalize(s->job_exists);
        sqlite3_finalize(s->job_transition);
        sqlite3_finalize(s->job_set_download);
        sqlite3_finalize(s->jobs_all);
        sqlite3_finalize(s->jobs_in_state);
        sqlite3_finalize(s->render_insert);
        sqlite3_finalize(s->printer_backlog);

        if (s->db && sqlite3_close(s->db) == SQLITE_BUSY) {
                /* A statement escaped the cache: finalize what is left, then close for real. */
                sqlite3_stmt *stmt;

                while ((stmt = sqlite3_next_stmt(s->db, NULL)))
                        sqlite3_finalize(stmt);
                sqlite3_close_v2(s->db);
        }

        free(s->path);
        free(s);
}

/* The schema version of the open database. */
int lab_store_schema_version(lab_store_t *s)
{
        if (!s)
                return -EINVAL;
        return s->version;
}

/* The store's connection (tests of this module only). */
sqlite3 *lab_store_sqlite(lab_store_t *s)
{
        return s ? s->db : NULL;
}

/* Map the failed result code rc of a step to a negative errno (never 0). */
int store_step_errno(lab_store_t *s, int rc)
{
        return store_errno(s->db, rc) ?: -EIO;
}

/* Step a bound "SELECT 1 ..." statement: 1 when it has a row, 0 when not, or a negative errno. */
int store_step_exists(lab_store_t *s, sqlite3_stmt *stmt)
{
        int rc = sqlite3_step(stmt);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_step_errno(s, rc);
}

/* Run a bound write statement to completion; returns the rows it changed, or a negative errno. */
int64_t store_step_write(lab_store_t *s, sqlite3_stmt *stmt)
{
        int rc = sqlite3_step(stmt);

        if (rc != SQLITE_DONE)
                return store_step_errno(s, rc);
        return sqlite3_changes64(s->db);
}

/* Borrow the cached statement *cache, preparing it from sql on first use. */
int store_stmt(lab_store_t *s, sqlite3_stmt **cache, const char *sql, sqlite3_stmt **ret)
{
        if (!*cache) {
                int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, cache, NULL);
                if (rc != SQLITE_OK)
                        return store_errno(s->db, rc) ?: -EIO;
        }
        *ret = *cache;
        return 0;
}

/* Prepare a one-off statement. */
int store_prepare(lab_store_t *s, const char *sql, sqlite3_stmt **ret)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

        return rc == SQLITE_OK ? 0 : store_errno(s->db, rc) ?: -EIO;
}

int64_t store_write_text(lab_store_t *s, const char *sql, const char *a1, const char *a2)
{
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *stmt = NULL;
        int r = store_prepare(s, sql, &stmt);

        if (r >= 0)
                r = store_bind_text(stmt, 1, a1);
        if (r >= 0 && a2)
                r = store_bind_text(stmt, 2, a2);
        return r < 0 ? r : store_step_write(s, stmt);
}

/* Bind text (NULL binds SQL NULL); the caller keeps the string alive until the step. */
int store_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
        int rc = text ? sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC)
                      : sqlite3_bind_null(stmt, index);

        return rc == SQLITE_OK ? 0 : store_errno(sqlite3_db_handle(stmt), rc) ?: -EIO;
}

/* Bind a 64-bit integer. */
int store_bind_int64(sqlite3_stmt *stmt, int index, int64_t v)
{
        int rc = sqlite3_bind_int64(stmt, index, v);

        return rc == SQLITE_OK ? 0 : store_errno(sqlite3_db_handle(stmt), rc) ?: -EIO;
}

/* Copy text column i into a new *ret (NULL for SQL NULL). */
int store_column_strdup(sqlite3_stmt *stmt, int i, char **ret)
{
        const unsigned char *t = sqlite3_column_text(stmt, i);

        if (!t) {
                /* NULL is either SQL NULL or out of memory converting the value. */
                *ret = NULL;
                return sqlite3_column_type(stmt, i) == SQLITE_NULL ? 0 : -ENOMEM;
        }
        *ret = strdup((const char *)t);
        return *ret ? 0 : -ENOMEM;
}

int store_rows_read(lab_store_t *s, sqlite3_stmt *stmt, size_t elem_size, const store_col_t *cols,
                    size_t n_cols, store_row_fn row, void **ret, size_t *ret_n)
{
        char *v = NULL;
        size_t n = 0;
        int r = 0, rc;

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                char *grown = reallocarray(v, n + 1, elem_size), *obj;

                if (!grown) {
                        r = -ENOMEM;
                        break;
                }
                v = grown;
                obj = v + n++ * elem_size;
                memset(obj, 0, elem_size);
                r = store_row_read(stmt, obj, cols, n_cols);
                if (r < 0)
                        break;
                if (row)
                        row(stmt, obj);
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = store_step_errno(s, rc);
        *ret = v;
        *ret_n = n;
        return r;
}

int store_row_read(sqlite3_stmt *stmt, void *obj, const store_col_t *cols, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                void *at = (char *)obj + cols[i].offset;
                int r;

                switch (cols[i].type) {
                case STORE_COL_SKIP:
                        break;
                case STORE_COL_TEXT:
                        r = store_column_strdup(stmt, (int)i, at);
                        if (r < 0)
                                return r;
                        break;
                case STORE_COL_INT:
                        *(int *)at = sqlite3_column_int(stmt, (int)i);
                        break;
                case STORE_COL_INT64:
                        *(int64_t *)at = sqlite3_column_int64(stmt, (int)i);
                        break;
                case STORE_COL_JOB_STATE:
                        *(lab_job_state_t *)at = lab_job_state_from_string(
                            (const char *)sqlite3_column_text(stmt, (int)i));
                        break;
                case STORE_COL_COPY_STATE:
                        *(lab_copy_state_t *)at = lab_copy_state_from_string(
                            (const char *)sqlite3_column_text(stmt, (int)i));
                        break;
                }
        }
        return 0;
}

/*
 * Whether text is, at first glance, a JSON object. The schema's CHECK
 * (json_valid) accepts any JSON value and catches malformed text; this
 * catches well-formed non-objects ([1], 42, "x") before they are stored.
 */
bool store_is_json_object(const char *text)
{
        return text && text[strspn(text, " \t\r\n")] == '{';
}

/* Start a transaction: BEGIN IMMEDIATE (write) or BEGIN (read snapshot); *txn = s. */
int store_txn_begin(lab_store_t *s, bool write, lab_store_t **txn)
{
        int rc;

        /* A refusal is the last call's: a new write starts without one. */
        if (write)
                s->refused = false;
        rc = sqlite3_exec(s->db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_step_errno(s, rc);
        *txn = s;
        return 0;
}

/* Commit the transaction *txn and clear it; on failure it stays for the rollback guard. */
int store_txn_commit(lab_store_t **txn)
{
        int rc = sqlite3_exec((*txn)->db, "COMMIT", NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return store_step_errno(*txn, rc);
        *txn = NULL;
        return 0;
}

/* Roll back the transaction *txn if it is still open (cleanup guard). */
void store_txn_rollbackp(lab_store_t **txn)
{
        /* SQLite may already have rolled back by itself (full disk, I/O error, out of memory). */
        if (*txn && !sqlite3_get_autocommit((*txn)->db))
                sqlite3_exec((*txn)->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Record an action in the audit log. */
int lab_store_audit_append(lab_store_t *s, const char *actor, const char *action,
                           const char *detail)
{
        _cleanup_(store_stmt_resetp) sqlite3_stmt *stmt = NULL;
        int r;

        if (!s || !actor || !*actor || !action || !*action)
                return -EINVAL;

        r = store_stmt(s, &s->audit_append,
                       "INSERT INTO audit (actor, action, detail) VALUES (?1, ?2, ?3)", &stmt);
        if (r < 0)
                return r;
        if ((r = store_bind_text(stmt, 1, actor)) < 0 ||
            (r = store_bind_text(stmt, 2, action)) < 0 ||
            (r = store_bind_text(stmt, 3, detail)) < 0)
                return r;

        r = (int)store_step_write(s, stmt);
        return r < 0 ? r : 0;
}
