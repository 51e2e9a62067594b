/*
 * test-store.c - the store's promises, checked on real files: fresh open,
 * forward migration, refusal of damaged and newer files without touching a
 * byte, the outbox and audit API, and no committed event lost to SIGKILL.
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
        assert_int_equal(lab_store_event_append(s, "test.event", job, body, &seq), 0);
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

        assert_int_equal(lab_store_schema_latest(), 2);
        assert_int_equal(lab_store_schema_version(s), 2);
        assert_true(sidecar_exists(f->db, "-wal"));

        /* Per-connection settings, seen on the store's own connection. */
        assert_int_equal(raw_int(own, "PRAGMA synchronous"), 2); /* FULL */
        assert_int_equal(raw_int(own, "PRAGMA foreign_keys"), 1);
        assert_int_equal(raw_int(own, "PRAGMA busy_timeout"), 5000);

        /* Persistent settings, seen from a second connection. */
        raw = raw_open(f->db);
        mode = raw_text(raw, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 2);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM events"), 0);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM audit"), 0);
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
        assert_int_equal(lab_store_event_append(s, "test.event", NULL, "{}", NULL), 0);
        lab_store_close(s);
}

/* A v1 file with data is migrated to the latest on open, keeping its events. */
static void test_migration_v1_to_latest(void **state)
{
        fixture_t *f = *state;
        lab_store_t *s;
        sqlite3 *raw;
        int64_t seq, count = -1;

        s = store_open_ok(f->db, 1);
        assert_int_equal(lab_store_schema_version(s), 1);
        seq = append_one(s, "job-a", 1);
        lab_store_close(s);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 1);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'audit'"),
                         0);
        sqlite3_close(raw);

        s = store_open_ok(f->db, lab_store_schema_latest());
        assert_int_equal(lab_store_schema_version(s), 2);
        assert_int_equal(lab_store_event_exists(s, seq), 1);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 1);
        assert_int_equal(lab_store_audit_append(s, "daemon", "migrated", "v1 to v2"), 0);
        assert_int_equal(append_one(s, "job-a", 2), seq + 1);
        lab_store_close(s);

        raw = raw_open(f->db);
        assert_int_equal(raw_int(raw, "PRAGMA user_version"), 2);
        assert_int_equal(raw_int(raw, "SELECT count(*) FROM audit"), 1);
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
        assert_int_equal(lab_store_schema_version(s), 2);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 1);
        lab_store_close(s);

        /* Asking for an older target never migrates backwards. */
        s = store_open_ok(f->db, 1);
        assert_int_equal(lab_store_schema_version(s), 2);
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
        assert_non_null(strstr(err.message, "knows up to 2"));
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
                assert_int_equal(lab_store_event_append(s, "test.bulk", "job-x", body, NULL), 0);
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
        assert_int_equal(lab_store_schema_version(s), 2);
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
                assert_int_equal(lab_store_event_append(s, "test.bad", "job-1", bad[i], &seq),
                                 -EINVAL);
        assert_int_equal(seq, 77);
        assert_int_equal(lab_store_event_append(s, NULL, NULL, "{}", NULL), -EINVAL);
        assert_int_equal(lab_store_event_append(s, "test.bad", NULL, NULL, NULL), -EINVAL);
        assert_int_equal(lab_store_event_count(s, &count), 0);
        assert_int_equal(count, 0);

        /* The cached statement was reset: the next good append works and no seq was used. */
        assert_int_equal(lab_store_event_append(s, "test.good", NULL, " {\"ok\":true}", &seq), 0);
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
            cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        };

        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
