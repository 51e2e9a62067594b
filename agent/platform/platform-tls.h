/*
 * platform-tls.h - check the lab's TLS material before libcurl ever uses it.
 *
 * Why: a key readable by every local user, a certificate that expired last
 * night or a key that belongs to another certificate all end the same way
 * for curl: a handshake failure with an OpenSSL error code nobody at the
 * lab can act on. The daemon checks the files at start (and the expiry
 * periodically) and refuses to start with a keyword and a sentence saying
 * which file, what is wrong and the command that fixes it. This module does
 * not configure curl and never logs; it leaves OpenSSL's error queue empty.
 *
 * Error keywords (stable: never renamed or reused):
 *   tls_file_missing     the file does not exist                      (-ENOENT)
 *   tls_file_unreadable  cannot be opened, or not a regular file      (-errno, -EINVAL)
 *   tls_key_permissions  key mode other than 0600/0400, or 0640/0440
 *                        with the service group                       (-EPERM)
 *   tls_cert_invalid     no parsable PEM certificate, bad validity    (-EBADMSG)
 *   tls_key_invalid      no parsable (unencrypted) PEM private key    (-EBADMSG)
 *   tls_key_mismatch     key does not belong to the certificate       (-EKEYREJECTED)
 *   tls_ca_invalid       CA bundle without a certificate, or damaged  (-EBADMSG)
 */
#pragma once

#include <sys/types.h>
#include <time.h>

#include "error.h"

/* Certificate expiry thresholds, in whole days left (see lab_tls_expiry_classify). */
#define LAB_TLS_EXPIRY_WARNING_DAYS 30
#define LAB_TLS_EXPIRY_ERROR_DAYS   7

/*
 * Check that the private key at path (symlinks followed) is a regular file the daemon can read
 * and nobody else can: mode 0600 or 0400, or 0640 / 0440 when the file's group is
 * service_gid. Returns 0, or a negative errno with err set (tls_file_missing,
 * tls_file_unreadable, tls_key_permissions).
 */
int lab_tls_check_key_file(const char *path, gid_t service_gid, lab_error_t *err);

/* What the daemon reports about its certificate. Names are UTF-8, control bytes as '?'. */
typedef struct lab_tls_cert_info_s {
        time_t not_before;    /* UTC */
        time_t not_after;     /* UTC */
        char subject_cn[256]; /* first commonName of the subject, "" when none; truncated */
        char issuer_cn[256];  /* first commonName of the issuer, "" when none; truncated */
} lab_tls_cert_info_t;

/*
 * Read the first PEM certificate of pem_path into *ret. Returns 0, or a negative errno with
 * err set (tls_file_missing, tls_file_unreadable, tls_cert_invalid).
 */
int lab_tls_cert_load_info(const char *pem_path, lab_tls_cert_info_t *ret, lab_error_t *err);

/*
 * Check that the (unencrypted, PEM) private key at key_path belongs to the first certificate
 * of cert_path. Encrypted keys are refused as tls_key_invalid; nothing ever prompts for a
 * passphrase. Returns 0, or a negative errno with err set (tls_file_missing,
 * tls_file_unreadable, tls_cert_invalid, tls_key_invalid, tls_key_mismatch).
 */
int lab_tls_check_key_matches(const char *cert_path, const char *key_path, lab_error_t *err);

typedef enum lab_tls_expiry_e {
        LAB_TLS_EXPIRY_OK,            /* more than 30 days left */
        LAB_TLS_EXPIRY_WARNING,       /* 8..30 days left */
        LAB_TLS_EXPIRY_ERROR,         /* 0..7 days left, not yet expired */
        LAB_TLS_EXPIRY_EXPIRED,       /* now >= not_after */
        LAB_TLS_EXPIRY_NOT_YET_VALID, /* now < not_before (and not expired) */
} lab_tls_expiry_t;

/*
 * Classify a validity period at now. Days left = floor((not_after - now) / 86400): 30 days
 * and 23 hours count as 30. WARNING when days left <= 30, ERROR when <= 7 (so the last
 * partial day is 0 and still ERROR), EXPIRED once now >= not_after (checked first; days left
 * is then <= 0, e.g. -1 one second after expiry), NOT_YET_VALID when now < not_before.
 * *ret_days_left (may be NULL) is always set, clamped to the range of long. Pure.
 */
lab_tls_expiry_t lab_tls_expiry_classify(time_t now, time_t not_before, time_t not_after,
                                         long *ret_days_left);

/* A lowercase name for logs: "ok", "warning", "error", "expired", "not_yet_valid". */
const char *lab_tls_expiry_to_string(lab_tls_expiry_t e);

/*
 * Check that the CA bundle at path holds at least one PEM certificate and that every
 * certificate in it parses. Returns the number of certificates (> 0), or a negative errno
 * with err set (tls_file_missing, tls_file_unreadable, tls_ca_invalid).
 */
int lab_tls_check_ca_file(const char *path, lab_error_t *err);

/*
 * Make host part of the certificate check that the TLS handshake itself runs
 * on ssl_ctx (an OpenSSL SSL_CTX, as libcurl's CURLOPT_SSL_CTX_FUNCTION hands
 * it over). A server whose certificate does not name host then fails the
 * handshake when its certificate arrives, before the lab's client
 * certificate is sent; libcurl's own check after the handshake stays.
 * host: a DNS name or an IP address (an IPv6 one with or without brackets).
 * Returns 0, or -EINVAL for an empty or over-long host, -ENOMEM.
 */
int lab_tls_ctx_expect_host(void *ssl_ctx, const char *host);
