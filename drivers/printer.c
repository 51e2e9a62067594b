/*
 * printer.c - dispatch the printer interface to the configured driver, and
 * the driver-independent pure parts: stable job names, IPP reason parsing,
 * whether a status lets the printer take work, which fault a reason is, and
 * what kind of supply a type keyword names.
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
        *ret = (lab_printer_status_t){
            .state = LAB_PRINTER_UNREACHABLE, .supplies_age = -1, .impressions = -1};
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

/*
 * The IPP reasons that are faults whatever their severity suffix says
 * (ippeveprinter sends media-empty-report), their keyword, how bad they are
 * and what they mean. The errors make a printer unavailable.
 */
static const struct {
        const char *reason;  /* IPP keyword without suffix */
        const char *keyword; /* ours */
        lab_severity_t severity;
        const char *sentence;
} fault_reasons[] = {
    {"media-empty", "media_empty", LAB_SEVERITY_ERROR, "is out of paper; load media"},
    {"media-needed", "media_empty", LAB_SEVERITY_ERROR, "needs media loaded"},
    {"media-jam", "media_jam", LAB_SEVERITY_ERROR, "has a paper jam; clear it"},
    {"cover-open", "cover_open", LAB_SEVERITY_ERROR, "has a cover open; close it"},
    {"door-open", "door_open", LAB_SEVERITY_ERROR, "has a door open; close it"},
    {"marker-supply-empty", "marker_supply_empty", LAB_SEVERITY_ERROR,
     "is out of ribbon or ink; replace it"},
    {"offline", "printer_offline", LAB_SEVERITY_ERROR, "is offline"},
    {"shutdown", "printer_offline", LAB_SEVERITY_ERROR, "is shutting down"},
    {"stalled", "printer_stalled", LAB_SEVERITY_ERROR, "has not taken up work in time (stalled)"},
    {"marker-waste-full", "waste_full", LAB_SEVERITY_ERROR,
     "has its waste container full; empty or replace it"},
    {"marker-waste-almost-full", "waste_almost_full", LAB_SEVERITY_WARNING,
     "has its waste container almost full"},
    {"media-low", "media_low", LAB_SEVERITY_WARNING, "is low on paper"},
    {"marker-supply-low", "marker_supply_low", LAB_SEVERITY_WARNING, "is low on ribbon or ink"},
};

bool lab_printer_fault_of(const lab_printer_reason_t *r, const char **ret_keyword,
                          lab_severity_t *ret_severity)
{
        for (size_t k = 0; k < ELEMENTSOF(fault_reasons); k++) {
                if (strcmp(r->keyword, fault_reasons[k].reason) != 0)
                        continue;
                *ret_keyword = fault_reasons[k].keyword;
                *ret_severity = fault_reasons[k].severity;
                return true;
        }
        /* "paused" is an operator's pause: printer-state stopped says it (printer_stopped). */
        if (r->severity == LAB_SEVERITY_ERROR && strcmp(r->keyword, "paused") != 0) {
                *ret_keyword = "printer_error";
                *ret_severity = LAB_SEVERITY_ERROR;
                return true;
        }
        return false;
}

lab_supply_kind_t lab_supply_kind_of(const char *type)
{
        /* PWG (RFC 3805) type keywords and CUPS marker-types, compared without '-' and case. */
        static const struct {
                const char *word; /* lower case, no '-' */
                bool prefix;      /* the type starts with it, else contains it */
                lab_supply_kind_t kind;
        } words[] = {
            {"waste", true, LAB_SUPPLY_WASTE},  {"ribbon", false, LAB_SUPPLY_RIBBON},
            {"toner", false, LAB_SUPPLY_TONER}, {"ink", false, LAB_SUPPLY_INK},
            {"solidwax", true, LAB_SUPPLY_INK}, {"paperwrap", true, LAB_SUPPLY_OTHER},
            {"paper", true, LAB_SUPPLY_PAPER},
        };
        char t[64];
        size_t n = 0;

        for (; type && *type && n + 1 < sizeof t; type++)
                if (*type != '-')
                        t[n++] = (char)(*type >= 'A' && *type <= 'Z' ? *type - 'A' + 'a' : *type);
        t[n] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                size_t wl = strlen(words[i].word);
                if (words[i].prefix ? strncmp(t, words[i].word, wl) == 0
                                    : strstr(t, words[i].word) != NULL)
                        return words[i].kind;
        }
        return LAB_SUPPLY_OTHER;
}

const char *lab_supply_kind_to_string(lab_supply_kind_t k)
{
        static const char *const names[] = {
            [LAB_SUPPLY_OTHER] = "other",   [LAB_SUPPLY_PAPER] = "paper",
            [LAB_SUPPLY_RIBBON] = "ribbon", [LAB_SUPPLY_INK] = "ink",
            [LAB_SUPPLY_TONER] = "toner",   [LAB_SUPPLY_WASTE] = "waste",
        };
        return (size_t)k < ELEMENTSOF(names) ? names[k] : "other";
}

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
                for (size_t k = 0; k < ELEMENTSOF(fault_reasons); k++) {
                        if (fault_reasons[k].severity != LAB_SEVERITY_ERROR ||
                            strcmp(r->keyword, fault_reasons[k].reason) != 0)
                                continue;
                        /* media-empty-report from ippeveprinter is still an empty tray. */
                        snprintf(buf, size, "%s: the printer %s (%s)", fault_reasons[k].keyword,
                                 fault_reasons[k].sentence, r->keyword);
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
