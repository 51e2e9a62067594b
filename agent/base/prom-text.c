/*
 * prom-text.c - the Prometheus text exposition format 0.0.4 (see prom-text.h).
 *
 * One growing buffer. A family's HELP and TYPE lines wait for its first
 * sample; every sample line is appended whole and then checked against the
 * family's earlier lines (the same label set twice is dropped: node_exporter
 * would refuse the whole file). Every failure but that one is sticky, so a
 * caller checks once, at lab_prom_steal().
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "prom-text.h"

static const char *const type_names[] = {
    [LAB_PROM_COUNTER] = "counter",
    [LAB_PROM_GAUGE] = "gauge",
    [LAB_PROM_HISTOGRAM] = "histogram",
};

/* Record the first failure; returns it. */
static int fail(lab_prom_t *p, int error)
{
        if (p->error == 0)
                p->error = error;
        return p->error;
}

static int reserve(lab_prom_t *p, size_t more)
{
        size_t cap;
        char *buf;

        if (p->error)
                return p->error;
        if (more > LAB_PROM_TEXT_MAX || p->len + more + 1 > LAB_PROM_TEXT_MAX)
                return fail(p, -E2BIG);
        if (p->len + more + 1 <= p->cap)
                return 0;
        cap = p->cap ? p->cap : 4096;
        while (cap < p->len + more + 1)
                cap *= 2;
        buf = realloc(p->buf, cap);
        if (!buf)
                return fail(p, -ENOMEM);
        p->buf = buf;
        p->cap = cap;
        return 0;
}

static void append(lab_prom_t *p, const char *s, size_t n)
{
        if (reserve(p, n) < 0)
                return;
        memcpy(p->buf + p->len, s, n);
        p->len += n;
        p->buf[p->len] = '\0';
}

static void append_str(lab_prom_t *p, const char *s)
{
        append(p, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s starts none. */
static size_t utf8_sequence(const unsigned char *s)
{
        unsigned c = s[0], cp;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0; /* also stops at the terminating NUL */
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0; /* overlong, beyond Unicode, or a surrogate */
        return n;
}

/*
 * Append s escaped: backslash and newline always, the double quote in a
 * label value; bytes that are not UTF-8 become U+FFFD.
 */
static void append_escaped(lab_prom_t *p, const char *s, bool quote)
{
        const unsigned char *c = (const unsigned char *)s;

        while (*c && !p->error) {
                size_t n = utf8_sequence(c);

                if (n == 0) {
                        append_str(p, "\xef\xbf\xbd");
                        c++;
                } else if (*c == '\\') {
                        append_str(p, "\\\\");
                        c++;
                } else if (*c == '\n') {
                        append_str(p, "\\n");
                        c++;
                } else if (*c == '"' && quote) {
                        append_str(p, "\\\"");
                        c++;
                } else {
                        append(p, (const char *)c, n);
                        c += n;
                }
        }
}

static bool name_valid(const char *name, bool colon)
{
        size_t n;

        if (!name || !*name || (n = strlen(name)) > LAB_PROM_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');

                if (!ok)
                        return false;
        }
        return true;
}

bool lab_prom_name_valid(const char *name)
{
        return name_valid(name, true);
}

bool lab_prom_label_name_valid(const char *name)
{
        return name_valid(name, false) && strncmp(name, "__", 2) != 0;
}

int lab_prom_format_value(double value, char *buf, size_t size)
{
        int n = 0;

        if (isnan(value))
                return -EDOM;
        if (isinf(value))
                n = snprintf(buf, size, "%s", value > 0 ? "+Inf" : "-Inf");
        else if (value == 0)
                n = snprintf(buf, size, "0");                               /* -0 too */
        else if (value == trunc(value) && fabs(value) < 9007199254740992.0) /* 2^53 */
                n = snprintf(buf, size, "%.0f", value);
        else
                for (int prec = 1; prec <= 17; prec++) {
                        n = snprintf(buf, size, "%.*g", prec, value);
                        if (n < 0 || (size_t)n >= size || strtod(buf, NULL) == value)
                                break;
                }
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        /* The format's decimal point is '.', whatever LC_NUMERIC says. */
        for (char *c = buf; *c; c++)
                if (!strchr("0123456789+-eEInf", *c))
                        *c = '.';
        return 0;
}

int lab_prom_family(lab_prom_t *p, const char *name, lab_prom_type_t type, const char *help)
{
        char **families;

        if (p->error)
                return p->error;
        if (!lab_prom_name_valid(name) || (unsigned)type >= ELEMENTSOF(type_names) ||
            (type == LAB_PROM_HISTOGRAM && strlen(name) + strlen("_bucket") > LAB_PROM_NAME_MAX))
                return fail(p, -EINVAL);
        for (size_t i = 0; i < p->n_families; i++)
                if (strcmp(p->families[i], name) == 0)
                        return fail(p, -EINVAL);
        families = reallocarray(p->families, p->n_families + 1, sizeof *families);
        if (!families)
                return fail(p, -ENOMEM);
        p->families = families;
        if (!(p->families[p->n_families] = strdup(name)))
                return fail(p, -ENOMEM);
        p->n_families++;
        free(p->help);
        if (!(p->help = strdup(help ? help : "")))
                return fail(p, -ENOMEM);
        snprintf(p->family, sizeof p->family, "%s", name);
        p->type = type;
        p->header_done = false;
        return 0;
}

/* The family's HELP and TYPE lines, before its first sample. */
static void header(lab_prom_t *p)
{
        if (p->header_done)
                return;
        append_str(p, "# HELP ");
        append_str(p, p->family);
        append_str(p, " ");
        append_escaped(p, p->help, false);
        append_str(p, "\n# TYPE ");
        append_str(p, p->family);
        append_str(p, " ");
        append_str(p, type_names[p->type]);
        append_str(p, "\n");
        p->header_done = true;
        p->family_start = p->len;
}

/* Whether the label names are valid and distinct (and none is "le" when le_reserved). */
static bool labels_valid(const lab_prom_label_t *labels, size_t n, bool le_reserved)
{
        for (size_t i = 0; i < n; i++) {
                if (!lab_prom_label_name_valid(labels[i].name) || !labels[i].value ||
                    (le_reserved && strcmp(labels[i].name, "le") == 0))
                        return false;
                for (size_t k = 0; k < i; k++)
                        if (strcmp(labels[k].name, labels[i].name) == 0)
                                return false;
        }
        return true;
}

/* Whether the last line (from start) repeats, up to its value, a line of the same family. */
static bool line_repeated(const lab_prom_t *p, size_t start)
{
        const char *line = p->buf + start, *value = strrchr(line, ' ');
        size_t prefix = (size_t)(value - line) + 1; /* "name{labels} " */

        for (const char *c = p->buf + p->family_start; c < line;) {
                const char *end = memchr(c, '\n', (size_t)(line - c));

                if ((size_t)(line - c) >= prefix && memcmp(c, line, prefix) == 0)
                        return true;
                if (!end)
                        break;
                c = end + 1;
        }
        return false;
}

/* name{labels[,le="le"]} value\n: dropped (-EEXIST) when the family has that label set. */
static int sample_line(lab_prom_t *p, const char *suffix, const lab_prom_label_t *labels,
                       size_t n_labels, const char *le, const char *value)
{
        size_t start;

        header(p);
        start = p->len;
        append_str(p, p->family);
        append_str(p, suffix);
        if (n_labels > 0 || le) {
                append_str(p, "{");
                for (size_t i = 0; i < n_labels; i++) {
                        if (i)
                                append_str(p, ",");
                        append_str(p, labels[i].name);
                        append_str(p, "=\"");
                        append_escaped(p, labels[i].value, true);
                        append_str(p, "\"");
                }
                if (le) {
                        append_str(p, n_labels ? ",le=\"" : "le=\"");
                        append_str(p, le);
                        append_str(p, "\"");
                }
                append_str(p, "}");
        }
        append_str(p, " ");
        append_str(p, value);
        append_str(p, "\n");
        if (p->error)
                return p->error;
        if (line_repeated(p, start)) {
                p->len = start;
                p->buf[p->len] = '\0';
                return -EEXIST;
        }
        return 0;
}

int lab_prom_sample(lab_prom_t *p, const lab_prom_label_t *labels, size_t n_labels, double value)
{
        char v[32];

        if (p->error)
                return p->error;
        if (!p->family[0] || p->type == LAB_PROM_HISTOGRAM || (n_labels && !labels) ||
            !labels_valid(labels, n_labels, false))
                return fail(p, -EINVAL);
        if (lab_prom_format_value(value, v, sizeof v) < 0)
                return 0; /* NaN: unknown, left out */
        return sample_line(p, "", labels, n_labels, NULL, v);
}

int lab_prom_histogram_init(lab_prom_histogram_t *h, const double *bounds, size_t n)
{
        *h = (lab_prom_histogram_t){0};
        if (n == 0 || n > LAB_PROM_BUCKETS_MAX || !bounds)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                        return -EINVAL;
        memcpy(h->bounds, bounds, n * sizeof *bounds);
        h->n_bounds = n;
        return 0;
}

void lab_prom_histogram_observe(lab_prom_histogram_t *h, double value)
{
        size_t i = 0;

        if (isnan(value))
                return;
        while (i < h->n_bounds && value > h->bounds[i])
                i++;
        h->counts[i]++;
        h->count++;
        h->sum += value;
}

int lab_prom_histogram(lab_prom_t *p, const lab_prom_label_t *labels, size_t n_labels,
                       const lab_prom_histogram_t *h)
{
        char le[32], v[32];
        uint64_t cumulative = 0;
        int r;

        if (p->error)
                return p->error;
        if (!p->family[0] || p->type != LAB_PROM_HISTOGRAM || !h ||
            h->n_bounds > LAB_PROM_BUCKETS_MAX || (n_labels && !labels) ||
            !labels_valid(labels, n_labels, true))
                return fail(p, -EINVAL);
        for (size_t i = 0; i <= h->n_bounds; i++) {
                cumulative += h->counts[i];
                if (i < h->n_bounds)
                        r = lab_prom_format_value(h->bounds[i], le, sizeof le);
                else
                        r = snprintf(le, sizeof le, "+Inf") < 0 ? -EINVAL : 0;
                if (r < 0)
                        return fail(p, -EINVAL);
                snprintf(v, sizeof v, "%llu", (unsigned long long)cumulative);
                r = sample_line(p, "_bucket", labels, n_labels, le, v);
                if (r < 0)
                        return r;
        }
        if (lab_prom_format_value(h->sum, v, sizeof v) < 0)
                return fail(p, -EINVAL);
        r = sample_line(p, "_sum", labels, n_labels, NULL, v);
        if (r < 0)
                return r;
        snprintf(v, sizeof v, "%llu", (unsigned long long)h->count);
        return sample_line(p, "_count", labels, n_labels, NULL, v);
}

char *lab_prom_steal(lab_prom_t *p, size_t *ret_len, int *ret_error)
{
        char *text = NULL;

        if (!p->error && !p->buf)
                append(p, "", 0); /* nothing written: "" */
        if (p->error) {
                if (ret_error)
                        *ret_error = p->error;
                lab_prom_done(p);
                return NULL;
        }
        text = TAKE_PTR(p->buf);
        if (ret_len)
                *ret_len = p->len;
        if (ret_error)
                *ret_error = 0;
        lab_prom_done(p);
        return text;
}

void lab_prom_done(lab_prom_t *p)
{
        free(p->buf);
        free(p->help);
        for (size_t i = 0; i < p->n_families; i++)
                free(p->families[i]);
        free(p->families);
        *p = (lab_prom_t){0};
}
