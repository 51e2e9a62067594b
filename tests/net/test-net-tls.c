/*
 * test-net-tls.c - the TLS material checks against real keys and
 * certificates made at test time with the openssl CLI (a CA, a leaf it
 * signed, a second self-signed pair, an RSA key, an encrypted key), and
 * lab_sha256_file on real files. Every openssl run is bounded and its
 * failure fails the test.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "digest.h"
#include "testutil.h"
#include "platform-tls.h"

#define DAY                86400
#define OPENSSL_TIMEOUT_MS 60000
#define LEAF_DAYS          90
#define OTHER_DAYS         20

typedef struct fixture_s {
        char *dir;
        time_t made_at;
        char *ca_key, *ca_pem;       /* CN=Test Lab CA, self-signed */
        char *lab_key, *lab_pem;     /* CN=lab-hamburg-01, signed by the CA, LEAF_DAYS */
        char *other_key, *other_pem; /* CN=lab-other, self-signed, OTHER_DAYS */
        char *rsa_key;               /* RSA 2048 */
        char *enc_key;               /* EC, encrypted with a passphrase */
} fixture_t;

/* Run openssl with args (NULL-terminated), bounded by OPENSSL_TIMEOUT_MS. Returns 0 on exit 0. */
static int run_openssl(const char *const *args)
{
        const char *argv[32] = {"openssl"};
        long long deadline = lab_test_now_ms() + OPENSSL_TIMEOUT_MS;
        size_t n = 1;
        int status;
        pid_t pid;

        for (; args[n - 1] && n < ELEMENTSOF(argv) - 1; n++)
                argv[n] = args[n - 1];
        argv[n] = NULL;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* No terminal to prompt on; stderr stays visible for a failure's reason. */
                if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0)
                        _exit(126);
                execv(LAB_OPENSSL, (char *const *)argv);
                _exit(127);
        }
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (lab_test_now_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        fprintf(stderr, "openssl %s: timed out after %d ms\n", args[0],
                                OPENSSL_TIMEOUT_MS);
                        return -ETIMEDOUT;
                }
                usleep(10 * 1000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "openssl %s %s: failed (status 0x%x)\n", args[0],
                        args[1] ? args[1] : "", (unsigned)status);
                return -EIO;
        }
        return 0;
}

#define OPENSSL(...) run_openssl((const char *const[]){__VA_ARGS__, NULL})

/* A self-signed P-256 certificate and its key. */
static int make_self_signed(const char *cn, int days, const char *key, const char *pem)
{
        char subj[128], d[16];

        snprintf(subj, sizeof subj, "/CN=%s", cn);
        snprintf(d, sizeof d, "%d", days);
        return OPENSSL("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-days", d, "-subj", subj, "-keyout", key, "-out", pem);
}

static int setup_fixture(void **state)
{
        fixture_t *f = calloc(1, sizeof *f);
        _cleanup_free_ char *csr = NULL;
        char leaf_days[16];

        if (!f)
                return -1;
        *state = f;
        f->dir = lab_test_mkdtemp("net-tls");
        f->ca_key = lab_test_path(f->dir, "ca.key");
        f->ca_pem = lab_test_path(f->dir, "ca.pem");
        f->lab_key = lab_test_path(f->dir, "lab.key");
        f->lab_pem = lab_test_path(f->dir, "lab.pem");
        f->other_key = lab_test_path(f->dir, "other.key");
        f->other_pem = lab_test_path(f->dir, "other.pem");
        f->rsa_key = lab_test_path(f->dir, "rsa.key");
        f->enc_key = lab_test_path(f->dir, "enc.key");
        csr = lab_test_path(f->dir, "lab.csr");
        snprintf(leaf_days, sizeof leaf_days, "%d", LEAF_DAYS);
        f->made_at = time(NULL);

        if (make_self_signed("Test Lab CA", 3650, f->ca_key, f->ca_pem) < 0 ||
            OPENSSL("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=lab-hamburg-01", "-keyout", f->lab_key, "-out", csr) < 0 ||
            OPENSSL("x509", "-req", "-in", csr, "-CA", f->ca_pem, "-CAkey", f->ca_key,
                    "-set_serial", "2", "-days", leaf_days, "-out", f->lab_pem) < 0 ||
            make_self_signed("lab-other", OTHER_DAYS, f->other_key, f->other_pem) < 0 ||
            OPENSSL("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                    f->rsa_key) < 0 ||
            OPENSSL("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256",
                    "-pass", "pass:secret", "-out", f->enc_key) < 0)
                return -1;
        return 0;
}

static int teardown_fixture(void **state)
{
        fixture_t *f = *state;

        if (!f)
                return 0;
        lab_test_rm_rf(f->dir);
        free(f->dir);
        free(f->ca_key);
        free(f->ca_pem);
        free(f->lab_key);
        free(f->lab_pem);
        free(f->other_key);
        free(f->other_pem);
        free(f->rsa_key);
        free(f->enc_key);
        free(f);
        return 0;
}

/* Assert r < 0 with err's keyword, a message naming path, and no OpenSSL error left behind. */
static void expect_error(int r, const lab_error_t *err, const char *keyword, const char *path)
{
        if (r >= 0)
                fail_msg("expected %s, got %d", keyword, r);
        assert_string_equal(err->keyword, keyword);
        if (path && !strstr(err->message, path))
                fail_msg("message does not name %s: %s", path, err->message);
        assert_int_equal(ERR_peek_error(), 0);
}

/* Write a copy of src to dir/name with mode (chmod after the write, so umask is irrelevant). */
static char *copy_with_mode(const fixture_t *f, const char *src, const char *name, mode_t mode)
{
        _cleanup_free_ char *data = NULL;
        char *path = lab_test_path(f->dir, name);
        size_t len = 0;

        data = lab_test_read_file(src, &len);
        assert_non_null(data);
        unlink(path);
        lab_test_write_file(path, data, len);
        assert_int_equal(chmod(path, mode), 0);
        return path;
}

static void test_cert_info_leaf(void **state)
{
        fixture_t *f = *state;
        lab_tls_cert_info_t info;
        lab_error_t err = {0};
        long days;

        assert_int_equal(lab_tls_cert_load_info(f->lab_pem, &info, &err), 0);
        assert_false(lab_error_isset(&err));
        assert_string_equal(info.subject_cn, "lab-hamburg-01");
        assert_string_equal(info.issuer_cn, "Test Lab CA");
        /* not_after ~ made_at + LEAF_DAYS days (generation takes seconds, allow 5 min). */
        assert_in_range(info.not_after, f->made_at + LEAF_DAYS * DAY - 300,
                        f->made_at + LEAF_DAYS * DAY + 300);
        assert_in_range(info.not_before, f->made_at - 300, f->made_at + 300);
        assert_int_equal(
            lab_tls_expiry_classify(time(NULL), info.not_before, info.not_after, &days),
            LAB_TLS_EXPIRY_OK);
        assert_in_range(days, LEAF_DAYS - 1, LEAF_DAYS);
        assert_int_equal(ERR_peek_error(), 0);
}

static void test_cert_info_self_signed_expiring(void **state)
{
        fixture_t *f = *state;
        lab_tls_cert_info_t info;
        lab_error_t err = {0};
        long days;

        assert_int_equal(lab_tls_cert_load_info(f->other_pem, &info, &err), 0);
        assert_string_equal(info.subject_cn, "lab-other");
        assert_string_equal(info.issuer_cn, "lab-other");
        assert_in_range(info.not_after, f->made_at + OTHER_DAYS * DAY - 300,
                        f->made_at + OTHER_DAYS * DAY + 300);
        assert_int_equal(
            lab_tls_expiry_classify(time(NULL), info.not_before, info.not_after, &days),
            LAB_TLS_EXPIRY_WARNING);
        assert_in_range(days, OTHER_DAYS - 1, OTHER_DAYS);
        /* And a day after it ran out. */
        assert_int_equal(
            lab_tls_expiry_classify(info.not_after + DAY, info.not_before, info.not_after, &days),
            LAB_TLS_EXPIRY_EXPIRED);
        assert_int_equal(days, -1);
}

static void test_cert_info_errors(void **state)
{
        fixture_t *f = *state;
        _cleanup_free_ char *garbage = lab_test_path(f->dir, "garbage.pem");
        _cleanup_free_ char *bad64 = lab_test_path(f->dir, "bad64.pem");
        _cleanup_free_ char *missing = lab_test_path(f->dir, "missing.pem");
        lab_tls_cert_info_t info;
        lab_error_t err = {0};

        lab_test_write_string(garbage, "hello, this is not a certificate\n");
        lab_test_write_string(bad64, "-----BEGIN CERTIFICATE-----\nnot*base64!!\n"
                                     "-----END CERTIFICATE-----\n");

        expect_error(lab_tls_cert_load_info(missing, &info, &err), &err, "tls_file_missing",
                     missing);
        assert_non_null(strstr(err.message, "platform.cert_file"));
        expect_error(lab_tls_cert_load_info(garbage, &info, &err), &err, "tls_cert_invalid",
                     garbage);
        assert_non_null(strstr(err.message, "no start line"));
        expect_error(lab_tls_cert_load_info(bad64, &info, &err), &err, "tls_cert_invalid", bad64);
        /* A key is not a certificate. */
        expect_error(lab_tls_cert_load_info(f->lab_key, &info, &err), &err, "tls_cert_invalid",
                     f->lab_key);
        expect_error(lab_tls_cert_load_info(f->dir, &info, &err), &err, "tls_file_unreadable",
                     f->dir);
        assert_int_equal(lab_tls_cert_load_info(f->dir, &info, NULL), -EISDIR);
}

/* One key file permission case: mode, the service gid to pass, the expected keyword (or NULL). */
static void key_case(const fixture_t *f, mode_t mode, int same_gid, const char *want)
{
        _cleanup_free_ char *path = copy_with_mode(f, f->lab_key, "perm.key", mode);
        lab_error_t err = {0};
        struct stat st;
        gid_t svc;
        int r;

        assert_int_equal(stat(path, &st), 0);
        svc = same_gid ? st.st_gid : st.st_gid + 1;
        r = lab_tls_check_key_file(path, svc, &err);
        if (!want) {
                if (r != 0)
                        fail_msg("mode %04o refused: %s: %s", (unsigned)mode, err.keyword,
                                 err.message);
                assert_false(lab_error_isset(&err));
                return;
        }
        if (r != -EPERM)
                fail_msg("mode %04o (%s group): got %d, want %s", (unsigned)mode,
                         same_gid ? "service" : "other", r, want);
        expect_error(r, &err, want, path);
}

static void test_key_permissions(void **state)
{
        const fixture_t *f = *state;

        key_case(f, 0600, 0, NULL);
        key_case(f, 0400, 0, NULL);
        key_case(f, 0640, 1, NULL);
        key_case(f, 0440, 1, NULL);
        key_case(f, 0600, 1, NULL);

        key_case(f, 0640, 0, "tls_key_permissions"); /* group is not the service group */
        key_case(f, 0440, 0, "tls_key_permissions");
        key_case(f, 0644, 1, "tls_key_permissions");
        key_case(f, 0604, 1, "tls_key_permissions");
        key_case(f, 0660, 1, "tls_key_permissions");
        key_case(f, 0650, 1, "tls_key_permissions");
        key_case(f, 0700, 1, "tls_key_permissions");
        key_case(f, 0666, 1, "tls_key_permissions");
        key_case(f, 04600, 1, "tls_key_permissions");
}

/* The refusal says mode, owner, group and the commands that fix it. */
static void test_key_permissions_message(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *path = copy_with_mode(f, f->lab_key, "msg.key", 0644);
        char owner[64], want[256];
        struct passwd *pw;
        lab_error_t err = {0};
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        expect_error(lab_tls_check_key_file(path, st.st_gid, &err), &err, "tls_key_permissions",
                     path);
        pw = getpwuid(st.st_uid);
        snprintf(owner, sizeof owner, "owner %s", pw ? pw->pw_name : "");
        if (!pw)
                snprintf(owner, sizeof owner, "owner %lu", (unsigned long)st.st_uid);
        assert_non_null(strstr(err.message, "mode 0644"));
        assert_non_null(strstr(err.message, owner));
        assert_non_null(strstr(err.message, "other users can access it"));
        snprintf(want, sizeof want, "chmod 0600 %s", path);
        assert_non_null(strstr(err.message, want));
        snprintf(want, sizeof want, "chmod 0640 %s; chgrp ", path);
        assert_non_null(strstr(err.message, want));
}

static void test_key_file_symlinks_and_missing(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *good = copy_with_mode(f, f->lab_key, "good.key", 0600);
        _cleanup_free_ char *open_key = copy_with_mode(f, f->lab_key, "open.key", 0644);
        _cleanup_free_ char *link_good = lab_test_path(f->dir, "link-good.key");
        _cleanup_free_ char *link_open = lab_test_path(f->dir, "link-open.key");
        _cleanup_free_ char *dangling = lab_test_path(f->dir, "dangling.key");
        _cleanup_free_ char *missing = lab_test_path(f->dir, "missing.key");
        lab_error_t err = {0};

        assert_int_equal(symlink(good, link_good), 0);
        assert_int_equal(symlink(open_key, link_open), 0);
        assert_int_equal(symlink(missing, dangling), 0);

        assert_int_equal(lab_tls_check_key_file(link_good, getgid(), &err), 0);
        expect_error(lab_tls_check_key_file(link_open, getgid(), &err), &err, "tls_key_permissions",
                     link_open);
        expect_error(lab_tls_check_key_file(missing, getgid(), &err), &err, "tls_file_missing",
                     missing);
        assert_int_equal(lab_tls_check_key_file(missing, getgid(), NULL), -ENOENT);
        expect_error(lab_tls_check_key_file(dangling, getgid(), &err), &err, "tls_file_missing",
                     dangling);
        expect_error(lab_tls_check_key_file(f->dir, getgid(), &err), &err, "tls_file_unreadable",
                     f->dir);
}

/* Only meaningful without CAP_DAC_OVERRIDE: root reads a 0000 file anyway. */
static void test_key_file_unreadable(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *path = NULL;
        lab_error_t err = {0};

        path = copy_with_mode(f, f->lab_key, "locked.key", 0000);
        if (geteuid() != 0) {
                expect_error(lab_tls_check_key_file(path, getgid(), &err), &err,
                             "tls_file_unreadable", path);
        } else {
                /* root reads any file: check as nobody, in a child that drops privileges. */
                int status;
                pid_t pid;

                assert_int_equal(chmod(f->dir, 0711), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        int r;

                        if (setresgid(65534, 65534, 65534) < 0 ||
                            setresuid(65534, 65534, 65534) < 0)
                                _exit(2);
                        r = lab_tls_check_key_file(path, getgid(), &err);
                        _exit(r < 0 && strcmp(err.keyword, "tls_file_unreadable") == 0 &&
                                      strstr(err.message, path)
                                  ? 0
                                  : 1);
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
                assert_int_equal(chmod(f->dir, 0700), 0);
        }
        assert_int_equal(chmod(path, 0600), 0);
}

static void test_key_matches(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *garbage = lab_test_path(f->dir, "garbage.key");
        _cleanup_free_ char *missing = lab_test_path(f->dir, "missing.key");
        lab_error_t err = {0};

        lab_test_write_string(garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                       "-----END PRIVATE KEY-----\n");

        assert_int_equal(lab_tls_check_key_matches(f->lab_pem, f->lab_key, &err), 0);
        assert_int_equal(lab_tls_check_key_matches(f->other_pem, f->other_key, &err), 0);
        assert_false(lab_error_isset(&err));
        assert_int_equal(ERR_peek_error(), 0);

        /* Two different keys (same curve), a different key type. */
        expect_error(lab_tls_check_key_matches(f->lab_pem, f->other_key, &err), &err,
                     "tls_key_mismatch", f->other_key);
        assert_non_null(strstr(err.message, f->lab_pem));
        assert_non_null(strstr(err.message, "CN=lab-hamburg-01"));
        assert_int_equal(lab_tls_check_key_matches(f->lab_pem, f->other_key, NULL), -EKEYREJECTED);
        expect_error(lab_tls_check_key_matches(f->lab_pem, f->rsa_key, &err), &err,
                     "tls_key_mismatch", f->rsa_key);
        expect_error(lab_tls_check_key_matches(f->lab_pem, f->ca_key, &err), &err,
                     "tls_key_mismatch", f->ca_key);

        /* Unusable keys: garbage, a certificate, an encrypted key (refused, never prompts). */
        expect_error(lab_tls_check_key_matches(f->lab_pem, garbage, &err), &err, "tls_key_invalid",
                     garbage);
        expect_error(lab_tls_check_key_matches(f->lab_pem, f->lab_pem, &err), &err,
                     "tls_key_invalid", f->lab_pem);
        expect_error(lab_tls_check_key_matches(f->lab_pem, f->enc_key, &err), &err,
                     "tls_key_invalid", f->enc_key);
        expect_error(lab_tls_check_key_matches(f->lab_pem, missing, &err), &err, "tls_file_missing",
                     missing);
        assert_non_null(strstr(err.message, "platform.key_file"));

        /* The certificate is checked first. */
        expect_error(lab_tls_check_key_matches(missing, f->lab_key, &err), &err, "tls_file_missing",
                     missing);
        expect_error(lab_tls_check_key_matches(f->lab_key, f->lab_key, &err), &err,
                     "tls_cert_invalid", f->lab_key);
}

/* Concatenate files into dir/name, then append tail (may be NULL). */
static char *concat(const fixture_t *f, const char *name, const char *a, const char *b,
                    const char *tail)
{
        _cleanup_free_ char *da = lab_test_read_file(a, NULL);
        _cleanup_free_ char *db = b ? lab_test_read_file(b, NULL) : NULL;
        _cleanup_free_ char *all = NULL;
        char *path = lab_test_path(f->dir, name);

        assert_non_null(da);
        assert_true(asprintf(&all, "%s%s%s", da, db ? db : "", tail ? tail : "") >= 0);
        lab_test_write_string(path, all);
        return path;
}

static void test_ca_file(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *bundle = concat(f, "bundle.pem", f->ca_pem, f->other_pem, NULL);
        _cleanup_free_ char *trailing =
            concat(f, "trailing.pem", f->ca_pem, f->other_pem, "# end of bundle\n");
        _cleanup_free_ char *damaged =
            concat(f, "damaged.pem", f->ca_pem, NULL,
                   "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n");
        _cleanup_free_ char *empty = lab_test_path(f->dir, "empty.pem");
        _cleanup_free_ char *garbage = lab_test_path(f->dir, "garbage-ca.pem");
        _cleanup_free_ char *missing = lab_test_path(f->dir, "missing-ca.pem");
        lab_error_t err = {0};

        lab_test_write_string(empty, "");
        lab_test_write_string(garbage, "not a bundle\n");

        assert_int_equal(lab_tls_check_ca_file(f->ca_pem, &err), 1);
        assert_int_equal(lab_tls_check_ca_file(bundle, &err), 2);
        assert_int_equal(lab_tls_check_ca_file(trailing, &err), 2);
        assert_false(lab_error_isset(&err));
        assert_int_equal(ERR_peek_error(), 0);

        expect_error(lab_tls_check_ca_file(empty, &err), &err, "tls_ca_invalid", empty);
        expect_error(lab_tls_check_ca_file(garbage, &err), &err, "tls_ca_invalid", garbage);
        expect_error(lab_tls_check_ca_file(f->ca_key, &err), &err, "tls_ca_invalid", f->ca_key);
        expect_error(lab_tls_check_ca_file(damaged, &err), &err, "tls_ca_invalid", damaged);
        assert_non_null(strstr(err.message, "certificate #2"));
        expect_error(lab_tls_check_ca_file(missing, &err), &err, "tls_file_missing", missing);
        assert_non_null(strstr(err.message, "platform.ca_file"));
}

static void test_sha256_file(void **state)
{
        const fixture_t *f = *state;
        _cleanup_free_ char *million = lab_test_path(f->dir, "million-a");
        _cleanup_free_ char *odd = lab_test_path(f->dir, "odd-size");
        _cleanup_free_ char *empty = lab_test_path(f->dir, "empty");
        _cleanup_free_ char *missing = lab_test_path(f->dir, "missing");
        _cleanup_free_ char *buf = malloc(1000000);
        char got[LAB_SHA256_HEX_LEN + 1], want[LAB_SHA256_HEX_LEN + 1];

        assert_non_null(buf);
        memset(buf, 'a', 1000000);
        lab_test_write_file(million, buf, 1000000);
        assert_int_equal(lab_sha256_file(million, got), 0);
        assert_string_equal(got,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

        /* Three 64 KiB reads and a partial one, bytes that differ per position. */
        for (size_t i = 0; i < 3 * 65536 + 17; i++)
                buf[i] = (char)(i * 131 + (i >> 9));
        lab_test_write_file(odd, buf, 3 * 65536 + 17);
        assert_int_equal(lab_sha256_file(odd, got), 0);
        assert_int_equal(lab_sha256_hex(buf, 3 * 65536 + 17, want), 0);
        assert_string_equal(got, want);

        lab_test_write_file(empty, "", 0);
        assert_int_equal(lab_sha256_file(empty, got), 0);
        assert_string_equal(got,
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

        assert_int_equal(lab_sha256_file(missing, got), -ENOENT);
        assert_int_equal(lab_sha256_file(f->dir, got), -EISDIR);
}

/* The server's name goes into the handshake's own check: a DNS name as a host, an address as
 * an address (brackets of a URL's IPv6 form dropped); nothing usable is refused. */
static void test_expect_host(void **state)
{
        static const struct {
                const char *in, *host, *ip;
                int r;
        } cases[] = {
            {"platform.example", "platform.example", NULL, 0},
            {"localhost", "localhost", NULL, 0},
            {"127.0.0.1", NULL, "127.0.0.1", 0},
            {"[::1]", NULL, "0:0:0:0:0:0:0:1", 0},
            {"::1", NULL, "0:0:0:0:0:0:0:1", 0},
            {"", NULL, NULL, -EINVAL},
            {"[]", NULL, NULL, -EINVAL},
        };
        char long_name[300];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
                X509_VERIFY_PARAM *vp;
                char *ip;

                assert_non_null(ctx);
                vp = SSL_CTX_get0_param(ctx);
                assert_int_equal(lab_tls_ctx_expect_host(ctx, cases[i].in), cases[i].r);
                assert_int_equal(ERR_peek_error(), 0); /* the guard left nothing behind */
                if (cases[i].host)
                        assert_string_equal(X509_VERIFY_PARAM_get0_host(vp, 0), cases[i].host);
                else
                        assert_null(X509_VERIFY_PARAM_get0_host(vp, 0));
                ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
                if (cases[i].ip)
                        assert_string_equal(ip, cases[i].ip);
                else
                        assert_null(ip);
                OPENSSL_free(ip);
                ERR_clear_error(); /* get1_ip_asc complains when there is none */
                SSL_CTX_free(ctx);
        }
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        {
                SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

                assert_int_equal(lab_tls_ctx_expect_host(ctx, long_name), -EINVAL);
                assert_int_equal(lab_tls_ctx_expect_host(ctx, NULL), -EINVAL);
                assert_int_equal(lab_tls_ctx_expect_host(NULL, "x"), -EINVAL);
                SSL_CTX_free(ctx);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cert_info_leaf),
            cmocka_unit_test(test_cert_info_self_signed_expiring),
            cmocka_unit_test(test_cert_info_errors),
            cmocka_unit_test(test_key_permissions),
            cmocka_unit_test(test_key_permissions_message),
            cmocka_unit_test(test_key_file_symlinks_and_missing),
            cmocka_unit_test(test_key_file_unreadable),
            cmocka_unit_test(test_key_matches),
            cmocka_unit_test(test_ca_file),
            cmocka_unit_test(test_sha256_file),
            cmocka_unit_test(test_expect_host),
        };

        return cmocka_run_group_tests(tests, setup_fixture, teardown_fixture);
}
