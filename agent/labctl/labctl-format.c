/*
 * labctl-format.c - the daemon's answers as text for a terminal (see
 * labctl-format.h).
 *
 * Why: one place decides how a job, a printer or a refusal reads, for every
 * labctl command and for the live view, and the unit tests hold it to the
 * column. The one idea: every value goes through a small table (columns
 * sized to their content, capped, the long free-text ones narrowed first to
 * fit the terminal) after lab_ctl_clean(), so no string from the daemon
 * reaches the terminal unfiltered.
 *
 * Must never do I/O other than writing to the FILE * it is given, and never
 * trust the answer's shape: a missing or mistyped field prints as "-".
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job-state.h"
#include "amount.h"
#include "labctl-format.h"
#include "rfc3339.h"
#include "macro.h"

const char *const lab_ctl_defects[LAB_CTL_N_DEFECTS] = {
    "banding", "colour_cast", "scratch",     "crease", "smear",
    "cut",     "paper_jam",   "not_printed", "other",
};

#define SGR_BOLD   "\033[1m"
#define SGR_RED    "\033[31m"
#define SGR_GREEN  "\033[32m"
#define SGR_YELLOW "\033[33m"
#define SGR_RESET  "\033[0m"

/* Cells cut to fit end with this mark. */
#define ELLIPSIS_UTF8  "\xe2\x80\xa6"
#define ELLIPSIS_ASCII "..."

/* The narrowest a free-text column is made to fit the terminal. */
#define FLEX_MIN 8

bool lab_ctl_defect_valid(const char *s)
{
        for (size_t i = 0; s && i < LAB_CTL_N_DEFECTS; i++)
                if (strcmp(s, lab_ctl_defects[i]) == 0)
                        return true;
        return false;
}

size_t lab_ctl_utf8_length(const char *s)
{
        size_t n = 0;

        for (; s && *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Bytes taken by the first `chars` characters of the (valid UTF-8) string s. */
static size_t utf8_prefix_bytes(const char *s, size_t chars)
{
        size_t i = 0;

        while (s[i] && chars > 0) {
                i++;
                while (((unsigned char)s[i] & 0xc0) == 0x80)
                        i++;
                chars--;
        }
        return i;
}

/* The string at key, or NULL when missing or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The string at key, or NULL when missing, not a string or empty. */
static const char *jstr_nonempty(const json_t *o, const char *key)
{
        const char *s = jstr(o, key);

        return s && *s ? s : NULL;
}

/* The integer at key into *ret; false when missing or not an integer. */
static bool jint(const json_t *o, const char *key, long long *ret)
{
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        if (!json_is_integer(v))
                return false;
        *ret = (long long)json_integer_value(v);
        return true;
}

/* The integer at key as text into buf ("-" when missing). */
static const char *jint_text(const json_t *o, const char *key, char *buf, size_t size)
{
        long long v;

        if (!jint(o, key, &v))
                return "-";
        snprintf(buf, size, "%lld", v);
        return buf;
}

/* The number (integer or real) at key into *ret; false when missing, null or not a number. */
static bool jnum(const json_t *o, const char *key, double *ret)
{
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        if (!json_is_number(v) || !isfinite(json_number_value(v)))
                return false;
        *ret = json_number_value(v);
        return true;
}

/* The number at key as lab_format_amount() writes it ("-" when missing or null). */
static const char *jnum_text(const json_t *o, const char *key, char *buf, size_t size)
{
        double v;

        if (!jnum(o, key, &v))
                return "-";
        return lab_format_amount(v, buf, size);
}

time_t lab_ctl_answer_now(const json_t *answer, time_t fallback)
{
        json_t *agent = json_is_object(answer) ? json_object_get(answer, "agent") : NULL;
        time_t t;

        if (lab_parse_rfc3339(jstr(agent, "now"), &t) < 0)
                return fallback;
        return t;
}

char *lab_ctl_format_age(long long seconds, char *buf, size_t size)
{
        long long h, m;

        if (seconds < 0)
                seconds = 0;
        if (seconds < 60)
                snprintf(buf, size, "%llds", seconds);
        else if (seconds < 3600)
                snprintf(buf, size, "%lldm", seconds / 60);
        else if (seconds < 86400) {
                h = seconds / 3600;
                m = seconds % 3600 / 60;
                if (m)
                        snprintf(buf, size, "%lldh%lldm", h, m);
                else
                        snprintf(buf, size, "%lldh", h);
        } else
                snprintf(buf, size, "%lldd", seconds / 86400);
        return buf;
}

/* The age of the time at key against o->now ("-" when missing or not a time). */
static const char *age_of(const json_t *obj, const char *key, const lab_ctl_fmt_t *o, char *buf,
                          size_t size)
{
        time_t t;

        if (lab_parse_rfc3339(jstr(obj, key), &t) < 0)
                return "-";
        return lab_ctl_format_age((long long)o->now - (long long)t, buf, size);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
        unsigned char b = s[0];
        size_t n;

        if (b >= 0xc2 && b <= 0xdf)
                n = 2;
        else if (b >= 0xe0 && b <= 0xef)
                n = 3;
        else if (b >= 0xf0 && b <= 0xf4)
                n = 4;
        else
                return 0;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        if ((b == 0xe0 && s[1] < 0xa0) || (b == 0xed && s[1] >= 0xa0) ||
            (b == 0xf0 && s[1] < 0x90) || (b == 0xf4 && s[1] >= 0x90))
                return 0; /* overlong, surrogate, beyond U+10FFFF */
        return n;
}

char *lab_ctl_clean(const char *s, bool utf8)
{
        const unsigned char *p = (const unsigned char *)s;
        char *out, *q;

        if (!s)
                return strdup("-");
        out = malloc(strlen(s) + 1);
        if (!out)
                return NULL;
        for (q = out; *p;) {
                size_t n;

                if (*p < 0x80) {
                        if (*p == '\t' || *p == '\n' || *p == '\r')
                                *q++ = ' ';
                        else if (*p < 0x20 || *p == 0x7f)
                                *q++ = '?';
                        else
                                *q++ = (char)*p;
                        p++;
                        continue;
                }
                n = utf8_sequence(p);
                if (n == 0) {
                        *q++ = '?';
                        p++;
                } else if (!utf8 || (p[0] == 0xc2 && p[1] < 0xa0)) {
                        /* Not shown, or a C1 control (U+0080..U+009F; U+009B is CSI). */
                        *q++ = '?';
                        p += n;
                } else {
                        memcpy(q, p, n);
                        q += n;
                        p += n;
                }
        }
        *q = '\0';
        return out;
}

/* Write s cleaned for the terminal (NULL or "" as dash). */
static void put_clean(FILE *f, const char *s, const char *dash, const lab_ctl_fmt_t *o)
{
        _cleanup_free_ char *c = NULL;

        if (!s || !*s) {
                fputs(dash, f);
                return;
        }
        c = lab_ctl_clean(s, o->utf8);
        fputs(c ? c : "?", f);
}

/* Write s in colour sgr (when colours are on). */
static void put_color(FILE *f, const char *sgr, const char *s, const lab_ctl_fmt_t *o)
{
        if (o->color && sgr)
                fputs(sgr, f);
        put_clean(f, s, "-", o);
        if (o->color && sgr)
                fputs(SGR_RESET, f);
}

/* The colour a job or copy state is shown in, or NULL (a copy's keywords are job states too). */
static const char *state_color(const char *state)
{
        switch (lab_job_state_from_string(state)) {
        case LAB_JOB_FAILED:
        case LAB_JOB_REJECTED:
        case LAB_JOB_UNCERTAIN:
                return SGR_RED;
        case LAB_JOB_HELD:
        case LAB_JOB_REROUTED:
        case LAB_JOB_CANCELED:
        case LAB_JOB_DROPPED:
                return SGR_YELLOW;
        case LAB_JOB_PRINTED:
        case LAB_JOB_REPORTED:
                return SGR_GREEN;
        default:
                return NULL;
        }
}

/* The colour a stock state is shown in, or NULL. */
static const char *stock_color(const char *state)
{
        if (!state)
                return NULL;
        if (strcmp(state, "ok") == 0)
                return SGR_GREEN;
        if (strcmp(state, "low") == 0)
                return SGR_YELLOW;
        if (strcmp(state, "out") == 0)
                return SGR_RED;
        return NULL;
}

/* ---- tables ---- */

typedef struct col_s {
        const char *title;
        unsigned max; /* cells longer than this are cut (0: never; names people type) */
        bool right;   /* numbers, aligned right */
        bool flex;    /* free text, narrowed first to fit the terminal */
} col_t;

#define TABLE_MAX_COLS 12

typedef struct table_s {
        const col_t *cols;
        size_t n_cols, n_rows, alloc;
        const lab_ctl_fmt_t *o;
        char **cells;        /* n_rows * n_cols strings, cleaned for o->utf8 */
        const char **colors; /* one SGR (or NULL) per cell */
        bool oom;
} table_t;

/* Free what a table holds. */
static void table_done(table_t *t)
{
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
}

/* Append a row of n_cols cells (NULL or "" shows "-") with their colours (colors may be NULL). */
static void table_add(table_t *t, const char *const *cells, const char *const *colors)
{
        size_t base;

        if (t->oom)
                return;
        if (t->n_rows == t->alloc) {
                size_t alloc = t->alloc ? t->alloc * 2 : 16;
                char **c = reallocarray(t->cells, alloc * t->n_cols, sizeof(char *));
                const char **k;

                if (!c) {
                        t->oom = true;
                        return;
                }
                t->cells = c;
                k = reallocarray(t->colors, alloc * t->n_cols, sizeof(char *));
                if (!k) {
                        t->oom = true;
                        return;
                }
                t->colors = k;
                t->alloc = alloc;
        }
        base = t->n_rows * t->n_cols;
        for (size_t i = 0; i < t->n_cols; i++) {
                const char *s = cells[i] && *cells[i] ? cells[i] : "-";

                t->cells[base + i] = lab_ctl_clean(s, t->o->utf8);
                t->colors[base + i] = colors ? colors[i] : NULL;
                if (!t->cells[base + i]) {
                        for (size_t j = 0; j < i; j++)
                                free(t->cells[base + j]);
                        t->oom = true;
                        return;
                }
        }
        t->n_rows++;
}

/* Write cell c (clean) in `width` columns, cut with an ellipsis, padded unless last. */
static void table_cell(FILE *f, const char *c, const char *sgr, size_t width, bool right, bool last,
                       const lab_ctl_fmt_t *o)
{
        const char *ell = o->utf8 ? ELLIPSIS_UTF8 : ELLIPSIS_ASCII;
        size_t ell_w = o->utf8 ? 1 : 3;
        size_t len = lab_ctl_utf8_length(c), shown, keep;
        bool cut = len > width;

        if (!cut)
                keep = shown = len;
        else if (width > ell_w) {
                keep = width - ell_w;
                shown = width;
        } else {
                keep = shown = width;
                cut = false;
        }
        if (right)
                for (size_t i = shown; i < width; i++)
                        fputc(' ', f);
        if (o->color && sgr)
                fputs(sgr, f);
        fwrite(c, 1, utf8_prefix_bytes(c, keep), f);
        if (cut)
                fputs(ell, f);
        if (o->color && sgr)
                fputs(SGR_RESET, f);
        if (!right && !last)
                for (size_t i = shown; i < width; i++)
                        fputc(' ', f);
}

/* Write the table: columns sized to their content, capped, narrowed to fit o->width. */
static void table_print(FILE *f, const table_t *t)
{
        const lab_ctl_fmt_t *o = t->o;
        size_t width[TABLE_MAX_COLS];
        size_t total = 0;

        if (t->oom) {
                fputs("labctl: out of memory\n", f);
                return;
        }
        for (size_t c = 0; c < t->n_cols && c < TABLE_MAX_COLS; c++) {
                size_t w = strlen(t->cols[c].title);

                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t l = lab_ctl_utf8_length(t->cells[r * t->n_cols + c]);

                        if (l > w)
                                w = l;
                }
                if (t->cols[c].max && w > t->cols[c].max)
                        w = t->cols[c].max;
                width[c] = w;
                total += w + (c ? 2 : 0);
        }
        /* Too wide for the terminal: narrow the widest free-text column, one at a time. */
        while (o->width && total > o->width) {
                size_t best = t->n_cols;

                for (size_t c = 0; c < t->n_cols; c++) {
                        size_t min = strlen(t->cols[c].title);

                        if (min < FLEX_MIN)
                                min = FLEX_MIN;
                        if (t->cols[c].flex && width[c] > min &&
                            (best == t->n_cols || width[c] > width[best]))
                                best = c;
                }
                if (best == t->n_cols)
                        break;
                width[best]--;
                total--;
        }
        for (size_t c = 0; c < t->n_cols; c++) {
                if (c)
                        fputs("  ", f);
                table_cell(f, t->cols[c].title, SGR_BOLD, width[c], t->cols[c].right,
                           c + 1 == t->n_cols, o);
        }
        fputc('\n', f);
        for (size_t r = 0; r < t->n_rows; r++) {
                for (size_t c = 0; c < t->n_cols; c++) {
                        if (c)
                                fputs("  ", f);
                        table_cell(f, t->cells[r * t->n_cols + c], t->colors[r * t->n_cols + c],
                                   width[c], t->cols[c].right, c + 1 == t->n_cols, o);
                }
                fputc('\n', f);
        }
}

/* ---- pieces ---- */

/* "reason: detail", "reason", "detail" or NULL, into buf. */
static const char *reason_text(const json_t *obj, char *buf, size_t size)
{
        const char *reason = jstr_nonempty(obj, "reason");
        const char *detail = jstr_nonempty(obj, "detail");

        if (reason && detail)
                snprintf(buf, size, "%s: %s", reason, detail);
        else if (reason || detail)
                snprintf(buf, size, "%s", reason ? reason : detail);
        else
                return NULL;
        return buf;
}

char *lab_ctl_format_copies(const json_t *copies, char *buf, size_t size)
{
        long long total = 0, printed = 0, uncertain = 0, failed = 0;
        const char *key;
        json_t *v;
        int n;

        if (json_is_object(copies))
                json_object_foreach((json_t *)copies, key, v)
                {
                        long long c = json_is_integer(v) ? (long long)json_integer_value(v) : 0;

                        if (c <= 0)
                                continue;
                        total += c;
                        switch (lab_copy_state_from_string(key)) {
                        case LAB_COPY_PRINTED:
                                printed = c;
                                break;
                        case LAB_COPY_UNCERTAIN:
                                uncertain = c;
                                break;
                        case LAB_COPY_FAILED:
                                failed = c;
                                break;
                        default:
                                break;
                        }
                }
        if (total == 0) {
                snprintf(buf, size, "-");
                return buf;
        }
        n = snprintf(buf, size, "%lld/%lld printed", printed, total);
        if (uncertain && n >= 0 && (size_t)n < size)
                n += snprintf(buf + n, size - (size_t)n, ", %lld uncertain", uncertain);
        if (failed && n >= 0 && (size_t)n < size)
                snprintf(buf + n, size - (size_t)n, ", %lld failed", failed);
        return buf;
}

void lab_ctl_format_status_header(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *agent = json_object_get(a, "agent");
        json_t *platform = json_object_get(a, "platform");
        const char *status = jstr_nonempty(agent, "status");
        const char *role = jstr_nonempty(a, "role"), *user = jstr_nonempty(a, "user");
        char up[LAB_CTL_AGE_MAX];
        long long outbox;

        fputs("labagent ", f);
        put_clean(f, jstr_nonempty(agent, "version"), "?", o);
        fputs(" at ", f);
        put_clean(f, jstr_nonempty(agent, "lab"), "?", o);
        fprintf(f, ", up %s", age_of(agent, "started_at", o, up, sizeof up));
        if (status) {
                fputs(": ", f);
                put_clean(f, status, "-", o);
        }
        fputs("\nPlatform ", f);
        put_clean(f, jstr_nonempty(platform, "url"), "?", o);
        if (!jint(platform, "outbox", &outbox))
                fputs(": outbox unknown\n", f);
        else if (outbox == 0)
                fputs(": outbox empty, every event delivered\n", f);
        else
                fprintf(f, ": %lld event%s waiting in the outbox\n", outbox,
                        outbox == 1 ? "" : "s");
        if (user || role) {
                fputs("You are ", f);
                put_clean(f, user, "?", o);
                fputs(" (", f);
                put_clean(f, role, "no role", o);
                fputs(")\n", f);
        }
}

void lab_ctl_format_counts(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *counts = json_object_get(a, "counts");
        const char *key;
        bool any = false;
        json_t *v;

        fputs("Jobs:", f);
        /* The known states in lifecycle order, then any other the daemon sends. */
        for (int i = 0; i < LAB_JOB_STATE_MAX; i++) {
                const char *state = lab_job_state_to_string((lab_job_state_t)i);
                long long n;

                if (!jint(counts, state, &n) || n <= 0)
                        continue;
                fprintf(f, "%s %lld ", any ? "," : "", n);
                put_color(f, state_color(state), state, o);
                any = true;
        }
        if (json_is_object(counts))
                json_object_foreach(counts, key, v)
                {
                        if (lab_job_state_from_string(key) != LAB_JOB_STATE_INVALID ||
                            !json_is_integer(v) || json_integer_value(v) <= 0)
                                continue;
                        fprintf(f, "%s %lld ", any ? "," : "", (long long)json_integer_value(v));
                        put_clean(f, key, "-", o);
                        any = true;
                }
        fputs(any ? "\n" : " none\n", f);
}

void lab_ctl_format_printer_table(FILE *f, const json_t *printers, bool with_driver,
                                  const lab_ctl_fmt_t *o)
{
        static const col_t cols_driver[] = {
            {"NAME", 0, false, false},       {"DRIVER", 12, false, false},
            {"STATE", 12, false, false},     {"AVAILABLE", 48, false, true},
            {"PAUSED", 48, false, true},     {"QUEUED", 0, true, false},
            {"PRINTING", 0, true, false},    {"STOCK", 8, false, false},
            {"DEFECTS/24H", 0, true, false},
        };
        static const col_t cols[] = {
            {"NAME", 0, false, false},      {"STATE", 12, false, false},
            {"AVAILABLE", 48, false, true}, {"PAUSED", 48, false, true},
            {"QUEUED", 0, true, false},     {"PRINTING", 0, true, false},
        };
        table_t t = {.cols = with_driver ? cols_driver : cols,
                     .n_cols = with_driver ? ELEMENTSOF(cols_driver) : ELEMENTSOF(cols),
                     .o = o};
        size_t n = json_is_array(printers) ? json_array_size(printers) : 0;

        if (n == 0) {
                fputs("No printers configured.\n", f);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *p = json_array_get(printers, i);
                json_t *paused = json_object_get(p, "paused");
                json_t *avail = json_object_get(p, "available");
                const char *reason = jstr_nonempty(p, "reason");
                char av[512], pz[512], q[32], pr[32], age[LAB_CTL_AGE_MAX], defects[32];
                const char *cells[ELEMENTSOF(cols_driver)], *colors[ELEMENTSOF(cols_driver)] = {0};
                double rate;
                size_t k = 0;

                if (json_is_true(avail))
                        snprintf(av, sizeof av, "yes");
                else if (!json_is_boolean(avail))
                        snprintf(av, sizeof av, "-");
                else if (!reason)
                        snprintf(av, sizeof av, "no");
                else if (json_is_object(paused) && strncmp(reason, "printer_paused", 14) == 0)
                        snprintf(av, sizeof av, "no: printer_paused"); /* PAUSED says the rest */
                else
                        snprintf(av, sizeof av, "no: %s", reason);

                if (!json_is_object(paused))
                        snprintf(pz, sizeof pz, "-");
                else {
                        const char *by = jstr_nonempty(paused, "by");
                        const char *why = jstr_nonempty(paused, "reason");
                        int m = snprintf(pz, sizeof pz, "by %s %s ago", by ? by : "?",
                                         age_of(paused, "since", o, age, sizeof age));

                        if (why && m > 0 && (size_t)m < sizeof pz)
                                snprintf(pz + m, sizeof pz - (size_t)m, ": %s", why);
                }
                cells[k++] = jstr(p, "name");
                if (with_driver)
                        cells[k++] = jstr(p, "driver");
                colors[k] = NULL;
                cells[k++] = jstr(p, "state");
                colors[k] = json_is_true(avail) ? SGR_GREEN : SGR_RED;
                cells[k++] = av;
                colors[k] = json_is_object(paused) ? SGR_YELLOW : NULL;
                cells[k++] = pz;
                cells[k++] = jint_text(p, "queued", q, sizeof q);
                cells[k++] = jint_text(p, "printing", pr, sizeof pr);
                if (with_driver) {
                        /* Its worst stock item ("" none: "-") and its defects per print. */
                        colors[k] = stock_color(jstr(p, "stock"));
                        cells[k++] = jstr(p, "stock");
                        if (jnum(p, "defect_rate_24h", &rate) && rate >= 0)
                                snprintf(defects, sizeof defects, "%.1f%%", rate * 100.0);
                        else
                                snprintf(defects, sizeof defects, "-");
                        cells[k++] = defects;
                }
                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

void lab_ctl_format_stuck(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        static const col_t cols[] = {
            {"ID", 0, false, false},   {"ORDER", 24, false, true},  {"STATE", 12, false, false},
            {"SINCE", 0, true, false}, {"REASON", 60, false, true},
        };
        json_t *stuck = json_object_get(a, "stuck");
        size_t n = json_is_array(stuck) ? json_array_size(stuck) : 0;
        table_t t = {.cols = cols, .n_cols = ELEMENTSOF(cols), .o = o};

        if (n == 0) {
                fputs("Needs attention: nothing\n", f);
                return;
        }
        fprintf(f, "Needs attention (%zu):\n", n);
        for (size_t i = 0; i < n; i++) {
                json_t *j = json_array_get(stuck, i);
                char why[1024], age[LAB_CTL_AGE_MAX];
                const char *cells[] = {jstr(j, "id"), jstr(j, "order_id"), jstr(j, "state"),
                                       age_of(j, "updated_at", o, age, sizeof age),
                                       reason_text(j, why, sizeof why)};
                const char *colors[] = {NULL, NULL, state_color(jstr(j, "state")), NULL, NULL};

                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

void lab_ctl_format_job_table(FILE *f, const json_t *jobs, const lab_ctl_fmt_t *o)
{
        static const col_t cols[] = {
            {"ID", 0, false, false},      {"ORDER", 24, false, true},   {"SKU", 24, false, true},
            {"QTY", 0, true, false},      {"PRIO", 8, false, false},    {"STATE", 12, false, false},
            {"PRINTER", 16, false, true}, {"COPIES", 28, false, false}, {"AGE", 0, true, false},
            {"REASON", 60, false, true},
        };
        size_t n = json_is_array(jobs) ? json_array_size(jobs) : 0;
        table_t t = {.cols = cols, .n_cols = ELEMENTSOF(cols), .o = o};

        if (n == 0)
                return;
        for (size_t i = 0; i < n; i++) {
                json_t *j = json_array_get(jobs, i);
                char why[1024], age[LAB_CTL_AGE_MAX], qty[32], copies[96];
                const char *cells[] = {
                    jstr(j, "id"),
                    jstr(j, "order_id"),
                    jstr(j, "sku"),
                    jint_text(j, "quantity", qty, sizeof qty),
                    jstr(j, "priority"),
                    jstr(j, "state"),
                    jstr(j, "printer"),
                    lab_ctl_format_copies(json_object_get(j, "copies"), copies, sizeof copies),
                    age_of(j, "created_at", o, age, sizeof age),
                    reason_text(j, why, sizeof why),
                };
                const char *colors[ELEMENTSOF(cols)] = {0};

                colors[5] = state_color(jstr(j, "state"));
                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

void lab_ctl_format_jobs(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *jobs = json_object_get(a, "jobs");
        size_t n = json_is_array(jobs) ? json_array_size(jobs) : 0;
        long long total;

        if (!jint(a, "total", &total))
                total = (long long)n;
        lab_ctl_format_job_table(f, jobs, o);
        if (n > 0)
                fputc('\n', f);
        fprintf(f, "%zu of %lld shown", n, total);
        if ((long long)n < total)
                fputs(" (oldest first; --limit shows more, --state narrows)", f);
        fputc('\n', f);
}

/* One "  Label:    value" line of the job block (value cleaned; NULL as "-"). */
static void detail_line(FILE *f, const char *label, const char *value, const lab_ctl_fmt_t *o)
{
        fprintf(f, "  %-10s", label);
        put_clean(f, value, "-", o);
        fputc('\n', f);
}

/* A time field as "2026-11-28T09:12:44Z (4m ago)" or "... (in 2h)" into buf. */
static const char *when_text(const json_t *obj, const char *key, const lab_ctl_fmt_t *o, char *buf,
                             size_t size)
{
        const char *s = jstr_nonempty(obj, key);
        char age[LAB_CTL_AGE_MAX];
        time_t t;

        if (!s)
                return NULL;
        if (lab_parse_rfc3339(s, &t) < 0)
                snprintf(buf, size, "%s", s);
        else if (t > o->now)
                snprintf(buf, size, "%s (in %s)", s,
                         lab_ctl_format_age((long long)t - (long long)o->now, age, sizeof age));
        else
                snprintf(buf, size, "%s (%s ago)", s,
                         lab_ctl_format_age((long long)o->now - (long long)t, age, sizeof age));
        return buf;
}

void lab_ctl_format_job(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        static const col_t cols[] = {
            {"COPY", 0, true, false},      {"STATE", 12, false, false},
            {"PRINTER", 16, false, true},  {"ATTEMPT", 0, true, false},
            {"JOB NAME", 0, false, false}, {"UPDATED", 0, true, false},
            {"REASON", 60, false, true},
        };
        json_t *j = json_object_get(a, "job");
        json_t *detail = json_object_get(j, "copies_detail");
        size_t n = json_is_array(detail) ? json_array_size(detail) : 0;
        table_t t = {.cols = cols, .n_cols = ELEMENTSOF(cols), .o = o};
        char buf[1024], copies[96];
        const char *sku;
        long long qty;

        fputs("Job ", f);
        put_clean(f, jstr(j, "id"), "-", o);
        fputs(", order ", f);
        put_clean(f, jstr(j, "order_id"), "-", o);
        fputc('\n', f);
        fprintf(f, "  %-10s", "State:");
        put_color(f, state_color(jstr(j, "state")), jstr(j, "state"), o);
        if (jstr_nonempty(j, "reason")) {
                fputs(" (", f);
                put_clean(f, jstr(j, "reason"), "-", o);
                fputc(')', f);
        }
        fputc('\n', f);
        if (jstr_nonempty(j, "detail"))
                detail_line(f, "Detail:", jstr(j, "detail"), o);
        sku = jstr(j, "sku");
        snprintf(buf, sizeof buf, "%s", sku ? sku : "-");
        if (jint(j, "quantity", &qty)) {
                size_t l = strlen(buf);

                snprintf(buf + l, sizeof buf - l, ", quantity %lld", qty);
        }
        detail_line(f, "Product:", buf, o);
        detail_line(f, "Priority:", jstr(j, "priority"), o);
        detail_line(f, "Deadline:", when_text(j, "deadline", o, buf, sizeof buf), o);
        detail_line(f, "Printer:", jstr(j, "printer"), o);
        detail_line(f, "Copies:",
                    lab_ctl_format_copies(json_object_get(j, "copies"), copies, sizeof copies), o);
        detail_line(f, "Created:", when_text(j, "created_at", o, buf, sizeof buf), o);
        detail_line(f, "Updated:", when_text(j, "updated_at", o, buf, sizeof buf), o);
        fputc('\n', f);
        if (n == 0) {
                fputs("No copies yet: the job is not queued at a printer.\n", f);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *c = json_array_get(detail, i);
                char copy[32], attempt[32], age[LAB_CTL_AGE_MAX], why[1024];
                const char *cells[] = {
                    jint_text(c, "copy", copy, sizeof copy),
                    jstr(c, "state"),
                    jstr(c, "printer"),
                    jint_text(c, "attempt", attempt, sizeof attempt),
                    jstr(c, "job_name"),
                    age_of(c, "updated_at", o, age, sizeof age),
                    reason_text(c, why, sizeof why),
                };
                const char *colors[ELEMENTSOF(cols)] = {0};

                colors[1] = state_color(jstr(c, "state"));
                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

void lab_ctl_format_printers(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_printer_table(f, json_object_get(a, "printers"), true, o);
}

void lab_ctl_format_status(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_status_header(f, a, o);
        fputc('\n', f);
        lab_ctl_format_printer_table(f, json_object_get(a, "printers"), false, o);
        fputc('\n', f);
        lab_ctl_format_counts(f, a, o);
        lab_ctl_format_energy_line(f, a, o);
        fputc('\n', f);
        lab_ctl_format_stuck(f, a, o);
}

void lab_ctl_format_paused(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *p = json_object_get(a, "printer");
        json_t *paused = json_object_get(p, "paused");
        const char *name = jstr_nonempty(p, "name");
        const char *why = jstr_nonempty(paused, "reason");

        put_clean(f, name, "?", o);
        fputs(" paused", f);
        if (why) {
                fputs(": ", f);
                put_clean(f, why, "-", o);
        }
        fputs(". Jobs waiting for it stay in its queue; resume with: labctl resume ", f);
        put_clean(f, name, "?", o);
        fputc('\n', f);
}

void lab_ctl_format_resumed(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *p = json_object_get(a, "printer");
        json_t *was = json_object_get(a, "was_paused");
        const char *reason = jstr_nonempty(p, "reason");

        put_clean(f, jstr_nonempty(p, "name"), "?", o);
        if (json_is_false(was))
                fputs(" was not paused; nothing changed.\n", f);
        else if (json_is_false(json_object_get(p, "available"))) {
                fputs(" resumed, but it is not available", f);
                if (reason) {
                        fputs(" (", f);
                        put_clean(f, reason, "-", o);
                        fputc(')', f);
                }
                fputs(": it takes work again once that clears.\n", f);
        } else
                fputs(" resumed: it takes work again.\n", f);
}

void lab_ctl_format_reprinted(FILE *f, const json_t *a, const char *defect, const lab_ctl_fmt_t *o)
{
        char copy[32], re[32];
        long long c = 0, r = 0;
        bool same = jint(a, "copy", &c) && jint(a, "reprint_copy", &r) && c == r;

        fputs("Job ", f);
        put_clean(f, jstr(a, "job"), "?", o);
        fprintf(f, ": copy %s reported as ", jint_text(a, "copy", copy, sizeof copy));
        put_clean(f, defect, "?", o);
        if (same)
                fprintf(f, "; queued again as copy %s (a new attempt) on ",
                        jint_text(a, "reprint_copy", re, sizeof re));
        else
                fprintf(f, "; reprint queued as copy %s on ",
                        jint_text(a, "reprint_copy", re, sizeof re));
        put_clean(f, jstr(a, "printer"), "?", o);
        fputc('\n', f);
}

void lab_ctl_format_printed(FILE *f, const json_t *a, long long copy, const lab_ctl_fmt_t *o)
{
        json_t *j = json_object_get(a, "job");
        char copies[96];

        fputs("Job ", f);
        put_clean(f, jstr(j, "id"), "?", o);
        fprintf(f, ": copy %lld recorded as printed; the job is now ", copy);
        put_clean(f, jstr(j, "state"), "?", o);
        fprintf(f, " (%s)\n",
                lab_ctl_format_copies(json_object_get(j, "copies"), copies, sizeof copies));
}

void lab_ctl_format_stock(FILE *f, const json_t *a, const char *printer, const lab_ctl_fmt_t *o)
{
        static const col_t cols_printer[] = {
            {"PRINTER", 0, false, false},  {"ITEM", 40, false, true}, {"SOURCE", 10, false, false},
            {"REMAINING", 0, true, false}, {"UNIT", 8, false, false}, {"LEVEL", 0, true, false},
            {"STATE", 8, false, false},    {"AS OF", 0, true, false}, {"DRIFT", 0, true, false},
        };
        /* One printer's: the same columns without PRINTER. */
        const col_t *cols = printer ? cols_printer + 1 : cols_printer;
        size_t n_cols = ELEMENTSOF(cols_printer) - (printer ? 1 : 0);
        json_t *items = json_object_get(a, "items");
        size_t n = json_is_array(items) ? json_array_size(items) : 0;
        table_t t = {.cols = cols, .n_cols = n_cols, .o = o};

        if (n == 0) {
                if (printer) {
                        put_clean(f, printer, "?", o);
                        fputs(" has no stock items: it reports no supplies or trays and the "
                              "config declares no consumables for it (printers[].consumables).\n",
                              f);
                } else {
                        fputs("No stock items: the printers report no supplies or trays and the "
                              "config declares no consumables (printers[].consumables).\n",
                              f);
                }
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *it = json_array_get(items, i);
                char rem[64], lvl[32], age[LAB_CTL_AGE_MAX], asof[LAB_CTL_AGE_MAX + 8], dr[64];
                const char *when = age_of(it, "as_of", o, age, sizeof age);
                const char *cells[ELEMENTSOF(cols_printer)],
                    *colors[ELEMENTSOF(cols_printer)] = {0};
                long long level;
                double drift;
                size_t k = 0;

                if (strcmp(when, "-") != 0)
                        snprintf(asof, sizeof asof, "%s ago", when);
                else
                        snprintf(asof, sizeof asof, "-");
                if (jint(it, "level", &level))
                        snprintf(lvl, sizeof lvl, "%lld%%", level);
                else
                        snprintf(lvl, sizeof lvl, "-");
                if (jnum(it, "drift", &drift)) {
                        lab_format_amount(drift, dr + 1, sizeof dr - 1);
                        dr[0] = '+';
                        if (dr[1] == '-' || strcmp(dr + 1, "0") == 0)
                                memmove(dr, dr + 1, strlen(dr + 1) + 1);
                } else {
                        snprintf(dr, sizeof dr, "-");
                }
                if (!printer)
                        cells[k++] = jstr(it, "printer");
                cells[k++] = jstr(it, "item");
                cells[k++] = jstr(it, "source");
                cells[k++] = jnum_text(it, "remaining", rem, sizeof rem);
                cells[k++] = jstr(it, "unit");
                cells[k++] = lvl;
                colors[k] = stock_color(jstr(it, "state"));
                cells[k++] = jstr(it, "state");
                cells[k++] = asof;
                cells[k++] = dr;
                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

/* The colour a meter's state is shown in, or NULL (unknown). */
static const char *meter_color(const char *state)
{
        if (state && strcmp(state, "fault") == 0)
                return SGR_RED;
        return state && strcmp(state, "ok") == 0 ? SGR_GREEN : NULL;
}

void lab_ctl_format_energy(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        static const col_t cols[] = {
            {"METER", 0, false, false},
            {"STATE", 8, false, false},
            {"W", 0, true, false},
            {"KWH-TODAY", 0, true, false},
            {"WH/PRINT-24H", 0, true, false},
            {"LAST-ERROR", 60, false, true},
        };
        json_t *meters = json_object_get(a, "meters");
        size_t n = json_is_array(meters) ? json_array_size(meters) : 0;
        table_t t = {.cols = cols, .n_cols = ELEMENTSOF(cols), .o = o};

        if (n == 0) {
                fputs("No energy meters configured (meters[] in the agent's config).\n", f);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *m = json_array_get(meters, i);
                json_t *err = json_object_get(m, "last_error");
                const char *text = jstr_nonempty(err, "text");
                char w[64], kwh[64], wh[64], age[LAB_CTL_AGE_MAX], last[1024];
                const char *when = age_of(err, "at", o, age, sizeof age);
                const char *cells[ELEMENTSOF(cols)], *colors[ELEMENTSOF(cols)] = {0};
                double v;

                if (!text)
                        snprintf(last, sizeof last, "-");
                else if (strcmp(when, "-") == 0)
                        snprintf(last, sizeof last, "%s", text);
                else
                        snprintf(last, sizeof last, "%s (%s ago)", text, when);
                if (jnum(m, "kwh_today", &v))
                        snprintf(kwh, sizeof kwh, "%.3f", v);
                else
                        snprintf(kwh, sizeof kwh, "-");
                cells[0] = jstr(m, "name");
                cells[1] = jstr(m, "state");
                colors[1] = meter_color(cells[1]);
                cells[2] = jnum_text(m, "power_w", w, sizeof w);
                cells[3] = kwh;
                cells[4] = jnum_text(m, "wh_per_print_24h", wh, sizeof wh);
                cells[5] = last;
                table_add(&t, cells, colors);
        }
        table_print(f, &t);
        table_done(&t);
}

void lab_ctl_format_energy_line(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *e = json_is_object(a) ? json_object_get(a, "energy") : NULL;
        json_t *faults = json_object_get(e, "faults");
        size_t n_faults = json_is_array(faults) ? json_array_size(faults) : 0;
        long long meters, n;
        char buf[64];
        double w;

        if (!e)
                return;
        fputs("Energy: ", f);
        if (!jint(e, "meters", &meters) || meters < 0) {
                fputs("unknown\n", f);
                return;
        }
        if (meters == 0) {
                fputs("no meters\n", f);
                return;
        }
        fprintf(f, "%lld meter%s", meters, meters == 1 ? "" : "s");
        if (jint(e, "ok", &n) && n > 0) {
                fprintf(f, ", %lld ", n);
                put_color(f, SGR_GREEN, "ok", o);
        }
        if (jint(e, "fault", &n) && n > 0) {
                fprintf(f, ", %lld ", n);
                put_color(f, SGR_RED, "fault", o);
                for (size_t i = 0; i < n_faults; i++) {
                        json_t *ft = json_array_get(faults, i);
                        const char *reason = jstr_nonempty(ft, "reason");

                        fputs(i ? ", " : " (", f);
                        put_clean(f, jstr_nonempty(ft, "meter"), "?", o);
                        if (reason) {
                                fputs(": ", f);
                                put_clean(f, reason, "-", o);
                        }
                }
                if (n_faults)
                        fputc(')', f);
        }
        if (jint(e, "unknown", &n) && n > 0)
                fprintf(f, ", %lld unknown", n);
        if (jnum(e, "power_w", &w))
                fprintf(f, ", %s W now", lab_format_amount(w, buf, sizeof buf));
        fputc('\n', f);
}

/* The past tense of a stock action for a sentence. */
static const char *action_done(const char *action)
{
        static const struct {
                const char *action, *done;
        } words[] = {
            {"load", "loaded"}, {"set", "set to"}, {"add", "added"}, {"remove", "removed"}};

        for (size_t i = 0; action && i < ELEMENTSOF(words); i++)
                if (strcmp(action, words[i].action) == 0)
                        return words[i].done;
        return NULL;
}

void lab_ctl_format_stock_adjusted(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        json_t *it = json_object_get(a, "item");
        const char *done = action_done(jstr(a, "action"));
        const char *unit = jstr_nonempty(it, "unit");
        const char *event = jstr_nonempty(a, "event");
        char amount[64], rem[64];

        put_clean(f, jstr_nonempty(it, "printer"), "?", o);
        fputc(' ', f);
        put_clean(f, jstr_nonempty(it, "item"), "?", o);
        fputs(": ", f);
        if (done)
                fputs(done, f);
        else
                put_clean(f, jstr(a, "action"), "?", o);
        fprintf(f, " %s", jnum_text(a, "amount", amount, sizeof amount));
        if (unit) {
                fputc(' ', f);
                put_clean(f, unit, "-", o);
        }
        if (strcmp(jnum_text(it, "remaining", rem, sizeof rem), "-") == 0)
                fputs("; remaining unknown", f);
        else {
                fprintf(f, "; %s", rem);
                if (unit) {
                        fputc(' ', f);
                        put_clean(f, unit, "-", o);
                }
                fputs(" left", f);
        }
        fputs(", ", f);
        put_color(f, stock_color(jstr(it, "state")), jstr_nonempty(it, "state"), o);
        if (event) {
                fputs(" (the platform is told ", f);
                put_clean(f, event, "-", o);
                fputc(')', f);
        }
        fputc('\n', f);
}

void lab_ctl_format_refusal(FILE *f, const json_t *a, const lab_ctl_fmt_t *o)
{
        const char *error = jstr_nonempty(a, "error");

        if (!error) {
                fputs("bad_answer: labagent refused the request without saying why", f);
                return;
        }
        put_clean(f, error, "-", o);
        fputs(": ", f);
        put_clean(f, jstr(a, "message"), "(no message)", o);
}

void lab_ctl_format_active_jobs(FILE *f, const json_t *jobs, const lab_ctl_fmt_t *o)
{
        json_t *list = json_object_get(jobs, "jobs");
        size_t n = json_is_array(list) ? json_array_size(list) : 0;
        long long total;

        if (!jint(jobs, "total", &total))
                total = (long long)n;
        if (n == 0 && total == 0) {
                fputs("Active jobs: none\n", f);
                return;
        }
        fprintf(f, "Active jobs (%zu of %lld):\n", n, total);
        lab_ctl_format_job_table(f, list, o);
}

void lab_ctl_format_frame(FILE *f, const json_t *status, const json_t *jobs, const lab_ctl_fmt_t *o)
{
        lab_ctl_format_status(f, status, o);
        if (jobs) {
                fputc('\n', f);
                lab_ctl_format_active_jobs(f, jobs, o);
        }
}
