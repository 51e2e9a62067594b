/*
 * printer-faults.c - the fault tracker of printer-faults.h: two reads to
 * raise, two to clear, flapping folded into one change.
 *
 * Why: a status read is a sample, and a sample lies now and then; the
 * platform must be told of faults that are real, once each, whatever the
 * printer's sensors do. Pure: no I/O, no logging, no clock (time is passed
 * in), so every rule is tested directly.
 *
 * Bookkeeping between the two reads of a transition, in fields that are
 * idle at that moment: while a cleared fault waits for its second read,
 * since holds the first one's time (a cleared fault's since is no longer
 * told); while a raised fault waits for its second read without it,
 * changed_at holds the first one's time (a raised fault's last transition
 * is its raise, since, and is put back from it if the fault shows again).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "printer-faults.h"

#define FLAP_WINDOW_S 900 /* 15 minutes: the flapping window, and the quiet that ends it */
#define FLAP_CYCLES   4   /* more raises than this within the window is flapping */

/* One fault keyword as one read shows it. */
typedef struct shown_s {
        const char *keyword; /* lab_printer_fault_of's, static */
        lab_severity_t severity;
        char ipp_reasons[256];
        bool tracked; /* it has a slot in the table */
} shown_t;

/* The IPP value of a parsed reason: its keyword with its severity suffix. */
static void reason_value(const lab_printer_reason_t *r, char *buf, size_t size)
{
        static const char *const suffixes[] = {
            [LAB_SEVERITY_REPORT] = "-report",
            [LAB_SEVERITY_WARNING] = "-warning",
            [LAB_SEVERITY_ERROR] = "-error",
        };
        const char *suffix =
            (size_t)r->severity < ELEMENTSOF(suffixes) ? suffixes[r->severity] : "-report";

        snprintf(buf, size, "%.*s%s", (int)sizeof r->keyword, r->keyword, suffix);
}

/* Append value to a comma-separated list unless it is there or does not fit whole. */
static void list_add(char *list, size_t size, const char *value)
{
        size_t len = strlen(list), vl = strlen(value);

        for (const char *p = list; *p;) {
                const char *end = strchr(p, ',');
                size_t pl = end ? (size_t)(end - p) : strlen(p);
                if (pl == vl && memcmp(p, value, vl) == 0)
                        return;
                p += pl + (end ? 1 : 0);
        }
        if (len + (len ? 1 : 0) + vl + 1 > size)
                return;
        if (len)
                list[len++] = ',';
        memcpy(list + len, value, vl + 1);
}

/* The faults one read shows, one entry per keyword; returns how many. */
static size_t faults_shown(const lab_printer_status_t *st, shown_t *shown, size_t max)
{
        size_t n = 0;
        size_t n_reasons =
            st->n_reasons < LAB_PRINTER_REASONS_MAX ? st->n_reasons : LAB_PRINTER_REASONS_MAX;

        for (size_t i = 0; i < n_reasons; i++) {
                const char *keyword;
                lab_severity_t severity;
                char value[sizeof st->reasons[i].keyword + 16];
                size_t k;

                if (!lab_printer_fault_of(&st->reasons[i], &keyword, &severity))
                        continue;
                for (k = 0; k < n; k++)
                        if (strcmp(shown[k].keyword, keyword) == 0)
                                break;
                if (k == n) {
                        if (n == max)
                                continue;
                        shown[n++] = (shown_t){.keyword = keyword, .severity = severity};
                }
                reason_value(&st->reasons[i], value, sizeof value);
                list_add(shown[k].ipp_reasons, sizeof shown[k].ipp_reasons, value);
        }
        return n;
}

static lab_fault_t *fault_find(lab_faults_t *f, const char *keyword)
{
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->v[i].keyword, keyword) == 0)
                        return &f->v[i];
        return NULL;
}

/* Cleared, not flapping, and no read in progress shows it. */
static bool fault_idle(const lab_fault_t *x)
{
        return !x->raised && !x->flapping && x->seen == 0;
}

/* Whether one of its raises is less than the flapping window before now. */
static bool fault_recent_cycles(const lab_fault_t *x, int64_t now)
{
        for (size_t i = 0; i < x->n_cycles; i++)
                if (now - x->cycles[i] < FLAP_WINDOW_S)
                        return true;
        return false;
}

/* Drop the idle faults whose raises can no longer count towards flapping. */
static void faults_prune(lab_faults_t *f, int64_t now)
{
        size_t i = 0;

        while (i < f->n) {
                if (fault_idle(&f->v[i]) && !fault_recent_cycles(&f->v[i], now)) {
                        memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof f->v[0]);
                        f->n--;
                } else {
                        i++;
                }
        }
}

/* A slot for a keyword the table does not hold, or NULL (full: ignored). */
static lab_fault_t *fault_slot(lab_faults_t *f, const shown_t *shown, size_t n_shown)
{
        lab_fault_t *best = NULL;

        if (f->n < LAB_FAULTS_MAX)
                return &f->v[f->n++];
        for (size_t i = 0; i < f->n; i++) {
                bool in_read = false;

                if (!fault_idle(&f->v[i]))
                        continue;
                for (size_t k = 0; k < n_shown && !in_read; k++)
                        in_read = strcmp(shown[k].keyword, f->v[i].keyword) == 0;
                if (in_read)
                        continue;
                if (!best || f->v[i].changed_at < best->changed_at)
                        best = &f->v[i];
        }
        return best;
}

/* Record a raise dated t; true if it makes the fault flap. */
static bool fault_cycle(lab_fault_t *x, int64_t t)
{
        size_t n = 0;

        for (size_t i = 0; i < x->n_cycles; i++)
                if (t - x->cycles[i] < FLAP_WINDOW_S)
                        x->cycles[n++] = x->cycles[i];
        if (n == ELEMENTSOF(x->cycles)) {
                memmove(&x->cycles[0], &x->cycles[1], (n - 1) * sizeof x->cycles[0]);
                n--;
        }
        x->cycles[n++] = t;
        x->n_cycles = n;
        return n > FLAP_CYCLES;
}

static void change_fill(lab_fault_change_t *c, const lab_fault_t *x, int64_t since,
                        int64_t duration_s)
{
        *c = (lab_fault_change_t){
            .keyword = x->keyword,
            .severity = x->severity,
            .raised = x->raised,
            .flapping = x->flapping,
            .since = since,
            .duration_s = duration_s,
        };
        snprintf(c->ipp_reasons, sizeof c->ipp_reasons, "%s", x->ipp_reasons);
}

static unsigned count_up(unsigned n)
{
        return n < UINT_MAX ? n + 1 : n;
}

/* Move one fault by one read; returns how many changes it wrote to out (0 or 1). */
static size_t fault_read(lab_fault_t *x, const shown_t *shown, int64_t now, lab_fault_change_t *out,
                         size_t room)
{
        if (shown) {
                if (x->seen == 0 && !x->raised)
                        x->since = now; /* the first read of a raise to come */
                x->seen = count_up(x->seen);
                x->unseen = 0;
                x->severity = shown->severity;
                snprintf(x->ipp_reasons, sizeof x->ipp_reasons, "%s", shown->ipp_reasons);
                if (x->raised)
                        x->changed_at = x->since; /* a clear in waiting is off */
        } else {
                if (x->unseen == 0 && x->raised)
                        x->changed_at = now; /* the first read of a clear to come */
                x->unseen = count_up(x->unseen);
                x->seen = 0;
        }

        if (!x->raised && x->seen >= 2) {
                if (!x->flapping && room == 0)
                        return 0; /* told by a later read */
                x->raised = true;
                x->changed_at = x->since;
                if (x->flapping)
                        return 0;
                if (fault_cycle(x, x->since)) {
                        x->flapping = true;
                        x->n_cycles = 0; /* not counted while flapping */
                }
                change_fill(out, x, x->since, 0);
                return 1;
        }
        if (x->raised && x->unseen >= 2) {
                if (!x->flapping && room == 0)
                        return 0;
                x->raised = false;
                /* changed_at holds the first read without it: the clear's date. */
                if (x->flapping)
                        return 0;
                change_fill(out, x, x->since, x->changed_at - x->since);
                return 1;
        }
        if (x->flapping && (x->raised ? x->seen > 0 : x->unseen > 0) &&
            now - x->changed_at >= FLAP_WINDOW_S) {
                if (room == 0)
                        return 0;
                x->flapping = false;
                x->n_cycles = 0;
                if (x->raised)
                        change_fill(out, x, x->since, 0);
                else
                        change_fill(out, x, 0, 0);
                return 1;
        }
        return 0;
}

size_t lab_faults_update(lab_faults_t *f, const lab_printer_status_t *st, int64_t now,
                         lab_fault_change_t *out, size_t max)
{
        shown_t shown[LAB_PRINTER_REASONS_MAX];
        size_t n_shown, n_out = 0;

        if (st->state == LAB_PRINTER_UNREACHABLE)
                return 0;
        if (f->n > LAB_FAULTS_MAX)
                f->n = LAB_FAULTS_MAX;
        if (!out)
                max = 0;

        /* Slots are dropped and taken before anything is told, so the keywords of the
           changes told point at slots that stay put until the next update. */
        faults_prune(f, now);
        n_shown = faults_shown(st, shown, ELEMENTSOF(shown));
        for (size_t k = 0; k < n_shown; k++) {
                lab_fault_t *x;

                if (fault_find(f, shown[k].keyword)) {
                        shown[k].tracked = true;
                        continue;
                }
                x = fault_slot(f, shown, n_shown);
                if (!x)
                        continue; /* full of live faults: this one is ignored */
                *x = (lab_fault_t){.severity = shown[k].severity, .changed_at = now};
                snprintf(x->keyword, sizeof x->keyword, "%s", shown[k].keyword);
                shown[k].tracked = true;
        }

        for (size_t i = 0; i < f->n; i++) {
                const shown_t *s = NULL;

                for (size_t k = 0; k < n_shown && !s; k++)
                        if (shown[k].tracked && strcmp(shown[k].keyword, f->v[i].keyword) == 0)
                                s = &shown[k];
                n_out += fault_read(&f->v[i], s, now, out ? out + n_out : NULL, max - n_out);
        }
        return n_out;
}

const char *lab_faults_error(const lab_faults_t *f)
{
        for (size_t i = 0; i < f->n && i < LAB_FAULTS_MAX; i++)
                if (f->v[i].raised && f->v[i].severity == LAB_SEVERITY_ERROR)
                        return f->v[i].keyword;
        return NULL;
}
