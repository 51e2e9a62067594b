/*
 * test-retention.c - the files of finished jobs go once the reprint window is
 * over (retention-stage.c): only finished jobs, only old enough ones, every file of
 * the job (master and print files), and the store keeps the record and the
 * render audit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "retention-stage.h"
#include "store-fixture.h"
#include "store-private.h"
#include "testutil.h"

#define DAY (24ULL * 3600ULL * 1000000ULL)

static char *dir;
static lab_store_t *store;

/* A job in state with a master and a print file on disk, last changed at `at`. */
static void job_with_files(const char *id, lab_job_state_t state, const char *at)
{
        _cleanup_free_ char *asset = NULL, *out = NULL, *sql = NULL;
        lab_store_job_t job = {
            .id = (char *)id,
            .order_id = "o",
            .sku = "s",
            .quantity = 1,
            .state = LAB_JOB_RENDERING,
            .asset_url = "https://p/a",
            .asset_sha256 = "00",
            .asset_bytes = 1,
            .spec = "{}",
        };

        assert_true(asprintf(&asset, "%s/%s.asset", dir, id) > 0);
        assert_true(asprintf(&out, "%s/%s.jpg", dir, id) > 0);
        lab_test_write_file(asset, "m", 1);
        lab_test_write_file(out, "p", 1);
        store_fixture_insert_in(store, &job);
        assert_int_equal(lab_store_job_set_download(store, id, 1, asset, "image/jpeg"), 0);
        assert_int_equal(lab_store_job_rendered(store, id, LAB_JOB_RENDERING, LAB_JOB_RENDERED,
                                                "p1", out, "{\"a\":1}", NULL),
                         0);
        assert_true(asprintf(&sql,
                             "UPDATE jobs SET state = '%s', updated_at = '%s' WHERE id = '%s'",
                             lab_job_state_to_string(state), at, id) > 0);
        assert_int_equal(sqlite3_exec(lab_store_sqlite(store), sql, NULL, NULL, NULL), SQLITE_OK);
}

static bool exists(const char *id, const char *ext)
{
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s/%s.%s", dir, id, ext) > 0);
        return access(p, F_OK) == 0;
}

static void test_sweep(void **state)
{
        _cleanup_free_ char *db = NULL;
        lab_error_t err = {0};
        unsigned jobs = 0, files = 0;
        time_t now = 1798000000; /* 2026-12-23 */
        char cutoff[32];

        dir = lab_test_mkdtemp("retention");
        db = lab_test_path(dir, "labagent.db");
        assert_int_equal(lab_store_open(&store, db, &err), 0);

        lab_retention_cutoff(now, cutoff);
        assert_string_equal(cutoff, "2026-12-23T04:26:40.000Z");

        job_with_files("old-reported", LAB_JOB_REPORTED, "2026-11-01T10:00:00.000Z");
        job_with_files("old-canceled", LAB_JOB_CANCELED, "2026-11-02T10:00:00.000Z");
        job_with_files("old-printed", LAB_JOB_PRINTED,
                       "2026-11-01T10:00:00.000Z");                           /* not reported yet */
        job_with_files("old-held", LAB_JOB_HELD, "2026-11-01T10:00:00.000Z"); /* still the lab's */
        job_with_files("new-reported", LAB_JOB_REPORTED, "2026-12-20T10:00:00.000Z");

        assert_int_equal(lab_retention_sweep(store, 14 * DAY, now, &jobs, &files), 0);
        assert_int_equal(jobs, 2);
        assert_int_equal(files, 4);
        assert_false(exists("old-reported", "asset"));
        assert_false(exists("old-reported", "jpg"));
        assert_false(exists("old-canceled", "asset"));
        assert_true(exists("old-printed", "asset"));
        assert_true(exists("old-held", "jpg"));
        assert_true(exists("new-reported", "asset"));

        /* The record and the audit stay; the master's path is forgotten. */
        {
                _cleanup_(lab_store_job_freep) lab_store_job_t *j = NULL;
                assert_int_equal(lab_store_job_get(store, "old-reported", &j), 0);
                assert_null(j->asset_path);
                assert_int_equal(j->state, LAB_JOB_REPORTED);
        }
        {
                sqlite3_stmt *st = NULL;
                assert_int_equal(sqlite3_prepare_v2(lab_store_sqlite(store),
                                                    "SELECT count(*) FROM renders WHERE job_id = "
                                                    "'old-reported' AND json_valid(audit)",
                                                    -1, &st, NULL),
                                 SQLITE_OK);
                assert_int_equal(sqlite3_step(st), SQLITE_ROW);
                assert_int_equal(sqlite3_column_int(st, 0), 1);
                sqlite3_finalize(st);
        }

        /* A second sweep finds nothing more. */
        assert_int_equal(lab_retention_sweep(store, 14 * DAY, now, &jobs, &files), 0);
        assert_int_equal(jobs, 0);
        assert_int_equal(files, 0);

        lab_store_close(store);
        lab_test_rm_rf(dir);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_sweep)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
