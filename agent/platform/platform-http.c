/*
 * platform-http.c - build, run and classify the platform link's HTTPS requests.
 *
 * Why: every request to the platform must carry the same TLS policy (only
 * the configured CA bundle, the lab's client certificate, TLS 1.2 or newer,
 * host name always verified, https only, no redirects), the same headers
 * (User-Agent, X-Lab-Id, Idempotency-Key on every POST/PUT) and the same
 * bounds (response size, timeouts). Building them in one place is how that
 * stays true. The idempotency key is derived from the request itself, so a
 * retry — even after a crash and restart — carries the same key. A caller
 * that may send the same bytes again as a new request (the device list:
 * A, then B, then A again) adds a salt of its own, kept across its retries,
 * so the platform does not answer the new request with the first one's
 * answer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "digest.h"
#include "log.h"
#include "platform-private.h"
#include "platform-proto.h"
#include "url-path.h"

#define LAB_SYSTEM_CA_PATH "/etc/ssl/certs"

char *lab_platform_url(lab_platform_t *p, const char *tmpl, const char *query, ...)
{
        const char *segments[LAB_URL_SEGMENTS_MAX];
        char *url = NULL;
        size_t n = 0;
        va_list ap;
        int r = 0;

        va_start(ap, query);
        for (const char *seg; (seg = va_arg(ap, const char *));) {
                if (n == ELEMENTSOF(segments)) {
                        r = -E2BIG;
                        break;
                }
                segments[n++] = seg;
        }
        va_end(ap);
        if (r == 0)
                r = lab_url_build(p->config->platform.url, tmpl, segments, n, query, &url);
        if (r < 0) {
                errno = -r;
                return NULL;
        }
        return url;
}

/* Idempotency key: a UUID (version 8, RFC 9562) from SHA-256 of method, URL, body and salt. */
static int idempotency_key(const char *method, const char *url, const char *body, const char *salt,
                           char out[37])
{
        _cleanup_(lab_sha256_freep) lab_sha256_t *h = NULL;
        char hex[LAB_SHA256_HEX_LEN + 1];
        int r;

        r = lab_sha256_new(&h);
        if (r < 0)
                return r;
        lab_sha256_update(h, method, strlen(method) + 1);
        lab_sha256_update(h, url, strlen(url) + 1);
        if (body)
                lab_sha256_update(h, body, strlen(body));
        if (salt) {
                /* After a NUL, which no JSON body holds: no body stands for another's body + salt.
                 */
                lab_sha256_update(h, "", 1);
                lab_sha256_update(h, salt, strlen(salt));
        }
        r = lab_sha256_final_hex(h, hex);
        if (r < 0)
                return r;
        hex[12] = '8';                                                               /* version 8 */
        hex[16] = "89ab"[(hex[16] >= 'a' ? hex[16] - 'a' + 10 : hex[16] - '0') & 3]; /* variant */
        snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
        return 0;
}

/* curl: keep the response body, up to resp_max. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        lab_req_t *r = userdata;
        size_t n = size * nmemb;

        if (r->resp_len + n > r->resp_max) {
                r->too_large = true;
                return 0; /* CURLE_WRITE_ERROR */
        }
        if (r->resp_len + n + 1 > r->resp_cap) {
                size_t cap = r->resp_cap ? r->resp_cap : 4096;
                char *b;

                while (cap < r->resp_len + n + 1)
                        cap *= 2;
                b = realloc(r->resp, cap);
                if (!b)
                        return 0;
                r->resp = b;
                r->resp_cap = cap;
        }
        memcpy(r->resp + r->resp_len, data, n);
        r->resp_len += n;
        r->resp[r->resp_len] = '\0';
        return n;
}

/* Copy a header's value (trimmed) if the line is "name: value". */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
        size_t nl = strlen(name), i, j;

        if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return;
        for (i = nl + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        for (j = len; j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' || line[j - 1] == ' ');
             j--)
                ;
        snprintf(out, size, "%.*s", (int)(j - i), line + i);
}

/* curl: pick the headers we act on. A new status line (after a 100 or a retry) clears them. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
        lab_req_t *r = userdata;
        size_t n = size * nmemb;

        if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
                r->retry_after[0] = r->content_range[0] = '\0';
                return n;
        }
        header_value(line, n, "Retry-After", r->retry_after, sizeof r->retry_after);
        header_value(line, n, "Content-Range", r->content_range, sizeof r->content_range);
        return n;
}

/* Apply the TLS policy of docs/protocol.md. */
static void set_tls(lab_req_t *r)
{
        const lab_config_t *c = r->p->config;

        curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(r->easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, c->platform.ca_file);
        curl_easy_setopt(r->easy, CURLOPT_CAPATH,
                         c->platform.trust_system_ca ? LAB_SYSTEM_CA_PATH : NULL);
        curl_easy_setopt(r->easy, CURLOPT_SSLCERT, c->platform.cert_file);
        curl_easy_setopt(r->easy, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(r->easy, CURLOPT_SSLKEY, c->platform.key_file);
        curl_easy_setopt(r->easy, CURLOPT_SSLKEYTYPE, "PEM");
        lab_curl_easy_check_host_in_handshake(r->easy);
}

lab_req_t *lab_req_new(lab_platform_t *p, const char *method, const char *url, const char *body,
                       lab_req_done_fn done, void *data)
{
        return lab_req_new_salted(p, method, url, body, NULL, done, data);
}

lab_req_t *lab_req_new_salted(lab_platform_t *p, const char *method, const char *url,
                              const char *body, const char *key_salt, lab_req_done_fn done,
                              void *data)
{
        lab_req_t *r = calloc(1, sizeof *r);
        char line[256], key[37];

        if (!r)
                return NULL;
        r->p = p;
        r->done = done;
        r->data = data;
        r->resp_max = LAB_PROTO_BODY_MAX;
        r->url = strdup(url);
        r->body = body ? strdup(body) : NULL;
        r->easy = curl_easy_init();
        if (!r->url || (body && !r->body) || !r->easy) {
                lab_req_free(r);
                return NULL;
        }

        curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
        curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "labagent/" LABAGENT_VERSION);
        curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(p->config->platform.connect_timeout / 1000));
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        set_tls(r);

        snprintf(line, sizeof line, "X-Lab-Id: %s", p->config->lab.id);
        r->headers = curl_slist_append(r->headers, line);
        r->headers =
            curl_slist_append(r->headers, "Accept: application/json, application/problem+json");
        if (strcmp(method, "GET") != 0) {
                if (idempotency_key(method, url, body, key_salt, key) == 0) {
                        snprintf(line, sizeof line, "Idempotency-Key: %s", key);
                        r->headers = curl_slist_append(r->headers, line);
                }
                r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
                r->headers = curl_slist_append(r->headers, "Expect:");
                curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
                curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        }
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        return r;
}

void lab_req_free(lab_req_t *r)
{
        if (!r)
                return;
        if (r->easy)
                curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->headers);
        free(r->url);
        free(r->body);
        free(r->resp);
        free(r);
}

/* Unlink r from the platform's list of requests in flight. */
static void req_unlink(lab_req_t *r)
{
        LAB_LIST_REMOVE(r->p->reqs, r);
}

/* platform-curl: a request ended. */
static void on_done(CURL *easy, CURLcode rc, void *userdata)
{
        lab_req_t *r = userdata;

        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
        req_unlink(r);
        r->done(r, rc);
}

int lab_req_start(lab_req_t *r)
{
        int ret = lab_curl_loop_add(r->p->curl, r->easy, on_done, r);

        if (ret < 0) {
                lab_req_free(r);
                return ret;
        }
        LAB_LIST_PREPEND(r->p->reqs, r);
        return 0;
}

void lab_req_abort(lab_req_t *r)
{
        lab_curl_loop_remove(r->p->curl, r->easy);
        req_unlink(r);
        r->status = 0;
        r->done(r, CURLE_ABORTED_BY_CALLBACK);
}

void lab_req_abort_all(lab_platform_t *p)
{
        while (p->reqs)
                lab_req_abort(p->reqs);
}

/* True if this request opened its own connection and got no byte of answer back. */
static bool lab_req_cut_after_handshake(lab_req_t *r)
{
        long connects = 0, header_bytes = 0;

        if (!r->easy || r->status != 0 || r->resp_len != 0)
                return false;
        if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK ||
            curl_easy_getinfo(r->easy, CURLINFO_HEADER_SIZE, &header_bytes) != CURLE_OK)
                return false;
        return connects > 0 && header_bytes == 0;
}

int lab_req_result(lab_req_t *r, CURLcode rc, lab_error_t *err)
{
        char code[64], detail[512];

        switch (rc) {
        case CURLE_OK:
                break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                return lab_error_set(err, EPERM, "platform_tls_verify_failed",
                                     "the server at %s did not prove it is the platform (%s); "
                                     "nothing was sent. Check platform.url and platform.ca_file",
                                     r->url, r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
                return lab_error_set(err, EPROTO, "platform_tls_failed",
                                     "TLS handshake with %s failed (%s); nothing was sent. The "
                                     "platform may have refused the lab's certificate",
                                     r->url, r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                /*
                 * With TLS 1.3 the server checks our certificate after we
                 * consider the handshake done: its refusal arrives as an
                 * alert on the first read or write.
                 */
                if (strstr(r->errbuf, " alert "))
                        return lab_error_set(err, EPROTO, "platform_tls_failed",
                                             "TLS handshake with %s failed (%s); the platform "
                                             "refused the lab's certificate. Check "
                                             "platform.cert_file and platform.key_file",
                                             r->url, r->errbuf);
                /*
                 * The alert can also be lost: the server closes the socket
                 * and we see a reset or a broken pipe. A connection opened
                 * for this request and cut before a single byte of answer
                 * is the same refusal.
                 */
                if (lab_req_cut_after_handshake(r))
                        return lab_error_set(err, EPROTO, "platform_tls_failed",
                                             "TLS handshake with %s failed: the platform closed "
                                             "the new connection before answering (%s); it most "
                                             "likely refused the lab's certificate. Check "
                                             "platform.cert_file and platform.key_file",
                                             r->url,
                                             r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
                /* fall through */
        case CURLE_PARTIAL_FILE:
                return lab_error_set(err, EPIPE, "platform_transfer_interrupted",
                                     "the transfer from %s was cut off (%s)", r->url,
                                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        case CURLE_WRITE_ERROR:
                if (r->too_large)
                        return lab_error_set(err, EMSGSIZE, "platform_response_too_large",
                                             "the answer from %s is larger than %zu bytes; "
                                             "ignored",
                                             r->url, r->resp_max);
                /* fall through */
        default:
                return lab_error_set(err, EIO, "platform_unreachable",
                                     "cannot reach the platform at %s: %s", r->url,
                                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        }

        if (r->status >= 200 && r->status < 300)
                return 0;
        lab_proto_parse_problem(r->resp, r->resp_len, code, sizeof code, detail, sizeof detail);
        return lab_error_set(err, r->status == 409 ? EEXIST : EREMOTEIO,
                             r->status == 409 || r->status == 404   ? "platform_refused"
                             : r->status >= 500 || r->status == 429 ? "platform_unavailable"
                                                                    : "platform_rejected_request",
                             "the platform answered %ld%s%s%s%s to %s", r->status,
                             code[0] ? " " : "", code, detail[0] ? ": " : "", detail, r->url);
}

uint64_t lab_req_retry_delay(lab_req_t *r, lab_backoff_t *b)
{
        uint64_t usec, half;

        if ((r->status == 429 || r->status == 503) && r->retry_after[0] &&
            lab_parse_retry_after(r->retry_after, time(NULL), &usec) == 0) {
                b->attempt++;
                return usec;
        }
        /* Equal jitter: half the step, plus a random part of the other half. */
        half = lab_backoff_delay(b->attempt, LAB_BACKOFF_BASE_USEC_DEFAULT / 2,
                                 LAB_BACKOFF_CAP_USEC_DEFAULT / 2, UINT32_MAX);
        usec = half + lab_backoff_next(b, LAB_BACKOFF_BASE_USEC_DEFAULT / 2,
                                       LAB_BACKOFF_CAP_USEC_DEFAULT / 2, arc4random());
        return usec;
}
