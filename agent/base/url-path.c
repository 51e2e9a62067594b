/*
 * url-path.c - the id grammar and the URL builder (see url-path.h).
 *
 * Why a file of its own: the grammar is shared by the config (printer names),
 * the job parser and the platform link, and the builder is the only place a
 * URL path is put together from data, so both must be one function each,
 * small enough to unit-test and fuzz on their own (tests/fuzz/fuzz-url.c).
 * Never: let a segment through unencoded, or let one be "." or "..".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url-path.h"

/* A letter or a digit, in ASCII whatever the locale. */
static bool is_alnum(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool lab_url_unreserved(char c)
{
        return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool lab_id_valid(const char *id)
{
        size_t n;

        if (!id)
                return false;
        for (n = 0; id[n]; n++) {
                char c = id[n];

                if (n >= LAB_ID_MAX)
                        return false;
                if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
                        return false;
        }
        return n > 0 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

/* A segment that would change the path once in a URL: empty, "." or "..". */
static bool dot_or_empty(const char *s)
{
        return s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

/* Whether tmpl is "/seg/seg/..." with only unreserved characters, each "{}" a whole segment. */
static bool template_ok(const char *tmpl, size_t *ret_slots)
{
        size_t slots = 0;

        if (tmpl[0] != '/')
                return false;
        for (const char *seg = tmpl + 1;;) {
                size_t len = strcspn(seg, "/");

                if (len == 2 && seg[0] == '{' && seg[1] == '}')
                        slots++;
                else if (len == 0 && seg[len] != '\0')
                        return false; /* "//" */
                else
                        for (size_t i = 0; i < len; i++)
                                if (!lab_url_unreserved(seg[i]))
                                        return false;
                if (len == 1 && seg[0] == '.')
                        return false;
                if (len == 2 && seg[0] == '.' && seg[1] == '.')
                        return false;
                if (seg[len] == '\0')
                        break;
                seg += len + 1;
        }
        *ret_slots = slots;
        return true;
}

/* Whether base can take a path: no query, no fragment, no space or control character. */
static bool base_ok(const char *base)
{
        if (base[0] == '\0')
                return false;
        for (const unsigned char *c = (const unsigned char *)base; *c; c++)
                if (*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
                        return false;
        return true;
}

/* Whether query is plain "name=value&..." text that needs no encoding. */
static bool query_ok(const char *query)
{
        for (const char *c = query; *c; c++)
                if (!lab_url_unreserved(*c) && *c != '=' && *c != '&')
                        return false;
        return true;
}

int lab_url_build(const char *base, const char *tmpl, const char *const *segments,
                  size_t n_segments, const char *query, char **ret)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t base_len, slots = 0, size, next = 0;
        char *url, *o;

        *ret = NULL;
        if (!base || !tmpl || !base_ok(base) || !template_ok(tmpl, &slots) || slots != n_segments ||
            (query && !query_ok(query)))
                return -EINVAL;
        base_len = strlen(base);
        while (base_len > 0 && base[base_len - 1] == '/')
                base_len--;

        size = base_len + strlen(tmpl) + 1 + (query ? strlen(query) + 1 : 0);
        for (size_t i = 0; i < n_segments; i++) {
                size_t len;

                if (!segments[i] || dot_or_empty(segments[i]))
                        return -EINVAL;
                len = strlen(segments[i]);
                if (len > (SIZE_MAX - size) / 3)
                        return -ENOMEM;
                size += 3 * len;
        }

        url = malloc(size);
        if (!url)
                return -ENOMEM;
        memcpy(url, base, base_len);
        o = url + base_len;
        for (const char *t = tmpl; *t;) {
                if (t[0] == '{' && t[1] == '}') {
                        for (const char *c = segments[next]; *c; c++) {
                                if (lab_url_unreserved(*c)) {
                                        *o++ = *c;
                                } else {
                                        *o++ = '%';
                                        *o++ = hex[(unsigned char)*c >> 4];
                                        *o++ = hex[(unsigned char)*c & 0xf];
                                }
                        }
                        next++;
                        t += 2;
                } else {
                        *o++ = *t++;
                }
        }
        if (query) {
                *o++ = '?';
                memcpy(o, query, strlen(query));
                o += strlen(query);
        }
        *o = '\0';
        *ret = url;
        return 0;
}
