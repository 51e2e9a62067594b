/*
 * platform-http-get.c - one blocking HTTP GET on a libcurl easy handle of
 * its own (see platform-http-get.h).
 *
 * Why: drivers may not include libcurl (one owner per resource), so the
 * meter drivers' HTTP is this function, handed to them as a pointer. The
 * one idea: a call owns everything it touches (its easy handle, its buffer,
 * its error text), so worker threads may call it at once; the only shared
 * state is libcurl's global init, done once.
 *
 * What a call allows: http and https only, no redirect, no proxy (not even
 * from http_proxy and friends in the environment), no signals
 * (CURLOPT_NOSIGNAL: timeouts work in threads), no content decoding, a body
 * no longer than the caller's limit (refused at the Content-Length, or while
 * it arrives when there is none), one deadline for the whole request. With
 * a username, HTTP digest (libcurl answers the 401 challenge, SHA-256
 * included). https verifies the server against the system's CAs.
 *
 * Never: run on the event loop, log (the caller words the error for a
 * person), put the password in an error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "macro.h"
#include "platform-http-get.h"

/* What one call receives. */
typedef struct http_get_body_s {
        char *buf;
        size_t len, cap, max;
        bool too_large;
        bool nomem;
} http_get_body_t;

static pthread_once_t http_get_once = PTHREAD_ONCE_INIT;
static CURLcode http_get_init_rc = CURLE_FAILED_INIT;

static void http_get_global_init(void)
{
        /* Reference-counted by libcurl and never undone: the platform link shares it. */
        http_get_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl: keep the body, up to max bytes. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        http_get_body_t *b = userdata;
        size_t n = size * nmemb;

        if (n > b->max - b->len) {
                b->too_large = true;
                return 0; /* CURLE_WRITE_ERROR */
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->buf, cap);
                if (!p) {
                        b->nomem = true;
                        return 0;
                }
                b->buf = p;
                b->cap = cap;
        }
        memcpy(b->buf + b->len, data, n);
        b->len += n;
        b->buf[b->len] = '\0';
        return n;
}

/* curl: a new status line (a 401 answered by digest, a 100) starts a new body. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
        http_get_body_t *b = userdata;
        size_t n = size * nmemb;

        if (n >= 5 && strncmp(line, "HTTP/", 5) == 0)
                b->len = 0;
        return n;
}

/* The keyword, errno and a few words for a failed transfer. */
static int http_get_error(CURLcode rc, const http_get_body_t *b, const char *url,
                          const char *detail, size_t max, lab_error_t *err)
{
        const char *why = detail[0] ? detail : curl_easy_strerror(rc);

        if (rc == CURLE_OUT_OF_MEMORY || (rc == CURLE_WRITE_ERROR && b->nomem))
                return -ENOMEM;
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                return lab_error_set(err, ETIMEDOUT, "http_timeout",
                                     "GET %s: no whole answer in "
                                     "time (%s)",
                                     url, why);
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                if (rc == CURLE_FILESIZE_EXCEEDED || b->too_large)
                        return lab_error_set(err, EFBIG, "http_too_large",
                                             "GET %s: the answer is longer than %zu bytes", url,
                                             max);
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
                return lab_error_set(err, EHOSTUNREACH, "http_unreachable",
                                     "GET %s: the host name does not resolve (%s)", url, why);
        case CURLE_COULDNT_CONNECT:
                return lab_error_set(err, ECONNREFUSED, "http_unreachable",
                                     "GET %s: cannot connect (%s)", url, why);
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                return lab_error_set(err, ECONNRESET, "http_unreachable",
                                     "GET %s: the server closed the connection without an "
                                     "answer (%s)",
                                     url, why);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                return lab_error_set(err, ECONNABORTED, "http_tls", "GET %s: TLS failed (%s)", url,
                                     why);
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_NOT_BUILT_IN:
                return lab_error_set(err, EINVAL, "http_config",
                                     "GET %s: not a request this client makes (%s): only http:// "
                                     "and https:// URLs",
                                     url, why);
        default:
                break;
        }
        return lab_error_set(err, EPROTO, "http_protocol",
                             "GET %s: the answer is not HTTP this client reads (%s)", url, why);
}

/* Set every option of a call; false if libcurl refused one (too old, built without it). */
static bool http_get_setup(CURL *easy, const lab_http_request_t *req, http_get_body_t *b,
                           char *errbuf)
{
        long ms = (long)((req->timeout_usec + 999) / 1000);
        bool ok = true;

        ok &= curl_easy_setopt(easy, CURLOPT_URL, req->url) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_PROXY, "") == CURLE_OK; /* "": none, env or not */
        ok &= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) ==
              CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_USERAGENT, "labagent/" LABAGENT_VERSION) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_WRITEDATA, b) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
        ok &= curl_easy_setopt(easy, CURLOPT_HEADERDATA, b) == CURLE_OK;
        if (req->username) {
                ok &= curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST) == CURLE_OK;
                ok &= curl_easy_setopt(easy, CURLOPT_USERNAME, req->username) == CURLE_OK;
                ok &= curl_easy_setopt(easy, CURLOPT_PASSWORD,
                                       req->password ? req->password : "") == CURLE_OK;
        }
        return ok;
}

int lab_platform_http_get(const lab_http_request_t *req, lab_http_reply_t *ret, lab_error_t *err)
{
        http_get_body_t b = {.max = req->max_body};
        char errbuf[CURL_ERROR_SIZE] = "";
        const char *url = req->url ? req->url : "(no URL)";
        CURLcode rc;
        CURL *easy;
        long status = 0;
        int r = 0;

        *ret = (lab_http_reply_t){0};
        if (!req->url || req->timeout_usec == 0 || req->max_body == 0)
                return lab_error_set(err, EINVAL, "http_config",
                                     "GET %s: a request needs a URL, a timeout and a body limit",
                                     url);
        pthread_once(&http_get_once, http_get_global_init);
        if (http_get_init_rc != CURLE_OK)
                return lab_error_set(err, EIO, "http_config", "GET %s: libcurl cannot start (%s)",
                                     url, curl_easy_strerror(http_get_init_rc));
        easy = curl_easy_init();
        if (!easy)
                return -ENOMEM;
        if (!http_get_setup(easy, req, &b, errbuf)) {
                r = lab_error_set(err, EINVAL, "http_config",
                                  "GET %s: libcurl refused an option this client needs (libcurl "
                                  "%s is too old, or built without it)",
                                  url, curl_version_info(CURLVERSION_NOW)->version);
                goto out;
        }
        rc = curl_easy_perform(easy);
        if (rc != CURLE_OK) {
                r = http_get_error(rc, &b, url, errbuf, req->max_body, err);
                goto out;
        }
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (!b.buf) {
                b.buf = calloc(1, 1); /* an empty body is still a string */
                if (!b.buf) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        *ret = (lab_http_reply_t){.status = status, .body = TAKE_PTR(b.buf), .len = b.len};
out:
        curl_easy_cleanup(easy);
        free(b.buf);
        return r;
}
