/*
 * test-lifecycle.c - the real labagent binary under a NOTIFY_SOCKET the test owns.
 *
 * What systemd would see: READY=1 with a STATUS= line once config and store
 * are open; WATCHDOG=1 at the rate WATCHDOG_USEC asks for (and none when it
 * does not); RELOADING=1 then READY=1 on SIGHUP, with a good config applied
 * and a bad one refused while the daemon keeps running; STOPPING=1 and exit
 * status 0 on SIGTERM within 10 s. And the refusals: an invalid config, a
 * second daemon on the same state directory, a corrupt store.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify-peer.h"
#include "testutil.h"

/* Start-up and shutdown limits; generous because the asan build is slow. */
#define READY_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS  10000

typedef struct fixture_s {
        char *dir;
        char *config;
        char *state;
        notify_peer_t peer;
} fixture_t;

static const char good_config[] = "lab:\n"
                                  "  id: test-lab\n"
                                  "  name: Test Lab\n"
                                  "platform:\n"
                                  "  url: https://127.0.0.1:9/\n"
                                  "  ca_file: @TLS@/ca.pem\n"
                                  "  cert_file: @TLS@/client.pem\n"
                                  "  key_file: @TLS@/client.key\n"
                                  "logging:\n"
                                  "  level: info\n";

/* A product added (visible in STATUS), debug logging, and lab.id changed (restart-only). */
static const char good_config_2[] = "lab:\n"
                                    "  id: test-lab-2\n"
                                    "  name: Test Lab (renamed)\n"
                                    "platform:\n"
                                    "  url: https://127.0.0.1:9/\n"
                                    "  ca_file: @TLS@/ca.pem\n"
                                    "  cert_file: @TLS@/client.pem\n"
                                    "  key_file: @TLS@/client.key\n"
                                    "products:\n"
                                    "  - sku: PRINT-4X6\n"
                                    "    media: na_index-4x6_4x6in\n"
                                    "logging:\n"
                                    "  level: debug\n";

/* Line 3, column 3: a misspelt key. */
static const char bad_config[] = "lab:\n"
                                 "  id: test-lab\n"
                                 "  nmae: Test Lab\n"
                                 "platform:\n"
                                 "  url: https://127.0.0.1:9/\n"
                                 "  ca_file: @TLS@/ca.pem\n"
                                 "  cert_file: @TLS@/client.pem\n"
                                 "  key_file: @TLS@/client.key\n";

/* Test certificates, made once for the whole run by tests/platform/make-certs.sh. */
static char *tls_dir;

/* Write a config template to path, with @TLS@ replaced by the certificate directory. */
static void write_config(const char *path, const char *template)
{
        size_t cap = strlen(template) + 16 * strlen(tls_dir) + 1, n = 0;
        char *out = malloc(cap);

        assert_non_null(out);
        for (const char *c = template; *c;) {
                if (strncmp(c, "@TLS@", 5) == 0) {
                        n += (size_t)sprintf(out + n, "%s", tls_dir);
                        c += 5;
                } else {
                        out[n++] = *c++;
                }
        }
        out[n] = '\0';
        lab_test_write_string(path, out);
        free(out);
}

static int group_setup(void **state)
{
        char *cmd;
        int r;

        tls_dir = lab_test_mkdtemp("lifecycle-tls");
        if (asprintf(&cmd, "bash %s/tests/platform/make-certs.sh %s >/dev/null", LAB_SOURCE_DIR,
                     tls_dir) < 0)
                return -1;
        r = system(cmd);
        free(cmd);
        return r == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
        lab_test_rm_rf(tls_dir);
        free(tls_dir);
        return 0;
}

static int setup(void **state)
{
        fixture_t *f = calloc(1, sizeof *f);

        f->dir = lab_test_mkdtemp("lifecycle");
        f->config = lab_test_path(f->dir, "labagent.yaml");
        f->state = lab_test_path(f->dir, "state");
        write_config(f->config, good_config);
        notify_peer_init(&f->peer, f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture_t *f = *state;

        notify_peer_done(&f->peer);
        lab_test_rm_rf(f->dir);
        free(f->dir);
        free(f->config);
        free(f->state);
        free(f);
        return 0;
}

/* Start the daemon on the fixture's config and state dir. */
static void start(fixture_t *f, const char *const *env)
{
        const char *args[] = {"--config", f->config, "--state-dir", f->state, NULL};

        notify_peer_spawn(&f->peer, args, env);
}

/* Wait for READY=1 after message index from; fail the test (with the daemon's stderr) if it never
 * comes. */
static int expect_line(fixture_t *f, size_t from, const char *line, int timeout_ms)
{
        int i = notify_peer_wait_for(&f->peer, from, line, timeout_ms);
        if (i < 0) {
                char *err = notify_peer_stderr(&f->peer);
                print_error("no '%s' within %d ms; daemon stderr:\n%s\n", line, timeout_ms, err);
                free(err);
        }
        assert_true(i >= 0);
        return i;
}

/* SIGTERM, then STOPPING=1 and exit status 0 within 10 s. */
static void stop_cleanly(fixture_t *f)
{
        size_t from = f->peer.n_msgs;
        long long t0 = lab_test_now_ms();
        int status;

        assert_int_equal(kill(f->peer.pid, SIGTERM), 0);
        expect_line(f, from, "STOPPING=1", STOP_TIMEOUT_MS);
        status = notify_peer_wait_exit(&f->peer, STOP_TIMEOUT_MS);
        assert_int_not_equal(status, -1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(lab_test_now_ms() - t0 < STOP_TIMEOUT_MS);
}

/* Count WATCHDOG=1 messages from index from, and the largest gap between consecutive ones. */
static size_t count_watchdog(const notify_peer_t *p, size_t from, long long *max_gap)
{
        long long last = -1;
        size_t n = 0;

        *max_gap = 0;
        for (size_t i = from; i < p->n_msgs; i++) {
                if (!notify_msg_has_line(&p->msgs[i], "WATCHDOG=1"))
                        continue;
                if (last >= 0 && p->msgs[i].at_ms - last > *max_gap)
                        *max_gap = p->msgs[i].at_ms - last;
                last = p->msgs[i].at_ms;
                n++;
        }
        return n;
}

static void test_ready_status_and_watchdog(void **state)
{
        fixture_t *f = *state;
        const char *env[] = {"WATCHDOG_USEC=2000000", NULL};
        long long max_gap;
        size_t ready, n;
        const char *status;

        start(f, env);
        ready = (size_t)expect_line(f, 0, "READY=1", READY_TIMEOUT_MS);

        /* READY=1 comes with (or right before) a STATUS= line naming the lab and the store. */
        int st = expect_line(f, ready, "STATUS=", 2000);
        status = notify_msg_value(&f->peer.msgs[st], "STATUS");
        assert_non_null(status);
        assert_non_null(strstr(status, "Ready: lab test-lab"));
        assert_non_null(strstr(status, "labagent.db"));

        /* WatchdogSec=2s: pings must come well inside every 2 s window. */
        size_t from = f->peer.n_msgs;
        notify_peer_collect(&f->peer, 6500);
        n = count_watchdog(&f->peer, from, &max_gap);
        print_message("watchdog: %zu pings in 6.5 s, largest gap %lld ms\n", n, max_gap);
        /* sd-event pings between 1/2 and 3/4 of the period: 1-1.5 s here. */
        assert_true(n >= 3 && n <= 13);
        assert_true(max_gap < 2000);

        stop_cleanly(f);
}

static void test_reload_good_then_bad(void **state)
{
        fixture_t *f = *state;
        const char *status;
        size_t from;
        long long gap;
        int i;

        start(f, NULL);
        expect_line(f, 0, "READY=1", READY_TIMEOUT_MS);

        /* A good new config: RELOADING=1, then READY=1 and a STATUS naming the new generation. */
        write_config(f->config, good_config_2);
        from = f->peer.n_msgs;
        assert_int_equal(kill(f->peer.pid, SIGHUP), 0);
        i = expect_line(f, from, "RELOADING=1", 5000);
        assert_non_null(notify_msg_value(&f->peer.msgs[i], "MONOTONIC_USEC"));
        i = expect_line(f, (size_t)i, "READY=1", 5000);
        i = expect_line(f, (size_t)i, "STATUS=", 2000);
        status = notify_msg_value(&f->peer.msgs[i], "STATUS");
        assert_non_null(strstr(status, "1 product(s)"));
        assert_non_null(strstr(status, "config reloaded (generation 2)"));
        /* lab.id only changes at a restart: the running one is kept, with a warning. */
        assert_non_null(strstr(status, "Ready: lab test-lab, "));
        char *log = notify_peer_stderr(&f->peer);
        assert_non_null(strstr(log, "warning: config: lab.id changed from test-lab to test-lab-2; "
                                    "this takes effect at the next restart"));
        free(log);

        /* A bad new config: refused, the daemon keeps running on generation 2. */
        write_config(f->config, bad_config);
        from = f->peer.n_msgs;
        assert_int_equal(kill(f->peer.pid, SIGHUP), 0);
        i = expect_line(f, from, "RELOADING=1", 5000);
        i = expect_line(f, (size_t)i, "READY=1", 5000);
        i = expect_line(f, (size_t)i, "STATUS=", 2000);
        status = notify_msg_value(&f->peer.msgs[i], "STATUS");
        assert_non_null(strstr(status, "1 product(s)"));
        assert_non_null(strstr(status, "config reload failed (1 problem(s)"));
        assert_non_null(strstr(status, "running with generation 2"));
        notify_peer_collect(&f->peer, 300);
        assert_true(notify_peer_alive(&f->peer));

        char *err = notify_peer_stderr(&f->peer);
        char *expected;
        assert_true(asprintf(&expected, "%s:3:3: lab.nmae: unknown key", f->config) > 0);
        assert_non_null(strstr(err, expected));
        assert_non_null(strstr(err, "[unknown_key]"));
        assert_non_null(strstr(err, "config_reload_failed:"));
        /* The debug level from generation 2 is in force: debug lines were written. */
        assert_non_null(strstr(err, " debug: "));
        free(expected);
        free(err);

        /* Fixed again: generation 3. */
        write_config(f->config, good_config);
        from = f->peer.n_msgs;
        assert_int_equal(kill(f->peer.pid, SIGHUP), 0);
        i = expect_line(f, from, "READY=1", 5000);
        i = expect_line(f, (size_t)i, "STATUS=", 2000);
        assert_non_null(
            strstr(notify_msg_value(&f->peer.msgs[i], "STATUS"), "config reloaded (generation 3)"));

        stop_cleanly(f);

        /* No WatchdogSec, no pings. */
        assert_int_equal(count_watchdog(&f->peer, 0, &gap), 0);
}

static void test_invalid_config_refuses_start(void **state)
{
        fixture_t *f = *state;
        char *err, *expected;
        int status;

        write_config(f->config, bad_config);
        start(f, NULL);
        status = notify_peer_wait_exit(&f->peer, READY_TIMEOUT_MS);
        assert_int_not_equal(status, -1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 78);
        for (size_t i = 0; i < f->peer.n_msgs; i++)
                assert_false(notify_msg_has_line(&f->peer.msgs[i], "READY=1"));

        err = notify_peer_stderr(&f->peer);
        assert_true(asprintf(&expected, "%s:3:3: lab.nmae: unknown key", f->config) > 0);
        assert_non_null(strstr(err, expected));
        assert_non_null(strstr(err, "config_invalid:"));
        free(expected);
        free(err);
}

static void test_second_instance_refused(void **state)
{
        fixture_t *f = *state;
        notify_peer_t second;
        char *dir2, *err;
        int status;

        start(f, NULL);
        expect_line(f, 0, "READY=1", READY_TIMEOUT_MS);

        dir2 = lab_test_path(f->dir, "second");
        assert_int_equal(mkdir(dir2, 0700), 0);
        notify_peer_init(&second, dir2);
        const char *args[] = {"--config", f->config, "--state-dir", f->state, NULL};
        notify_peer_spawn(&second, args, NULL);
        status = notify_peer_wait_exit(&second, READY_TIMEOUT_MS);
        assert_int_not_equal(status, -1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 75);
        err = notify_peer_stderr(&second);
        assert_non_null(strstr(err, "state_locked: another labagent (pid "));
        for (size_t i = 0; i < second.n_msgs; i++)
                assert_false(notify_msg_has_line(&second.msgs[i], "READY=1"));
        free(err);
        notify_peer_done(&second);
        free(dir2);

        /* The first one is untouched. */
        assert_true(notify_peer_alive(&f->peer));
        stop_cleanly(f);
}

static void test_corrupt_store_refused(void **state)
{
        fixture_t *f = *state;
        static const char garbage[] = "this is not an SQLite database, it is a damaged file\n";
        char *db, *err, *after;
        size_t len;
        int status;

        assert_int_equal(mkdir(f->state, 0700), 0);
        db = lab_test_path(f->state, "labagent.db");
        lab_test_write_string(db, garbage);

        start(f, NULL);
        status = notify_peer_wait_exit(&f->peer, READY_TIMEOUT_MS);
        assert_int_not_equal(status, -1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 65);
        err = notify_peer_stderr(&f->peer);
        assert_non_null(strstr(err, "store_corrupt: "));

        /* The damaged file is left exactly as it was, for a person to look at. */
        after = lab_test_read_file(db, &len);
        assert_non_null(after);
        assert_int_equal(len, strlen(garbage));
        assert_memory_equal(after, garbage, len);
        free(after);
        free(err);
        free(db);
}

/* A private key others can read: the daemon refuses to start and says how to fix it. */
static void test_key_permissions_refuse_start(void **state)
{
        fixture_t *f = *state;
        char *key, *err;
        int status;

        key = lab_test_path(tls_dir, "client.key");
        assert_int_equal(chmod(key, 0644), 0);
        start(f, NULL);
        status = notify_peer_wait_exit(&f->peer, READY_TIMEOUT_MS);
        assert_int_equal(chmod(key, 0600), 0);
        assert_int_not_equal(status, -1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 78);
        err = notify_peer_stderr(&f->peer);
        assert_non_null(strstr(err, "tls_key_permissions: "));
        assert_non_null(strstr(err, key));
        assert_non_null(strstr(err, "refusing to start"));
        for (size_t i = 0; i < f->peer.n_msgs; i++)
                assert_false(notify_msg_has_line(&f->peer.msgs[i], "READY=1"));
        free(err);
        free(key);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_ready_status_and_watchdog, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reload_good_then_bad, setup, teardown),
            cmocka_unit_test_setup_teardown(test_invalid_config_refuses_start, setup, teardown),
            cmocka_unit_test_setup_teardown(test_second_instance_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corrupt_store_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_key_permissions_refuse_start, setup, teardown),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
