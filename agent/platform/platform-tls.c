/*
 * platform-tls.c - check the key's permissions, read the certificate, match key and
 * certificate, classify expiry, check the CA bundle.
 *
 * The one idea: every refusal names the file and says the fix, and OpenSSL's
 * thread-local error queue is empty whenever we return (LAB_TLS_ERR_GUARD),
 * so a stale entry never turns up in some later, unrelated TLS failure.
 * Must never prompt for a passphrase (a daemon has no terminal).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "platform-tls.h"

#define LAB_SECONDS_PER_DAY 86400LL

LAB_DEFINE_CLEANUP(X509 *, X509_free)
LAB_DEFINE_CLEANUP(EVP_PKEY *, EVP_PKEY_free)

/* Scope guard: empties OpenSSL's error queue when the enclosing function returns. */
static inline void lab_tls_err_clearp(int *unused)
{
        ERR_clear_error();
}
#define LAB_TLS_ERR_GUARD _cleanup_(lab_tls_err_clearp) _unused_ int lab_tls_err_guard_ = 0

/* Passphrase callback that refuses: an encrypted key fails instead of prompting. */
static int lab_tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
        return -1;
}

/* Copy OpenSSL's most recent reason (e.g. "no start line") into buf and empty the queue. */
static const char *lab_tls_ossl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        snprintf(buf, size, "%s", reason ? reason : "no details");
        ERR_clear_error();
        return buf;
}

/*
 * Open path for reading as a regular file (what: "TLS private key", setting:
 * "platform.key_file"); *ret_st gets its fstat. Never blocks on a FIFO.
 */
static int lab_tls_open(const char *path, const char *what, const char *setting,
                        struct stat *ret_st, lab_error_t *err)
{
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return lab_error_set(err, ENOENT, "tls_file_missing",
                                             "%s %s does not exist; install it there or point "
                                             "%s at it",
                                             what, path, setting);
                return lab_error_set(err, errno, "tls_file_unreadable",
                                     "cannot open %s %s: %s; make it readable by the labagent "
                                     "user",
                                     what, path, strerror(errno));
        }
        if (fstat(fd, ret_st) < 0)
                return lab_error_set(err, errno, "tls_file_unreadable", "cannot stat %s %s: %s",
                                     what, path, strerror(errno));
        if (!S_ISREG(ret_st->st_mode))
                return lab_error_set(err, S_ISDIR(ret_st->st_mode) ? EISDIR : EINVAL,
                                     "tls_file_unreadable",
                                     "%s %s is not a regular file; point %s at the PEM file "
                                     "itself",
                                     what, path, setting);
        return TAKE_FD(fd);
}

/* Like lab_tls_open, as a stdio stream for the PEM readers. */
static int lab_tls_fopen(const char *path, const char *what, const char *setting, FILE **ret,
                         lab_error_t *err)
{
        struct stat st;
        int fd = lab_tls_open(path, what, setting, &st, err);

        if (fd < 0)
                return fd;
        *ret = fdopen(fd, "r");
        if (!*ret) {
                int e = errno;

                close(fd);
                return lab_error_set(err, e, "tls_file_unreadable", "cannot read %s %s: %s", what,
                                     path, strerror(e));
        }
        return 0;
}

/* "name" for uid, or the number when it has no passwd entry. */
static void lab_tls_user_name(uid_t uid, char *out, size_t size)
{
        char buf[4096];
        struct passwd pw, *res = NULL;

        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
                snprintf(out, size, "%s", res->pw_name);
        else
                snprintf(out, size, "%lu", (unsigned long)uid);
}

/* "name" for gid, or the number when it has no group entry. */
static void lab_tls_group_name(gid_t gid, char *out, size_t size)
{
        char buf[4096];
        struct group gr, *res = NULL;

        if (getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res)
                snprintf(out, size, "%s", res->gr_name);
        else
                snprintf(out, size, "%lu", (unsigned long)gid);
}

/* Why mode/gid is refused for a key, or NULL when it is acceptable. */
static const char *lab_tls_key_mode_problem(mode_t mode, gid_t gid, gid_t service_gid)
{
        mode_t owner = mode & 0700, group = mode & 0070;

        if (mode & 07000)
                return "it has setuid, setgid or sticky bits";
        if (mode & 0007)
                return "other users can access it";
        if (owner != 0600 && owner != 0400)
                return "its owner must be able to read it, and not execute it";
        if (group != 0 && group != 0040)
                return "its group can write or execute it";
        if (group == 0040 && gid != service_gid)
                return "it is readable by a group other than the service group";
        return NULL;
}

int lab_tls_check_key_file(const char *path, gid_t service_gid, lab_error_t *err)
{
        _cleanup_close_ int fd = -1;
        char owner[64], group[64], service[64];
        const char *problem;
        struct stat st;

        fd = lab_tls_open(path, "TLS private key", "platform.key_file", &st, err);
        if (fd < 0)
                return fd;

        problem = lab_tls_key_mode_problem(st.st_mode & 07777, st.st_gid, service_gid);
        if (!problem)
                return 0;

        lab_tls_user_name(st.st_uid, owner, sizeof owner);
        lab_tls_group_name(st.st_gid, group, sizeof group);
        lab_tls_group_name(service_gid, service, sizeof service);
        return lab_error_set(err, EPERM, "tls_key_permissions",
                             "TLS private key %s has mode %04o (owner %s, group %s): %s; fix: "
                             "chmod 0600 %s, or share it with the service group: chmod 0640 %s; "
                             "chgrp %s %s",
                             path, (unsigned)(st.st_mode & 07777), owner, group, problem, path,
                             path, service, path);
}

/* Read the first PEM certificate of path into *ret (what/setting as for lab_tls_open). */
static int lab_tls_read_cert(const char *path, const char *what, const char *setting, X509 **ret,
                             lab_error_t *err)
{
        _cleanup_fclose_ FILE *f = NULL;
        char reason[128];
        int r;

        r = lab_tls_fopen(path, what, setting, &f, err);
        if (r < 0)
                return r;
        *ret = PEM_read_X509(f, NULL, lab_tls_no_passphrase, NULL);
        if (!*ret)
                return lab_error_set(err, EBADMSG, "tls_cert_invalid",
                                     "%s %s holds no readable PEM certificate (OpenSSL: %s); it "
                                     "must contain a -----BEGIN CERTIFICATE----- block",
                                     what, path, lab_tls_ossl_reason(reason, sizeof reason));
        return 0;
}

/* Convert an ASN1_TIME to time_t (UTC). */
static int lab_tls_asn1_time(const ASN1_TIME *t, time_t *ret)
{
        struct tm tm = {0};

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EINVAL;
        *ret = timegm(&tm);
        return 0;
}

/* Copy the first commonName of name into out as UTF-8 ("" when none), truncated on a
 * character boundary, control bytes replaced by '?'. */
static void lab_tls_name_cn(const X509_NAME *name, char *out, size_t size)
{
        unsigned char *utf8 = NULL;
        int i, n;
        size_t len;

        out[0] = '\0';
        i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
        if (i < 0)
                return;
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n < 0)
                return;
        len = (size_t)n;
        if (len >= size) {
                len = size - 1;
                while (len > 0 && (utf8[len] & 0xc0) == 0x80)
                        len--; /* don't cut a multi-byte character in half */
        }
        for (size_t k = 0; k < len; k++)
                out[k] = utf8[k] < 0x20 || utf8[k] == 0x7f ? '?' : (char)utf8[k];
        out[len] = '\0';
        OPENSSL_free(utf8);
}

int lab_tls_cert_load_info(const char *pem_path, lab_tls_cert_info_t *ret, lab_error_t *err)
{
        LAB_TLS_ERR_GUARD;
        _cleanup_(X509_freep) X509 *x = NULL;
        lab_tls_cert_info_t info = {0};
        int r;

        r = lab_tls_read_cert(pem_path, "TLS certificate", "platform.cert_file", &x, err);
        if (r < 0)
                return r;
        if (lab_tls_asn1_time(X509_get0_notBefore(x), &info.not_before) < 0 ||
            lab_tls_asn1_time(X509_get0_notAfter(x), &info.not_after) < 0)
                return lab_error_set(err, EBADMSG, "tls_cert_invalid",
                                     "TLS certificate %s has an unreadable validity period; "
                                     "replace it with the certificate the platform issued",
                                     pem_path);
        lab_tls_name_cn(X509_get_subject_name(x), info.subject_cn, sizeof info.subject_cn);
        lab_tls_name_cn(X509_get_issuer_name(x), info.issuer_cn, sizeof info.issuer_cn);
        *ret = info;
        return 0;
}

int lab_tls_check_key_matches(const char *cert_path, const char *key_path, lab_error_t *err)
{
        LAB_TLS_ERR_GUARD;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char reason[128], cn[256];
        int r;

        r = lab_tls_read_cert(cert_path, "TLS certificate", "platform.cert_file", &x, err);
        if (r < 0)
                return r;
        r = lab_tls_fopen(key_path, "TLS private key", "platform.key_file", &f, err);
        if (r < 0)
                return r;
        pkey = PEM_read_PrivateKey(f, NULL, lab_tls_no_passphrase, NULL);
        if (!pkey)
                return lab_error_set(err, EBADMSG, "tls_key_invalid",
                                     "TLS private key %s holds no readable PEM private key "
                                     "(OpenSSL: %s); it must be unencrypted (no passphrase) and "
                                     "start with -----BEGIN PRIVATE KEY----- (or EC/RSA PRIVATE "
                                     "KEY)",
                                     key_path, lab_tls_ossl_reason(reason, sizeof reason));
        if (X509_check_private_key(x, pkey) != 1) {
                lab_tls_name_cn(X509_get_subject_name(x), cn, sizeof cn);
                return lab_error_set(err, EKEYREJECTED, "tls_key_mismatch",
                                     "TLS private key %s does not belong to certificate %s "
                                     "(CN=%s); configure the key that the certificate was "
                                     "requested with",
                                     key_path, cert_path, cn);
        }
        return 0;
}

lab_tls_expiry_t lab_tls_expiry_classify(time_t now, time_t not_before, time_t not_after,
                                         long *ret_days_left)
{
        long long diff, days;

        if (__builtin_sub_overflow((long long)not_after, (long long)now, &diff))
                diff = not_after > now ? LLONG_MAX : LLONG_MIN;
        days = diff / LAB_SECONDS_PER_DAY;
        if (diff % LAB_SECONDS_PER_DAY != 0 && diff < 0)
                days--; /* floor, not truncation toward zero */
        if (ret_days_left)
                *ret_days_left = days > LONG_MAX   ? LONG_MAX
                                 : days < LONG_MIN ? LONG_MIN
                                                   : (long)days;

        if (now >= not_after)
                return LAB_TLS_EXPIRY_EXPIRED;
        if (now < not_before)
                return LAB_TLS_EXPIRY_NOT_YET_VALID;
        if (days <= LAB_TLS_EXPIRY_ERROR_DAYS)
                return LAB_TLS_EXPIRY_ERROR;
        if (days <= LAB_TLS_EXPIRY_WARNING_DAYS)
                return LAB_TLS_EXPIRY_WARNING;
        return LAB_TLS_EXPIRY_OK;
}

const char *lab_tls_expiry_to_string(lab_tls_expiry_t e)
{
        switch (e) {
        case LAB_TLS_EXPIRY_OK:
                return "ok";
        case LAB_TLS_EXPIRY_WARNING:
                return "warning";
        case LAB_TLS_EXPIRY_ERROR:
                return "error";
        case LAB_TLS_EXPIRY_EXPIRED:
                return "expired";
        case LAB_TLS_EXPIRY_NOT_YET_VALID:
                return "not_yet_valid";
        }
        return "unknown";
}

int lab_tls_check_ca_file(const char *path, lab_error_t *err)
{
        LAB_TLS_ERR_GUARD;
        _cleanup_fclose_ FILE *f = NULL;
        char reason[128];
        unsigned long e;
        int r, n = 0;

        r = lab_tls_fopen(path, "TLS CA bundle", "platform.ca_file", &f, err);
        if (r < 0)
                return r;
        for (;;) {
                X509 *x = PEM_read_X509(f, NULL, lab_tls_no_passphrase, NULL);

                if (!x)
                        break;
                X509_free(x);
                n++;
        }

        /* The reader ends every file with "no start line"; anything else is a damaged block. */
        e = ERR_peek_last_error();
        if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
                return lab_error_set(err, EBADMSG, "tls_ca_invalid",
                                     "TLS CA bundle %s: certificate #%d cannot be parsed "
                                     "(OpenSSL: %s); replace the file with an intact copy of the "
                                     "platform's CA certificates",
                                     path, n + 1, lab_tls_ossl_reason(reason, sizeof reason));
        if (n == 0)
                return lab_error_set(err, EBADMSG, "tls_ca_invalid",
                                     "TLS CA bundle %s holds no PEM certificate; point "
                                     "platform.ca_file at the platform's CA certificates "
                                     "(-----BEGIN CERTIFICATE----- blocks)",
                                     path);
        return n;
}

int lab_tls_ctx_expect_host(void *ssl_ctx, const char *host)
{
        LAB_TLS_ERR_GUARD;
        X509_VERIFY_PARAM *vp;
        char name[256];
        size_t n;

        if (!ssl_ctx || !host)
                return -EINVAL;
        n = strlen(host);
        /* "[::1]", as a URL writes it, is the address ::1. */
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                host++;
                n -= 2;
        }
        if (n == 0 || n >= sizeof name)
                return -EINVAL;
        memcpy(name, host, n);
        name[n] = '\0';

        vp = SSL_CTX_get0_param(ssl_ctx);
        if (!vp)
                return -ENOMEM;
        /* An address must be in the certificate's IP SANs; a name in its DNS SANs. */
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1)
                return 0;
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        return X509_VERIFY_PARAM_set1_host(vp, name, n) == 1 ? 0 : -ENOMEM;
}
