/*
 * fuzz-url.c - fuzz target for the URL builder (url-path.c): no segment,
 * whatever its bytes, may give a URL whose path differs from its template.
 *
 * Why: a job id of ".." once turned POST /v1/jobs/../accept into POST
 * /v1/accept. The builder is the one door from data to a URL path; this
 * target checks it the way the request is really sent: libcurl's own URL
 * parser (CURLU, which also removes dot segments) reads the result, and the
 * path must have exactly the template's segments, the fixed ones unchanged
 * and each variable one decoding back to the input's bytes. Any difference
 * aborts.
 *
 * Input: the first byte picks a template, the rest are the segments,
 * separated by NUL bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "url-path.h"

#define BASE      "https://platform.test/api"
#define BASE_PATH "/api"
#define SEGS_MAX  4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
        const char *tmpl, *query;
} templates[] = {
    {"/v1/jobs/{}/accept", NULL},  {"/v1/labs/{}/assignments", "wait=25"},
    {"/v1/labs/{}/events", NULL},  {"/v1/labs/{}/active-jobs", NULL},
    {"/v1/labs/{}/devices", NULL}, {"/v1/{}/{}/{}", NULL},
};

/* The value of one hex digit, or -1. */
static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Whether the raw path segment raw (len bytes) percent-decodes to exactly want. */
static int decodes_to(const char *raw, size_t len, const char *want)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++, o++) {
                int c = (unsigned char)raw[i];

                if (c == '%') {
                        int hi, lo;

                        if (i + 2 >= len)
                                return 0;
                        hi = hexval(raw[i + 1]);
                        lo = hexval(raw[i + 2]);
                        if (hi < 0 || lo < 0)
                                return 0;
                        c = hi * 16 + lo;
                        i += 2;
                } else if (!lab_url_unreserved((char)c)) {
                        return 0; /* sent unencoded: only unreserved characters may be */
                }
                if (want[o] == '\0' || (unsigned char)want[o] != c)
                        return 0;
        }
        return want[o] == '\0';
}

/* Whether s would change a path: empty, "." or "..". */
static int dot_or_empty(const char *s)
{
        return s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

/* Check the built url against the template; abort on any difference. */
static void check(const char *url, const char *tmpl, const char *query, char **segs)
{
        CURLU *u = curl_url();
        char *path = NULL, *q = NULL, *host = NULL, *frag = NULL;
        const char *p, *t;
        size_t next = 0;

        if (!u)
                abort();
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                abort();
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
                abort();
        if (strcmp(host, "platform.test") != 0)
                abort();
        if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) != CURLUE_NO_FRAGMENT)
                abort();
        if (query) {
                if (curl_url_get(u, CURLUPART_QUERY, &q, 0) != CURLUE_OK || strcmp(q, query) != 0)
                        abort();
        } else if (curl_url_get(u, CURLUPART_QUERY, &q, 0) != CURLUE_NO_QUERY) {
                abort();
        }

        /* The path: the base's, then the template's segments one for one. */
        if (strncmp(path, BASE_PATH, strlen(BASE_PATH)) != 0)
                abort();
        p = path + strlen(BASE_PATH);
        t = tmpl;
        for (;;) {
                size_t plen, tlen;

                if (*p != '/' || *t != '/')
                        abort();
                p++;
                t++;
                plen = strcspn(p, "/");
                tlen = strcspn(t, "/");
                if (tlen == 2 && t[0] == '{' && t[1] == '}') {
                        if (!decodes_to(p, plen, segs[next++]))
                                abort();
                } else if (plen != tlen || memcmp(p, t, tlen) != 0) {
                        abort();
                }
                p += plen;
                t += tlen;
                if (*t == '\0') {
                        if (*p != '\0')
                                abort(); /* more segments than the template */
                        break;
                }
                if (*p == '\0')
                        abort(); /* fewer segments than the template */
        }
        curl_free(path);
        curl_free(q);
        curl_free(host);
        curl_free(frag);
        curl_url_cleanup(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *segs[SEGS_MAX] = {0}, *buf, *url = NULL;
        const char *tmpl, *query;
        size_t n_slots = 0, len, pick;
        int refused = 0, r;

        if (size < 1 || size > 65536)
                return 0;
        pick = data[0] % (sizeof templates / sizeof templates[0]);
        tmpl = templates[pick].tmpl;
        query = templates[pick].query;
        for (const char *c = strstr(tmpl, "{}"); c; c = strstr(c + 2, "{}"))
                n_slots++;

        /* The segments: NUL-separated; missing ones are empty. */
        buf = malloc(size);
        if (!buf)
                return 0;
        len = size - 1;
        memcpy(buf, data + 1, len);
        buf[len] = '\0';
        for (size_t i = 0, start = 0; i < n_slots; i++) {
                segs[i] = buf + (start <= len ? start : len);
                start += strlen(segs[i]) + 1;
        }
        for (size_t i = 0; i < n_slots; i++)
                refused |= dot_or_empty(segs[i]);

        r = lab_url_build(BASE, tmpl, (const char *const *)segs, n_slots, query, &url);
        if (refused) {
                if (r != -EINVAL || url)
                        abort(); /* a segment that would change the path got through */
        } else {
                if (r != 0 || !url)
                        abort();
                check(url, tmpl, query, segs);
        }
        free(url);
        free(buf);
        return 0;
}
