/*
 * test-store.c - the store's promises, checked on real files: fresh open,
 * forward migration, refusal of damaged and newer files without touching a
 * byte, the outbox (classes, peek, ack, shed) and audit API, the jobs and
 * their transactions with the outbox (a job's first state and its moves
 * checked against the job state table; every pair is in
 * test-store-moves.c), and no committed event lost to SIGKILL.
 *
 * Why: the store is what keeps a lab from losing a job or printing it twice,
 * and each promise in store.h is only worth what a test on a real SQLite file
 * shows. A second, raw sqlite3 connection looks at what the store wrote.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

#define CRASH_ROUNDS      5
#define CRASH_MIN_LINES   50
#define CRASH_MAX_LINES   2000
#define CRASH_DEADLINE_MS 120000

typedef struct fixture_s {
        char *dir; /* private scratch directory */
        char *db;  /* dir/labagent.db (not created) */
} fixture_t;

/* Give each test a fresh scratch directory. */
static int setup(void **state)
{
        fixture_t *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        f->dir = lab_test_mkdtemp("store");
        f->db = lab_test_path(f->dir, "labagent.db");
        *state = f;
        return 0;
}

/* Remove the scratch directory. */
static int teardown(void **state)
{
        fixture_t *f = *state;

        lab_test_rm_rf(f->dir);
        free(f->db);
        free(f->dir);
        free(f);
        return 0;
}

/* Whether db's sidecar file (suffix "-wal", "-shm", "-journal") exists. */
static bool sidecar_exists(const char *db, const char *suffix)
{
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s%s", db, suffix) >= 0);
        return access(p, F_OK) == 0;
}

/* Read db's sidecar file; NULL if absent. */
static char *sidecar_read(const char *db, const char *suffix, size_t *len)
{
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s%s", db, suffix) >= 0);
        return lab_test_read_file(p, len);
}

/* A second, raw connection to path (no creation). */
static sqlite3 *raw_open(const char *path)
{
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        return db;
}

/* Run SQL on a raw connection; fail the test on error. */
static void raw_exec(sqlite3 *db, const char *sql)
{
        char *msg = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
                fail_msg("%s: %s", sql, msg);
}

/* First column of the first row of a query, as an integer (-1 when no row). */
static int64_t raw_int(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *stmt = NULL;
        int64_t v = -1;

        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(stmt) == SQLITE_ROW)
                v = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        return v;
}

/* First column of the first row of a query, as malloc'd text (NULL for SQL NULL or no row). */
static char *raw_text(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *stmt = NULL;
        char *v = NULL;

        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
                v = strdup((const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
        return v;
}

/* Open path with the store API, failing the test with the error if refused. */
static lab_store_t *store_open_ok(const char *path, int version)
{
        lab_error_t err = {};
        lab_store_t *s = NULL;
        int r = lab_store_open_version(&s, path, version, &err);

        if (r < 0)
                fail_msg("open %s: %s: %s: %s", path, strerror(-r), err.keyword, err.message);
        assert_non_null(s);
        return s;
}

/* Append a small event and return its seq. */
static int64_t append_one(lab_store_t *s, const char *job, int n)
{
        char body[64];
        int64_t seq = 0;

        snprintf(body, sizeof body, "{\"n\":%d}", n);
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, "test.event", job, body, &seq),
                         0);
        assert_true(seq > 0);
        return seq;
}

/*
 * Open must refuse db with keyword and leave it byte-identical, with no new
 * sidecar files. With keep_wal, a -wal that was there must be left as is.
 */
static void assert_refused_unchanged(const char *db, const char *keyword, bool keep_wal,
                                     lab_error_t *ret_err)
{
        _cleanup_free_ char *before = NULL, *after = NULL, *wal_before = NULL, *wal_after = NULL;
        size_t before_len = 0, after_len = 0, wal_before_len = 0, wal_after_len = 0;
        lab_store_t *s = (lab_store_t *)&before; /* must be reset to NULL */
        lab_error_t err = {};
        struct stat st;
        int r;

        before = lab_test_read_file(db, &before_len);
        assert_non_null(before);
        wal_before = sidecar_read(db, "-wal", &wal_before_len);
        assert_true(keep_wal == (wal_before != NULL));

        r = lab_store_open(&s, db, &err);
        assert_true(r < 0);
        assert_null(s);
        assert_string_equal(err.keyword, keyword);
        assert_non_null(strstr(err.message, db));
        print_message("refused as expected: %s: %s\n", err.keyword, err.message);

        after = lab_test_read_file(db, &after_len);
        assert_non_null(after);
        assert_int_equal(stat(db, &st), 0);
        assert_int_equal((size_t)st.st_size, before_len);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        assert_false(sidecar_exists(db, "-journal"));
        if (keep_wal) {
                wal_after = sidecar_read(db, "-wal", &wal_after_len);
                assert_non_null(wal_after);
                assert_int_equal(wal_after_len, wal_before_len);
                assert_memory_equal(wal_after, wal_before, wal_before_len);
        } else {
                assert_false(sidecar_exists(db, "-wal"));
                assert_false(sidecar_exists(db, "-shm"));
        }
        if (ret_err)
                *ret_err = err;
}

/* A fresh open creates the file at the latest schema, in WAL, with the pragmas set. */
static void test_fresh_open(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s), *raw;
        _cleanup_free_ char *mode = NULL, *created = NULL;

        assert_int_equal(lab_store_schema_latest(), 9);
        assert_int_equal(lab_store_schema_version(s), 9);
        assert_true(sidecar_exists(f->db, "-wal"));

        /* Per-connection settings, seen on the store's own connection. */
        assert_int_equal(raw_int(own, "PRAGMA synchronous"), 2); /* FULL */
        assert_int_equal(raw_int(own, "PRAGMA foreign_keys"), 1);
        assert_int_equal(raw_int(own, "PRAGMA busy_timeout"), 5000);

        /* Persistent settings, seen from a second connection. */
        raw = raw_open(f->db);
        mode = raw_text(raw, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 9);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM events"), 0);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM audit"), 0);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM jobs"), 0);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                      "AND name IN ('events_telemetry', 'jobs_state')"),
                         2);
        created = raw_text(raw, "SELECT value FROM meta WHERE key = 'created_at'");
        assert_non_null(created);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                      "AND name = 'events_job_id'"),
                         1);
        sqlite3_close(raw);

        lab_store_close(s);
        /* A clean close checkpoints and removes the WAL. */
        assert_false(sidecar_exists(f->db, "-wal"));
        assert_false(sidecar_exists(f->db, "-shm"));
        lab_store_close(NULL);
}

/* Appended events get increasing seqs, random v4 UUIDs and timestamps; columns as given. */
static void test_event_append(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        _cleanup_free_ char *uuid = NULL, *job = NULL, *body = NULL, *kind = NULL;
        int64_t count = -1;

        assert_int_equal(append_one(s, "job-1", 1), 1);
        assert_int_equal(append_one(s, NULL, 2), 2);
        assert_int_equal(append_one(s, "job-1", 3), 3);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 3);
        assert_int_equal(lab_store_event_exists(s, 2), 1);
        assert_int_equal(lab_store_event_exists(s, 4), 0);
        assert_int_equal(lab_store_event_exists(s, -1), 0);

        uuid = raw_text(own, "SELECT uuid FROM events WHERE seq = 1");
        assert_non_null(uuid);
        assert_int_equal(strlen(uuid), 36);
        assert_int_equal(strspn(uuid, "0123456789abcdef-"), 36);
        assert_true(uuid[8] == '-' && uuid[13] == '-' && uuid[18] == '-' && uuid[23] == '-');
        assert_int_equal(uuid[14], '4');
        assert_int_equal(raw_int(own, "SELECT count(DISTINCT uuid) FROM events"), 3);

        kind = raw_text(own, "SELECT kind FROM events WHERE seq = 1");
        assert_string_equal(kind, "test.event");
        body = raw_text(own, "SELECT body FROM events WHERE seq = 3");
        assert_string_equal(body, "{\"n\":3}");
        job = raw_text(own, "SELECT job_id FROM events WHERE seq = 2");
        assert_null(job);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events WHERE created_at GLOB "
                                      "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:"
                                      "[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'"),
                         3);

        /* A NULL seq pointer is fine. */
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, "test.event", NULL, "{}", NULL),
                         0);
        lab_store_close(s);
}

/* A v1 file with data is migrated to the latest on open, keeping its events. */
static void test_migration_v1_to_latest(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s;
        sqlite3 *raw;
        int64_t seq, count = -1;

        /* Written the way schema 1 was: the API of this build writes the class column. */
        s = store_open_ok(f->db, 1);
        assert_int_equal(lab_store_schema_version(s), 1);
        raw_exec(lab_store_sqlite(s), "INSERT INTO events (uuid, kind, job_id, body) "
                                      "VALUES ('u-1', 'test.event', 'job-a', '{\"n\":1}')");
        seq = sqlite3_last_insert_rowid(lab_store_sqlite(s));
        lab_store_close(s);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 1);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'audit'"),
                         0);
        sqlite3_close(raw);

        s = store_open_ok(f->db, lab_store_schema_latest());
        assert_int_equal(lab_store_schema_version(s), 9);
        assert_int_equal(lab_store_event_exists(s, seq), 1);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 1);
        assert_int_equal(lab_store_audit_append(s, "daemon", "migrated", "v1 to v2"), 0);
        assert_int_equal(append_one(s, "job-a", 2), seq + 1);
        lab_store_close(s);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 9);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM audit"), 1);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM events WHERE class = 'job'"), 2);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                      "AND name = 'events_job_id'"),
                         1);
        sqlite3_close(raw);
}

/* Reopening a file at the latest schema changes nothing, not even a byte. */
static void test_reopen_latest_is_noop(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *before = NULL, *after = NULL;
        size_t before_len = 0, after_len = 0;
        lab_store_t *s;
        int64_t count = -1;

        s = store_open_ok(f->db, lab_store_schema_latest());
        append_one(s, NULL, 1);
        assert_int_equal(lab_store_audit_append(s, "daemon", "start", NULL), 0);
        lab_store_close(s);
        before = lab_test_read_file(f->db, &before_len);

        s = store_open_ok(f->db, lab_store_schema_latest());
        assert_int_equal(lab_store_schema_version(s), 9);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 1);
        lab_store_close(s);

        /* Asking for an older target never migrates backwards. */
        s = store_open_ok(f->db, 1);
        assert_int_equal(lab_store_schema_version(s), 9);
        lab_store_close(s);

        after = lab_test_read_file(f->db, &after_len);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        assert_false(sidecar_exists(f->db, "-wal"));
}

/* A migration that fails is rolled back whole; the file stays at the old version. */
static void test_migration_failure_rolls_back(void **state)
{
        fixture_t *f = *state;
        lab_error_t err = {};
        lab_store_t *s;
        sqlite3 *raw;

        s = store_open_ok(f->db, 1);
        lab_store_close(s);

        /* Someone created a table migration 2 also creates. */
        raw = raw_open(f->db);
        raw_exec(raw, "CREATE TABLE audit (x)");
        sqlite3_close(raw);

        s = (lab_store_t *)&err;
        assert_true(lab_store_open(&s, f->db, &err) < 0);
        assert_null(s);
        assert_string_equal(err.keyword, "store_migration_failed");
        assert_non_null(strstr(err.message, "to schema 2"));
        assert_non_null(strstr(err.message, "already exists"));
        assert_non_null(strstr(err.message, "still at schema 1"));
        print_message("refused as expected: %s: %s\n", err.keyword, err.message);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 1);
        assert_int_equal(
            raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'events_job_id'"), 0);
        sqlite3_close(raw);
}

/* Create a database at db with user_version 999; mode "delete", "wal", or "wal-dirty". */
static void make_newer_db(const char *db, const char *mode)
{
        sqlite3 *raw = NULL;

        assert_int_equal(
            sqlite3_open_v2(db, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        if (strcmp(mode, "delete") != 0)
                raw_exec(raw, "PRAGMA journal_mode = WAL");
        /* A newer labagent's file carries labagent's application_id. */
        raw_exec(raw, "PRAGMA application_id = " LAB_STORE_APPLICATION_ID_SQL);
        raw_exec(raw, "CREATE TABLE future (x); INSERT INTO future VALUES (1)");
        if (strcmp(mode, "wal-dirty") == 0) {
                /* Checkpoint the table, then leave the version change only in the -wal. */
                raw_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)");
                sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        }
        raw_exec(raw, "PRAGMA user_version = 999");
        assert_int_equal(sqlite3_close(raw), SQLITE_OK);
}

/* A file a newer labagent wrote is refused, untouched, with the versions named. */
static void test_newer_refused(void **state)
{
        fixture_t *f = *state;
        lab_error_t err = {};

        make_newer_db(f->db, "delete");
        assert_false(sidecar_exists(f->db, "-wal"));
        assert_refused_unchanged(f->db, "store_schema_newer", false, &err);
        assert_non_null(strstr(err.message, "schema 999"));
        assert_non_null(strstr(err.message, "knows up to 9"));
        assert_non_null(strstr(err.message, "the file was not changed"));
}

/* Same for a WAL-mode file, closed cleanly (what a newer labagent leaves). */
static void test_newer_refused_wal(void **state)
{
        fixture_t *f = *state;

        make_newer_db(f->db, "wal");
        assert_false(sidecar_exists(f->db, "-wal"));
        assert_refused_unchanged(f->db, "store_schema_newer", false, NULL);
}

/* A newer file whose last commits are still in its -wal: both are left exactly as found. */
static void test_newer_refused_dirty_wal(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *head = NULL;
        size_t len = 0;
        sqlite3 *raw;

        make_newer_db(f->db, "wal-dirty");
        assert_true(sidecar_exists(f->db, "-wal"));
        /* The main file itself still says user_version 0 (header offset 60). */
        head = lab_test_read_file(f->db, &len);
        assert_true(len >= 100);
        assert_true(head[60] == 0 && head[61] == 0 && head[62] == 0 && head[63] == 0);

        assert_refused_unchanged(f->db, "store_schema_newer", true, NULL);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 999);
        sqlite3_close(raw);
}

/* Another program's SQLite file (tables, no labagent application_id) is refused, untouched. */
static void test_foreign_refused(void **state)
{
        fixture_t *f = *state;
        lab_error_t err = {};
        sqlite3 *raw = NULL;

        assert_int_equal(
            sqlite3_open_v2(f->db, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        raw_exec(raw, "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x')");
        assert_int_equal(sqlite3_close(raw), SQLITE_OK);

        assert_refused_unchanged(f->db, "store_foreign", false, &err);
        assert_non_null(strstr(err.message, "not a labagent store (application_id 0x00000000, "
                                            "schema 0, 1 schema objects)"));

        /* Same with another application's id and a version of its own. */
        assert_int_equal(unlink(f->db), 0);
        assert_int_equal(
            sqlite3_open_v2(f->db, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        raw_exec(raw, "PRAGMA application_id = 42; PRAGMA user_version = 1; CREATE TABLE t (x)");
        assert_int_equal(sqlite3_close(raw), SQLITE_OK);
        assert_refused_unchanged(f->db, "store_foreign", false, &err);
        assert_non_null(strstr(err.message, "application_id 0x0000002a, schema 1"));
}

/* A file of random bytes, or a short text file, is not a database: refused, untouched. */
static void test_corrupt_garbage(void **state)
{
        fixture_t *f = *state;
        uint32_t x = 2463534242u;
        char buf[65536];

        for (size_t i = 0; i < sizeof buf; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (char)(x & 0xff);
        }
        lab_test_write_file(f->db, buf, sizeof buf);
        assert_refused_unchanged(f->db, "store_corrupt", false, NULL);

        lab_test_write_string(f->db, "this is not a database\n");
        assert_refused_unchanged(f->db, "store_corrupt", false, NULL);
}

/* Fill a real store with events, close it, and return its page size. */
static int64_t make_big_store(const char *db)
{
        lab_store_t *s = store_open_ok(db, lab_store_schema_latest());
        int64_t page_size;
        char body[256];

        assert_int_equal(sqlite3_exec(lab_store_sqlite(s), "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        for (int i = 0; i < 3000; i++) {
                snprintf(body, sizeof body,
                         "{\"n\":%d,\"pad\":\"0123456789abcdef0123456789abcdef0123456789ab"
                         "cdef0123456789abcdef\"}",
                         i);
                assert_int_equal(
                    lab_store_event_append(s, LAB_EVENT_JOB, "test.bulk", "job-x", body, NULL), 0);
        }
        assert_int_equal(sqlite3_exec(lab_store_sqlite(s), "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        page_size = raw_int(lab_store_sqlite(s), "PRAGMA page_size");
        lab_store_close(s);
        assert_false(sidecar_exists(db, "-wal"));
        return page_size;
}

/* Overwrite n_pages whole pages from page number first (1-based) with 0x55 bytes. */
static void smash_pages(const char *db, int64_t page_size, int64_t first, int64_t n_pages)
{
        _cleanup_close_ int fd = open(db, O_WRONLY | O_CLOEXEC);
        size_t len = (size_t)(page_size * n_pages);
        _cleanup_free_ char *junk = malloc(len);

        assert_true(fd >= 0);
        assert_non_null(junk);
        memset(junk, 0x55, len);
        assert_int_equal(pwrite(fd, junk, len, (off_t)((first - 1) * page_size)), (ssize_t)len);
}

/* A real store with interior pages overwritten is refused, untouched. */
static void test_corrupt_pages(void **state)
{
        fixture_t *f = *state;
        int64_t page_size = make_big_store(f->db);
        struct stat st;
        lab_error_t err = {};

        assert_int_equal(stat(f->db, &st), 0);
        assert_true(st.st_size / page_size > 50);

        /* Pages 3..6: the first b-tree root pages after meta. */
        smash_pages(f->db, page_size, 3, 4);
        assert_refused_unchanged(f->db, "store_corrupt", false, &err);
        assert_non_null(strstr(err.message, "never recreates"));
}

/* A single leaf page in the middle of the events table overwritten: also refused. */
static void test_corrupt_leaf_page(void **state)
{
        fixture_t *f = *state;
        int64_t page_size = make_big_store(f->db);
        struct stat st;

        assert_int_equal(stat(f->db, &st), 0);
        smash_pages(f->db, page_size, st.st_size / page_size / 2, 1);
        assert_refused_unchanged(f->db, "store_corrupt", false, NULL);
}

/* A zero-length file is a new, empty database (SQLite's view): it is initialised. */
static void test_zero_length_is_new(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s;
        struct stat st;

        lab_test_write_file(f->db, "", 0);
        s = store_open_ok(f->db, lab_store_schema_latest());
        assert_int_equal(lab_store_schema_version(s), 9);
        assert_int_equal(append_one(s, NULL, 1), 1);
        lab_store_close(s);
        assert_int_equal(stat(f->db, &st), 0);
        assert_true(st.st_size > 0);
}

/* Audit rows are recorded with a timestamp; actor and action are required. */
static void test_audit_append(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        _cleanup_free_ char *actor = NULL, *detail = NULL;

        assert_int_equal(lab_store_audit_append(s, "labctl:uid=1000", "printer.pause", "ds620"), 0);
        assert_int_equal(lab_store_audit_append(s, "daemon", "start", NULL), 0);
        assert_int_equal(lab_store_audit_append(s, NULL, "start", NULL), -EINVAL);
        assert_int_equal(lab_store_audit_append(s, "daemon", "", NULL), -EINVAL);

        assert_int_equal(raw_int(own, "SELECT count(*) FROM audit"), 2);
        actor = raw_text(own, "SELECT actor FROM audit WHERE id = 1");
        assert_string_equal(actor, "labctl:uid=1000");
        detail = raw_text(own, "SELECT detail FROM audit WHERE id = 2");
        assert_null(detail);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM audit WHERE at LIKE "
                                      "'____-__-__T__:__:__.___Z'"),
                         2);
        lab_store_close(s);
}

/* An event body that is not a JSON object is refused with -EINVAL and nothing is stored. */
static void test_bad_json_refused(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        static const char *const bad[] = {
            "{not json", "{\"a\":1", "", "   ", "[1,2]", "42", "{\"a\":1} trailing",
        };
        int64_t seq = 77, count = -1;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(
                    lab_store_event_append(s, LAB_EVENT_JOB, "test.bad", "job-1", bad[i], &seq),
                    -EINVAL);
        assert_int_equal(seq, 77);
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, NULL, NULL, "{}", NULL), -EINVAL);
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, "", NULL, "{}", NULL), -EINVAL);
        assert_int_equal(lab_store_event_append(s, LAB_EVENT_JOB, "test.bad", NULL, NULL, NULL),
                         -EINVAL);
        /* A class that is not one of the enum's. */
        assert_int_equal(
            lab_store_event_append(s, (lab_event_class_t)2, "test.bad", NULL, "{}", NULL), -EINVAL);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 0);

        /* The cached statement was reset: the next good append works and no seq was used. */
        assert_int_equal(
            lab_store_event_append(s, LAB_EVENT_JOB, "test.good", NULL, " {\"ok\":true}", &seq), 0);
        assert_int_equal(seq, 1);
        lab_store_close(s);
}

/* A store in a missing directory: store_open_failed naming the file; nothing created. */
static void test_missing_directory(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *dir = lab_test_path(f->dir, "missing");
        _cleanup_free_ char *db = lab_test_path(dir, "labagent.db");
        lab_store_t *s = (lab_store_t *)&dir;
        lab_error_t err = {};
        int r;

        r = lab_store_open(&s, db, &err);
        assert_true(r < 0);
        assert_null(s);
        assert_string_equal(err.keyword, "store_open_failed");
        assert_non_null(strstr(err.message, db));
        assert_non_null(strstr(err.message, "directory"));
        print_message("refused as expected (%s): %s: %s\n", strerror(-r), err.keyword, err.message);
        assert_int_equal(access(dir, F_OK), -1);

        /* A target version this build does not know: refused before creating anything. */
        r = lab_store_open_version(&s, f->db, lab_store_schema_latest() + 1, &err);
        assert_int_equal(r, -EINVAL);
        assert_string_equal(err.keyword, "store_open_failed");
        assert_int_equal(access(f->db, F_OK), -1);
}

/* The first column of every row of a query, as text joined with sep; malloc'd ("" for no rows). */
static char *raw_join(sqlite3 *db, const char *sql, int column, const char *sep)
{
        sqlite3_stmt *stmt = NULL;
        char *out = strdup("");
        bool first = true;

        assert_non_null(out);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        while (sqlite3_step(stmt) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(stmt, column);
                char *next = NULL;

                assert_true(asprintf(&next, "%s%s%s", out, first ? "" : sep,
                                     t ? (const char *)t : "NULL") >= 0);
                free(out);
                out = next;
                first = false;
        }
        sqlite3_finalize(stmt);
        return out;
}

/* All rows of a one-column query, joined with ','. */
static char *raw_list(sqlite3 *db, const char *sql)
{
        return raw_join(db, sql, 0, ",");
}

/* The query plan of sql on db, its steps joined with "; ". */
static char *raw_plan(sqlite3 *db, const char *sql)
{
        _cleanup_free_ char *q = NULL;

        assert_true(asprintf(&q, "EXPLAIN QUERY PLAN %s", sql) >= 0);
        return raw_join(db, q, 3, "; ");
}

/* Append an event of class cls with body {"n":n} and return its seq. */
static int64_t append_cls(lab_store_t *s, lab_event_class_t cls, const char *kind, int n)
{
        char body[64];
        int64_t seq = 0;

        snprintf(body, sizeof body, "{\"n\":%d}", n);
        assert_int_equal(lab_store_event_append(s, cls, kind, NULL, body, &seq), 0);
        return seq;
}

/* The seqs in the outbox, oldest first, as "1,2,3", optionally of one class only. */
static char *outbox_seqs(lab_store_t *s, const char *cls)
{
        _cleanup_free_ char *q = NULL;

        if (cls)
                assert_true(asprintf(&q, "SELECT seq FROM events WHERE class = '%s' ORDER BY seq",
                                     cls) >= 0);
        return raw_list(lab_store_sqlite(s), q ? q : "SELECT seq FROM events ORDER BY seq");
}

/* A schema-2 file with events (one deleted) is migrated to 3: events kept as class job. */
static void test_migration_v2_to_v3(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *plan = NULL, *plan_jobs = NULL, *seqs = NULL;
        lab_store_event_t *ev = NULL;
        size_t n = 0;
        lab_store_t *s;
        sqlite3 *raw;

        s = store_open_ok(f->db, 2);
        raw_exec(lab_store_sqlite(s),
                 "INSERT INTO events (uuid, kind, job_id, body) VALUES "
                 "('u-1', 'job.accepted', 'job-a', '{}'), "
                 "('u-2', 'lab.started', NULL, '{\"version\":\"0.0.9\"}'), "
                 "('u-3', 'job.failed', 'job-a', '{\"reason\":\"x\"}'), "
                 "('u-4', 'job.accepted', 'job-b', '{}');"
                 "DELETE FROM events WHERE uuid = 'u-4';"
                 "INSERT INTO audit (actor, action) VALUES ('daemon', 'start')");
        lab_store_close(s);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 2);
        assert_int_equal(
            raw_int(raw, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'class'"),
            0);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'jobs'"), 0);
        sqlite3_close(raw);

        s = store_open_ok(f->db, lab_store_schema_latest());
        assert_int_equal(lab_store_schema_version(s), 9);
        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 9);
        seqs = raw_list(raw, "SELECT seq FROM events WHERE class = 'job' ORDER BY seq");
        assert_string_equal(seqs, "1,2,3");
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM events"), 3);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM audit"), 1);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM jobs"), 0);
        /* The class is checked; a row written without one is a job event. */
        assert_int_not_equal(sqlite3_exec(raw,
                                          "INSERT INTO events (uuid, kind, body, class) "
                                          "VALUES ('u-x', 'x', '{}', 'other')",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
        /* The indexes serve "oldest telemetry first" and "jobs in a state". */
        plan =
            raw_plan(raw, "SELECT seq FROM events WHERE class = 'telemetry' ORDER BY seq LIMIT 5");
        print_message("telemetry plan: %s\n", plan);
        assert_non_null(strstr(plan, "events_telemetry"));
        assert_null(strstr(plan, "TEMP B-TREE"));
        plan_jobs = raw_plan(raw, "SELECT id FROM jobs WHERE state = 'queued'");
        assert_non_null(strstr(plan_jobs, "jobs_state"));
        sqlite3_close(raw);

        assert_int_equal(lab_store_events_peek(s, 10, &ev, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(ev[i].seq, (int64_t)i + 1);
                assert_int_equal(ev[i].cls, LAB_EVENT_JOB);
        }
        assert_string_equal(ev[1].body, "{\"version\":\"0.0.9\"}");
        assert_null(ev[1].job_id);
        lab_store_events_free(ev, n);

        /* AUTOINCREMENT survived the migration: seq 4 (deleted) is never reused. */
        assert_int_equal(append_cls(s, LAB_EVENT_TELEMETRY, "test.sample", 1), 5);
        lab_store_close(s);
}

/* Each event keeps the class it was appended with. */
static void test_event_classes(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        _cleanup_free_ char *c1 = NULL, *c2 = NULL, *job = NULL, *tel = NULL;
        int64_t count = -1;

        assert_int_equal(append_cls(s, LAB_EVENT_JOB, "job.accepted", 1), 1);
        assert_int_equal(append_cls(s, LAB_EVENT_TELEMETRY, "printer.health", 2), 2);
        assert_int_equal(append_cls(s, LAB_EVENT_TELEMETRY, "printer.health", 3), 3);
        assert_int_equal(append_cls(s, LAB_EVENT_JOB, "job.failed", 4), 4);
        assert_int_equal(
            lab_store_event_append(s, (lab_event_class_t)-1, "test.bad", NULL, "{}", NULL),
            -EINVAL);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 4);

        c1 = raw_text(own, "SELECT class FROM events WHERE seq = 1");
        assert_string_equal(c1, "job");
        c2 = raw_text(own, "SELECT class FROM events WHERE seq = 2");
        assert_string_equal(c2, "telemetry");
        job = outbox_seqs(s, "job");
        assert_string_equal(job, "1,4");
        tel = outbox_seqs(s, "telemetry");
        assert_string_equal(tel, "2,3");
        lab_store_close(s);
}

/* Peek returns the oldest events by seq, at most max, with every column as stored. */
static void test_events_peek(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_event_t *ev = (lab_store_event_t *)&state;
        size_t n = 99;

        /* Empty outbox. */
        assert_int_equal(lab_store_events_peek(s, 10, &ev, &n), 0);
        assert_null(ev);
        assert_int_equal(n, 0);

        assert_int_equal(
            lab_store_event_append(s, LAB_EVENT_JOB, "job.accepted", "job-1", "{}", NULL), 0);
        for (int i = 2; i <= 7; i++)
                append_cls(s, i % 2 ? LAB_EVENT_JOB : LAB_EVENT_TELEMETRY, "test.peek", i);

        assert_int_equal(lab_store_events_peek(s, 3, &ev, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(ev[i].seq, (int64_t)i + 1);
        {
                _cleanup_free_ char *uuid = raw_text(own, "SELECT uuid FROM events WHERE seq = 1");
                _cleanup_free_ char *at =
                    raw_text(own, "SELECT created_at FROM events WHERE seq = 2");

                assert_string_equal(ev[0].uuid, uuid);
                assert_string_equal(ev[1].created_at, at);
        }
        assert_string_equal(ev[0].kind, "job.accepted");
        assert_string_equal(ev[0].job_id, "job-1");
        assert_string_equal(ev[0].body, "{}");
        assert_int_equal(ev[0].cls, LAB_EVENT_JOB);
        assert_int_equal(ev[1].cls, LAB_EVENT_TELEMETRY);
        assert_null(ev[1].job_id);
        assert_string_equal(ev[2].body, "{\"n\":3}");
        assert_int_equal(ev[2].cls, LAB_EVENT_JOB);
        lab_store_events_free(ev, n);

        /* More than there are: all of them. max 0: none, and no allocation. */
        assert_int_equal(lab_store_events_peek(s, 100, &ev, &n), 0);
        assert_int_equal(n, 7);
        assert_int_equal(ev[6].seq, 7);
        lab_store_events_free(ev, n);
        assert_int_equal(lab_store_events_peek(s, 0, &ev, &n), 0);
        assert_null(ev);
        assert_int_equal(n, 0);

        /* Peek does not remove; after deleting the oldest two, it starts at seq 3. */
        raw_exec(own, "DELETE FROM events WHERE seq IN (1, 2)");
        assert_int_equal(lab_store_events_peek(s, 2, &ev, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(ev[0].seq, 3);
        assert_int_equal(ev[1].seq, 4);
        lab_store_events_free(ev, n);
        lab_store_events_free(NULL, 0);
        assert_int_equal(lab_store_events_peek(s, 1, NULL, &n), -EINVAL);
        lab_store_close(s);
}

/* Ack deletes exactly the listed UUIDs; unknown and repeated ones are ignored. */
static void test_events_ack(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        _cleanup_free_ char *left = NULL, *left2 = NULL, *left3 = NULL;
        lab_store_event_t *ev = NULL;
        size_t n = 0, deleted = 99;

        for (int i = 1; i <= 5; i++)
                append_cls(s, i == 4 ? LAB_EVENT_TELEMETRY : LAB_EVENT_JOB, "test.ack", i);
        assert_int_equal(lab_store_events_peek(s, 10, &ev, &n), 0);
        assert_int_equal(n, 5);

        {
                const char *acked[] = {ev[1].uuid, ev[3].uuid,
                                       "00000000-0000-4000-8000-000000000000", ev[1].uuid, ""};

                assert_int_equal(lab_store_events_ack(s, acked, ELEMENTSOF(acked), &deleted), 0);
        }
        assert_int_equal(deleted, 2);
        left = outbox_seqs(s, NULL);
        assert_string_equal(left, "1,3,5");

        /* Acking them again deletes nothing. */
        {
                const char *again[] = {ev[1].uuid, ev[3].uuid};

                assert_int_equal(lab_store_events_ack(s, again, 2, &deleted), 0);
                assert_int_equal(deleted, 0);
        }

        /* A NULL entry: refused before anything is deleted. */
        {
                const char *bad[] = {ev[0].uuid, NULL};

                deleted = 99;
                assert_int_equal(lab_store_events_ack(s, bad, 2, &deleted), -EINVAL);
                assert_int_equal(deleted, 99);
        }
        left2 = outbox_seqs(s, NULL);
        assert_string_equal(left2, "1,3,5");

        /* An empty list is fine; a NULL count pointer too. */
        assert_int_equal(lab_store_events_ack(s, NULL, 0, &deleted), 0);
        assert_int_equal(deleted, 0);
        {
                const char *rest[] = {ev[4].uuid, ev[0].uuid};

                assert_int_equal(lab_store_events_ack(s, rest, 2, NULL), 0);
        }
        left3 = outbox_seqs(s, NULL);
        assert_string_equal(left3, "3");
        lab_store_events_free(ev, n);
        lab_store_close(s);
}

/* The body of the shed event with this seq. */
static char *shed_body(lab_store_t *s, int64_t seq)
{
        _cleanup_free_ char *q = NULL;

        assert_true(asprintf(&q,
                             "SELECT body FROM events WHERE seq = %" PRId64
                             " AND kind = 'lab.telemetry_shed' AND class = 'job' "
                             "AND job_id IS NULL",
                             seq) >= 0);
        return raw_text(lab_store_sqlite(s), q);
}

/* Shed drops the oldest telemetry, never job events, to exactly cap with its own event. */
static void test_events_shed(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        _cleanup_free_ char *tel = NULL, *job = NULL, *body = NULL, *tel2 = NULL, *body2 = NULL;
        int64_t dropped = -1, count = -1;

        /* seq 1..20: odd ones job events, even ones telemetry. */
        for (int i = 1; i <= 20; i++)
                append_cls(s, i % 2 ? LAB_EVENT_JOB : LAB_EVENT_TELEMETRY, "test.shed", i);

        /* At or under cap: nothing happens. */
        assert_int_equal(lab_store_events_shed(s, 20, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(lab_store_events_shed(s, 1000, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(lab_store_event_exists(s, 21), 0);

        /* 20 events, cap 15: 20 - 15 + 1 = 6 telemetry go, the shed event makes 15. */
        assert_int_equal(lab_store_events_shed(s, 15, &dropped), 0);
        assert_int_equal(dropped, 6);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 15);
        tel = outbox_seqs(s, "telemetry");
        assert_string_equal(tel, "14,16,18,20");
        job = outbox_seqs(s, "job");
        assert_string_equal(job, "1,3,5,7,9,11,13,15,17,19,21");
        body = shed_body(s, 21);
        assert_string_equal(body, "{\"dropped\":6}");

        /* Again at cap: a no-op, no second shed event. */
        assert_int_equal(lab_store_events_shed(s, 15, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(lab_store_event_exists(s, 22), 0);

        /* One over: two telemetry go for the one shed event; back at cap. */
        assert_int_equal(append_cls(s, LAB_EVENT_TELEMETRY, "test.shed", 22), 22);
        assert_int_equal(lab_store_events_shed(s, 15, NULL), 0);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 15);
        tel2 = outbox_seqs(s, "telemetry");
        assert_string_equal(tel2, "18,20,22");
        body2 = shed_body(s, 23);
        assert_string_equal(body2, "{\"dropped\":2}");

        /* A cap below 1 is refused. */
        assert_int_equal(lab_store_events_shed(s, 0, &dropped), -EINVAL);
        assert_int_equal(lab_store_events_shed(s, -5, &dropped), -EINVAL);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 15);
        lab_store_close(s);
}

/* Without enough telemetry, shed drops all of it and keeps every job event, over cap. */
static void test_events_shed_short_of_telemetry(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        _cleanup_free_ char *tel = NULL, *job = NULL, *body = NULL;
        int64_t dropped = -1, count = -1;

        /* 10 job events (seq 1..10), then 3 telemetry (11..13); cap 5: want 9, have 3. */
        for (int i = 1; i <= 13; i++)
                append_cls(s, i <= 10 ? LAB_EVENT_JOB : LAB_EVENT_TELEMETRY, "test.shed", i);
        assert_int_equal(lab_store_events_shed(s, 5, &dropped), 0);
        assert_int_equal(dropped, 3);
        tel = outbox_seqs(s, "telemetry");
        assert_string_equal(tel, "");
        job = outbox_seqs(s, "job");
        assert_string_equal(job, "1,2,3,4,5,6,7,8,9,10,14");
        body = shed_body(s, 14);
        assert_string_equal(body, "{\"dropped\":3}");

        /* Over cap with no telemetry left: nothing to shed, nothing appended. */
        assert_int_equal(lab_store_events_shed(s, 5, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 11);
        assert_int_equal(lab_store_event_exists(s, 15), 0);
        lab_store_close(s);
}

/* The shed event is written in the shed's transaction: if it fails, no telemetry is lost. */
static void test_events_shed_atomic(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        _cleanup_free_ char *before = NULL, *after = NULL;
        int64_t dropped = -1, count = -1;
        sqlite3 *raw;
        int r;

        for (int i = 1; i <= 10; i++)
                append_cls(s, i % 2 ? LAB_EVENT_JOB : LAB_EVENT_TELEMETRY, "test.shed", i);
        before = outbox_seqs(s, NULL);

        /* Another connection makes the shed event's insert fail. */
        raw = raw_open(f->db);
        raw_exec(raw, "CREATE TRIGGER refuse_shed BEFORE INSERT ON events "
                      "WHEN NEW.kind = 'lab.telemetry_shed' "
                      "BEGIN SELECT RAISE(ABORT, 'test refuses the shed event'); END");

        r = lab_store_events_shed(s, 6, &dropped);
        assert_true(r < 0);
        assert_int_equal(dropped, 0);
        after = outbox_seqs(s, NULL);
        assert_string_equal(after, before);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM events WHERE class = 'telemetry'"), 5);

        /* Without the trigger the same shed goes through: 10 - 6 + 1 = 5 dropped. */
        raw_exec(raw, "DROP TRIGGER refuse_shed");
        sqlite3_close(raw);
        assert_int_equal(lab_store_events_shed(s, 6, &dropped), 0);
        assert_int_equal(dropped, 5);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 6);
        lab_store_close(s);
}

/* A complete job (string literals; the store only reads it). */
static lab_store_job_t job_template(const char *id, lab_job_state_t state)
{
        return (lab_store_job_t){
            .id = (char *)id,
            .order_id = (char *)"ord-20261128-0042",
            .sku = (char *)"print-4x6-glossy",
            .quantity = 2,
            .priority = (char *)"rush",
            .deadline = (char *)"2026-11-28T18:00:00Z",
            .state = state,
            .asset_url = (char *)"https://labs.example-photo.com/api/v1/assets/a-91c2",
            .asset_sha256 =
                (char *)"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            .asset_bytes = 4718592,
            .spec = (char *)"{\"id\":\"x\",\"quantity\":2}",
        };
}

#define TS_GLOB                                                                                    \
        "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][" \
        "0-9]Z'"

/* A job inserted with its event reads back field for field; the event is a job event. */
static void test_job_insert_get(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-7f3a", LAB_JOB_CLAIMING), *got = NULL;
        _cleanup_free_ char *kind = NULL, *body = NULL, *cls = NULL;

        job.reason = (char *)"none_yet";
        job.detail = (char *)"a detail";
        job.asset_type = (char *)"image/jpeg";
        job.asset_path = (char *)"/var/lib/labagent/assets/job-7f3a";
        job.download_attempts = 1;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), 0);

        assert_int_equal(lab_store_job_get(s, "job-7f3a", &got), 0);
        assert_string_equal(got->id, "job-7f3a");
        assert_string_equal(got->order_id, job.order_id);
        assert_string_equal(got->sku, job.sku);
        assert_int_equal(got->quantity, 2);
        assert_string_equal(got->priority, "rush");
        assert_string_equal(got->deadline, job.deadline);
        assert_int_equal(got->state, LAB_JOB_CLAIMING);
        assert_string_equal(got->reason, "none_yet");
        assert_string_equal(got->detail, "a detail");
        assert_string_equal(got->asset_url, job.asset_url);
        assert_string_equal(got->asset_sha256, job.asset_sha256);
        assert_int_equal(got->asset_bytes, 4718592);
        assert_string_equal(got->asset_type, "image/jpeg");
        assert_string_equal(got->asset_path, job.asset_path);
        assert_int_equal(got->download_attempts, 1);
        assert_string_equal(got->spec, job.spec);
        assert_non_null(got->created_at);
        assert_non_null(got->updated_at);
        lab_store_job_free(got);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs WHERE created_at GLOB " TS_GLOB
                                      " AND updated_at GLOB " TS_GLOB),
                         1);

        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 1);
        kind = raw_text(own, "SELECT kind FROM events WHERE job_id = 'job-7f3a'");
        assert_string_equal(kind, "job.accepted");
        body = raw_text(own, "SELECT body FROM events WHERE job_id = 'job-7f3a'");
        assert_string_equal(body, "{}");
        cls = raw_text(own, "SELECT class FROM events WHERE job_id = 'job-7f3a'");
        assert_string_equal(cls, "job");

        /* Optional fields left out: priority defaults to standard; no event asked, none written. */
        job = job_template("job-min", LAB_JOB_REJECTED);
        job.priority = NULL;
        job.deadline = NULL;
        job.quantity = 1;
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), 0);
        assert_int_equal(lab_store_job_get(s, "job-min", &got), 0);
        assert_string_equal(got->priority, "standard");
        assert_int_equal(got->state, LAB_JOB_REJECTED);
        assert_null(got->deadline);
        assert_null(got->reason);
        assert_null(got->asset_path);
        assert_null(got->asset_type);
        assert_int_equal(got->download_attempts, 0);
        assert_int_equal(got->quantity, 1);
        lab_store_job_free(got);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 1);

        /* The quantity bounds are the schema's. */
        job = job_template("job-1000", LAB_JOB_CLAIMING);
        job.quantity = 1000;
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), 0);
        job = job_template("job-bad", LAB_JOB_CLAIMING);
        job.quantity = 0;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), -EINVAL);
        job.quantity = 1001;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), -EINVAL);
        /* A spec that is not a JSON object, or not JSON. */
        job = job_template("job-bad", LAB_JOB_CLAIMING);
        job.spec = (char *)"[1,2]";
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EINVAL);
        job.spec = (char *)"{\"id\":";
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EINVAL);
        job.spec = NULL;
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EINVAL);
        /* A required field missing. */
        job = job_template("job-bad", LAB_JOB_CLAIMING);
        job.sku = NULL;
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EINVAL);
        job = job_template("", LAB_JOB_CLAIMING);
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EINVAL);
        /*
         * A job starts claiming (an offer) or rejected (an offer refused): any
         * other first state, or one the table does not know, is -EPERM.
         */
        for (int st = 0; st < LAB_JOB_STATE_MAX; st++) {
                job = job_template("job-bad", (lab_job_state_t)st);
                if (st == LAB_JOB_CLAIMING || st == LAB_JOB_REJECTED)
                        continue;
                assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), -EPERM);
        }
        {
                static const lab_job_state_t unknown[] = {
                    LAB_JOB_STATE_INVALID,
                    LAB_JOB_STATE_MAX,
                    (lab_job_state_t)99,
                };

                for (size_t i = 0; i < ELEMENTSOF(unknown); i++) {
                        lab_job_state_t from = LAB_JOB_QUEUED, to = LAB_JOB_QUEUED;

                        job = job_template("job-bad", unknown[i]);
                        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EPERM);
                        /* A first state is refused from no state. */
                        assert_true(lab_store_job_refused(s, &from, &to));
                        assert_int_equal(from, LAB_JOB_STATE_INVALID);
                        assert_int_equal(to, unknown[i]);
                }
        }

        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs"), 3);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs WHERE id = 'job-bad'"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 1);

        /* An unknown job. */
        got = (lab_store_job_t *)&job;
        assert_int_equal(lab_store_job_get(s, "job-none", &got), -ENOENT);
        assert_null(got);
        lab_store_job_free(NULL);
        lab_store_close(s);
}

/* Job and event are one transaction: when the event cannot be written, neither is the job. */
static void test_job_insert_atomic(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-atomic", LAB_JOB_CLAIMING), *got = NULL;

        /* Passes the object check, fails json_valid() in the events table: after the job row. */
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{not json"), -EINVAL);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 0);
        assert_int_equal(lab_store_job_get(s, "job-atomic", &got), -ENOENT);

        /* Not an object, an empty kind: same. */
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "[1]"), -EINVAL);
        assert_int_equal(lab_store_job_insert(s, &job, "", "{}"), -EINVAL);
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", NULL), -EINVAL);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 0);

        /* The other way round: the job is refused, its event is not written. */
        job.quantity = 5000;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), -EINVAL);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 0);

        /* Nothing was left behind: the same id goes in cleanly now. */
        job.quantity = 2;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{}"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs"), 1);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events WHERE job_id = 'job-atomic'"),
                         1);
        lab_store_close(s);
}

/* Inserting a job id that exists: -EEXIST, and neither the row nor the outbox changes. */
static void test_job_insert_duplicate(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-dup", LAB_JOB_CLAIMING);
        _cleanup_free_ char *st = NULL, *body = NULL;

        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{\"first\":true}"), 0);

        job.quantity = 7;
        job.state = LAB_JOB_REJECTED;
        assert_int_equal(lab_store_job_insert(s, &job, "job.accepted", "{\"second\":true}"),
                         -EEXIST);
        assert_int_equal(lab_store_job_insert(s, &job, NULL, NULL), -EEXIST);

        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs"), 1);
        assert_int_equal(raw_int(own, "SELECT quantity FROM jobs WHERE id = 'job-dup'"), 2);
        st = raw_text(own, "SELECT state FROM jobs WHERE id = 'job-dup'");
        assert_string_equal(st, "claiming");
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 1);
        body = raw_text(own, "SELECT body FROM events");
        assert_string_equal(body, "{\"first\":true}");
        lab_store_close(s);
}

/* State, reason, detail and updated_at of a job, from a raw query, as "state|reason|detail|at". */
static char *job_row(sqlite3 *db, const char *id)
{
        _cleanup_free_ char *q = NULL;

        assert_true(asprintf(&q,
                             "SELECT state || '|' || coalesce(reason, '-') || '|' || "
                             "coalesce(detail, '-') || '|' || updated_at FROM jobs WHERE id = '%s'",
                             id) >= 0);
        return raw_text(db, q);
}

#define OLD_AT "2000-01-01T00:00:00.000Z"

/*
 * A move is checked against the job state table, then a compare-and-set that
 * writes the state and its event together.
 */
static void test_job_move(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-t", LAB_JOB_ACCEPTED);
        _cleanup_free_ char *row1 = NULL, *row2 = NULL, *row3 = NULL, *row4 = NULL, *row5 = NULL,
                            *row6 = NULL, *row7 = NULL, *body = NULL, *at = NULL;
        lab_job_state_t from = LAB_JOB_QUEUED, to = LAB_JOB_QUEUED;

        store_fixture_insert_in(s, &job);
        raw_exec(own, "UPDATE jobs SET updated_at = '" OLD_AT "'");

        /* Success: state set, updated_at now, the event recorded for the job. */
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_ACCEPTED, LAB_JOB_DOWNLOADING, NULL,
                                            NULL, "job.test_downloading", "{\"try\":1}"),
                         0);
        row1 = job_row(own, "job-t");
        assert_non_null(strstr(row1, "downloading|-|-|"));
        assert_null(strstr(row1, OLD_AT));
        at = raw_text(own, "SELECT count(*) FROM jobs WHERE updated_at GLOB " TS_GLOB);
        assert_string_equal(at, "1");
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events WHERE job_id = 'job-t' AND "
                                      "kind = 'job.test_downloading' AND class = 'job'"),
                         1);
        body = raw_text(own, "SELECT body FROM events WHERE kind = 'job.test_downloading'");
        assert_string_equal(body, "{\"try\":1}");
        assert_false(lab_store_job_refused(s, &from, &to));
        assert_int_equal(from, LAB_JOB_STATE_INVALID);
        assert_int_equal(to, LAB_JOB_STATE_INVALID);

        /* With a reason and a detail. */
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_DOWNLOADING, LAB_JOB_DOWNLOADED,
                                            "slow_link", "the asset took 3 attempts",
                                            "job.downloaded", "{\"bytes\":1}"),
                         0);
        row2 = job_row(own, "job-t");
        assert_non_null(strstr(row2, "downloaded|slow_link|the asset took 3 attempts|"));
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);

        /*
         * Stale: a legal move, but the job is not in from_state. Nothing
         * written, not even updated_at. (This was downloading -> printing,
         * which the table now refuses before the compare: see below.)
         */
        raw_exec(own, "UPDATE jobs SET updated_at = '" OLD_AT "'");
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_DOWNLOADING, LAB_JOB_FAILED, NULL,
                                            NULL, "job.test_failed", "{}"),
                         -ESTALE);
        row3 = job_row(own, "job-t");
        assert_string_equal(row3, "downloaded|slow_link|the asset took 3 attempts|" OLD_AT);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events WHERE kind = 'job.test_failed'"),
                         0);

        /* Illegal: the job is in from_state, but the table refuses the move. Nothing written. */
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_DOWNLOADED, LAB_JOB_PRINTING, NULL,
                                            NULL, "job.test_printing", "{}"),
                         -EPERM);
        assert_true(lab_store_job_refused(s, &from, &to));
        assert_int_equal(from, LAB_JOB_DOWNLOADED);
        assert_int_equal(to, LAB_JOB_PRINTING);
        /* Unknown states are refused the same way, before the job is even looked up. */
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_DOWNLOADED, (lab_job_state_t)99,
                                            NULL, NULL, "job.x", "{}"),
                         -EPERM);
        assert_int_equal(lab_store_job_move(s, "job-none", LAB_JOB_STATE_INVALID, LAB_JOB_QUEUED,
                                            NULL, NULL, "job.x", "{}"),
                         -EPERM);
        assert_true(lab_store_job_refused(s, &from, &to));
        assert_int_equal(from, LAB_JOB_STATE_INVALID);
        assert_int_equal(to, LAB_JOB_QUEUED);
        row4 = job_row(own, "job-t");
        assert_string_equal(row4, row3);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);

        /* No such job: -ENOENT, no event. */
        assert_int_equal(lab_store_job_move(s, "job-none", LAB_JOB_ACCEPTED, LAB_JOB_DOWNLOADING,
                                            NULL, NULL, "job.test_downloading", "{}"),
                         -ENOENT);
        assert_false(lab_store_job_refused(s, NULL, NULL));
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events WHERE job_id = 'job-none'"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);

        /* Without an event: the state changes, the outbox does not; NULL clears reason, detail. */
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_DOWNLOADED, LAB_JOB_RENDERING, NULL,
                                            NULL, NULL, NULL),
                         0);
        row5 = job_row(own, "job-t");
        assert_non_null(strstr(row5, "rendering|-|-|"));
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);

        /* The event cannot be written: the state change is rolled back with it. */
        raw_exec(own, "UPDATE jobs SET updated_at = '" OLD_AT "'");
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_RENDERING, LAB_JOB_HELD, "x", "y",
                                            "job.test_held", "{broken"),
                         -EINVAL);
        row6 = job_row(own, "job-t");
        assert_string_equal(row6, "rendering|-|-|" OLD_AT);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);

        /*
         * Bad arguments: -EINVAL. A state outside the table (none, or past its
         * end) is not an argument error but a move the table refuses: -EPERM.
         */
        assert_int_equal(
            lab_store_job_move(s, NULL, LAB_JOB_RENDERING, LAB_JOB_HELD, NULL, NULL, NULL, NULL),
            -EINVAL);
        assert_int_equal(
            lab_store_job_move(s, "", LAB_JOB_RENDERING, LAB_JOB_HELD, NULL, NULL, NULL, NULL),
            -EINVAL);
        assert_int_equal(lab_store_job_move(NULL, "job-t", LAB_JOB_RENDERING, LAB_JOB_HELD, NULL,
                                            NULL, NULL, NULL),
                         -EINVAL);
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_STATE_INVALID, LAB_JOB_HELD, NULL,
                                            NULL, NULL, NULL),
                         -EPERM);
        assert_int_equal(lab_store_job_move(s, "job-t", LAB_JOB_RENDERING, LAB_JOB_STATE_MAX, NULL,
                                            NULL, NULL, NULL),
                         -EPERM);
        assert_true(lab_store_job_refused(s, &from, &to));
        assert_int_equal(from, LAB_JOB_RENDERING);
        assert_int_equal(to, LAB_JOB_STATE_MAX);
        row7 = job_row(own, "job-t");
        assert_string_equal(row7, row6);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 2);
        lab_store_close(s);
}

/* The ids of a job list, joined with ','. */
static char *job_ids(lab_store_job_t **v, size_t n)
{
        char *out = strdup("");

        for (size_t i = 0; i < n; i++) {
                char *next = NULL;

                assert_true(asprintf(&next, "%s%s%s", out, i ? "," : "", v[i]->id) >= 0);
                free(out);
                out = next;
        }
        return out;
}

/* List jobs in the given states and return their ids, checking the count. */
static char *list_ids(lab_store_t *s, const lab_job_state_t *states, size_t n_states)
{
        lab_store_job_t **v = NULL;
        size_t n = 0;
        char *ids;

        assert_int_equal(lab_store_jobs_list(s, states, n_states, &v, &n), 0);
        assert_true(n == 0 || v != NULL);
        ids = job_ids(v, n);
        lab_store_jobs_free(v, n);
        return ids;
}

/* jobs_list filters by state and orders by created_at, then id. */
static void test_jobs_list(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        static const struct {
                const char *id;
                lab_job_state_t state;
                const char *created_at;
        } jobs[] = {
            {"j-a", LAB_JOB_QUEUED, "2026-01-01T00:00:02.000Z"},
            {"j-b", LAB_JOB_PRINTING, "2026-01-01T00:00:03.000Z"},
            {"j-c", LAB_JOB_QUEUED, "2026-01-01T00:00:01.000Z"},
            {"j-d", LAB_JOB_FAILED, "2026-01-01T00:00:00.000Z"},
            {"j-e", LAB_JOB_QUEUED, "2026-01-01T00:00:02.000Z"},
        };
        _cleanup_free_ char *all = NULL, *queued = NULL, *two = NULL, *none = NULL, *empty = NULL;
        lab_store_job_t **v = NULL;
        size_t n = 0;

        empty = list_ids(s, NULL, 0);
        assert_string_equal(empty, "");

        for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
                lab_store_job_t job = job_template(jobs[i].id, jobs[i].state);
                _cleanup_free_ char *q = NULL;

                store_fixture_insert_in(s, &job);
                assert_true(asprintf(&q, "UPDATE jobs SET created_at = '%s' WHERE id = '%s'",
                                     jobs[i].created_at, jobs[i].id) >= 0);
                raw_exec(own, q);
        }

        all = list_ids(s, NULL, 0);
        assert_string_equal(all, "j-d,j-c,j-a,j-e,j-b");
        {
                const lab_job_state_t st[] = {LAB_JOB_QUEUED};

                queued = list_ids(s, st, 1);
                assert_string_equal(queued, "j-c,j-a,j-e");
        }
        {
                /* Two states, one named twice: each job once, in created_at order. */
                const lab_job_state_t st[] = {LAB_JOB_PRINTING, LAB_JOB_QUEUED, LAB_JOB_QUEUED};

                two = list_ids(s, st, 3);
                assert_string_equal(two, "j-c,j-a,j-e,j-b");
        }
        {
                const lab_job_state_t st[] = {LAB_JOB_PRINTED};

                none = list_ids(s, st, 1);
                assert_string_equal(none, "");
        }

        /* Each listed job is complete. */
        {
                const lab_job_state_t st[] = {LAB_JOB_FAILED};

                assert_int_equal(lab_store_jobs_list(s, st, 1, &v, &n), 0);
                assert_int_equal(n, 1);
                assert_string_equal(v[0]->id, "j-d");
                assert_int_equal(v[0]->state, LAB_JOB_FAILED);
                assert_string_equal(v[0]->created_at, "2026-01-01T00:00:00.000Z");
                assert_string_equal(v[0]->asset_sha256,
                                    job_template("x", LAB_JOB_CLAIMING).asset_sha256);
                assert_int_equal(v[0]->asset_bytes, 4718592);
                lab_store_jobs_free(v, n);
        }
        {
                /* A state outside the table, anywhere in the list: -EINVAL, nothing listed. */
                const lab_job_state_t st[][2] = {
                    {LAB_JOB_QUEUED, LAB_JOB_STATE_INVALID},
                    {LAB_JOB_STATE_MAX, LAB_JOB_QUEUED},
                    {LAB_JOB_QUEUED, (lab_job_state_t)99},
                };

                int64_t count = -1;

                for (size_t i = 0; i < ELEMENTSOF(st); i++) {
                        assert_int_equal(lab_store_jobs_list(s, st[i], 2, &v, &n), -EINVAL);
                        assert_int_equal(lab_store_jobs_count(s, st[i], 2, &count), -EINVAL);
                }
        }
        /* jobs_count counts what jobs_list lists: a state named twice counts its jobs once. */
        {
                const lab_job_state_t st[] = {LAB_JOB_PRINTING, LAB_JOB_QUEUED, LAB_JOB_QUEUED};
                int64_t count = -1;

                assert_int_equal(lab_store_jobs_count(s, st, 3, &count), 0);
                assert_int_equal(count, 4);
                assert_int_equal(lab_store_jobs_count(s, st, 1, &count), 0);
                assert_int_equal(count, 1);
                assert_int_equal(
                    lab_store_jobs_count(s, (const lab_job_state_t[]){LAB_JOB_HELD}, 1, &count), 0);
                assert_int_equal(count, 0);
        }
        assert_int_equal(lab_store_jobs_list(s, NULL, 1, &v, &n), -EINVAL);
        lab_store_jobs_free(NULL, 0);
        lab_store_close(s);
}

/* job_rendered: state, render row and events in one transaction, or nothing at all. */
static void test_job_rendered(void **state)
{
        static const char audit[] = "{\"output_sha256\":\"ab\",\"intent\":\"perceptual\"}";
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-r", LAB_JOB_RENDERING),
                        held = job_template("job-held", LAB_JOB_HELD);
        _cleanup_free_ char *body = NULL, *kinds = NULL;

        store_fixture_insert_in(s, &job);
        store_fixture_insert_in(s, &held);

        /* Refusals write nothing: a move the table refuses (queued -> rendered), a stale one. */
        assert_int_equal(lab_store_job_rendered(s, "job-r", LAB_JOB_QUEUED, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-r.jpg", audit, NULL),
                         -EPERM);
        assert_int_equal(lab_store_job_rendered(s, "job-held", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-r.jpg", audit, NULL),
                         -ESTALE);
        assert_int_equal(lab_store_job_rendered(s, "job-x", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-x.jpg", audit, NULL),
                         -ENOENT);
        assert_int_equal(lab_store_job_rendered(s, "job-r", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-r.jpg", "[1]", NULL),
                         -EINVAL);
        assert_int_equal(lab_store_job_rendered(s, "job-r", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-r.jpg", audit, "not json"),
                         -EINVAL);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM renders"), 0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 0);

        assert_int_equal(lab_store_job_rendered(s, "job-r", LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "ds620", "/spool/job-r.jpg", audit,
                                                "{\"gamut_share\":0.12}"),
                         0);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM jobs WHERE state = 'rendered'"), 1);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM renders WHERE job_id = 'job-r' AND "
                                      "printer = 'ds620' AND output_path = '/spool/job-r.jpg' AND "
                                      "json_extract(audit, '$.intent') = 'perceptual'"),
                         1);
        kinds = raw_list(own, "SELECT kind FROM events ORDER BY seq");
        assert_string_equal(kinds, "job.rendered,job.quality_warning");
        body = raw_text(own, "SELECT body FROM events WHERE kind = 'job.rendered'");
        assert_string_equal(body, "{\"audit\":{\"intent\":\"perceptual\",\"output_sha256\":"
                                  "\"ab\"},\"output\":\"/spool/job-r.jpg\",\"printer\":\"ds620\"}");
        lab_store_close(s);
}

/* set_download updates attempts, path and type (NULL clears), and nothing else. */
static void test_job_set_download(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s = store_open_ok(f->db, lab_store_schema_latest());
        sqlite3 *own = lab_store_sqlite(s);
        lab_store_job_t job = job_template("job-dl", LAB_JOB_DOWNLOADING), *got = NULL;
        _cleanup_free_ char *row = NULL;

        store_fixture_insert_in(s, &job);
        raw_exec(own, "UPDATE jobs SET updated_at = '" OLD_AT "'");

        assert_int_equal(lab_store_job_set_download(s, "job-dl", 1, NULL, NULL), 0);
        assert_int_equal(lab_store_job_get(s, "job-dl", &got), 0);
        assert_int_equal(got->download_attempts, 1);
        assert_null(got->asset_path);
        assert_string_not_equal(got->updated_at, OLD_AT);
        lab_store_job_free(got);

        assert_int_equal(lab_store_job_set_download(
                             s, "job-dl", 2, "/var/lib/labagent/assets/job-dl", "image/jpeg"),
                         0);
        assert_int_equal(lab_store_job_get(s, "job-dl", &got), 0);
        assert_int_equal(got->download_attempts, 2);
        assert_string_equal(got->asset_path, "/var/lib/labagent/assets/job-dl");
        assert_string_equal(got->asset_type, "image/jpeg");
        assert_int_equal(got->state, LAB_JOB_DOWNLOADING);
        assert_string_equal(got->spec, job.spec);
        lab_store_job_free(got);

        assert_int_equal(lab_store_job_set_download(s, "job-dl", 3, NULL, NULL), 0);
        row = raw_text(own, "SELECT download_attempts || '|' || coalesce(asset_path, '-') || '|' "
                            "|| coalesce(asset_type, '-') FROM jobs WHERE id = 'job-dl'");
        assert_string_equal(row, "3|-|-");

        assert_int_equal(lab_store_job_set_download(s, "job-none", 1, NULL, NULL), -ENOENT);
        assert_int_equal(lab_store_job_set_download(s, "job-dl", -1, NULL, NULL), -EINVAL);
        assert_int_equal(raw_int(own, "SELECT download_attempts FROM jobs WHERE id = 'job-dl'"), 3);
        assert_int_equal(raw_int(own, "SELECT count(*) FROM events"), 0);
        lab_store_close(s);
}

typedef struct seqs_s {
        int64_t *v;
        size_t n, cap;
} seqs_t;

/* Append a seq to the list. */
static void seqs_push(seqs_t *l, int64_t seq)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 1024;
                l->v = realloc(l->v, l->cap * sizeof *l->v);
                assert_non_null(l->v);
        }
        l->v[l->n++] = seq;
}

/* Parse the complete lines in buf[0..*have) into l, keeping a partial tail. */
static void parse_lines(char *buf, size_t *have, seqs_t *l)
{
        char *start = buf, *nl;

        while ((nl = memchr(start, '\n', (size_t)(buf + *have - start)))) {
                char *end;
                long long v;

                *nl = '\0';
                errno = 0;
                v = strtoll(start, &end, 10);
                if (errno != 0 || end == start || *end != '\0')
                        fail_msg("store-writer printed a bad line: '%s'", start);
                seqs_push(l, v);
                start = nl + 1;
        }
        *have = (size_t)(buf + *have - start);
        memmove(buf, start, *have);
}

/*
 * Run store-writer on db, SIGKILL it once it reported target seqs, and
 * collect every seq it reported (also those read after the kill). Returns
 * false (with the child reaped) when the deadline passes first.
 */
static bool writer_round(const char *db, size_t target, long long deadline, seqs_t *l,
                         int *ret_status)
{
        _cleanup_close_ int rd = -1;
        int fds[2], status = 0;
        size_t first = l->n, have = 0;
        bool killed = false, in_time = true;
        char buf[4096];
        pid_t pid;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(126);
                execl(LAB_STORE_WRITER, "store-writer", db, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        rd = fds[0];

        for (;;) {
                long long left = deadline - lab_test_now_ms();
                struct pollfd p = {.fd = rd, .events = POLLIN};
                ssize_t n;
                int pr;

                if (left <= 0) {
                        in_time = false;
                        break;
                }
                pr = poll(&p, 1, left > 1000 ? 1000 : (int)left);
                if (pr < 0 && errno != EINTR)
                        fail_msg("poll: %s", strerror(errno));
                if (pr <= 0)
                        continue;
                n = read(rd, buf + have, sizeof buf - have);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        fail_msg("read: %s", strerror(errno));
                }
                if (n == 0)
                        break; /* EOF: the writer is gone */
                have += (size_t)n;
                parse_lines(buf, &have, l);
                if (!killed && l->n - first >= target) {
                        assert_int_equal(kill(pid, SIGKILL), 0);
                        killed = true;
                }
        }

        if (!in_time)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        *ret_status = status;
        return in_time;
}

/* No event the writer reported as committed is lost when it is SIGKILLed mid-stream. */
static void test_crash_safety(void **state)
{
        fixture_t *f = *state;
        long long deadline = lab_test_now_ms() + CRASH_DEADLINE_MS;
        const char *env = getenv("LAB_TEST_SEED");
        unsigned seed = env ? (unsigned)strtoul(env, NULL, 0)
                            : (unsigned)(lab_test_now_ms() ^ ((long long)getpid() << 16));
        seqs_t l = {};

        print_message("crash safety: LAB_TEST_SEED=%u\n", seed);
        for (int round = 0; round < CRASH_ROUNDS; round++) {
                size_t target = CRASH_MIN_LINES +
                                (size_t)rand_r(&seed) % (CRASH_MAX_LINES - CRASH_MIN_LINES + 1);
                size_t first = l.n;
                lab_store_t *s;
                int64_t count = -1;
                int status = 0;

                if (!writer_round(f->db, target, deadline, &l, &status))
                        fail_msg("round %d: store-writer did not finish before the deadline",
                                 round);
                if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                        fail_msg("round %d: store-writer failed with exit status %d", round,
                                 WEXITSTATUS(status));
                /* Killed as planned, or (slow disk) it hit its own bounds and exited cleanly. */
                assert_true((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                            (WIFEXITED(status) && WEXITSTATUS(status) == 0));
                assert_true(l.n > first);
                print_message("round %d: target %zu, %zu seqs reported (%" PRId64 "..%" PRId64
                              "), %s\n",
                              round, target, l.n - first, l.v[first], l.v[l.n - 1],
                              WIFSIGNALED(status) ? "killed" : "exited");

                /* Reported seqs grow strictly, across rounds too (AUTOINCREMENT never reuses). */
                for (size_t i = 1; i < l.n; i++)
                        if (l.v[i] <= l.v[i - 1])
                                fail_msg("seq %" PRId64 " reported after %" PRId64, l.v[i],
                                         l.v[i - 1]);

                s = store_open_ok(f->db, lab_store_schema_latest());
                for (size_t i = 0; i < l.n; i++)
                        if (lab_store_event_exists(s, l.v[i]) != 1)
                                fail_msg("round %d: committed seq %" PRId64 " is lost", round,
                                         l.v[i]);
                assert_int_equal(lab_store_event_count(s, &count), 0);
                assert_true(count >= (int64_t)l.n);
                lab_store_close(s);
        }
        free(l.v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_fresh_open, setup, teardown),
            cmocka_unit_test_setup_teardown(test_event_append, setup, teardown),
            cmocka_unit_test_setup_teardown(test_migration_v1_to_latest, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reopen_latest_is_noop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, setup, teardown),
            cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_newer_refused_wal, setup, teardown),
            cmocka_unit_test_setup_teardown(test_newer_refused_dirty_wal, setup, teardown),
            cmocka_unit_test_setup_teardown(test_foreign_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_garbage, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_pages, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_leaf_page, setup, teardown),
            cmocka_unit_test_setup_teardown(test_zero_length_is_new, setup, teardown),
            cmocka_unit_test_setup_teardown(test_audit_append, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_json_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
            cmocka_unit_test_setup_teardown(test_migration_v2_to_v3, setup, teardown),
            cmocka_unit_test_setup_teardown(test_event_classes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_peek, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_ack, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_shed, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_shed_short_of_telemetry, setup, teardown),
            cmocka_unit_test_setup_teardown(test_events_shed_atomic, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_insert_get, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_insert_atomic, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_insert_duplicate, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_move, setup, teardown),
            cmocka_unit_test_setup_teardown(test_jobs_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_set_download, setup, teardown),
            cmocka_unit_test_setup_teardown(test_job_rendered, setup, teardown),
            cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        };

        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
