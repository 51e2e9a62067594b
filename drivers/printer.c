/*
 * printer.c - dispatch the printer interface to the configured driver, and
 * the driver-independent pure parts: stable job names, IPP reason parsing,
 * and whether a status lets the printer take work.
 *
 * Why: the orchestration must judge every printer the same way, whatever
 * speaks to it; a reason like media-empty-error means the same on a CUPS
 * queue and on a minilab.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "printer-private.h"

int lab_printer_init(lab_printer_t *p, const lab_printer_ops_t *ops,
                     const lab_config_printer_t *cfg)
{
        p->ops = ops;
        p->name = strdup(cfg->name);
        p->timeout = cfg->timeout;
        p->stall_after = cfg->stall_after;
        return p->name ? 0 : -ENOMEM;
}

void lab_printer_done(lab_printer_t *p)
{
        free(p->name);
        p->name = NULL;
}

int lab_printer_open(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err)
{
        switch (cfg->driver) {
        case LAB_PRINTER_DRIVER_IPP:
                return lab_printer_ipp_ops.open(cfg, ret, err);
        case LAB_PRINTER_DRIVER_HOTFOLDER:
                return lab_printer_hotfolder_ops.open(cfg, ret, err);
        }
        return lab_error_set(err, EINVAL, "printer_config", "printer %s: unknown driver",
                             cfg->name);
}

void lab_printer_close(lab_printer_t *p)
{
        if (p)
                p->ops->close(p);
}

const char *lab_printer_name(const lab_printer_t *p)
{
        return p->name;
}

int lab_printer_capabilities(lab_printer_t *p, lab_printer_caps_t *ret, lab_error_t *err)
{
        *ret = (lab_printer_caps_t){0};
        return p->ops->capabilities(p, ret, err);
}

int lab_printer_submit(lab_printer_t *p, const lab_print_request_t *req, char **ret_handle,
                       lab_error_t *err)
{
        *ret_handle = NULL;
        if (!req->file || !req->format || !req->job_name || req->copies < 1 || !req->media)
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: incomplete print request", p->name);
        return p->ops->submit(p, req, ret_handle, err);
}

int lab_printer_job_status(lab_printer_t *p, const char *handle, lab_pjob_status_t *ret,
                           lab_error_t *err)
{
        *ret = (lab_pjob_status_t){.state = LAB_PJOB_UNKNOWN, .impressions_completed = -1};
        return p->ops->job_status(p, handle, ret, err);
}

int lab_printer_cancel(lab_printer_t *p, const char *handle, lab_error_t *err)
{
        return p->ops->cancel(p, handle, err);
}

int lab_printer_status(lab_printer_t *p, lab_printer_status_t *ret, lab_error_t *err)
{
        *ret = (lab_printer_status_t){.state = LAB_PRINTER_UNREACHABLE};
        return p->ops->status(p, ret, err);
}

int lab_printer_find_job(lab_printer_t *p, const char *job_name, char **ret_handle,
                         lab_pjob_status_t *ret_status, lab_printer_memory_t *ret_memory,
                         lab_error_t *err)
{
        lab_printer_memory_t local;

        if (!ret_memory)
                ret_memory = &local;
        *ret_handle = NULL;
        *ret_status = (lab_pjob_status_t){.state = LAB_PJOB_UNKNOWN, .impressions_completed = -1};
        *ret_memory = (lab_printer_memory_t){0};
        return p->ops->find_job(p, job_name, ret_handle, ret_status, ret_memory, err);
}

int lab_printer_watch_fd(lab_printer_t *p)
{
        return p->ops->watch_fd ? p->ops->watch_fd(p) : -1;
}

void lab_printer_drain_watch(lab_printer_t *p)
{
        if (p->ops->drain_watch)
                p->ops->drain_watch(p);
}

void lab_printer_caps_done(lab_printer_caps_t *c)
{
        char **lists[] = {c->media, c->media_types, c->formats};
        size_t counts[] = {c->n_media, c->n_media_types, c->n_formats};

        for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                for (size_t i = 0; i < counts[l]; i++)
                        free(lists[l][i]);
                free(lists[l]);
        }
        free(c->resolutions);
        free(c->make_model);
        free(c->sizes);
        *c = (lab_printer_caps_t){0};
}

bool lab_printer_caps_has(char *const *list, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], s) == 0)
                        return true;
        return false;
}

int lab_printer_job_name(char *buf, size_t size, const char *job_id, unsigned copy,
                         unsigned attempt)
{
        int n;

        if (!job_id || !job_id[0] || strchr(job_id, '/') || copy == 0 || attempt == 0)
                return -EINVAL;
        n = snprintf(buf, size, "%s/%u/%u", job_id, copy, attempt);
        if (n < 0 || (size_t)n >= size || (size_t)n >= LAB_PRINTER_JOB_NAME_MAX)
                return -ENAMETOOLONG;
        return 0;
}

/* Parse a decimal unsigned of 1..9 digits, > 0, spanning [s, end). */
static int parse_positive(const char *s, const char *end, unsigned *ret)
{
        unsigned v = 0;

        if (end <= s || end - s > 9 || *s == '0')
                return -EINVAL;
        for (; s < end; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(*s - '0');
        }
        *ret = v;
        return 0;
}

int lab_printer_job_name_parse(const char *name, char *job_id, size_t size, unsigned *copy,
                               unsigned *attempt)
{
        const char *a = strrchr(name, '/'), *c;
        size_t id_len;

        if (!a || a == name)
                return -EINVAL;
        for (c = a - 1; c > name && *c != '/'; c--)
                ;
        if (*c != '/' || c == name)
                return -EINVAL;
        id_len = (size_t)(c - name);
        if (memchr(name, '/', id_len) || id_len >= size)
                return -EINVAL;
        if (parse_positive(c + 1, a, copy) < 0 || parse_positive(a + 1, a + strlen(a), attempt) < 0)
                return -EINVAL;
        memcpy(job_id, name, id_len);
        job_id[id_len] = '\0';
        return 0;
}

void lab_printer_reason_parse(const char *value, lab_printer_reason_t *out)
{
        static const struct {
                const char *suffix;
                lab_severity_t severity;
        } suffixes[] = {
            {"-error", LAB_SEVERITY_ERROR},
            {"-warning", LAB_SEVERITY_WARNING},
            {"-report", LAB_SEVERITY_REPORT},
        };
        size_t len = strlen(value);

        out->severity = LAB_SEVERITY_REPORT;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i].suffix);
                if (len > sl && strcmp(value + len - sl, suffixes[i].suffix) == 0) {
                        out->severity = suffixes[i].severity;
                        len -= sl;
                        break;
                }
        }
        if (len >= sizeof out->keyword)
                len = sizeof out->keyword - 1;
        memcpy(out->keyword, value, len);
        out->keyword[len] = '\0';
}

/* Reasons that stop a printer whatever their severity suffix says, and what they mean. */
static const struct {
        const char *reason;  /* IPP keyword without suffix */
        const char *keyword; /* ours */
        const char *sentence;
} blocking_reasons[] = {
    {"media-empty", "media_empty", "is out of paper; load media"},
    {"media-needed", "media_empty", "needs media loaded"},
    {"media-jam", "media_jam", "has a paper jam; clear it"},
    {"cover-open", "cover_open", "has a cover open; close it"},
    {"door-open", "door_open", "has a door open; close it"},
    {"marker-supply-empty", "marker_supply_empty", "is out of ribbon or ink; replace it"},
    {"offline", "printer_offline", "is offline"},
    {"shutdown", "printer_offline", "is shutting down"},
    {"stalled", "printer_stalled", "has not taken up work in time (stalled)"},
};

bool lab_printer_status_available(const lab_printer_status_t *s, char *buf, size_t size)
{
        static const char timeout_kw[] = "printer_timeout:";

        if (s->state == LAB_PRINTER_UNREACHABLE) {
                /* Connected, but no answer in time (hung, SIGSTOPped): its own keyword. */
                if (strncmp(s->message, timeout_kw, sizeof timeout_kw - 1) == 0)
                        snprintf(buf, size, "%s", s->message);
                else
                        snprintf(buf, size, "printer_unreachable: the printer does not answer%s%s",
                                 s->message[0] ? ": " : "", s->message);
                return false;
        }
        /* Reasons first: "stopped because media-empty" is more useful than "stopped". */
        for (size_t i = 0; i < s->n_reasons; i++) {
                const lab_printer_reason_t *r = &s->reasons[i];
                for (size_t k = 0; k < ELEMENTSOF(blocking_reasons); k++) {
                        if (strcmp(r->keyword, blocking_reasons[k].reason) != 0)
                                continue;
                        /* media-empty-report from ippeveprinter is still an empty tray. */
                        snprintf(buf, size, "%s: the printer %s (%s)", blocking_reasons[k].keyword,
                                 blocking_reasons[k].sentence, r->keyword);
                        return false;
                }
        }
        for (size_t i = 0; i < s->n_reasons; i++) {
                const lab_printer_reason_t *r = &s->reasons[i];
                if (r->severity == LAB_SEVERITY_ERROR && strcmp(r->keyword, "paused") != 0) {
                        snprintf(buf, size, "printer_error: the printer reports %s-error%s%s",
                                 r->keyword, s->message[0] ? ": " : "", s->message);
                        return false;
                }
        }
        if (s->state == LAB_PRINTER_STOPPED) {
                snprintf(buf, size, "printer_stopped: the printer is stopped%s%s",
                         s->message[0] ? ": " : "", s->message);
                return false;
        }
        if (!s->accepting) {
                snprintf(buf, size, "printer_not_accepting: the printer is not accepting jobs");
                return false;
        }
        if (size)
                buf[0] = '\0';
        return true;
}

lab_resend_t lab_printer_may_resend(const lab_printer_memory_t *m, int64_t sent,
                                    uint64_t history_usec, int64_t now, char *why, size_t size)
{
        const int64_t slack = LAB_PRINTER_CLOCK_SLACK;

        if (size > 0)
                why[0] = '\0';
        if (sent <= 0) {
                snprintf(why, size, "printer_forgot: the agent does not know when it was sent");
                return LAB_RESEND_FORGOT;
        }
        /* A start at or after the send: whatever it received then is forgotten. */
        if (m->boot > 0 && m->boot >= sent - slack) {
                if (m->boot >= sent)
                        snprintf(why, size,
                                 "printer_restarted: the printer's memory of its jobs began %lld "
                                 "s after the send began (it restarted, or was emptied or "
                                 "replaced); the copy may have printed",
                                 (long long)(m->boot - sent));
                else
                        snprintf(why, size,
                                 "printer_restarted: the printer's memory of its jobs began %lld "
                                 "s before the send, too close to tell it apart from a restart "
                                 "after it; the copy may have printed",
                                 (long long)(sent - m->boot));
                return LAB_RESEND_RESTARTED;
        }
        /*
         * Without a boot instant nothing is proven: a printer that cannot say when
         * it started may have lost its newest jobs and kept older ones (cupsd
         * crashed before it wrote its job cache lists the jobs of minutes ago and
         * not the one of a second ago).
         */
        if (m->boot > 0 && m->complete_since > 0 && m->complete_since <= sent - slack)
                return LAB_RESEND_OK;
        /* Up since before the send, and it keeps finished jobs listed this long. */
        if (m->boot > 0 && now >= sent && (uint64_t)(now - sent) * 1000000ULL < history_usec)
                return LAB_RESEND_OK;
        if (m->boot > 0)
                snprintf(why, size,
                         "printer_forgot: the printer lists no job from before the send, %lld s "
                         "ago (longer than printers[].job_history); the copy may have printed "
                         "and been forgotten",
                         (long long)(now - sent));
        else
                snprintf(why, size,
                         "printer_forgot: the printer does not tell when it started (CUPS "
                         "queues do not), so its job list cannot prove the copy never arrived; "
                         "it may have printed");
        return LAB_RESEND_FORGOT;
}

const char *lab_printer_state_to_string(lab_printer_state_t s)
{
        static const char *const names[] = {
            [LAB_PRINTER_IDLE] = "idle",
            [LAB_PRINTER_PROCESSING] = "processing",
            [LAB_PRINTER_STOPPED] = "stopped",
            [LAB_PRINTER_UNREACHABLE] = "unreachable",
        };
        return (size_t)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

const char *lab_pjob_state_to_string(lab_pjob_state_t s)
{
        static const char *const names[] = {
            [LAB_PJOB_PENDING] = "pending",     [LAB_PJOB_PROCESSING] = "processing",
            [LAB_PJOB_COMPLETED] = "completed", [LAB_PJOB_ABORTED] = "aborted",
            [LAB_PJOB_CANCELED] = "canceled",   [LAB_PJOB_UNKNOWN] = "unknown",
        };
        return (size_t)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

/* Whether the comma-separated list has the keyword kw (whole entries, any prefix kw-...). */
static bool reasons_have(const char *list, const char *kw)
{
        size_t n = strlen(kw);

        for (const char *s = list; s && *s;) {
                if (strncmp(s, kw, n) == 0 && (s[n] == '\0' || s[n] == ',' || s[n] == '-'))
                        return true;
                s = strchr(s, ',');
                s = s ? s + 1 : NULL;
        }
        return false;
}

const char *lab_pjob_failure(const lab_pjob_status_t *st)
{
        if (strstr(st->message, "Incorrect media") || reasons_have(st->reasons, "media-mismatch"))
                return "media_mismatch";
        if (reasons_have(st->reasons, "document-format-error") ||
            reasons_have(st->reasons, "document-unprintable-error") ||
            (st->stopped && reasons_have(st->reasons, "job-completed-with-errors")))
                return "filter_failed";
        if (st->stopped)
                return "printer_stopped";
        return st->state == LAB_PJOB_CANCELED ? "printer_canceled" : "printer_aborted";
}
