/*
 * deadline-stage.c - jobs whose deadline is at risk (see deadline-stage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deadline-stage.h"
#include "log.h"
#include "macro.h"

/* Minutes of slack under which a deadline counts as at risk. */
#define MARGIN_MINUTES 15.0

bool lab_deadline_at_risk(time_t deadline, time_t now, double minutes, double margin_minutes)
{
        return (double)now + (minutes + margin_minutes) * 60.0 > (double)deadline;
}

typedef struct warned_s {
        char *job_id;
        struct warned_s *next;
} warned_t;

struct lab_deadlines_s {
        warned_t *warned;
};

int lab_deadlines_new(lab_deadlines_t **ret)
{
        *ret = calloc(1, sizeof **ret);
        return *ret ? 0 : -ENOMEM;
}

void lab_deadlines_free(lab_deadlines_t *d)
{
        if (!d)
                return;
        while (d->warned) {
                warned_t *w = d->warned;
                d->warned = w->next;
                free(w->job_id);
                free(w);
        }
        free(d);
}

/* Whether job_id was warned about. */
static bool warned(const lab_deadlines_t *d, const char *job_id)
{
        for (const warned_t *w = d->warned; w; w = w->next)
                if (strcmp(w->job_id, job_id) == 0)
                        return true;
        return false;
}

/* Rush first, then oldest (the order the lab prints in). */
static int print_order(const void *a, const void *b)
{
        const lab_store_job_t *x = *(lab_store_job_t *const *)a, *y = *(lab_store_job_t *const *)b;
        int rx = x->priority && strcmp(x->priority, "rush") == 0;
        int ry = y->priority && strcmp(y->priority, "rush") == 0;

        if (rx != ry)
                return ry - rx;
        return strcmp(x->created_at, y->created_at);
}

int lab_deadlines_check(lab_deadlines_t *d, lab_store_t *s, const lab_config_t *c, time_t now)
{
        static const lab_job_state_t waiting[] = {
            LAB_JOB_ACCEPTED,   LAB_JOB_DOWNLOADING, LAB_JOB_DOWNLOADED, LAB_JOB_RENDERING,
            LAB_JOB_RENDERED,   LAB_JOB_HELD,        LAB_JOB_REROUTED,   LAB_JOB_QUEUED,
            LAB_JOB_SUBMITTING, LAB_JOB_PRINTING};
        lab_store_job_t **jobs = NULL;
        size_t n = 0;
        double per_minute = 0, ahead = 0;
        int r, sent = 0;

        for (size_t i = 0; i < c->n_printers; i++)
                if (c->printers[i].enabled)
                        per_minute += c->printers[i].per_minute;
        r = lab_store_jobs_list(s, waiting, ELEMENTSOF(waiting), &jobs, &n);
        if (r < 0)
                return r;
        if (n > 1)
                qsort(jobs, n, sizeof *jobs, print_order);
        for (size_t i = 0; i < n; i++) {
                const lab_store_job_t *j = jobs[i];
                double minutes;
                time_t deadline;

                ahead += j->quantity;
                if (!j->deadline || warned(d, j->id) ||
                    lab_parse_rfc3339(j->deadline, &deadline) < 0)
                        continue;
                /* No printer at all: every deadline is at risk. */
                minutes = per_minute > 0 ? ahead / per_minute : 1e9;
                if (!lab_deadline_at_risk(deadline, now, minutes, MARGIN_MINUTES))
                        continue;
                {
                        _cleanup_(json_decrefp) json_t *o = NULL;
                        _cleanup_free_ char *body = NULL;
                        warned_t *w = calloc(1, sizeof *w);

                        o = json_pack("{s:s, s:f, s:i}", "deadline", j->deadline,
                                      "estimated_minutes", minutes > 1e8 ? -1.0 : minutes,
                                      "prints_ahead", (int)ahead);
                        body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                        if (!w || !body || !(w->job_id = strdup(j->id))) {
                                free(w);
                                r = -ENOMEM;
                                break;
                        }
                        r = lab_store_event_append(s, LAB_EVENT_JOB, "job.deadline_at_risk", j->id,
                                                   body, NULL);
                        if (r < 0) {
                                free(w->job_id);
                                free(w);
                                break;
                        }
                        w->next = d->warned;
                        d->warned = w;
                        sent++;
                        log_struct(
                            LOG_WARNING,
                            LAB_FIELDS({"JOB_ID", j->id}, {"ERROR_KEYWORD", "deadline_at_risk"}),
                            "deadline_at_risk: job %s is due %s; with %d print(s) ahead at "
                            "%.1f a minute it may be late",
                            j->id, j->deadline, (int)ahead, per_minute);
                }
        }
        /* Forget jobs that are no longer waiting (printed, canceled, ...). */
        for (warned_t **pw = &d->warned; *pw;) {
                bool live = false;

                for (size_t i = 0; i < n && !live; i++)
                        live = strcmp(jobs[i]->id, (*pw)->job_id) == 0;
                if (live) {
                        pw = &(*pw)->next;
                } else {
                        warned_t *dead = *pw;
                        *pw = dead->next;
                        free(dead->job_id);
                        free(dead);
                }
        }
        lab_store_jobs_free(jobs, n);
        return r < 0 ? r : sent;
}
